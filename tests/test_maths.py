"""The latent loss: both closed forms of Equation 17-3/17-4 and the Monte Carlo estimate."""

import numpy as np
import pytest
from keras import ops

import vae_course
from vae_course import kl_log_var, kl_monte_carlo, kl_sigma


def to_np(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def grid(dtype=np.float64):
    """Every pairing of mu in [-5, 5] and sigma in [0.05, 5], as (n, 1) columns."""
    mu, sigma = np.meshgrid(np.linspace(-5, 5, 41), np.geomspace(0.05, 5, 37))
    return mu.reshape(-1, 1).astype(dtype), sigma.reshape(-1, 1).astype(dtype)


def test_sigma_and_log_var_forms_agree_over_a_wide_range():
    """Do KL(mu, sigma) and KL(mu, log sigma^2) give the same value everywhere on the grid?"""
    mu, sigma = grid()
    from_sigma = to_np(kl_sigma(mu, sigma))
    from_log_var = to_np(kl_log_var(mu, np.log(sigma**2)))
    assert from_sigma.shape == from_log_var.shape == (len(mu),)
    assert from_sigma.dtype == np.float64
    np.testing.assert_allclose(from_sigma, from_log_var, rtol=1e-10, atol=1e-12)


def test_forms_agree_for_several_latent_dimensions():
    """With K latent dimensions, is each row's KL the sum of its K one-dimensional KLs?"""
    rng = np.random.default_rng(3)
    mu = rng.uniform(-3, 3, size=(6, 4))
    sigma = rng.uniform(0.1, 3, size=(6, 4))
    total = to_np(kl_sigma(mu, sigma))
    per_dim = sum(to_np(kl_sigma(mu[:, [k]], sigma[:, [k]])) for k in range(4))
    np.testing.assert_allclose(total, per_dim, rtol=1e-12)
    np.testing.assert_allclose(to_np(kl_log_var(mu, 2 * np.log(sigma))), total, rtol=1e-10)


@pytest.mark.parametrize(
    "mu, sigma",
    [
        ([0.0], [1.0]),
        ([1.5], [0.5]),
        ([-2.0, 0.3], [2.0, 0.2]),
        ([0.5, -0.5, 1.0], [1.3, 0.8, 0.6]),
    ],
)
def test_closed_form_matches_monte_carlo_within_four_standard_errors(mu, sigma):
    """Is the closed form inside the Monte Carlo estimate's +-4 standard errors?"""
    mu, sigma = np.array(mu), np.array(sigma)
    estimate, stderr = kl_monte_carlo(mu, sigma, n_samples=200_000, seed=1, return_stderr=True)
    exact = float(to_np(kl_sigma(mu, sigma)))
    assert np.isfinite(stderr)
    if exact == 0.0:  # q = p: every sample's log-ratio is exactly zero
        assert abs(estimate) < 1e-12
    else:
        assert stderr > 0
        assert abs(estimate - exact) <= 4 * stderr, (estimate, exact, stderr)


def test_monte_carlo_handles_a_batch():
    """A (n, K) batch gives n estimates, each near its own closed form."""
    mu = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    sigma = np.array([[1.0, 0.5], [0.3, 2.0], [1.5, 1.0]])
    estimate, stderr = kl_monte_carlo(mu, sigma, n_samples=100_000, seed=2, return_stderr=True)
    exact = to_np(kl_sigma(mu, sigma))
    assert estimate.shape == stderr.shape == (3,)
    assert np.all(np.abs(estimate - exact) <= 4 * stderr)


def test_monte_carlo_standard_error_shrinks_like_one_over_sqrt_n():
    """Going from n to 100 n samples should divide the standard error by about 10."""
    mu, sigma = np.array([1.0, -0.5]), np.array([0.5, 2.0])
    _, small = kl_monte_carlo(mu, sigma, n_samples=2_000, seed=5, return_stderr=True)
    _, large = kl_monte_carlo(mu, sigma, n_samples=200_000, seed=6, return_stderr=True)
    assert 8.5 < small / large < 11.5, small / large


def test_monte_carlo_rejects_too_few_samples():
    with pytest.raises(ValueError, match="n_samples"):
        kl_monte_carlo([0.0], [1.0], n_samples=1)


def test_kl_is_exactly_zero_at_the_prior():
    """q = N(0, 1) is the prior itself: both forms give exactly 0."""
    assert float(to_np(kl_sigma(np.zeros((1, 3)), np.ones((1, 3))))[0]) == 0.0
    assert float(to_np(kl_log_var(np.zeros((1, 3)), np.zeros((1, 3))))[0]) == 0.0
    assert float(to_np(kl_log_var(np.zeros((1, 3), np.float32), np.zeros((1, 3), np.float32)))[0]) == 0.0


def test_kl_is_positive_away_from_the_prior():
    """Every grid point except (mu, sigma) = (0, 1) has KL > 0."""
    mu, sigma = grid()
    mu, sigma = np.vstack([mu, [[0.0]]]), np.vstack([sigma, [[1.0]]])  # add the prior itself
    away = ~((mu == 0) & (sigma == 1)).ravel()
    for value in (to_np(kl_sigma(mu, sigma)), to_np(kl_log_var(mu, np.log(sigma**2)))):
        assert np.all(value[away] > 0)
        assert value[~away] == pytest.approx([0.0], abs=0.0)


def test_log_var_form_is_positive_for_tiny_departures():
    """expm1(g) - g keeps the size of small log-variances that 1 + g - exp(g) would round away."""
    tiny = np.array([[1e-7], [-1e-7]], dtype=np.float64)
    value = to_np(kl_log_var(np.zeros_like(tiny), tiny))
    np.testing.assert_allclose(value, 0.25 * tiny.ravel() ** 2, rtol=1e-3)  # 1/2 * g^2 / 2
    assert np.all(value > 0)


def test_log_var_form_is_finite_and_non_negative_in_float32():
    """log_var from -30 to 30 in float32: no inf, no NaN, no negative KL."""
    log_var = np.linspace(-30, 30, 601, dtype=np.float32).reshape(-1, 1)
    for mu_value in (0.0, 3.0):
        value = to_np(kl_log_var(np.full_like(log_var, mu_value), log_var))
        assert value.dtype == np.float32
        assert np.all(np.isfinite(value))
        assert np.all(value >= 0)
    # at the ends the KL is dominated by exp(30) / 2 and by 30 / 2 respectively
    end_values = to_np(kl_log_var(np.zeros((2, 1), np.float32), np.array([[30.0], [-30.0]], np.float32)))
    np.testing.assert_allclose(end_values, [0.5 * (np.exp(30.0) - 31.0), 0.5 * (np.exp(-30.0) + 29.0)], rtol=1e-5)


def test_a_value_computed_by_hand():
    """mu = (1, -0.5), sigma = (0.5, 2): the log sigma^2 terms cancel and KL = 1.75 exactly."""
    mu = np.array([[1.0, -0.5]])
    sigma = np.array([[0.5, 2.0]])
    # 1/2 [(0.25 + 1 - 1 - log 0.25) + (4 + 0.25 - 1 - log 4)] = 1/2 (0.25 + 3.25) = 1.75
    by_hand = 0.5 * np.sum(sigma**2 + mu**2 - 1.0 - np.log(sigma**2))
    assert by_hand == pytest.approx(1.75, abs=1e-12)
    assert float(to_np(kl_sigma(mu, sigma))[0]) == pytest.approx(1.75, abs=1e-12)
    assert float(to_np(kl_log_var(mu, np.log(sigma**2)))[0]) == pytest.approx(1.75, abs=1e-12)


def test_monte_carlo_accepts_plain_numbers_as_one_dimension():
    """A scalar mu and sigma are one latent dimension: the estimate is a float near the closed form."""
    estimate, stderr = vae_course.kl_monte_carlo(1.0, 0.5, n_samples=100_000, seed=3, return_stderr=True)
    exact = float(vae_course.kl_sigma(np.array([1.0]), np.array([0.5])))
    assert isinstance(estimate, float) and abs(estimate - exact) < 5 * stderr
    assert vae_course.kl_monte_carlo(1.0, 0.5, n_samples=1000, seed=3) == pytest.approx(
        float(vae_course.kl_monte_carlo(np.array([1.0]), np.array([0.5]), n_samples=1000, seed=3)[()])
    )
