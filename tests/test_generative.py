"""vae_course.generative (lesson 03): the toy model's exact values agree with integrals and draws, the Binomial is the
digits' likelihood, both ELBO estimates average to the ELBO, and the lesson's figures draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import integrate, stats  # noqa: E402

import vae_course  # noqa: E402
from vae_course import generative  # noqa: E402

TOY = generative.ToyModel(w=2.0, s=1.0)
MODELS = [generative.ToyModel(), generative.ToyModel(w=0.5, s=2.0), generative.ToyModel(w=-1.5, s=0.3)]
QS = [(0.0, 1.0), (0.8, 0.45), (1.0, 0.1), (-1.0, 2.0), (2.5, 0.05)]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---- the toy model ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("x", [2.0, -0.7, 5.0])
def test_log_evidence_is_the_integral_of_likelihood_times_prior(model, x):
    value, _ = integrate.quad(lambda z: stats.norm(model.w * z, model.s).pdf(x) * stats.norm.pdf(z), -np.inf, np.inf)
    assert model.log_evidence(x) == pytest.approx(np.log(value), rel=1e-9)
    assert model.log_evidence_quadrature(x) == pytest.approx(np.log(value), rel=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_posterior_is_prior_times_likelihood_normalised(model):
    x = 1.3
    z = np.linspace(-15, 15, 60001)
    unnormalised = np.exp(model.log_likelihood(x, z) + model.log_prior(z))
    density = unnormalised / np.trapezoid(unnormalised, z)
    mean = np.trapezoid(z * density, z)
    sd = np.sqrt(np.trapezoid((z - mean) ** 2 * density, z))
    m, s = model.posterior(x)
    assert (mean, sd) == pytest.approx((m, s), abs=1e-7)


def test_the_lessons_toy_numbers():
    """The lesson's prose quotes these: posterior N(0.8, 0.447^2), log p(2) = -2.124, best z = 1."""
    m, sd = TOY.posterior(2.0)
    assert (m, sd) == pytest.approx((0.8, np.sqrt(0.2)))
    assert TOY.log_evidence(2.0) == pytest.approx(-2.1237, abs=1e-4)
    assert TOY.best_z(2.0) == 1.0


@pytest.mark.parametrize("mu, sigma", QS)
def test_expected_log_likelihood_matches_integration(mu, sigma):
    x = 2.0
    q = stats.norm(mu, sigma)
    value, _ = integrate.quad(lambda z: q.pdf(z) * stats.norm(TOY.w * z, TOY.s).logpdf(x), mu - 30 * sigma,
                              mu + 30 * sigma, points=[mu])
    assert TOY.expected_log_likelihood(x, mu, sigma) == pytest.approx(value, rel=1e-8)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("mu, sigma", QS)
def test_gap_between_log_evidence_and_elbo_is_kl_to_the_posterior(model, mu, sigma):
    x = 1.7
    gap = model.log_evidence(x) - float(model.elbo(x, mu, sigma))
    assert gap >= 0
    assert gap == pytest.approx(model.kl_to_posterior(x, mu, sigma), rel=1e-8, abs=1e-10)
    m, v = model.posterior(x)[0], model.posterior(x)[1] ** 2
    closed = 0.5 * (sigma**2 / v + (mu - m) ** 2 / v - 1 + np.log(v / sigma**2))  # two normals, for the test only
    assert gap == pytest.approx(closed, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("model", MODELS)
def test_elbo_reaches_log_evidence_at_the_posterior_and_nowhere_else(model):
    x = -1.1
    m, sd = model.posterior(x)
    assert float(model.elbo(x, m, sd)) == pytest.approx(model.log_evidence(x), abs=1e-12)
    mus, sigmas = np.meshgrid(np.linspace(-3, 3, 41), np.geomspace(0.05, 3, 41))
    elbos = model.elbo(x, mus, sigmas)
    assert elbos.max() < model.log_evidence(x)


def test_kl_to_standard_normal_is_equation_17_3():
    mu, sigma = np.array([[0.5, -1.0, 2.0]]), np.array([[0.5, 1.5, 0.8]])
    expected = float(vae_course.kl_sigma(mu, sigma)[0])
    assert np.sum(generative.kl_to_standard_normal(mu, sigma)) == pytest.approx(expected)
    assert generative.kl_to_standard_normal(0.0, 1.0) == 0.0


def test_log_normal_is_scipys_logpdf():
    z, mean, sd = np.array([-1.0, 0.3, 4.0]), np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.2, 3.0])
    np.testing.assert_allclose(generative.log_normal(z, mean, sd), stats.norm(mean, sd).logpdf(z), rtol=1e-12)


def test_toy_rows_agree_with_the_model_and_format_as_a_table():
    rows = generative.toy_rows(TOY, 2.0, [("prior", 0.0, 1.0), ("posterior", *TOY.posterior(2.0))])
    assert [r["q"] for r in rows] == ["prior", "posterior"]
    for r in rows:
        assert r["elbo"] == pytest.approx(r["reconstruction"] - r["kl_prior"])
        assert r["gap"] == pytest.approx(r["kl_posterior"], abs=1e-9)
    assert rows[0]["kl_prior"] == 0.0 and rows[1]["gap"] == pytest.approx(0.0, abs=1e-12)
    text = generative.format_toy_rows(rows)
    assert text.splitlines()[0].startswith("q") and "posterior" in text and "-4.919" in text


# ---- the digits' likelihood -------------------------------------------------------------------


def test_log_binomial_coefficient_is_the_log_of_scipys_comb():
    from scipy.special import comb

    k = np.arange(17)
    np.testing.assert_allclose(generative.log_binomial_coefficient(k), np.log(comb(16, k)), rtol=1e-12)
    assert generative.log_binomial_coefficient(3, n=5) == pytest.approx(np.log(10))


def test_minus_log_likelihood_is_16_times_bce_minus_log_binomial_coefficient():
    """The identity the lesson checks, with the library's likelihood and these helpers."""
    from keras import ops

    rng = np.random.default_rng(0)
    k = rng.integers(0, 17, size=(5, 8, 8))
    x = (k / 16).astype(np.float32)
    logits = generative.logits_of(rng.uniform(0, 1, size=(5, 8, 8)))
    bce = ops.convert_to_numpy(ops.binary_crossentropy(x, logits, from_logits=True)).astype(np.float64)
    identity = (16 * bce - generative.log_binomial_coefficient(k)).reshape(5, -1).sum(axis=1)
    minus_log_p = -ops.convert_to_numpy(vae_course.likelihood_for("digits").log_prob(x, logits))
    np.testing.assert_allclose(minus_log_p, identity, rtol=1e-5)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    np.testing.assert_allclose(minus_log_p, -stats.binom(16, p).logpmf(k).reshape(5, -1).sum(axis=1), rtol=1e-5)


def test_logits_of_keeps_certain_pixels_finite():
    logits = generative.logits_of(np.array([0.0, 0.5, 1.0]))
    assert logits.dtype == np.float32
    assert np.all(np.isfinite(logits)) and logits[1] == 0.0
    assert 1 / (1 + np.exp(-float(logits[2]))) == pytest.approx(1 - 1e-3, rel=1e-6)


# ---- the two ELBO estimates -------------------------------------------------------------------


def _batch(seed=0, batch=6, latent_dim=3):
    rng = np.random.default_rng(seed)
    z_mean = rng.normal(size=(batch, latent_dim))
    z_log_var = rng.uniform(-2, 1, size=(batch, latent_dim))
    z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal((batch, latent_dim))
    return -rng.uniform(50, 100, batch), z, z_mean, z_log_var


def test_elbo_one_sample_is_the_three_log_densities():
    log_px, z, z_mean, z_log_var = _batch()
    log_p = stats.norm(0, 1).logpdf(z).sum(-1)
    log_q = stats.norm(z_mean, np.exp(0.5 * z_log_var)).logpdf(z).sum(-1)
    np.testing.assert_allclose(generative.elbo_one_sample(log_px, z, z_mean, z_log_var), log_px + log_p - log_q,
                               rtol=1e-12)


def test_closed_form_kl_version_subtracts_equation_17_3():
    log_px, _, z_mean, z_log_var = _batch()
    kl = np.asarray(vae_course.kl_log_var(z_mean, z_log_var))
    assert kl.shape == (6,)
    np.testing.assert_allclose(generative.elbo_closed_form_kl(log_px, z_mean, z_log_var), log_px - kl, rtol=1e-6)


@pytest.mark.parametrize("mu, sigma", [(0.0, 1.0), (0.8, np.sqrt(0.2)), (1.0, 0.1), (-0.5, 1.5)])
def test_toy_estimates_both_average_to_the_exact_elbo(mu, sigma):
    one_sample, closed = generative.toy_estimates(TOY, 2.0, mu, sigma, generative.elbo_one_sample, n=40_000, seed=3)
    exact = float(TOY.elbo(2.0, mu, sigma))
    for estimates in (one_sample, closed):
        assert estimates.shape == (40_000,)
        assert abs(estimates.mean() - exact) < 5 * estimates.std() / np.sqrt(len(estimates)) + 1e-12


def test_at_the_posterior_every_single_sample_estimate_is_log_evidence():
    m, sd = TOY.posterior(2.0)
    one_sample, _ = generative.toy_estimates(TOY, 2.0, m, sd, generative.elbo_one_sample, n=100, seed=0)
    np.testing.assert_allclose(one_sample, TOY.log_evidence(2.0), atol=1e-12)


def test_vae_estimates_agree_on_an_untrained_digits_vae():
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    _, (x_test, _) = vae_course.load_dataset("digits")
    one_sample, closed = generative.vae_estimates(vae.encoder, vae.decoder, x_test[:3], generative.elbo_one_sample,
                                                  n_draws=300, seed=0)
    assert one_sample.shape == closed.shape == (300, 3)
    assert np.all(np.isfinite(one_sample)) and np.all(one_sample < 0)
    stderr = one_sample.std(axis=0) / np.sqrt(300) + closed.std(axis=0) / np.sqrt(300)
    assert np.all(np.abs(one_sample.mean(axis=0) - closed.mean(axis=0)) < 5 * stderr + 1e-6)


# ---- figures ----------------------------------------------------------------------------------


def test_plot_toy_model_draws_the_joint_and_the_three_curves():
    fig = generative.plot_toy_model(TOY, 2.0)
    left, right = fig.axes[:2]
    assert len(right.get_lines()) >= 3
    assert "posterior" in " ".join(t.get_text() for t in right.get_legend().get_texts())


def _peaks(ax):
    """{colour: x of the dot} for the dots that mark each curve's maximum."""
    return {line.get_color(): float(line.get_xdata()[0]) for line in ax.get_lines() if line.get_marker() == "o"}


def test_plot_two_terms_marks_each_terms_peak():
    fig = generative.plot_two_terms(TOY, 2.0)
    assert len(fig.axes) == 2
    left, right = fig.axes
    peaks = _peaks(left)
    assert peaks["k"] == pytest.approx(0.8, abs=0.02)  # the ELBO peaks at the posterior mean
    assert peaks["C1"] == pytest.approx(1.0, abs=0.02)  # reconstruction at the best z
    assert peaks["C0"] == pytest.approx(0.0, abs=0.02)  # -KL at the prior's mean
    right_peaks = _peaks(right)
    assert right_peaks["k"] == pytest.approx(np.sqrt(0.2), rel=0.02)
    assert right_peaks["C0"] == pytest.approx(1.0, rel=0.02)
