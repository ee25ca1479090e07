"""vae_course.lessons.derivation: the closed form, quadrature and Monte Carlo agree, and the lesson's figures draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import integrate, stats  # noqa: E402

import vae_course  # noqa: E402
from vae_course import derivation  # noqa: E402

PARAMS = [(0.0, 1.0), (1.5, 0.7), (-0.5, 2.0), (2.0, 0.3), (0.0, 0.05), (3.0, 4.0)]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("mu, sigma", PARAMS)
def test_closed_form_matches_scipy_integration_of_the_definition(mu, sigma):
    q, p = stats.norm(mu, sigma), stats.norm(0, 1)
    value, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), mu - 30 * sigma, mu + 30 * sigma,
                              points=[mu], limit=200)
    assert derivation.kl_per_dimension(mu, sigma) == pytest.approx(value, rel=1e-7, abs=1e-10)


def test_closed_form_is_equation_17_3_for_one_dimension_and_zero_at_the_prior():
    mu, sigma = np.array([[0.5, -1.0, 2.0]]), np.array([[0.5, 1.5, 0.8]])
    assert np.sum(derivation.kl_per_dimension(mu, sigma)) == pytest.approx(float(vae_course.kl_sigma(mu, sigma)[0]))
    assert derivation.kl_per_dimension(0.0, 1.0) == 0.0
    assert np.all(derivation.kl_per_dimension(np.linspace(-3, 3, 7), np.linspace(0.1, 3, 7)) >= 0)


@pytest.mark.parametrize("mu, sigma", PARAMS)
def test_quadrature_on_the_default_grid_matches_the_closed_form(mu, sigma):
    assert derivation.kl_quadrature(mu, sigma) == pytest.approx(float(derivation.kl_per_dimension(mu, sigma)),
                                                                rel=1e-9, abs=1e-12)


def test_quadrature_uses_the_grid_it_is_given_and_a_narrow_grid_misses_area():
    mu, sigma = 1.5, 0.7
    exact = float(derivation.kl_per_dimension(mu, sigma))
    narrow = derivation.kl_quadrature(mu, sigma, np.linspace(mu - sigma, mu + sigma, 201))
    assert abs(narrow - exact) > 0.1
    errors = np.abs(derivation.grid_width_errors(mu, sigma, [1, 3, 6, 10]))
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[3] < 1e-12


def test_quadrature_broadcasts_over_arrays_and_never_gives_nan_in_far_tails():
    values = derivation.kl_quadrature(np.array([1.5, 0.0]), np.array([0.7, 1.0]))
    assert values.shape == (2,)
    assert values == pytest.approx([float(derivation.kl_per_dimension(1.5, 0.7)), 0.0], abs=1e-12)
    very_wide = np.linspace(-200, 200, 40001)  # q underflows to 0 far out: 0 * log 0 must count as 0
    assert np.isfinite(derivation.kl_quadrature(0.5, 0.2, very_wide))
    assert np.all(np.isfinite(derivation.kl_integrand(very_wide, 0.5, 0.2)))


def test_log_ratio_std_matches_simulation_and_adds_variances_over_dimensions():
    mu, sigma = 1.5, 0.7
    eps = np.random.default_rng(0).standard_normal(400_000)
    z = mu + sigma * eps
    draws = stats.norm(mu, sigma).logpdf(z) - stats.norm(0, 1).logpdf(z)
    assert derivation.log_ratio_std(mu, sigma) == pytest.approx(draws.std(), rel=0.01)
    both = derivation.log_ratio_std(np.array([1.5, -0.5]), np.array([0.7, 2.0]))
    assert both == pytest.approx(np.hypot(derivation.log_ratio_std(1.5, 0.7), derivation.log_ratio_std(-0.5, 2.0)))
    assert derivation.log_ratio_std(0.0, 1.0) == 0.0


def test_monte_carlo_convergence_is_unbiased_and_its_error_shrinks_like_one_over_root_n():
    mu, sigma = 1.5, 0.7
    sizes = [100, 10_000, 1_000_000]
    estimates, errors = derivation.mc_convergence(mu, sigma, sizes, seed=0)
    exact = float(derivation.kl_per_dimension(mu, sigma))
    assert np.all(np.abs(estimates - exact) < 5 * errors)
    assert errors == pytest.approx(derivation.log_ratio_std(mu, sigma) / np.sqrt(sizes), rel=0.1)
    again, _ = derivation.mc_convergence(mu, sigma, sizes, seed=0)
    assert np.array_equal(estimates, again)


def test_monte_carlo_convergence_sums_over_latent_dimensions():
    estimates, errors = derivation.mc_convergence([1.5, -0.5], [0.7, 2.0], [200_000], seed=1)
    exact = float(np.sum(derivation.kl_per_dimension([1.5, -0.5], [0.7, 2.0])))
    assert abs(estimates[0] - exact) < 5 * errors[0]


def test_compare_estimates_agree_and_format_as_a_table():
    rows = derivation.compare_estimates([(0.5, 1.0), (1.5, 0.7), (-0.5, 2.0)], n_samples=10_000, seed=0)
    for row in rows:
        assert row["quadrature"] == pytest.approx(row["closed_form"], abs=1e-9)
        assert abs(row["monte_carlo"] - row["closed_form"]) < 5 * row["stderr"]
    table = derivation.format_comparison(rows)
    assert "closed form" in table and "Monte Carlo ± stderr" in table
    assert len(table.splitlines()) == 2 + len(rows)


def test_latent_losses_sum_grows_with_k_and_mean_is_sum_over_k():
    dims = np.array([1, 2, 8, 64])
    sums, means = derivation.latent_losses(dims, seed=0)
    assert np.all(np.diff(sums) > 0)
    assert means == pytest.approx(sums / dims)


@pytest.mark.parametrize(
    "draw",
    [
        lambda: derivation.plot_kl_integrand(1.5, 0.7),
        lambda: derivation.plot_mc_convergence(1.5, 0.7, sizes=[10, 100, 1000]),
        lambda: derivation.plot_grid_width(1.5, 0.7, half_widths=[1, 2, 4, 8]),
        lambda: derivation.plot_comparison(derivation.compare_estimates([(1.5, 0.7), (0.5, 1.0)], n_samples=1000)),
        lambda: derivation.plot_sum_versus_mean([1, 2, 4]),
    ],
    ids=["integrand", "monte-carlo", "grid-width", "comparison", "sum-versus-mean"],
)
def test_every_figure_draws_with_titles_and_labelled_axes(draw):
    fig = draw()
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_title() or fig._suptitle is not None
        assert ax.get_legend() is not None


def test_integrand_figure_reports_the_area_and_the_closed_form():
    fig = derivation.plot_kl_integrand(1.5, 0.7)
    assert "1.227" in fig.axes[1].get_title()


def test_explorer_redraws_when_the_sliders_move():
    explorer = derivation.kl_explorer(mu=0.0, sigma=1.0)
    first = bytes(explorer.image.value)
    assert explorer.closed_form == 0.0 and abs(explorer.area) < 1e-12
    explorer.mu.value, explorer.sigma.value = -2.0, 2.4
    second = bytes(explorer.image.value)
    assert second != first and second.startswith(b"\x89PNG")
    assert explorer.area == pytest.approx(explorer.closed_form, abs=1e-9)
    assert explorer.closed_form == pytest.approx(float(derivation.kl_per_dimension(-2.0, 2.4)))


def test_explorer_is_built_from_the_shared_slider_helper():
    from vae_course import widgets

    explorer = derivation.kl_explorer(mu=1.5, sigma=0.7)
    assert isinstance(explorer, widgets.MuSigmaExplorer)
    sliders, image = explorer.children
    assert list(sliders.children) == [explorer.mu, explorer.sigma] and image is explorer.image
    assert (explorer.mu.min, explorer.mu.max) == derivation.MU_RANGE == widgets.MU_RANGE
    assert (explorer.sigma.min, explorer.sigma.max) == derivation.SIGMA_RANGE == widgets.SIGMA_RANGE
    for slider, value in ((explorer.mu, -1.0), (explorer.sigma, 2.0)):  # each slider alone redraws
        before = bytes(explorer.image.value)
        slider.value = value
        assert bytes(explorer.image.value) != before
        assert explorer.closed_form == pytest.approx(float(derivation.kl_per_dimension(explorer.mu.value,
                                                                                        explorer.sigma.value)))
    width, _ = widgets.pixel_size(explorer.figure)
    assert explorer.image.layout.width == f"{width}px"  # shown at the PNG's own size
    assert plt.get_fignums() == []

