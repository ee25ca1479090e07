"""check.sigma_from_head, check.true_kl_2016 and check.consistent_sampler: right answers pass, each slip is named."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import vae_course
from vae_course import heads
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes


def head_function(log_sigma, log_var, softplus):
    """A learner's sigma_from_head built from one expression per kind."""

    def sigma_from_head(h, kind):
        if kind == "raw":
            return h
        if kind == "log_sigma":
            return log_sigma(h)
        if kind == "log_var":
            return log_var(h)
        if kind == "softplus":
            return softplus(h)
        raise ValueError(kind)

    return sigma_from_head


NP_RIGHT = dict(log_sigma=np.exp, log_var=lambda h: np.exp(h / 2), softplus=lambda h: np.logaddexp(0, h))


def with_kind(**changes):
    """The NumPy answer with some kinds replaced by a wrong expression."""
    return head_function(**{**NP_RIGHT, **changes})


# ---- sigma_from_head ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "fn",
    [
        head_function(**NP_RIGHT),
        head_function(ops.exp, lambda h: ops.exp(h / 2), ops.softplus),
        head_function(tf.exp, lambda h: tf.sqrt(tf.exp(h)), tf.nn.softplus),
        head_function(np.exp, lambda h: np.sqrt(np.exp(h)),
                      lambda h: np.maximum(h, 0) + np.log1p(np.exp(-np.abs(h)))),
        heads.sigma_from_head,
    ],
    ids=["numpy", "keras.ops", "tensorflow", "numpy-sqrt-and-stable-softplus", "package"],
)
def test_sigma_from_head_accepts_every_correct_style(fn):
    assert_passes(check.sigma_from_head(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (with_kind(log_sigma=lambda h: np.exp(h / 2), log_var=np.exp), r"swapped the two exp heads"),
        (with_kind(log_sigma=lambda h: np.exp(h / 2)), r"log σ itself, so σ = exp\(h\)"),
        (with_kind(log_sigma=lambda h: h), r"returned h unchanged. h is log σ"),
        (with_kind(log_sigma=lambda h: np.exp(2 * h)), r"exp\(2h\), which is σ², the variance"),
        (with_kind(log_sigma=lambda h: np.exp(-h)), r"exp\(−h\), which is 1/σ"),
        (with_kind(log_sigma=np.log), r"took log\(h\)"),
        (with_kind(log_var=np.exp), r"variance: the square root is missing"),
        (with_kind(log_var=lambda h: np.exp(h) / 2), r"divide inside the exponential"),
        (with_kind(log_var=np.sqrt), r"sqrt\(h\), the root of a logarithm"),
        (with_kind(log_var=lambda h: h / 2), r"h / 2, which is log σ"),
        (with_kind(log_var=lambda h: h), r"returned h unchanged. h is log σ²"),
        (with_kind(log_var=lambda h: np.exp(2 * h)), r"would be the variance if h were log σ"),
        (with_kind(log_var=lambda h: np.exp(-h / 2)), r"exp\(−h / 2\), which is 1/σ"),
        (with_kind(softplus=lambda h: np.log(np.exp(h))), r"log\(exp\(h\)\): the 1 is missing"),
        (with_kind(softplus=lambda h: np.maximum(h, 0)), r"ReLU, not a softplus"),
        (with_kind(softplus=lambda h: 1 / (1 + np.exp(-h))), r"sigmoid .* derivative of the softplus"),
        (with_kind(softplus=lambda h: np.log(1 + np.exp(-h))), r"softplus\(−h\)"),
        (with_kind(softplus=np.exp), r"exp\(h\) is the log σ head"),
        (with_kind(softplus=lambda h: np.log(1 + h)), r"log\(1 \+ h\), which is NaN"),
        (with_kind(softplus=lambda h: np.log(1 + np.exp(h)) / 2), r"do not halve it"),
        (with_kind(softplus=lambda h: np.log(1 + np.exp(h))), r"exp\(100\) overflows float32"),
        (with_kind(softplus=lambda h: ops.log(1 + ops.exp(h))), r"exp\(100\) overflows float32"),
        (with_kind(softplus=lambda h: np.log1p(np.exp(np.minimum(h, 20)))), r"expected about"),
        (with_kind(log_var=lambda h: np.exp(h.reshape(-1) / 2)), r"shape \(12,\), expected \(4, 3\)"),
        (with_kind(log_var=lambda h: np.exp(h / 2) if h.ndim == 2 else h), r"not for a 1-D one"),
        (with_kind(log_sigma=lambda h: np.exp(h) + 1.0), r"not one of the usual slips"),
        (with_kind(log_sigma=lambda h: None), r"returned None"),
        (with_kind(softplus=lambda h: 1 / 0), r'sigma_from_head\(h, "softplus"\)` raised ZeroDivisionError'),
        (with_kind(log_var=lambda h: np.full(h.shape, np.nan)), r"contains NaN"),
        (lambda h: h, r"raised TypeError"),
        (3.0, r"should be a function"),
        (None, r"should be a function.*None"),
        ([1, 2], r"should be a function.*list"),
    ],
)
def test_sigma_from_head_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.sigma_from_head(fn), match)


def test_sigma_from_head_placeholder_is_not_attempted():
    assert_not_attempted(check.sigma_from_head(____))
    assert_not_attempted(check.sigma_from_head(lambda h, kind: h if kind == "raw" else ____))
    assert_not_attempted(check.sigma_from_head(with_kind(softplus=lambda h: ____)))


def test_sigma_from_head_check_prints_no_numpy_warning(recwarn):
    check.sigma_from_head(with_kind(softplus=lambda h: np.log(1 + np.exp(h))))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# ---- true_kl_2016 ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "fn",
    [
        lambda m, h: -0.5 * np.sum(1 + 2 * h - m**2 - np.exp(2 * h), axis=-1),
        lambda m, h: -0.5 * ops.sum(1 + 2 * h - ops.square(m) - ops.square(ops.exp(h)), axis=-1),
        lambda m, h: 0.5 * tf.reduce_sum(tf.exp(2 * h) + tf.square(m) - 1 - 2 * h, axis=1),
        lambda m, h: vae_course.kl_log_var(m, 2 * h),
        lambda m, h: vae_course.kl_sigma(np.float64(m), np.exp(np.float64(h))),
    ],
    ids=["numpy", "keras.ops", "tensorflow", "kl_log_var(2h)", "kl_sigma-float64"],
)
def test_true_kl_2016_accepts_every_correct_style(fn):
    assert_passes(check.true_kl_2016(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda m, h: -0.5 * np.sum(1 + h - m**2 - np.exp(h), axis=-1), r"2016 code's own KL term"),
        (lambda m, h: -0.5 * np.sum(1 + 2 * h - m**2 - np.exp(h), axis=-1), r"exp\(2h\), not exp\(h\)"),
        (lambda m, h: -0.5 * np.sum(1 + h - m**2 - np.exp(2 * h), axis=-1), r"= 2h, not h"),
        (lambda m, h: -0.5 * np.mean(1 + 2 * h - m**2 - np.exp(2 * h), axis=-1), r"averaged over the latent"),
        (lambda m, h: np.sum(1 + 2 * h - m**2 - np.exp(2 * h), axis=-1), r"dropped the factor −1/2"),
        (lambda m, h: 0.5 * np.sum(1 + 2 * h - m**2 - np.exp(2 * h), axis=-1), r"wrong sign"),
        (lambda m, h: -np.sum(1 + 2 * h - m**2 - np.exp(2 * h), axis=-1), r"dropped the 1/2"),
        (lambda m, h: -0.5 * np.sum(1 + 2 * h + m**2 - np.exp(2 * h), axis=-1), r"sign of μ²"),
        (lambda m, h: -0.5 * np.sum(2 * h - m**2 - np.exp(2 * h), axis=-1), r"bracket starts with 1"),
        (lambda m, h: -0.5 * (1 + 2 * h - m**2 - np.exp(2 * h)), r"sum over dimensions is missing"),
        (lambda m, h: -0.5 * np.sum(1 + 2 * h - m**2 - np.exp(2 * h)), r"also summed .* over the examples"),
        (lambda m, h: -0.5 * np.sum(1 + np.log(np.exp(h) ** 2) - m**2 - np.exp(h) ** 2, axis=-1),
         r"exp\(−60\)² underflows"),
        (lambda m, h: -0.5 * np.sum((1 + 2 * h - m**2 - np.exp(2 * h))[:, :3], axis=-1)
         if m.shape[1] == 3 else np.zeros(len(m)), r"hard-code the number of dimensions"),
        (lambda m, h: -0.5 * np.sum(1 + 2 * h - m**2 - np.exp(2 * h), axis=-1) + 1.0, r"not one of the usual"),
        (lambda m, h: None, r"returned None"),
        (lambda m, h: 1 / 0, r"raised ZeroDivisionError"),
        (lambda m, h: np.log(-np.ones(len(m))), r"contains NaN"),
        (lambda m, h: "kl", r"should give numbers"),
        (lambda m: m, r"raised TypeError"),
        (None, r"should be a function.*None"),
    ],
)
def test_true_kl_2016_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.true_kl_2016(fn), match)


def test_true_kl_2016_placeholder_is_not_attempted():
    assert_not_attempted(check.true_kl_2016(____))
    assert_not_attempted(check.true_kl_2016(lambda m, h: ____))


# ---- consistent_sampler ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "fn",
    [
        lambda m, h, e: m + np.exp(h / 2) * e,
        lambda m, h, e: m + ops.exp(0.5 * h) * e,
        lambda m, h, e: e * tf.sqrt(tf.exp(h)) + m,
        lambda m, h, e: e * ops.exp(h / 2) + m,
    ],
    ids=["numpy", "keras.ops", "tensorflow-sqrt", "book-order"],
)
def test_consistent_sampler_accepts_every_correct_style(fn):
    assert_passes(check.consistent_sampler(fn))


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda m, h, e: m + np.exp(h) * e, r"2016 sampler unchanged"),
        (lambda m, h, e: m + 0.01 * np.exp(h) * e, r"epsilon_std = 0.01 included"),
        (lambda m, h, e: m + 0.01 * np.exp(h / 2) * e, r"kept the 2016 `epsilon_std = 0.01`"),
        (lambda m, h, e: m + np.exp(h) / 2 * e, r"Divide inside the exponential"),
        (lambda m, h, e: m + np.exp(2 * h) * e, r"exp\(2h\) goes the wrong way"),
        (lambda m, h, e: m + np.exp(-h / 2) * e, r"1/σ: check the sign"),
        (lambda m, h, e: m + h / 2 * e, r"h / 2 is log σ"),
        (lambda m, h, e: m + h * e, r"used h itself as σ"),
        (lambda m, h, e: m + np.sqrt(h) * e, r"root of a logarithm"),
        (lambda m, h, e: np.exp(h / 2) * e, r"centred on 0: add `z_mean`"),
        (lambda m, h, e: m + np.exp(h / 2), r"noise is missing"),
        (lambda m, h, e: h + np.exp(m / 2) * e, r"swapped z_mean and z_log_sigma"),
        (lambda m, h, e: m + np.exp(h / 2) * np.random.default_rng().standard_normal(m.shape),
         r"draws its own noise"),
        (lambda m, h, e: m + np.exp(h / 2) * e if m.shape[1] == 3 else m, r"not for 5"),
        (lambda m, h, e: (m + np.exp(h / 2) * e)[:, :2], r"shape \(4, 2\), expected \(4, 3\)"),
        (lambda m, h, e: m + np.exp(h / 2) * e + 0.5, r"not one of the usual slips"),
        (lambda m, h, e: None, r"returned None"),
        (lambda m, h, e: 1 / 0, r"raised ZeroDivisionError"),
        (lambda m, h: m, r"raised TypeError"),
        ("z_mean + exp(h/2) * eps", r"should be a function"),
    ],
)
def test_consistent_sampler_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.consistent_sampler(fn), match)


def test_consistent_sampler_placeholder_is_not_attempted():
    assert_not_attempted(check.consistent_sampler(____))
    assert_not_attempted(check.consistent_sampler(lambda m, h, e: ____))


# ---- predict_kl_ratio -------------------------------------------------------------------------------------------

TERMS = {"true_kl": np.array([3.0, 5.0]), "reported_kl": np.array([1.5, 2.5])}  # ratio exactly 2


@pytest.mark.parametrize("guess", [2, 1.5, 2.9])
def test_kl_ratio_predictions_near_the_measured_ratio_pass(guess):
    result = check.predict_kl_ratio(guess, TERMS)
    assert_passes(result)
    assert "true value is 2" in result.message and "4.00 nats" in result.message


@pytest.mark.parametrize(
    "guess, terms, match",
    [
        (0.5, TERMS, r"never smaller"),
        (5, TERMS, r"at most 4 times too small"),
        (1.2, TERMS, r"from 1.33 to 3 count as right"),
        ("2", TERMS, r"single number"),
        (2, {"true_kl": [1.0]}, r"Pass the dictionary the lesson computed"),
        (2, None, r"Pass the dictionary the lesson computed"),
        (2, {"true_kl": np.ones(2), "reported_kl": np.zeros(2)}, r"no ratio can be formed"),
    ],
)
def test_kl_ratio_wrong_predictions_are_named(guess, terms, match):
    result = check.predict_kl_ratio(guess, terms)
    assert_fails(result, match, status="uncheckable" if "ratio can" in match or "dictionary" in match else "incorrect")


def test_kl_ratio_placeholder_is_not_attempted():
    assert_not_attempted(check.predict_kl_ratio(____, TERMS))
