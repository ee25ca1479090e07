"""check.kl_sigma, check.kl_monte_carlo_estimate and check.kl_quadrature_estimate (lesson 05): right answers in
every style pass, each typical slip gets its own message, and nothing the learner passes makes the checker crash."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from scipy import stats

import vae_course
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes

HALF_LOG_TWO_PI = 0.5 * np.log(2 * np.pi)


# ---- Monte Carlo: kl_mc(mu, sigma, n, seed) -------------------------------------------------


def _draws(mu, sigma, n, seed):
    eps = np.random.default_rng(seed).standard_normal((n,) + np.shape(mu))
    return eps, mu + sigma * eps


def _log_q(z, mu, sigma):
    return -HALF_LOG_TWO_PI - np.log(sigma) - 0.5 * ((z - mu) / sigma) ** 2


def _log_p(z):
    return -HALF_LOG_TWO_PI - 0.5 * z**2


def mc_numpy(mu, sigma, n, seed):
    """The lesson's solution: works for numbers and for vectors (summed over the latent axis)."""
    _, z = _draws(mu, sigma, n, seed)
    return np.mean((_log_q(z, mu, sigma) - _log_p(z)).reshape(n, -1).sum(axis=1))


def mc_numpy_one_dimension(mu, sigma, n, seed):
    eps = np.random.default_rng(seed).standard_normal(n)
    z = mu + sigma * eps
    return np.mean(_log_q(z, mu, sigma) - _log_p(z))


def mc_no_constants(mu, sigma, n, seed):
    """Leaving -1/2 log(2 pi) out of BOTH log densities is fine: it cancels."""
    z = mu + sigma * np.random.default_rng(seed).standard_normal(n)
    return np.mean(-np.log(sigma) - (z - mu) ** 2 / (2 * sigma**2) + z**2 / 2)


def mc_per_dimension(mu, sigma, n, seed):
    """For vectors, one KL per latent dimension (the mean over draws only)."""
    _, z = _draws(mu, sigma, n, seed)
    return np.mean(_log_q(z, mu, sigma) - _log_p(z), axis=0)


def mc_keras_ops(mu, sigma, n, seed):
    eps = keras.random.normal((n,), seed=seed)
    z = mu + sigma * eps
    log_q = -0.5 * np.log(2 * np.pi) - ops.log(sigma) - 0.5 * ops.square((z - mu) / sigma)
    log_p = -0.5 * np.log(2 * np.pi) - 0.5 * ops.square(z)
    return ops.mean(log_q - log_p)


def mc_tensorflow(mu, sigma, n, seed):
    eps = tf.random.stateless_normal([n], seed=[seed, 0])
    z = mu + sigma * eps
    log_ratio = -tf.math.log(sigma) - 0.5 * ((z - mu) / sigma) ** 2 + 0.5 * z**2
    return tf.reduce_mean(log_ratio)


def mc_scipy(mu, sigma, n, seed):
    z = stats.norm(mu, sigma).rvs(size=n, random_state=seed)
    return np.mean(stats.norm(mu, sigma).logpdf(z) - stats.norm(0, 1).logpdf(z))


@pytest.mark.parametrize(
    "fn",
    [mc_numpy, mc_numpy_one_dimension, mc_no_constants, mc_per_dimension, mc_keras_ops, mc_tensorflow, mc_scipy],
    ids=["numpy", "numpy-1d", "no-constants", "per-dimension", "keras.ops", "tensorflow", "scipy"],
)
def test_kl_mc_accepts_every_correct_style(fn):
    assert_passes(check.kl_monte_carlo_estimate(fn))


def test_kl_mc_says_what_it_found_about_vectors():
    assert "also works for vectors" in check.kl_monte_carlo_estimate(mc_numpy).message
    assert "Optional" in check.kl_monte_carlo_estimate(mc_numpy_one_dimension).message
    assert "one KL per latent dimension" in check.kl_monte_carlo_estimate(mc_per_dimension).message


def _estimator(log_ratio, draw_from_prior=False, without_sigma=False):
    """An estimator that averages log_ratio(z, mu, sigma) over draws, possibly from the wrong distribution."""

    def fn(mu, sigma, n, seed):
        eps = np.random.default_rng(seed).standard_normal(n)
        z = eps if draw_from_prior else mu + (1.0 if without_sigma else sigma) * eps
        return np.mean(log_ratio(z, mu, sigma))

    return fn


def _log_ratios(mu, sigma, n, seed):
    """One log q(z) - log p(z) per draw, not averaged."""
    _, z = _draws(mu, sigma, n, seed)
    return _log_q(z, mu, sigma) - _log_p(z)


def mc_plugs_in_sample_moments(mu, sigma, n, seed):
    """Consistent but biased: the closed form evaluated at the sample mean and variance of the draws."""
    _, z = _draws(mu, sigma, n, seed)
    return 0.5 * (np.mean(z) ** 2 + np.var(z) - 1 - np.log(np.var(z)))


def _log_q_without_log_sigma(z, mu, sigma):
    return -HALF_LOG_TWO_PI - 0.5 * ((z - mu) / sigma) ** 2


MC_MISTAKES = [
    (_estimator(lambda z, m, s: _log_q(z, m, s)), r"average of log q\(z\) alone"),
    (_estimator(lambda z, m, s: _log_p(z)), r"average of log p\(z\) alone"),
    (_estimator(lambda z, m, s: -_log_p(z)), r"−log p\(z\) alone \(the cross-entropy\)"),
    (_estimator(lambda z, m, s: _log_p(z) - _log_q(z, m, s)), r"wrong sign"),
    (_estimator(lambda z, m, s: _log_q_without_log_sigma(z, m, s) - _log_p(z)), r"missing its −log σ term"),
    (_estimator(lambda z, m, s: _log_q(z, m, s) - np.log(s) - _log_p(z)), r"subtracts log σ² where"),
    (_estimator(lambda z, m, s: _log_q(z, m, s) + HALF_LOG_TWO_PI - _log_p(z)), r"log q\(z\) is missing −½ log 2π"),
    (_estimator(lambda z, m, s: _log_q(z, m, s) - _log_p(z) - HALF_LOG_TWO_PI), r"log p\(z\) is missing −½ log 2π"),
    (_estimator(lambda z, m, s: _log_q(z, m, s) - _log_p(z), draw_from_prior=True), r"drew z from the prior"),
    (_estimator(lambda z, m, s: _log_q(z, m, s) - _log_p(z), without_sigma=True), r"z = μ \+ ε, without σ"),
    (lambda mu, sigma, n, seed: n * mc_numpy(mu, sigma, n, seed), r"summed over the draws"),
    (lambda mu, sigma, n, seed: np.sum(_log_ratios(mu, sigma, n, seed)) / (n - 1),
     r"biased.*dividing the sum by n − 1"),
    (mc_plugs_in_sample_moments, r"biased.*sample mean and spread of z"),
    (lambda mu, sigma, n, seed: mc_numpy(mu, sigma, n, 0), r"same number.*for 400 different seeds"),
    (lambda mu, sigma, n, seed: mc_numpy(mu, sigma, 1000, seed), r"vary too little.*draw exactly"),
    (lambda mu, sigma, n, seed: mc_numpy(mu, sigma, max(n // 4, 1), seed), r"vary too much"),
    (lambda mu, sigma, n, seed: 0.5 * (mu**2 + sigma**2 - 1 - np.log(sigma**2)), r"returns the closed form"),
    (lambda mu, sigma, n, seed: 1.227, r"same number.*different seeds"),
    (lambda mu, sigma, n, seed: mc_numpy(mu, sigma, n, seed) * 1.2, r"not one of the usual slips"),
    (_log_ratios, r"one per draw.*average"),
    (lambda mu, sigma, n, seed: np.array([1.0, 2.0]), r"should return one number"),
    (lambda mu, sigma, n, seed: (mc_numpy(mu, sigma, n, seed) if np.ndim(mu) == 0
                                 else mc_numpy(mu, sigma, n, seed) / np.size(mu)), r"MEAN of the per-dimension KLs"),
    (lambda mu, sigma, n, seed: (mc_numpy(mu, sigma, n, seed) if np.ndim(mu) == 0 else 7.0), r"summed KL is"),
    (lambda mu, sigma, n, seed: None, r"returned None.*return"),
    (lambda mu, sigma, n, seed: 1 / 0, r"raised ZeroDivisionError"),
    (lambda mu, sigma, n, seed: np.log(-1.0), r"contains NaN"),
    (lambda mu, sigma, n, seed: "zero point eight", r"should give numbers"),
    (0.8, r"should be a function"),
    (None, r"should be a function.*None"),
    ([0.8], r"should be a function.*list"),
]


@pytest.mark.parametrize("fn, match", MC_MISTAKES, ids=[m for _, m in MC_MISTAKES])
def test_kl_mc_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.kl_monte_carlo_estimate(fn), match)


def test_kl_mc_placeholder_is_not_attempted():
    assert_not_attempted(check.kl_monte_carlo_estimate(____))

    def stub(mu, sigma, n, seed):
        return ____

    assert_not_attempted(check.kl_monte_carlo_estimate(stub))


# ---- Quadrature: kl_grid(mu, sigma, z) ------------------------------------------------------


def grid_numpy(mu, sigma, z):
    log_q, log_p = _log_q(z, mu, sigma), _log_p(z)
    return np.trapezoid(np.exp(log_q) * (log_q - log_p), z)


def grid_naive_densities(mu, sigma, z):
    q = np.exp(-((z - mu) ** 2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
    p = np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)
    return np.trapezoid(q * np.log(q / p), z)


def grid_by_hand(mu, sigma, z):
    """The trapezoidal rule written out, for any spacing."""
    log_q, log_p = _log_q(z, mu, sigma), _log_p(z)
    f = np.exp(log_q) * (log_q - log_p)
    return np.sum((f[1:] + f[:-1]) / 2 * np.diff(z))


def grid_scipy(mu, sigma, z):
    q, p = stats.norm(mu, sigma), stats.norm(0, 1)
    return np.trapezoid(q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), z)


def grid_keras_ops(mu, sigma, z):
    z = ops.convert_to_tensor(z, dtype="float32")
    log_q = -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * ops.square((z - mu) / sigma)
    log_p = -0.5 * np.log(2 * np.pi) - 0.5 * ops.square(z)
    f = ops.exp(log_q) * (log_q - log_p)
    return ops.sum((f[1:] + f[:-1]) / 2 * (z[1:] - z[:-1]))


def grid_tensorflow(mu, sigma, z):
    z = tf.constant(z, dtype=tf.float32)
    q = tf.exp(-0.5 * ((z - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    p = tf.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    f = q * tf.math.log(q / p)
    return tf.reduce_sum(0.5 * (f[1:] + f[:-1]) * (z[1:] - z[:-1]))


@pytest.mark.parametrize(
    "fn",
    [grid_numpy, grid_naive_densities, grid_by_hand, grid_scipy, grid_keras_ops, grid_tensorflow],
    ids=["numpy", "naive-densities", "by-hand", "scipy", "keras.ops", "tensorflow"],
)
def test_kl_grid_accepts_every_correct_style(fn):
    assert_passes(check.kl_quadrature_estimate(fn))


def _grid_mistake(integrand, integrate=lambda f, z: np.trapezoid(f, z)):
    def fn(mu, sigma, z):
        log_q, log_p = _log_q(z, mu, sigma), _log_p(z)
        return integrate(integrand(np.exp(log_q), np.exp(log_p), log_q, log_p), z)

    return fn


def _normal(z, mu, sigma, inverse_sigma=True, root_two_pi=True):
    scale = (1 / sigma if inverse_sigma else 1.0) / (np.sqrt(2 * np.pi) if root_two_pi else 1.0)
    return scale * np.exp(-0.5 * ((z - mu) / sigma) ** 2)


GRID_MISTAKES = [
    (lambda mu, sigma, z: grid_numpy(mu, sigma, np.linspace(-10, 10, 2001)), r"does not integrate on the grid"),
    (lambda mu, sigma, z: grid_numpy(mu, sigma, np.linspace(mu - 3 * sigma, mu + 3 * sigma, 601)),
     r"does not integrate on the grid.*too narrow"),
    (_grid_mistake(lambda q, p, lq, lp: lq - lp), r"without the weight q\(z\)"),
    (_grid_mistake(lambda q, p, lq, lp: q * (lp - lq)), r"upside down"),
    (_grid_mistake(lambda q, p, lq, lp: p * (lp - lq)), r"KL\(p ‖ q\)"),
    (_grid_mistake(lambda q, p, lq, lp: q * (lq - lp), integrate=lambda f, z: np.sum(f)), r"without the grid spacing"),
    (_grid_mistake(lambda q, p, lq, lp: q * (lq - lp), integrate=lambda f, z: np.trapezoid(f)),
     r"np.trapezoid without the grid"),
    (_grid_mistake(lambda q, p, lq, lp: q * (lq - lp), integrate=lambda f, z: np.sum(f) * (z[1] - z[0])),
     r"Riemann sum"),
    (_grid_mistake(lambda q, p, lq, lp: q * (lq - lp), integrate=lambda f, z: np.trapezoid(z, f)),
     r"arguments of np.trapezoid are swapped"),
    (lambda mu, sigma, z: np.trapezoid(
        _normal(z, mu, sigma, root_two_pi=False)
        * np.log(_normal(z, mu, sigma, root_two_pi=False) / _normal(z, 0, 1, root_two_pi=False)), z),
     r"missing the factor 1/√\(2π\)"),
    (lambda mu, sigma, z: np.trapezoid(
        _normal(z, mu, sigma, inverse_sigma=False)
        * (_log_q(z, mu, sigma) - _log_p(z)), z), r"missing the factor 1/σ"),
    (_grid_mistake(lambda q, p, lq, lp: q * (lq - lp), integrate=lambda f, z: f), r"one value per grid point"),
    (lambda mu, sigma, z: grid_numpy(mu, sigma, z) + 0.1, r"not one of the usual slips"),
    (lambda mu, sigma, z: grid_numpy(1.5, 0.7, z), r"expected"),
    (lambda mu, sigma, z: np.array([1.0, 2.0]), r"should return one number"),
    (lambda mu, sigma, z: None, r"returned None.*return"),
    (lambda mu, sigma, z: z[len(z) + 5], r"raised IndexError"),
    (lambda mu, sigma, z: np.log(-sigma), r"contains NaN"),
    (lambda mu, sigma, z: {"kl": 1.0}, r"should give numbers"),
    ("np.trapezoid", r"should be a function"),
    (None, r"should be a function.*None"),
]


@pytest.mark.parametrize("fn, match", GRID_MISTAKES, ids=[m for _, m in GRID_MISTAKES])
def test_kl_grid_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.kl_quadrature_estimate(fn), match)


def test_kl_grid_placeholder_is_not_attempted():
    assert_not_attempted(check.kl_quadrature_estimate(____))

    def stub(mu, sigma, z):
        return ____

    assert_not_attempted(check.kl_quadrature_estimate(stub))


def test_both_checks_give_a_message_for_wrong_call_arguments():
    result = check.kl_quadrature_estimate()
    assert result.status == "uncheckable" and "wrong arguments" in result.message


# ---- Equation 17-3, from sigma -------------------------------------------------------------

@pytest.mark.parametrize(
    "fn",
    [
        lambda mu, sigma: -0.5 * np.sum(1 + np.log(sigma**2) - sigma**2 - mu**2, axis=-1),
        lambda mu, sigma: -0.5 * ops.sum(1 + 2 * ops.log(sigma) - ops.square(sigma) - ops.square(mu), axis=-1),
        lambda mu, sigma: 0.5 * tf.reduce_sum(sigma**2 + mu**2 - 1 - tf.math.log(sigma**2), axis=1),
        vae_course.kl_sigma,
    ],
    ids=["numpy", "keras.ops", "tensorflow", "package"],
)
def test_kl_sigma_accepts_every_correct_style(fn):
    assert_passes(check.kl_sigma(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda mu, s: np.sum(1 + np.log(s**2) - s**2 - mu**2, axis=-1), r"dropped the factor −1/2"),
        (lambda mu, s: 0.5 * np.sum(1 + np.log(s**2) - s**2 - mu**2, axis=-1), r"wrong sign"),
        (lambda mu, s: -np.sum(1 + np.log(s**2) - s**2 - mu**2, axis=-1), r"dropped the 1/2"),
        (lambda mu, s: -0.5 * np.mean(1 + np.log(s**2) - s**2 - mu**2, axis=-1), r"averaged over the latent"),
        (lambda mu, s: -0.5 * np.sum(1 + np.log(s**2) - s**2 + mu**2, axis=-1), r"sign of μ²"),
        (lambda mu, s: -0.5 * np.sum(1 + np.log(s) - s**2 - mu**2, axis=-1), r"log σ where Equation 17-3 has log σ²"),
        (lambda mu, s: -0.5 * np.sum(1 + np.log(s) ** 2 - s**2 - mu**2, axis=-1), r"\(log σ\)², the square of the log"),
        (lambda mu, s: -0.5 * ops.sum(1 + ops.square(ops.log(s)) - ops.square(s) - ops.square(mu), axis=-1),
         r"\(log σ\)², the square of the log"),
        (lambda mu, s: -0.5 * np.sum(1 + np.log(s**2) - s - mu**2, axis=-1), r"σ² \(the variance\), not σ"),
        (lambda mu, s: -0.5 * np.sum(np.log(s**2) - s**2 - mu**2, axis=-1), r"bracket starts with 1"),
        (lambda mu, s: -0.5 * (1 + np.log(s**2) - s**2 - mu**2), r"sum over dimensions is missing"),
        (lambda mu, s: -0.5 * np.sum(1 + np.log(s**2) - s**2 - mu**2), r"also summed .* over the examples"),
        (lambda mu, s: -0.5 * np.sum((1 + np.log(s**2) - s**2 - mu**2)[:, :3], axis=-1) * 0 + 1.0, r"expected"),
        (lambda mu, s: -0.5 * np.sum((1 + np.log(s**2) - s**2 - mu**2)[:, :3], axis=-1)
         if mu.shape[1] == 3 else np.zeros(len(mu)), r"hard-code the number of dimensions"),
        (lambda mu, s: None, r"returned None.*return"),
        (lambda mu, s: 1 / 0, r"raised ZeroDivisionError"),
        (lambda mu, s: np.log(-np.ones(len(mu))), r"contains NaN"),
        (lambda mu, s: "a string", r"should give numbers"),
        (3.0, r"should be a function"),
        (None, r"should be a function.*None"),
        ([1, 2], r"should be a function.*list"),
        (np.ones(4), r"should be a function"),
    ],
)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the NaN mistakes are on purpose
def test_kl_sigma_names_each_typical_mistake(fn, match):
    assert_fails(check.kl_sigma(fn), match)


def test_kl_sigma_placeholder_is_not_attempted():
    assert_not_attempted(check.kl_sigma(____))

    def stub(mu, sigma):
        return ____

    assert_not_attempted(check.kl_sigma(stub))


# ---- predict_draws_needed ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("guess", [1_232_550, 1e6, 700_000, 2_000_000])
def test_draws_needed_predictions_within_a_factor_two_pass(guess):
    result = check.predict_draws_needed(guess)
    assert_passes(result)
    assert "1.23 million" in result.message


@pytest.mark.parametrize(
    "guess, match",
    [
        (1110, r"without the square"),
        (1000, r"without the square"),
        (10_000, r"from 6.16e\+05 to 2.47e\+06 count as right"),
        (1e8, r"count as right"),
        (float("nan"), r"finite number"),
    ],
)
def test_draws_needed_wrong_predictions_are_named(guess, match):
    assert_fails(check.predict_draws_needed(guess), match)


def test_draws_needed_placeholder_is_not_attempted():
    assert_not_attempted(check.predict_draws_needed(____))
