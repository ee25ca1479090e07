"""check.sampling_layer: correct layers pass; each typical sampler bug gets its own message."""

import keras
import numpy as np
import pytest
from keras import ops

import vae_course
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes


def sampler(body):
    """A Layer class whose call is ``body(mean, log_var)``."""

    class Learner(keras.layers.Layer):
        def call(self, inputs):
            mean, log_var = inputs
            return body(mean, log_var)

    return Learner


def test_package_layer_passes():
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
def test_correct_styles_pass(body):
    assert_passes(check.sampling_layer(sampler(body)))


def test_an_instance_is_accepted_too():
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
def test_each_typical_sampler_bug_is_named(body, match):
    with np.errstate(all="ignore"):
        assert_fails(check.sampling_layer(sampler(body)), match)


def test_no_gradient_is_diagnosed():
    import tensorflow as tf

    def body(m, v):
        return tf.stop_gradient(m + ops.exp(v / 2) * keras.random.normal(ops.shape(v)))

    assert_fails(check.sampling_layer(sampler(body)), r"No gradient reaches mean or log_var")


def test_layer_that_cannot_be_saved_is_diagnosed():
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
def test_not_a_layer_class_is_explained(value, match):
    assert_fails(check.sampling_layer(value), r"Pass your layer class.*" + match)


def test_constructor_needing_arguments_is_explained():
    class NeedsK(keras.layers.Layer):
        def __init__(self, k):
            super().__init__()

    assert_fails(check.sampling_layer(NeedsK), r"`NeedsK\(\)` raised TypeError.*no arguments")


def test_placeholder_is_not_attempted():
    assert_not_attempted(check.sampling_layer(____))
    assert_not_attempted(check.sampling_layer(sampler(lambda m, v: ____)))


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
