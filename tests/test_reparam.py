"""vae_course.lessons.reparam: the maths of lesson 02, its figures, and the slider explorer (no browser needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vae_course import reparam, widgets  # noqa: E402
from vae_course.checks import ____  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---- the maths -----------------------------------------------------------------------------


def test_reparameterize_is_the_affine_map_and_broadcasts():
    eps = np.arange(12.0).reshape(4, 3)
    mu, sigma = np.array([1.0, -2.0, 0.5]), np.array([0.5, 2.0, 3.0])
    assert np.allclose(reparam.reparameterize(mu, sigma, eps), mu + sigma * eps)
    assert reparam.reparameterize(mu, sigma, eps).shape == (4, 3)


def test_sample_normal_has_the_right_moments_and_repeats_with_its_seed():
    z = reparam.sample_normal(1.5, 0.5, 200_000, seed=0)
    assert z.shape == (200_000,)
    assert abs(z.mean() - 1.5) < 5 * 0.5 / np.sqrt(z.size)
    assert abs(z.std() - 0.5) < 0.01
    assert np.array_equal(z, reparam.sample_normal(1.5, 0.5, 200_000, seed=0))
    assert not np.array_equal(z, reparam.sample_normal(1.5, 0.5, 200_000, seed=1))


def test_sample_normal_shifts_and_stretches_the_same_noise():
    """Same seed, other (mu, sigma): (z - mu) / sigma is the same eps."""
    a = reparam.sample_normal(1.5, 0.5, 1000, seed=3)
    b = reparam.sample_normal(-2.0, 2.0, 1000, seed=3)
    assert np.allclose((a - 1.5) / 0.5, (b + 2.0) / 2.0)


def test_normal_density_integrates_to_one_and_matches_the_histogram():
    grid = np.linspace(-10, 14, 20001)
    density = reparam.normal_density(grid, 2.0, 1.5)
    assert abs(np.trapezoid(density, grid) - 1.0) < 1e-6
    assert abs(np.trapezoid(grid * density, grid) - 2.0) < 1e-6
    z = reparam.sample_normal(2.0, 1.5, 100_000, seed=0)
    heights, edges = np.histogram(z, bins=40, range=(-2, 6), density=True)
    centres = (edges[:-1] + edges[1:]) / 2
    assert np.max(np.abs(heights * np.mean((z > -2) & (z < 6)) - reparam.normal_density(centres, 2.0, 1.5))) < 0.01


def test_tape_gradients_equal_the_chain_rule_for_the_given_eps():
    eps = np.array([0.3, -1.2, 0.8, 1.5, -0.4], dtype=np.float32)
    d_mu, d_sigma = reparam.reparam_gradients(1.0, 0.5, eps)
    z = 1.0 + 0.5 * eps.astype(np.float64)
    assert np.isclose(d_mu, 2 * z.mean(), rtol=1e-5)
    assert np.isclose(d_sigma, 2 * (z * eps).mean(), rtol=1e-5)


def test_tape_gradients_average_to_two_mu_and_two_sigma():
    eps = np.random.default_rng(0).standard_normal(400_000).astype(np.float32)
    d_mu, d_sigma = reparam.reparam_gradients(-0.7, 1.3, eps)
    se_mu, se_sigma = reparam.mc_standard_errors(-0.7, 1.3, eps.size)
    assert abs(d_mu - (-1.4)) < 5 * se_mu
    assert abs(d_sigma - 2.6) < 5 * se_sigma


def test_mc_gradients_converge_at_the_stated_rate():
    """The spread of the estimates over seeds matches the standard errors in the docstring."""
    estimates = np.array([reparam.mc_gradients(1.0, 0.5, 400, seed) for seed in range(400)])
    se_mu, se_sigma = reparam.mc_standard_errors(1.0, 0.5, 400)
    assert np.allclose(estimates.mean(axis=0), [2.0, 1.0], atol=0.02)
    assert np.isclose(estimates[:, 0].std(), se_mu, rtol=0.15)
    assert np.isclose(estimates[:, 1].std(), se_sigma, rtol=0.15)


def test_tf_random_normal_with_mean_and_stddev_passes_gradients_too():
    """What lesson 02 shows: TensorFlow's own sampler is mu + sigma * eps inside; NumPy cuts the graph."""
    import tensorflow as tf

    mu, sigma = tf.Variable(1.0), tf.Variable(0.5)
    with tf.GradientTape(persistent=True) as tape:
        z_tf = tf.random.stateless_normal((1000,), seed=[0, 1], mean=mu, stddev=sigma)
        z_affine = mu + sigma * tf.random.stateless_normal((1000,), seed=[0, 1])
        z_numpy = tf.constant(np.random.default_rng(0).normal(1.0, 0.5, 1000), tf.float32)
        losses = [tf.reduce_mean(z**2) for z in (z_tf, z_affine, z_numpy)]
    grads = [tape.gradient(loss, [mu, sigma]) for loss in losses]
    assert np.allclose(z_tf.numpy(), z_affine.numpy())
    assert np.allclose([float(g) for g in grads[0]], [float(g) for g in grads[1]])
    assert grads[2] == [None, None]


# ---- figures -------------------------------------------------------------------------------


def _bars(ax, bins):
    """Left edges, right edges and heights of the bars of a histogram drawn as ONE stepfilled outline."""
    (outline,) = ax.patches
    top = outline.get_xy()[1 : 2 * bins + 1]  # (left_0, h_0), (right_0, h_0), (left_1, h_1), ...
    return top[0::2, 0], top[1::2, 0], top[0::2, 1]


def _pixel_row(ax, y, x_from, x_to):
    """RGB pixels of the rendered axes along the data height y, from x_from to x_to (data units)."""
    figure = ax.figure
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3].astype(int)
    (left, height), (right, _) = ax.transData.transform([(x_from, y), (x_to, y)])
    row = pixels.shape[0] - int(round(height))
    return pixels[row, int(np.ceil(left)) : int(np.floor(right))]


def test_histogram_figure_has_labels_a_legend_and_both_layers():
    ax = reparam.plot_histogram_vs_density(reparam.sample_normal(1.5, 0.5, 5000), 1.5, 0.5)
    assert ax.get_xlabel() == "z" and ax.get_ylabel() == "probability density"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("histogram" in label for label in labels) and any("N(1.5, 0.5²)" in label for label in labels)
    left, right, heights = _bars(ax, 50)
    assert len(heights) == 50 and np.all(heights >= 0)


def test_histogram_bars_touch_without_gaps():
    """One filled outline for all bars: each bar's right edge is the next bar's left edge, no seams."""
    z = reparam.sample_normal(1.5, 0.5, 10_000)
    ax = reparam.plot_histogram_vs_density(z, 1.5, 0.5)
    left, right, heights = _bars(ax, 50)
    np.testing.assert_array_equal(right[:-1], left[1:])
    np.testing.assert_allclose([left[0], right[-1]], [z.min(), z.max()])
    # Rendered: low down, where every bar between mu - sigma and mu + sigma is filled, the colour is uniform.
    row = _pixel_row(ax, 0.05, 1.0, 2.0)
    assert len(row) > 50 and np.ptp(row, axis=0).max() == 0

    fig = reparam.plot_reparam_grid(n=2000, seed=0, bins=30)
    for ax in fig.axes:
        left, right, _ = _bars(ax, 30)
        np.testing.assert_array_equal(right[:-1], left[1:])


@pytest.mark.parametrize("missing", [____, None])
def test_histogram_figure_draws_the_density_alone_for_a_missing_answer(missing):
    ax = reparam.plot_histogram_vs_density(missing, 1.5, 0.5)
    assert len(ax.patches) == 0 and len(ax.lines) == 1
    assert any("no draws yet" in t.get_text() for t in ax.texts)


def test_histogram_figure_accepts_tensors():
    import tensorflow as tf

    ax = reparam.plot_histogram_vs_density(tf.random.stateless_normal((500,), seed=[1, 2]), 0.0, 1.0, bins=20)
    assert len(_bars(ax, 20)[2]) == 20


def test_grid_uses_the_same_noise_in_every_panel():
    params = ((0.0, 1.0), (2.0, 0.5), (-1.0, 2.0))
    fig = reparam.plot_reparam_grid(params, n=2000, seed=0, bins=30)
    axes = fig.axes
    assert len(axes) == 3
    assert [ax.get_title() for ax in axes] == ["μ = 0, σ = 1", "μ = 2, σ = 0.5", "μ = -1, σ = 2"]
    # Each histogram has identical bar heights up to the 1/sigma stretch, since the bins follow the data range.
    heights = [_bars(ax, 30)[2] for ax in axes]
    for (mu, sigma), h in zip(params, heights):
        assert np.allclose(h * sigma, heights[0])


def test_gradient_convergence_uses_the_learner_estimator_or_falls_back():
    calls = []

    def estimator(mu, sigma, n, seed):
        calls.append(n)
        return reparam.mc_gradients(mu, sigma, n, seed)

    fig = reparam.plot_gradient_convergence(estimator, sizes=[10, 100, 1000], seeds=3)
    assert sorted(set(calls)) == [10, 100, 1000] and "packaged" not in fig._suptitle.get_text()
    assert [ax.get_xscale() for ax in fig.axes] == ["log", "log"]
    fig = reparam.plot_gradient_convergence(lambda mu, sigma, n, seed: ____, sizes=[10, 100], seeds=2)
    assert "packaged estimator" in fig._suptitle.get_text()
    fig = reparam.plot_gradient_convergence(____, sizes=[10, 100], seeds=2)
    assert "packaged estimator" in fig._suptitle.get_text()


# ---- the slider explorer -------------------------------------------------------------------


def test_explorer_redraws_when_the_sliders_move():
    explorer = reparam.reparam_explorer(n=3000, seed=0)
    assert explorer.mu.value == 0.0 and explorer.sigma.value == 1.0
    eps = explorer.eps.copy()
    heights, edges, png = explorer.heights.copy(), explorer.edges.copy(), bytes(explorer.image.value)
    assert png.startswith(b"\x89PNG")

    timings = []
    explorer.mu.value = 2.0
    timings.append(explorer.update_seconds)
    assert np.allclose(explorer.edges, edges + 2.0)
    assert abs(explorer.sample_mean - 2.0) < 0.1
    assert bytes(explorer.image.value) != png

    explorer.sigma.value = 0.5
    timings.append(explorer.update_seconds)
    assert np.allclose(explorer.heights, heights / 0.5)  # same counts, half the width: twice the density
    assert abs(explorer.sample_std - 0.5) < 0.03
    assert "μ = 2.00, σ = 0.50" in explorer._ax.get_title()
    assert np.array_equal(explorer.eps, eps)  # the noise is drawn once and reused

    for mu in np.linspace(-3, 3, 8):
        explorer.mu.value = float(mu)
        timings.append(explorer.update_seconds)
    print(f"explorer: {np.mean(timings) * 1000:.0f} ms per update (max {np.max(timings) * 1000:.0f} ms)")


def test_explorer_is_a_widget_with_two_sliders_and_an_image():
    import ipywidgets

    explorer = reparam.reparam_explorer()
    assert isinstance(explorer, ipywidgets.VBox)
    sliders, image = explorer.children
    assert list(sliders.children) == [explorer.mu, explorer.sigma]
    assert image is explorer.image and image.format == "png"
    assert (explorer.mu.min, explorer.mu.max) == reparam.MU_RANGE
    assert (explorer.sigma.min, explorer.sigma.max) == reparam.SIGMA_RANGE
    assert plt.get_fignums() == []  # no pyplot figure left behind to be shown twice


def test_explorer_histogram_is_one_seamless_outline_on_the_moving_bins():
    explorer = reparam.reparam_explorer(n=3000, seed=0, mu=2.0, sigma=0.5)
    heights, edges, _ = explorer._histogram.get_data()
    np.testing.assert_allclose(edges, explorer.edges)  # n + 1 shared edges: neighbouring bars touch
    np.testing.assert_allclose(heights, explorer.heights)
    assert explorer._histogram.get_fill() and explorer._histogram.get_linewidth() == 0
    row = _pixel_row(explorer._ax, 0.3, 1.6, 2.4)  # inside the bars, clear of both curves
    assert len(row) > 10 and np.ptp(row, axis=0).max() == 0


def test_explorer_image_is_shown_at_the_png_size():
    """The browser gets the PNG's own width, so it shows the picture pixel for pixel instead of stretching it."""
    from io import BytesIO

    from PIL import Image

    explorer = reparam.reparam_explorer()
    width, height = Image.open(BytesIO(bytes(explorer.image.value))).size
    assert (width, height) == widgets.pixel_size(explorer.figure)
    assert explorer.image.layout.width == f"{width}px"
    assert explorer.figure.dpi >= 100 and 600 <= width <= 900


# ---- the shared slider helpers (vae_course.widgets) ----------------------------------------


def test_mu_sigma_sliders_have_the_shared_ranges():
    mu, sigma = widgets.mu_sigma_sliders(0.5, 1.5)
    assert (mu.value, sigma.value) == (0.5, 1.5)
    assert (mu.min, mu.max, mu.description) == (*widgets.MU_RANGE, "μ")
    assert (sigma.min, sigma.max, sigma.description) == (*widgets.SIGMA_RANGE, "σ")
    assert reparam.MU_RANGE == widgets.MU_RANGE and reparam.SIGMA_RANGE == widgets.SIGMA_RANGE


def test_redraw_on_change_wires_every_slider():
    mu, sigma = widgets.mu_sigma_sliders(0.0, 1.0)
    calls = []
    widgets.redraw_on_change((mu, sigma), lambda: calls.append((mu.value, sigma.value)))
    mu.value = 1.0
    sigma.value = 2.0
    sigma.value = 2.0  # no change, no redraw
    assert calls == [(1.0, 1.0), (1.0, 2.0)]


def test_mu_sigma_explorer_redraws_for_either_slider():
    class Counter(widgets.MuSigmaExplorer):
        def __init__(self):
            self.seen = []
            figure = widgets.explorer_figure(300, 200)
            figure.add_subplot()
            super().__init__(figure, mu=0.0, sigma=1.0)

        def redraw(self, mu, sigma):
            self.seen.append((mu, sigma))
            self.figure.axes[0].set_title(f"{mu} {sigma}")

    explorer = Counter()
    first = bytes(explorer.image.value)
    explorer.mu.value = -1.0
    explorer.sigma.value = 0.5
    assert explorer.seen == [(0.0, 1.0), (-1.0, 1.0), (-1.0, 0.5)]
    assert first.startswith(b"\x89PNG") and bytes(explorer.image.value) != first
    sliders, image = explorer.children
    assert list(sliders.children) == [explorer.mu, explorer.sigma] and image is explorer.image
    assert image.layout.width == "300px" and explorer.update_seconds >= 0
    assert plt.get_fignums() == []
