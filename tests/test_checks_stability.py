"""check.kl_log_var, check.first_gamma_where_17_3_breaks and check.sampling_layer (lesson 06): NumPy, keras.ops and
TensorFlow answers pass; each typical slip is named."""

import math

import keras
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
        ops.exp(gammas / 2)  # the stub's first line runs
        return ____

    assert_not_attempted(check.first_gamma_where_17_3_breaks(stub))


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


# ---- the Sampling layer ---------------------------------------------------------------------


def sampler(body):
    """A Layer class whose call is ``body(mean, log_var)``."""

    class Learner(keras.layers.Layer):
        def call(self, inputs):
            mean, log_var = inputs
            return body(mean, log_var)

    return Learner


def test_sampling_layer_package_layer_passes():
    assert_passes(check.sampling_layer(vae_course.Sampling))


@pytest.mark.parametrize(
    "body",
    [
        lambda m, v: m + ops.exp(v / 2) * keras.random.normal(ops.shape(v)),
        lambda m, v: m + ops.sqrt(ops.exp(v)) * keras.random.normal(ops.shape(m)),
        lambda m, v: keras.random.normal(ops.shape(v)) * ops.exp(0.5 * v) + m,
    ],
    ids=["exp-half", "sqrt-exp", "book-order"],
)
def test_sampling_layer_correct_styles_pass(body):
    assert_passes(check.sampling_layer(sampler(body)))


def test_sampling_layer_an_instance_is_accepted_too():
    assert_passes(check.sampling_layer(vae_course.Sampling(seed=3)))


@pytest.mark.parametrize(
    "body, match",
    [
        (lambda m, v: m + ops.exp(v) * keras.random.normal(ops.shape(v)), r"exp\(log_var\), which is the variance"),
        (lambda m, v: m + ops.exp(v / 2) * keras.random.normal(ops.shape(v), stddev=0.01), r"epsilon_std = 0\.01"),
        (lambda m, v: m + keras.random.normal(ops.shape(v)), r"standard deviation 1 whatever log_var"),
        (lambda m, v: m + ops.exp(-v / 2) * keras.random.normal(ops.shape(v)), r"reciprocal of σ"),
        (lambda m, v: ops.exp(v / 2) * keras.random.normal(ops.shape(v)), r"centred on 0: add `mean`"),
        (lambda m, v: v + ops.exp(m / 2) * keras.random.normal(ops.shape(v)), r"swapped the two inputs"),
        (lambda m, v: m + 0 * v, r"no noise"),
        (lambda m, v: m + ops.exp(v / 2) * keras.random.normal((5, 3)), r"fixed shape"),
        (lambda m, v: m + ops.exp(v / 2) * keras.random.normal((1, 3)), r"same noise.*own eps"),
        (lambda m, v: m + ops.exp(v / 2) * keras.random.normal(ops.shape(v), seed=7), r"fixed integer seed"),
        (lambda m, v: m + ops.exp(v / 2) * np.random.default_rng().standard_normal(tuple(v.shape)).astype("float32"),
         r"inside a compiled step"),
        (lambda m, v: 1 / 0, r"raised ZeroDivisionError"),
        (lambda m, v: m[:, :2], r"shape"),
        (lambda m, v: m + ops.log(v - 100.0) * keras.random.normal(ops.shape(v)), r"NaN"),
    ],
)
def test_sampling_layer_each_typical_sampler_bug_is_named(body, match):
    with np.errstate(all="ignore"):
        assert_fails(check.sampling_layer(sampler(body)), match)


def test_sampling_layer_no_gradient_is_diagnosed():
    import tensorflow as tf

    def body(m, v):
        return tf.stop_gradient(m + ops.exp(v / 2) * keras.random.normal(ops.shape(v)))

    assert_fails(check.sampling_layer(sampler(body)), r"No gradient reaches mean or log_var")


def test_sampling_layer_layer_that_cannot_be_saved_is_diagnosed():
    class NeedsArgument(keras.layers.Layer):
        def __init__(self, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale
            self.seed_generator = keras.random.SeedGenerator(None)

        def call(self, inputs):
            mean, log_var = inputs
            return mean + ops.exp(log_var / 2) * keras.random.normal(ops.shape(log_var), seed=self.seed_generator)

        def get_config(self):
            raise NotImplementedError("no config")

    assert_fails(check.sampling_layer(NeedsArgument), r"could not be saved and reloaded.*get_config")


@pytest.mark.parametrize(
    "value, match",
    [(None, r"None"), ([1, 2], r"list"), (3, r"int"), (np.ones(3), r"ndarray"), (dict, r"class `dict`")],
)
def test_sampling_layer_not_a_layer_class_is_explained(value, match):
    assert_fails(check.sampling_layer(value), r"Pass your layer class.*" + match)


def test_sampling_layer_constructor_needing_arguments_is_explained():
    class NeedsK(keras.layers.Layer):
        def __init__(self, k):
            super().__init__()

    assert_fails(check.sampling_layer(NeedsK), r"`NeedsK\(\)` raised TypeError.*no arguments")


def test_sampling_layer_placeholder_is_not_attempted():
    assert_not_attempted(check.sampling_layer(____))
    assert_not_attempted(check.sampling_layer(sampler(lambda m, v: ____)))


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


# ---- the compiled step (issue 12): layers that work eagerly but not inside fit -------------------------------------

def _python_seed(m, v):
    seed = int(np.random.default_rng().integers(1 << 30))  # a fresh seed per eager call, frozen once traced
    return m + ops.exp(v / 2) * keras.random.normal(ops.shape(v), seed=seed)


def _float_guard(m, v):
    guard = 1.0 if float(ops.max(v)) < 100 else 0.0  # a Python float of a tensor: fine eagerly, not in a graph
    return m + ops.exp(v / 2) * keras.random.normal(ops.shape(v)) * guard


def _numpy_scale(m, v):
    scale = np.exp(v.numpy() / 2).mean() / np.exp(v.numpy() / 2).mean()  # .numpy(): no value in a graph
    return m + ops.exp(v / 2) * keras.random.normal(ops.shape(v)) * scale


@pytest.mark.parametrize(
    "body, match",
    [
        (_python_seed, r"same noise both times.*traced"),
        (_float_guard, r"fails inside a compiled step.*float\(\) argument"),
        (_numpy_scale, r"fails inside a compiled step.*numpy"),
    ],
    ids=["python-seed", "float-of-tensor", "numpy-method"],
)
def test_layers_that_break_only_when_compiled_are_named(body, match):
    layer = sampler(body)
    eager = layer()([np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32)])  # works when called directly
    assert tuple(eager.shape) == (4, 3)
    assert_fails(check.sampling_layer(layer), match)
    assert_fails(check.sampling_layer(layer()), match)  # an instance skips the model build, not the compiled step
