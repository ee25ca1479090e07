"""check.kl_sigma and check.kl_log_var: every correct style passes, every typical slip is named."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import vae_course
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes


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


# ---- Equation 17-4, from gamma = log sigma^2 ------------------------------------------------

@pytest.mark.parametrize(
    "fn",
    [
        lambda mu, g: -0.5 * np.sum(1 + g - np.exp(g) - mu**2, axis=-1),
        lambda mu, g: -0.5 * ops.sum(1 + g - ops.exp(g) - ops.square(mu), axis=-1),
        lambda mu, g: -0.5 * tf.reduce_sum(1 + g - tf.exp(g) - tf.square(mu), axis=-1),
        vae_course.kl_log_var,
    ],
    ids=["numpy", "keras.ops", "tensorflow", "package"],
)
def test_kl_log_var_accepts_every_correct_style(fn):
    assert_passes(check.kl_log_var(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda mu, g: np.sum(1 + g - np.exp(g) - mu**2, axis=-1), r"dropped the factor −1/2"),
        (lambda mu, g: 0.5 * np.sum(1 + g - np.exp(g) - mu**2, axis=-1), r"wrong sign"),
        (lambda mu, g: -0.5 * np.mean(1 + g - np.exp(g) - mu**2, axis=-1), r"averaged over the latent"),
        (lambda mu, g: -0.5 * np.sum(1 + g - np.exp(g) + mu**2, axis=-1), r"sign of μ²"),
        (lambda mu, g: -0.5 * np.sum(1 + g - np.exp(g / 2) - mu**2, axis=-1), r"exp\(γ/2\), which is σ"),
        (lambda mu, g: -0.5 * np.sum(1 + g - g**2 - mu**2, axis=-1), r"squared γ"),
        (lambda mu, g: -0.5 * np.sum(1 + 2 * g - np.exp(2 * g) - mu**2, axis=-1), r"treated γ as log σ"),
        (lambda mu, g: -0.5 * np.sum(g - np.exp(g) - mu**2, axis=-1), r"bracket starts with 1"),
        (lambda mu, g: -0.5 * np.sum(1 + np.log(np.exp(g / 2) ** 2) - np.exp(g) - mu**2, axis=-1),
         r"underflows to log\(0\)"),
        (lambda mu, g: -0.5 * np.sum(1 + np.log(g) - np.exp(g) - mu**2, axis=-1), r"contains NaN"),
    ],
)
def test_kl_log_var_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.kl_log_var(fn), match)


def test_kl_log_var_placeholder_is_not_attempted():
    assert_not_attempted(check.kl_log_var(____))
