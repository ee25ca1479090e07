"""vae_course.lessons.latent (lesson 08): paths, quantile grids, batched decoding, figures and the slider explorer."""

import time
from statistics import NormalDist

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402

from vae_course import latent  # noqa: E402
from vae_course.checks import ____  # noqa: E402
from vae_course.exercises.latent import Counting  # noqa: E402
from vae_course.vae.model import make_vae  # noqa: E402


@pytest.fixture(scope="module")
def vae():
    keras.utils.set_random_seed(0)
    return make_vae((8, 8), latent_dim=2, seed=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---- the maths ---------------------------------------------------------------------------------


def test_interpolate_includes_both_ends_and_steps_evenly():
    z_a, z_b = np.array([1.0, -2.0, 0.5]), np.array([-1.0, 2.0, 3.5])
    path = latent.interpolate(z_a, z_b, 5)
    assert path.shape == (5, 3)
    np.testing.assert_allclose(path[0], z_a)
    np.testing.assert_allclose(path[-1], z_b)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((z_b - z_a) / 4, (4, 1)), atol=1e-6)


def test_interpolate_accepts_tensors_and_rejects_mismatched_sizes():
    path = latent.interpolate(ops.convert_to_tensor([0.0, 0.0]), ops.convert_to_tensor([2.0, 4.0]), 3)
    np.testing.assert_allclose(path, [[0, 0], [1, 2], [2, 4]])
    with pytest.raises(ValueError, match="same size"):
        latent.interpolate([0.0, 1.0], [0.0, 1.0, 2.0], 3)


@pytest.mark.parametrize("n", [1, 2, 7, 15])
def test_normal_quantiles_split_the_prior_into_equal_masses(n):
    values = latent.normal_quantiles(n)
    assert values.shape == (n,)
    assert np.all(np.diff(values) > 0)
    cdf = np.array([NormalDist().cdf(float(v)) for v in values])
    np.testing.assert_allclose(cdf, (np.arange(n) + 0.5) / n, atol=1e-6)
    np.testing.assert_allclose(values, -values[::-1], atol=1e-6)  # symmetric about 0


def test_normal_quantiles_rejects_an_empty_grid():
    with pytest.raises(ValueError, match="at least 1"):
        latent.normal_quantiles(0)


def test_prior_mass_per_cell_is_uniform_for_quantiles_and_not_for_an_even_grid():
    quantile_mass = latent.prior_mass_per_cell(latent.normal_quantiles(15))
    even_mass = latent.prior_mass_per_cell(np.linspace(-3, 3, 15))
    assert quantile_mass.sum() == pytest.approx(1.0)
    assert even_mass.sum() == pytest.approx(1.0)
    # Quantile cells end halfway between quantiles, not at the (i/n) quantiles, so they are only nearly equal.
    assert quantile_mass.max() / quantile_mass.min() < 1.3
    assert even_mass.max() / even_mass.min() > 20


def test_manifold_grid_is_in_picture_order():
    values = np.array([-1.0, 0.5, 2.0])
    grid = latent.manifold_grid(values)
    assert grid.shape == (9, 2)
    n = len(values)
    for r in range(n):
        for c in range(n):
            np.testing.assert_allclose(grid[r * n + c], [values[c], values[n - 1 - r]])
    assert grid[0, 1] == grid[:, 1].max()  # the top row holds the largest z[1]
    assert grid[0, 0] == grid[:, 0].min()  # the left column the smallest z[0]


def test_decode_grid_makes_one_call_and_returns_probabilities(vae):
    grid = latent.manifold_grid(latent.normal_quantiles(6))
    counting = Counting(vae.decoder)
    images = latent.decode_grid(counting, grid)
    assert counting.calls == 1
    assert images.shape == (36, 8, 8)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_allclose(images, ops.convert_to_numpy(vae.generate(grid)), atol=1e-6)


def test_latent_means_matches_the_encoder_and_batches(vae):
    x = np.random.default_rng(0).uniform(0, 1, (10, 8, 8)).astype(np.float32)
    counting = Counting(vae.encoder)
    z = latent.latent_means(counting, x, batch_size=4)
    assert counting.shapes == [(4, 8, 8), (4, 8, 8), (2, 8, 8)]
    np.testing.assert_allclose(z, ops.convert_to_numpy(vae.encoder(x)[0]), atol=1e-6)
    assert latent.latent_means(vae.encoder, x[:0]).shape == (0, 2)


def test_tile_images_places_each_image_in_reading_order():
    images = np.arange(6)[:, None, None] * np.ones((6, 2, 3))
    picture = latent.tile_images(images, 2, 3, gap=1)
    assert picture.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert picture[0, 0] == 0 and picture[0, 4] == 1 and picture[3, 0] == 3 and picture[4, 10] == 5
    with pytest.raises(ValueError, match="6 images for a 2 x 2"):
        latent.tile_images(images, 2, 2)


# ---- figures ---------------------------------------------------------------------------------


def test_plot_interpolation_shows_the_path_between_the_originals(vae):
    path = latent.interpolate([0.0, -1.0], [1.0, 1.0], 6)
    fig = latent.plot_interpolation(vae.generate(path), np.zeros((8, 8)), np.ones((8, 8)), labels=("a 7", "a 6"))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "a 7" and titles[-1] == "a 6" and titles[1] == "t=0.00" and titles[-2] == "t=1.00"
    assert len(fig.axes) == 8


def test_plot_grid_spacing_compares_two_grids():
    fig = latent.plot_grid_spacing(n=11)
    assert len(fig.axes) == 2
    assert all(ax.get_xlabel() for ax in fig.axes)
    assert fig.axes[1].get_legend() is not None


def test_plot_manifold_images_labels_axes_from_the_grid(vae):
    values = latent.normal_quantiles(5)
    grid = latent.manifold_grid(values)
    fig = latent.plot_manifold_images(latent.decode_grid(vae.decoder, grid), grid, tick_every=1)
    ax = fig.axes[0]
    x_labels = [t.get_text() for t in ax.get_xticklabels()]
    y_labels = [t.get_text() for t in ax.get_yticklabels()]
    assert x_labels == [f"{v:.1f}" for v in values]
    assert y_labels == [f"{v:.1f}" for v in values[::-1]]  # top row first: largest z[1]
    assert "z[0]" in ax.get_xlabel() and "z[1]" in ax.get_ylabel()
    with pytest.raises(ValueError, match="n\\*n images"):
        latent.plot_manifold_images(np.zeros((5, 8, 8)), grid[:5])


def test_plot_manifold_decodes_the_normal_quantile_grid_by_default(vae, monkeypatch):
    """plots.plot_manifold (used by the training command) spends its tiles as lesson 08 argues: normal quantiles."""
    from vae_course import plots

    decoded = []
    generate = vae.generate
    monkeypatch.setattr(vae, "generate", lambda z: decoded.append(np.array(z)) or generate(z))
    values = latent.normal_quantiles(5)
    fig = plots.plot_manifold(vae, n=5)
    assert len(decoded) == 1  # one batch
    np.testing.assert_array_equal(decoded[0], latent.manifold_grid(values))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{v:.1f}" for v in values[::2]]
    assert "normal quantiles" in ax.get_title()
    fig = plots.plot_manifold(vae, n=5, span=1.5)  # evenly spaced on request
    np.testing.assert_allclose(decoded[1], latent.manifold_grid(np.linspace(-1.5, 1.5, 5)))
    assert "evenly spaced" in fig.axes[0].get_title()


def test_overlay_and_aggregate_posterior_figures(vae):
    from vae_course.vae.plots import plot_latent_space

    x = np.random.default_rng(1).uniform(0, 1, (30, 8, 8)).astype(np.float32)
    y = np.arange(30) % 10
    fig = latent.overlay_on_latent_map(plot_latent_space(vae, x, y), path=latent.interpolate([0, 0], [1, 1], 4),
                                       grid=latent.manifold_grid(latent.normal_quantiles(3)))
    assert fig.axes[0].get_legend() is not None
    full = latent.plot_aggregate_posterior(latent.latent_means(vae.encoder, x), y)
    assert len(full.axes) == 3  # scatter, colour bar, histograms
    empty = latent.plot_aggregate_posterior(____)
    assert len(empty.axes) == 2
    assert any("write latent_means" in t.get_text() for t in empty.axes[0].texts)


# ---- the explorer ------------------------------------------------------------------------------


def test_explorer_redraws_fast_and_in_place(vae):
    """Set the sliders from code, as a learner's mouse would: every move decodes once and reuses one figure."""
    x = np.random.default_rng(2).uniform(0, 1, (50, 8, 8)).astype(np.float32)
    explorer = latent.latent_explorer(vae, x, np.arange(50) % 10)
    figure, image_widget, first_png = explorer.figure, explorer.image, explorer.image.value
    counting = Counting(vae.decoder)
    explorer.decoder = counting
    figures_before = plt.get_fignums()
    seconds = []
    for value in np.linspace(-2.5, 2.5, 26):
        start = time.perf_counter()
        explorer.z0.value = float(value)
        explorer.z1.value = float(-value / 2)
        seconds.append((time.perf_counter() - start) / 2)
    per_move_ms = 1000 * float(np.median(seconds))
    print(f"\nlatent explorer: median {per_move_ms:.1f} ms per slider move, slowest {1000 * max(seconds):.1f} ms "
          f"({explorer.moves} redraws)")
    assert counting.calls == 52 and all(shape == (1, 2) for shape in counting.shapes)  # one point per call
    assert explorer.figure is figure and explorer.image is image_widget
    assert plt.get_fignums() == figures_before  # no pyplot figures created
    assert explorer.image.value != first_png
    np.testing.assert_allclose(explorer.z, [2.5, -1.25])
    expected = ops.convert_to_numpy(vae.generate(np.array([[2.5, -1.25]], dtype=np.float32)))[0]
    np.testing.assert_allclose(explorer.decoded, expected, atol=1e-6)
    # Speed is measured and printed above, not asserted: timed tests fail on slow machines (see the benchmark).


def test_explorer_shows_a_png_without_a_widget_front_end(vae):
    explorer = latent.latent_explorer(vae)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"]  # base64 text of the current frame
    import base64

    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")


def test_explorer_needs_a_2d_latent_space():
    keras.utils.set_random_seed(0)
    with pytest.raises(ValueError, match="2-D latent space"):
        latent.latent_explorer(make_vae((8, 8), latent_dim=3, seed=0))


def test_explorer_marker_shows_whole_at_the_ends_of_the_sliders(vae):
    """At z = (-3, -3) or (3, 3), the sliders' ends, the cross must not be cut in half by the map's edge."""
    explorer = latent.latent_explorer(vae)
    map_ax = explorer.figure.axes[0]
    low, high = latent.SLIDER_RANGE
    for limits in (map_ax.get_xlim(), map_ax.get_ylim()):
        assert limits[0] < low and limits[1] > high
    assert explorer._marker.get_clip_on() is False
    explorer.z0.value, explorer.z1.value = low, low
    # The whole marker (its extent in pixels, as drawn) lies inside the map's axes.
    marker_box = explorer._marker.get_window_extent(explorer.figure.canvas.get_renderer())
    axes_box = map_ax.get_window_extent()
    assert axes_box.x0 <= marker_box.x0 and axes_box.y0 <= marker_box.y0


def test_explorer_image_is_shown_at_the_png_size(vae):
    from io import BytesIO

    from PIL import Image

    from vae_course import widgets

    explorer = latent.latent_explorer(vae)
    width, height = Image.open(BytesIO(explorer.image.value)).size
    assert (width, height) == widgets.pixel_size(explorer.figure)
    assert explorer.image.layout.width == f"{width}px"



def test_class_centres_and_distance_order_follow_the_codes():
    z = np.array([[0.1, 0.0], [-0.1, 0.0], [3.0, 0.0], [3.2, 0.2], [0.0, 1.5]])
    y = np.array([1, 1, 7, 7, 4])
    centres = latent.class_centres(z, y)
    assert set(centres) == {1, 4, 7} and np.allclose(centres[7], [3.1, 0.1])
    assert latent.digits_by_distance_from_origin(z, y) == [1, 4, 7]


def test_nearest_digit_reports_the_majority_and_its_share():
    z = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0]])
    y = np.array([3, 3, 8, 8])
    assert latent.nearest_digit([0.0, 0.0], z, y, k=3) == (3, pytest.approx(2 / 3))
    assert latent.nearest_digit([5.0, 5.0], z, y, k=1) == (8, 1.0)
