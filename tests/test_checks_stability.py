"""check.first_gamma_where_17_3_breaks: NumPy, keras.ops and TensorFlow answers pass; each typical slip is named."""

import math

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import vae_course
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes


def first_broken(gammas, kl):
    broken = ~np.isfinite(np.asarray(kl))
    return float(gammas[np.argmax(broken)]) if broken.any() else None


def with_keras_ops(gammas):
    sigma = ops.exp(gammas / 2)
    return first_broken(gammas, ops.convert_to_numpy(-0.5 * (1 + ops.log(sigma**2) - sigma**2)))


def with_numpy(gammas):
    sigma = np.exp(gammas / 2)
    return first_broken(gammas, -0.5 * (1 + np.log(sigma**2) - sigma**2))


def with_tensorflow(gammas):
    sigma = tf.exp(tf.constant(gammas) / 2)
    kl = -0.5 * (1 + tf.math.log(tf.square(sigma)) - tf.square(sigma))
    broken = tf.logical_not(tf.math.is_finite(kl))
    return tf.boolean_mask(gammas, broken)[0] if tf.reduce_any(broken) else None  # a scalar tensor


def with_the_package(gammas):
    kl = vae_course.kl_sigma(np.zeros((len(gammas), 1), np.float32), np.exp(gammas / 2)[:, None])
    return first_broken(gammas, kl)


def with_a_loop(gammas):
    for g in gammas:
        s = np.exp(np.float32(g) / np.float32(2))
        if not np.isfinite(-0.5 * (1 + np.log(s * s) - s * s)):
            return g  # a NumPy float32 scalar
    return None


@pytest.mark.parametrize("fn", [with_keras_ops, with_numpy, with_tensorflow, with_the_package, with_a_loop],
                         ids=["keras.ops", "numpy", "tensorflow", "package", "loop"])
def test_every_correct_style_passes(fn):
    with np.errstate(all="ignore"):
        assert_passes(check.first_gamma_where_17_3_breaks(fn))


def test_success_message_says_why_it_breaks():
    assert "TensorFlow flushes it to 0" in check.first_gamma_where_17_3_breaks(with_keras_ops).message
    with np.errstate(all="ignore"):
        assert "subnormal" in check.first_gamma_where_17_3_breaks(with_numpy).message


def test_package_reference_passes():
    assert_passes(check.first_gamma_where_17_3_breaks(vae_course.stability.first_gamma_where_17_3_breaks))


def nth_broken(gammas, pick):
    sigma = ops.exp(gammas / 2)
    kl = ops.convert_to_numpy(-0.5 * (1 + ops.log(sigma**2) - sigma**2))
    return pick(gammas, ~np.isfinite(kl), kl)


@pytest.mark.parametrize(
    "fn, match",
    [
        # Equation 17-4 (gamma directly) never breaks on this side.
        (lambda g: first_broken(g, -0.5 * (1 + g - np.exp(g))), r"Equation 17-4"),
        # Looking for NaN only: the KL is +inf, not NaN.
        (lambda g: nth_broken(g, lambda g, b, kl: float(g[np.argmax(np.isnan(kl))]) if np.isnan(kl).any() else None),
         r"only for NaN.*isfinite"),
        # Float64 everywhere: breaks only near -745.
        (lambda g: with_numpy(g.astype(np.float64)), r"float64"),
        (lambda g: nth_broken(g, lambda g, b, kl: int(np.argmax(b))), r"position of the first broken γ"),
        (lambda g: nth_broken(g, lambda g, b, kl: float(g[np.argmax(b) - 1])), r"Off by one step"),
        (lambda g: nth_broken(g, lambda g, b, kl: float(g[b][-1])), r"last γ of the grid.*first"),
        (lambda g: nth_broken(g, lambda g, b, kl: float(g[np.argmax(~b)])), r"first γ of the grid, 0.*wrong way"),
        (lambda g: nth_broken(g, lambda g, b, kl: g[b]), r"returned \d+ values.*element `\[0\]`"),
        (lambda g: nth_broken(g, lambda g, b, kl: b), r"one entry per γ"),
        (lambda g: nth_broken(g, lambda g, b, kl: bool(b.any())), r"yes/no"),
        (lambda g: nth_broken(g, lambda g, b, kl: float(np.mean(g[b]))), r"returned -103\.7"),
        (lambda g: -87.4, r"coarser one.*hard-code"),
        (lambda g: nth_broken(g, lambda g, b, kl: float(g[np.argmax(b)])), r"argmax` returns 0.*any\(\)"),
        (lambda g: math.nan, r"returned NaN"),
        (lambda g: "broken", r"one number.*str"),
        (lambda g: {"gamma": -87.4}, r"one number.*dict"),
        (lambda g: 1 / 0, r"raised ZeroDivisionError"),
        (lambda: None, r"raised TypeError"),
        (-87.4, r"should be a function"),
        (None, r"should be a function.*None"),
        ([0.0, -87.4], r"should be a function.*list"),
    ],
    ids=["eq-17-4", "isnan-only", "float64", "index", "off-by-one", "last-broken", "mask-inverted", "all-broken",
         "mask", "bool", "mean", "hard-coded", "no-any-guard", "nan", "string", "dict", "exception", "no-argument",
         "number", "none", "list"],
)
def test_each_typical_mistake_is_named(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.first_gamma_where_17_3_breaks(fn), match)


def test_returning_the_index_names_the_value_to_return():
    result = check.first_gamma_where_17_3_breaks(lambda g: nth_broken(g, lambda g, b, kl: int(np.argmax(b))))
    assert "gammas[874]" in result.message and "-87.4" in result.message


def test_placeholder_is_not_attempted():
    assert_not_attempted(check.first_gamma_where_17_3_breaks(____))

    def stub(gammas):
        sigma = ops.exp(gammas / 2)  # the stub's first line runs
        return ____

    assert_not_attempted(check.first_gamma_where_17_3_breaks(stub))


# ---- predict_kl_at_minus_120 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("guess", [59.5, 60, 59, np.float32(59.5)])
def test_kl_at_minus_120_predictions_pass(guess):
    assert_passes(check.predict_kl_at_minus_120(guess))


@pytest.mark.parametrize(
    "guess, match",
    [
        (float("inf"), r"predicted infinity.*Equation 17-3"),
        (-59.5, r"Check the sign"),
        (119, r"the ½ in front"),
        (0, r"does not make the KL vanish"),
        (120, r"the ½ in front"),
        (30, r"from 58.5 to 60.5 count as right"),
        ("59.5", r"single number"),
    ],
)
def test_kl_at_minus_120_wrong_predictions_are_named(guess, match):
    assert_fails(check.predict_kl_at_minus_120(guess), match)


def test_kl_at_minus_120_placeholder_is_not_attempted():
    assert_not_attempted(check.predict_kl_at_minus_120(____))
