"""check.predict_the_elbo and check.elbo_one_sample (lesson 03): right answers in every style pass, each typical
slip gets its own message, and nothing the learner passes makes the checker crash."""

import math

import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from scipy import stats

from vae_course.checks import ____, check
from vae_course.exercises import generative as checker

from checker_helpers import assert_fails, assert_not_attempted, assert_passes

HALF_LOG_TWO_PI = 0.5 * np.log(2 * np.pi)
LOG_PX = -2.123657  # the toy's log p(x = 2)
GAP_AT_PRIOR = 2.795  # KL(prior || posterior) at x = 2


# ---- predict, then check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "elbo, kl", [(-2.124, 0.0), (-2.12, 0), (np.float64(-2.1237), np.float32(0.004)), (-2.13, -0.0)]
)
def test_predictions_within_rounding_pass(elbo, kl):
    assert_passes(check.predict_the_elbo(elbo, kl))


def test_a_passing_prediction_reveals_both_values():
    result = check.predict_the_elbo(-2.12, 0)
    assert "-2.124" in result.message and "2.795" in result.message


@pytest.mark.parametrize("elbo, kl, missing", [
    (____, 0.0, "`elbo_if_q_is_the_posterior` is"),
    (-2.12, ____, "`kl_term_if_q_is_the_prior` is"),
    (____, ____, "and `kl_term_if_q_is_the_prior` are"),
])
def test_placeholders_are_not_attempted(elbo, kl, missing):
    result = check.predict_the_elbo(elbo, kl)
    assert_not_attempted(result)
    assert missing in result.message


@pytest.mark.parametrize("elbo, match", [
    (0.0, r"0 is the gap"),
    (-1.5, r"above log p\(x\) = -2\.124.*never negative"),
    (3.0, r"above log p\(x\)"),
    (-4.919, r"the ELBO when q is the prior"),
    (-3.0, r"falls short of log p\(x\).*when q is the posterior itself"),
])
def test_each_wrong_elbo_prediction_is_named(elbo, match):
    assert_fails(check.predict_the_elbo(elbo, 0.0), match)


@pytest.mark.parametrize("kl, match", [
    (-0.5, r"never negative"),
    (2.795, r"the gap, when q is the prior.*not with the posterior"),
    (1.0, r"of a distribution from itself"),
])
def test_each_wrong_kl_prediction_is_named(kl, match):
    assert_fails(check.predict_the_elbo(LOG_PX, kl), match)


@pytest.mark.parametrize("value, match", [
    ([-2.12, 0.0], r"one number"),
    (np.array([1.0, 2.0]), r"one number"),
    ("-2.12", r"text"),
    (None, r"returned None|should"),
    (float("nan"), r"finite number"),
    (float("-inf"), r"finite number"),
    (True, r"yes/no value"),
])
def test_bad_input_gets_a_clear_message(value, match):
    assert_fails(check.predict_the_elbo(value, 0.0), match)


def test_a_one_element_array_counts_as_a_number():
    assert_passes(check.predict_the_elbo(np.array([-2.124]), tf.constant(0.0)))


def test_the_toy_values_the_checker_uses_are_the_lessons():
    log_px, gap = checker._toy_values()
    assert log_px == pytest.approx(LOG_PX, abs=1e-6)
    assert gap == pytest.approx(GAP_AT_PRIOR, abs=1e-3)


# ---- elbo_one_sample ----------------------------------------------------------------------------


def _log_normal(z, mean, log_var):
    return -HALF_LOG_TWO_PI - 0.5 * log_var - 0.5 * (z - mean) ** 2 / np.exp(log_var)


def elbo_numpy(log_px_given_z, z, z_mean, z_log_var):
    """The lesson's solution."""
    log_p_z = np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * z**2, axis=-1)
    log_q_z = np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * z_log_var - 0.5 * (z - z_mean) ** 2 / np.exp(z_log_var), axis=-1)
    return log_px_given_z + log_p_z - log_q_z


def elbo_no_constants(log_px_given_z, z, z_mean, z_log_var):
    """Leaving -1/2 log(2 pi) out of BOTH densities is right: it cancels."""
    return log_px_given_z + np.sum(-0.5 * z**2 + 0.5 * z_log_var + 0.5 * (z - z_mean) ** 2 / np.exp(z_log_var), -1)


def elbo_keras_ops(log_px_given_z, z, z_mean, z_log_var):
    log_p = ops.sum(-0.5 * np.log(2 * np.pi) - 0.5 * ops.square(z), axis=-1)
    log_q = ops.sum(-0.5 * np.log(2 * np.pi) - 0.5 * z_log_var - 0.5 * ops.square(z - z_mean) * ops.exp(-z_log_var),
                    axis=-1)
    return log_px_given_z + log_p - log_q


def elbo_tensorflow(log_px_given_z, z, z_mean, z_log_var):
    """TensorFlow will not mix float32 tensors with NumPy's float64 scalars, so the constant is a Python float."""
    half_log_two_pi = 0.5 * math.log(2 * math.pi)
    sigma = tf.exp(0.5 * z_log_var)
    log_q = tf.reduce_sum(-half_log_two_pi - tf.math.log(sigma) - 0.5 * ((z - z_mean) / sigma) ** 2, axis=1)
    log_p = tf.reduce_sum(-half_log_two_pi - 0.5 * z**2, axis=1)
    return log_px_given_z + log_p - log_q


def elbo_scipy(log_px_given_z, z, z_mean, z_log_var):
    log_q = stats.norm(z_mean, np.exp(z_log_var / 2)).logpdf(z).sum(axis=-1)
    return log_px_given_z + stats.norm.logpdf(z).sum(axis=-1) - log_q


def elbo_as_list(log_px_given_z, z, z_mean, z_log_var):
    return elbo_numpy(log_px_given_z, z, z_mean, z_log_var).tolist()


@pytest.mark.parametrize("fn", [elbo_numpy, elbo_no_constants, elbo_keras_ops, elbo_tensorflow, elbo_scipy,
                                elbo_as_list])
def test_right_answers_in_every_style_pass(fn):
    assert_passes(check.elbo_one_sample(fn))


def _pieces(z, z_mean, z_log_var):
    return _log_normal(z, 0.0, 0.0), _log_normal(z, z_mean, z_log_var)


def wrong_sign(log_px, z, z_mean, z_log_var):
    return -elbo_numpy(log_px, z, z_mean, z_log_var)


def no_log_p(log_px, z, z_mean, z_log_var):
    return log_px - _pieces(z, z_mean, z_log_var)[1].sum(-1)


def no_log_q(log_px, z, z_mean, z_log_var):
    return log_px + _pieces(z, z_mean, z_log_var)[0].sum(-1)


def plus_log_q(log_px, z, z_mean, z_log_var):
    log_p, log_q = _pieces(z, z_mean, z_log_var)
    return log_px + log_p.sum(-1) + log_q.sum(-1)


def swapped_signs(log_px, z, z_mean, z_log_var):
    log_p, log_q = _pieces(z, z_mean, z_log_var)
    return log_px - log_p.sum(-1) + log_q.sum(-1)


def no_log_px(log_px, z, z_mean, z_log_var):
    log_p, log_q = _pieces(z, z_mean, z_log_var)
    return log_p.sum(-1) - log_q.sum(-1)


def mean_over_latents(log_px, z, z_mean, z_log_var):
    log_p, log_q = _pieces(z, z_mean, z_log_var)
    return log_px + log_p.mean(-1) - log_q.mean(-1)


def log_var_read_as_log_sigma(log_px, z, z_mean, z_log_var):
    sigma = np.exp(z_log_var)
    log_q = stats.norm(z_mean, sigma).logpdf(z)
    return log_px + _pieces(z, z_mean, z_log_var)[0].sum(-1) - log_q.sum(-1)


def log_variance_normaliser(log_px, z, z_mean, z_log_var):
    log_q = -HALF_LOG_TWO_PI - z_log_var - 0.5 * (z - z_mean) ** 2 / np.exp(z_log_var)
    return log_px + _pieces(z, z_mean, z_log_var)[0].sum(-1) - log_q.sum(-1)


def closed_form_kl(log_px, z, z_mean, z_log_var):
    return log_px + 0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)


def constant_only_in_log_p(log_px, z, z_mean, z_log_var):
    log_p = -HALF_LOG_TWO_PI - 0.5 * z**2
    log_q = -0.5 * z_log_var - 0.5 * (z - z_mean) ** 2 / np.exp(z_log_var)
    return log_px + log_p.sum(-1) - log_q.sum(-1)


def constant_only_in_log_q(log_px, z, z_mean, z_log_var):
    log_p = -0.5 * z**2
    log_q = -HALF_LOG_TWO_PI - 0.5 * z_log_var - 0.5 * (z - z_mean) ** 2 / np.exp(z_log_var)
    return log_px + log_p.sum(-1) - log_q.sum(-1)


def per_latent_dimension(log_px, z, z_mean, z_log_var):
    log_p, log_q = _pieces(z, z_mean, z_log_var)
    return log_px[:, None] + log_p - log_q


def batch_average(log_px, z, z_mean, z_log_var):
    return np.mean(elbo_numpy(log_px, z, z_mean, z_log_var))


def sigma_as_square_root(log_px, z, z_mean, z_log_var):
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(z_log_var)
        log_q = -HALF_LOG_TWO_PI - np.log(sigma) - 0.5 * ((z - z_mean) / sigma) ** 2
    return log_px + _pieces(z, z_mean, z_log_var)[0].sum(-1) - log_q.sum(-1)


def unbroadcastable(log_px, z, z_mean, z_log_var):
    log_p, log_q = _pieces(z, z_mean, z_log_var)
    return log_px + log_p - log_q  # (batch,) + (batch, latent_dim): fails to broadcast


@pytest.mark.parametrize("fn, match", [
    (wrong_sign, r"opposite sign.*−ELBO"),
    (no_log_p, r"log p\(z\) term is missing"),
    (no_log_q, r"−log q\(z \| x\) term is missing"),
    (plus_log_q, r"You added log q\(z \| x\)"),
    (swapped_signs, r"signs of log p\(z\) and log q\(z \| x\) are swapped"),
    (no_log_px, r"log p\(x \| z\) term is missing"),
    (mean_over_latents, r"averaged log p\(z\) and log q\(z \| x\) over the latent dimensions"),
    (log_var_read_as_log_sigma, r"σ = exp\(z_log_var\), treating `z_log_var` as log σ"),
    (log_variance_normaliser, r"subtracts log σ² where the normal density has log σ"),
    (closed_form_kl, r"subtracted the closed-form KL"),
    (constant_only_in_log_p, r"log p\(z\) has the −½ log 2π"),
    (constant_only_in_log_q, r"log q\(z \| x\) has the −½ log 2π"),
    (per_latent_dimension, r"one value per latent dimension"),
    (batch_average, r"one number for the whole batch"),
    (sigma_as_square_root, r"NaN or infinity.*exp\(z_log_var / 2\)"),
    (unbroadcastable, r"raised ValueError"),
])
def test_each_typical_mistake_gets_its_own_message(fn, match):
    assert_fails(check.elbo_one_sample(fn), match)


def test_an_unknown_mistake_gets_the_generic_message():
    assert_fails(check.elbo_one_sample(lambda log_px, z, m, v: elbo_numpy(log_px, z, m, v) + 1.0),
                 r"not one of the usual slips")


@pytest.mark.parametrize("answer, match, status", [
    (____, r"placeholder", "not_attempted"),
    (lambda *args: ____, r"placeholder", "not_attempted"),
    (np.zeros(3), r"should be a function", "incorrect"),
    (lambda *args: None, r"forget the `return`", "incorrect"),
    (lambda *args: "ELBO", r"should give numbers", "incorrect"),
    (lambda *args: np.zeros((2, 2)), r"expected \(4,\)", "incorrect"),
    (lambda a, b: a, r"raised TypeError", "incorrect"),
])
def test_bad_answers_get_a_clear_message(answer, match, status):
    assert_fails(check.elbo_one_sample(answer), match, status=status)


def test_the_checker_does_not_let_the_learner_change_its_inputs():
    def in_place(log_px, z, z_mean, z_log_var):
        z_log_var *= 2  # mutates the argument it was given
        return elbo_numpy(log_px, z, z_mean, z_log_var / 2)

    assert_passes(check.elbo_one_sample(in_place))


@pytest.mark.parametrize("batch, latent_dim, seed", checker.CASES)
def test_the_mistakes_are_told_apart_on_the_checkers_own_cases(batch, latent_dim, seed):
    """No two diagnosed mistakes (nor a mistake and the right answer) give the same values: each message is earned."""
    case = checker.make_case(batch, latent_dim, seed)
    right = elbo_numpy(*(a.astype(np.float64) for a in case))
    values = [right] + [np.asarray(v, dtype=np.float64) for v, _ in checker._elbo_mistakes(case)]
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            assert np.max(np.abs(values[i] - values[j])) > 100 * checker.ATOL, (i, j)
