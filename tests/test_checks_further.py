"""check.log_mean_exp, check.per_dimension_kl and check.active_units: every correct style passes, every slip is
named."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from scipy.special import logsumexp

from vae_course import further
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes

# ---- log_mean_exp --------------------------------------------------------------------------------------------


def lme_numpy(log_w, axis=0):
    m = np.max(log_w, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.mean(np.exp(log_w - m), axis=axis))


def lme_keras(log_w, axis=0):
    log_w = ops.convert_to_tensor(log_w)
    return ops.logsumexp(log_w, axis=axis) - np.log(log_w.shape[axis])


def lme_tensorflow(log_w, axis=0):
    log_w = tf.constant(log_w, dtype=tf.float32)  # float32 throughout, as inside a model
    m = tf.reduce_max(log_w, axis=axis)
    return m + tf.math.log(tf.reduce_mean(tf.exp(log_w - tf.expand_dims(m, axis)), axis=axis))


@pytest.mark.parametrize(
    "fn",
    [
        lme_numpy,
        lme_keras,
        lme_tensorflow,
        lambda log_w, axis=0: logsumexp(log_w, axis=axis) - np.log(np.shape(log_w)[axis]),
        lambda log_w, axis=0: tf.reduce_logsumexp(log_w, axis=axis)
        - tf.math.log(tf.cast(tf.shape(log_w)[axis], log_w.dtype)),
        further.log_mean_exp,
    ],
    ids=["numpy", "keras.ops", "tensorflow-float32", "scipy", "tf.reduce_logsumexp", "package"],
)
def test_log_mean_exp_accepts_every_correct_style(fn):
    assert_passes(check.log_mean_exp(fn))


def lme_global_max(log_w, axis=0):
    m = np.max(log_w)
    return m + np.log(np.mean(np.exp(log_w - m), axis=axis))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda a, axis=0: np.log(np.mean(np.exp(a), axis=axis)),
         r"exp of such numbers overflows .* underflows .* Subtract the maximum"),
        (lambda a, axis=0: ops.log(ops.mean(ops.exp(ops.convert_to_tensor(a)), axis=axis)), r"−inf.*underflows"),
        (lambda a, axis=0: logsumexp(a, axis=axis), r"sum where the estimator needs a mean"),
        (lambda a, axis=0: np.max(a, axis=axis), r"only the maximum m\. The correction term is missing"),
        (lambda a, axis=0: np.log(np.mean(np.exp(a - np.max(a, axis=axis, keepdims=True)), axis=axis)),
         r"did not add it back"),
        (lambda a, axis=0: np.mean(a, axis=axis), r"averaged the log-weights themselves.*Jensen"),
        (lambda a, axis=0: logsumexp(a, axis=axis) - np.log(a.shape[1]), r"divided by the number of examples"),
        (lambda a, axis=0: logsumexp(a, axis=axis) - np.log(a.size), r"size of the whole array"),
        (lambda a, axis=0: lme_numpy(a, axis=1), r"reduced over the examples \(axis 1\)"),
        (lambda a, axis=0: lme_numpy(a, axis=0), r"ignores its `axis` argument"),
        (lambda a, axis=0: lme_numpy(a.ravel(), axis=0), r"single number"),
        (lambda a, axis=0: np.max(a, axis=axis, keepdims=True) + np.log(np.mean(np.exp(a - np.max(a, axis=axis,
         keepdims=True)), axis=axis, keepdims=True)), r"keepdims=True"),
        (lme_global_max, r"One maximum for the whole array is not enough"),
        (lambda a, axis=0: lme_numpy(a, axis) + 0.3, r"not one of the usual slips"),
        (lambda a, axis=0: np.clip(lme_numpy(a, axis), -50, 50), r"shift the result by exactly c"),
        (lambda a, axis=0: None, r"returned None"),
        (lambda a, axis=0: 1 / 0, r"raised ZeroDivisionError"),
        (lambda a, axis=0: "text", r"should give numbers"),
        (lambda a, axis=0: tf.reduce_logsumexp(a, axis=axis) - tf.math.log(float(a.shape[axis])),
         r"double tensor.*refuses to mix"),
        (lambda a, axis=0: np.full(a.shape[1 - axis], np.nan), r"contains NaN"),
        (lambda a: lme_numpy(a), r"takes 1 positional argument.*`def log_mean_exp\(log_w, axis=0\)`"),
        (None, r"should be a function.*None"),
        ([1.0, 2.0], r"should be a function.*list"),
        (np.ones(3), r"should be a function"),
    ],
)
def test_log_mean_exp_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.log_mean_exp(fn), match)


def test_log_mean_exp_placeholder_is_not_attempted():
    assert_not_attempted(check.log_mean_exp(____))

    def stub(log_w, axis=0):
        return ____

    assert_not_attempted(check.log_mean_exp(stub))


def test_log_mean_exp_check_prints_no_numpy_warning(recwarn):
    check.log_mean_exp(lambda a, axis=0: np.log(np.mean(np.exp(a), axis=axis)))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# ---- per_dimension_kl ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, g: np.mean(-0.5 * (1 + g - np.exp(g) - m**2), axis=0),
        lambda m, g: ops.mean(-0.5 * (1 + g - ops.exp(g) - ops.square(m)), axis=0),
        lambda m, g: 0.5 * tf.reduce_mean(tf.exp(g) + tf.square(m) - 1 - g, axis=0),
        lambda m, g: np.sum(-0.5 * (1 + g - np.exp(g) - m**2), axis=0) / len(m),
        further.per_dimension_kl,
    ],
    ids=["numpy", "keras.ops", "tensorflow", "sum-then-divide", "package"],
)
def test_per_dimension_kl_accepts_every_correct_style(fn):
    assert_passes(check.per_dimension_kl(fn))


def kl_elementwise(m, g):
    return -0.5 * (1 + g - np.exp(g) - m**2)


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda m, g: np.mean(np.sum(kl_elementwise(m, g), axis=-1)), r"total KL term of lesson 07"),
        (lambda m, g: np.sum(kl_elementwise(m, g)), r"single number: you reduced over both axes"),
        (lambda m, g: np.sum(kl_elementwise(m, g), axis=-1), r"One value per example: you reduced over the latent"),
        (lambda m, g: np.mean(kl_elementwise(m, g), axis=-1), r"One value per example"),
        (kl_elementwise, r"not averaged over the batch"),
        (lambda m, g: np.sum(kl_elementwise(m, g), axis=0), r"6 times too large.*summed over the batch"),
        (lambda m, g: np.mean(1 + g - np.exp(g) - m**2, axis=0), r"factor −1/2 is missing"),
        (lambda m, g: np.mean(0.5 * (1 + g - np.exp(g) - m**2), axis=0), r"wrong sign"),
        (lambda m, g: np.mean(-(1 + g - np.exp(g) - m**2), axis=0), r"dropped the 1/2"),
        (lambda m, g: np.mean(-0.5 * (1 + 2 * g - np.exp(2 * g) - m**2), axis=0), r"treated `z_log_var` as log σ"),
        (lambda m, g: np.mean(-0.5 * (1 + g - np.exp(g / 2) - m**2), axis=0), r"exp\(γ/2\), which is σ"),
        (lambda m, g: np.mean(-0.5 * (1 + g / 2 - np.exp(g) - m**2), axis=0), r"log σ = γ/2"),
        (lambda m, g: np.mean(-0.5 * (1 + g - np.exp(g) + m**2), axis=0), r"sign of μ²"),
        (lambda m, g: np.mean(-0.5 * (g - np.exp(g) - m**2), axis=0), r"bracket starts with 1"),
        (lambda m, g: np.mean(kl_elementwise(m, g), axis=0)[:4] if m.shape[1] >= 4 else np.zeros(4),
         r"hard-code"),
        (lambda m, g: np.mean(kl_elementwise(m, g), axis=0) * 1.3, r"not one of the usual slips"),
        (lambda m, g: np.log(-np.ones(m.shape[1])), r"contains NaN"),
        (lambda m, g: None, r"returned None"),
        (lambda m, g: [][1], r"raised IndexError"),
        (lambda m: m, r"Keep the parameters"),
        (2.0, r"should be a function"),
    ],
)
def test_per_dimension_kl_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.per_dimension_kl(fn), match)


def test_per_dimension_kl_placeholder_is_not_attempted():
    assert_not_attempted(check.per_dimension_kl(____))
    assert_not_attempted(check.per_dimension_kl(lambda m, g: ____))


# ---- active_units --------------------------------------------------------------------------------------------


def au_numpy(z_mean, threshold=0.01):
    return int(np.sum(np.var(np.asarray(z_mean), axis=0) > threshold))


@pytest.mark.parametrize(
    "fn",
    [
        au_numpy,
        lambda z, threshold=0.01: ops.sum(ops.cast(ops.var(z, axis=0) > threshold, "int32")),
        lambda z, threshold=0.01: tf.math.count_nonzero(tf.math.reduce_variance(z, axis=0) > threshold),
        lambda z, threshold=0.01: float(np.sum(np.var(z, axis=0, ddof=1) > threshold)),
        lambda z, threshold=0.01: len([j for j in range(z.shape[1]) if np.var(z[:, j]) > threshold]),
        further.active_units,
    ],
    ids=["numpy", "keras.ops", "tensorflow", "ddof=1 as a float", "loop", "package"],
)
def test_active_units_accepts_every_correct_style(fn):
    assert_passes(check.active_units(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda z, threshold=0.01: int(np.sum(np.var(z, axis=1) > threshold)), r"variance over the wrong axis"),
        (lambda z, threshold=0.01: int(np.sum(np.std(z, axis=0) > threshold)), r"standard deviation"),
        (lambda z, threshold=0.01: int(np.sum(np.var(z, axis=0) >= threshold)), r"strict `>`"),
        (lambda z, threshold=0.01: int(np.sum(np.var(z, axis=0) > 0.01)), r"ignores its `threshold` argument"),
        (lambda z, threshold=0.01: np.var(z, axis=0) > threshold, r"one value per latent dimension"),
        (lambda z, threshold=0.01: np.var(z, axis=0), r"count the dimensions"),
        (lambda z, threshold=0.01: int(np.sum(np.var(z, axis=0) > threshold)) + 2, r"gave 5 .*expected 3"),
        (lambda z, threshold=0.01: np.var(z, axis=0)[:2], r"Return one number"),
        (lambda z, threshold=0.01: None, r"returned None"),
        (lambda z, threshold=0.01: z.nope, r"raised AttributeError"),
        (lambda z: au_numpy(z), r"Keep the parameters .*`def active_units\(z_mean, threshold=0.01\)`"),
        ("3", r"should be a function"),
    ],
)
def test_active_units_names_each_typical_mistake(fn, match):
    assert_fails(check.active_units(fn), match)


def test_active_units_placeholder_is_not_attempted():
    assert_not_attempted(check.active_units(____))
    assert_not_attempted(check.active_units(lambda z, threshold=0.01: ____))


# The counts for the lesson's models: made-up encoder outputs in which z_mean and z_log_var give different counts.
rng = np.random.default_rng(0)
CODES = {
    0.25: (rng.normal(size=(50, 4)) * [1.0, 1.0, 0.5, 0.01],
           rng.normal(size=(50, 4)) * [0.3, 0.001, 0.001, 0.001]),
    1.0: (rng.normal(size=(50, 4)) * [1.0, 0.01, 0.01, 0.01],
          rng.normal(size=(50, 4)) * [0.3, 0.001, 0.001, 0.001]),
}
RIGHT_COUNTS = {0.25: 3, 1.0: 1}


def test_active_units_counts_right():
    assert_passes(check.active_units(au_numpy, RIGHT_COUNTS, CODES))
    assert_passes(check.active_units(au_numpy, {0.25: np.int64(3), 1.0: tf.constant(1)}, CODES))


@pytest.mark.parametrize(
    "counts, match, status",
    [
        (____, r"Your function is right\. Now replace", "not_attempted"),
        ({0.25: ____, 1.0: ____}, r"placeholder", "not_attempted"),
        ({0.25: 1, 1.0: 1}, r"come from `z_log_var`", "incorrect"),
        ({0.25: 3, 1.0: 2}, r"For the model 1\.0 you counted 2", "incorrect"),
        ({0.25: 3}, r"one count per model", "incorrect"),
        ([3, 1], r"should be a dict", "incorrect"),
        ({0.25: [1, 0, 1], 1.0: 1}, r"Return one number", "incorrect"),
    ],
)
def test_active_units_counts_mistakes(counts, match, status):
    assert_fails(check.active_units(au_numpy, counts, CODES), match, status=status)


def test_active_units_counts_need_the_codes():
    assert_fails(check.active_units(au_numpy, RIGHT_COUNTS), r"Pass the lesson's `codes`")


# ---- predict, then check: the gap importance sampling closes ----------------------------------------------------


def test_predicted_gap_close_to_the_measurement_passes_and_reveals_it():
    result = check.predicted_gap(6.0, 116.4, 108.7)
    assert_passes(result)
    assert "measured value is 7.70" in result.message and "116.40" in result.message
    assert_passes(check.predicted_gap(np.float32(4.0), 116.4, 108.7))


@pytest.mark.parametrize(
    "guess, match",
    [(-2.0, r"never above the negative ELBO"), (0, r"exact posterior"), (200.0, r"not more than all of it"),
     (1.0, r"Guesses from 3.85 to 15.40")],
    ids=["negative", "zero", "more-than-all", "too-small"],
)
def test_predicted_gap_wrong_guesses_are_named(guess, match):
    assert_fails(check.predicted_gap(guess, 116.4, 108.7), match)


@pytest.mark.parametrize(
    "guess, match",
    [("7", r"text '7'"), ([7.0, 8.0], r"holds 2 values"), (float("nan"), r"NaN"), ({"gap": 7}, r"holds 1 value ")],
    ids=["text", "list", "nan", "dict"],
)
def test_predicted_gap_bad_input_gets_a_plain_message(guess, match):
    assert_fails(check.predicted_gap(guess, 116.4, 108.7), match)


def test_predicted_gap_placeholder_is_not_attempted():
    assert_not_attempted(check.predicted_gap(____, 116.4, 108.7))
