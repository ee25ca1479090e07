"""Lesson 01's checkers: which_head, sampling_any_batch, sample_from_concatenated, compare_samplers.

Every correct style passes, the placeholder is "not attempted", and each typical mistake gets its own message.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from vae_course import snippet2016
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes

SEED = keras.random.SeedGenerator(2016)


# ---- which_head -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["bde", "b, d, e", "(b) (d) and (e)", "EDB", ["b", "d", "e"], {"e", "d", "b"}])
def test_which_head_accepts_every_way_of_writing_the_letters(answer):
    assert_passes(check.which_head(answer))


@pytest.mark.parametrize(
    "answer, match",
    [
        ("abde", r"\(a\) is false: nothing in the code says log σ = μ"),
        ("bcde", r"\(c\) is false: a name is only a label.*#2729"),
        ("be", r"\(d\) is true \(with `epsilon_std = 1`.*the head acts as log σ because the sampler"),
        ("bd", r"\(e\) is true: .*exp of any real number is positive"),
        ("de", r"\(b\) is true: both heads are `Dense\(latent_dim\)`"),
        ("ac", r"misjudged 5 statement"),
        ("bdf", r"no statement \(f\)"),
        ("", r"You chose no statement"),
        (3, r"letters of the true statements.*int"),
        (None, r"letters of the true statements.*None"),
        (["b", 4], r"letters of the true statements.*list"),
    ],
)
def test_which_head_explains_each_misjudged_statement(answer, match):
    assert_fails(check.which_head(answer), match)


def test_which_head_placeholder_is_not_attempted():
    assert_not_attempted(check.which_head(____))


# ---- sampling_any_batch -----------------------------------------------------------------------------------------

def sampling_with(body):
    """A 2016-style sampling(args) whose return value is ``body(z_mean, z_log_sigma)``."""

    def sampling(args):
        z_mean, z_log_sigma = args
        return body(z_mean, z_log_sigma)

    return sampling


@pytest.mark.parametrize(
    "fn",
    [
        sampling_with(lambda m, s: m + ops.exp(s) * keras.random.normal(ops.shape(m), mean=0.0, stddev=1.0, seed=SEED)),
        sampling_with(lambda m, s: m + tf.exp(s) * tf.random.normal(tf.shape(m))),
        sampling_with(lambda m, s: keras.random.normal(ops.shape(s), seed=SEED) * ops.exp(s) + m),
        snippet2016.make_sampling(seed=3),
    ],
    ids=["keras.ops", "tensorflow", "book-order", "package"],
)
def test_sampling_any_batch_accepts_every_correct_style(fn):
    assert_passes(check.sampling_any_batch(fn))


def noise(m):
    return keras.random.normal(ops.shape(m), seed=SEED)


def two_arguments(z_mean, z_log_sigma):
    return z_mean + ops.exp(z_log_sigma) * noise(z_mean)


@pytest.mark.parametrize(
    "fn, match",
    [
        (snippet2016.make_sampling(seed=1, batch_size=100, latent_dim=2),
         r"Incompatible shapes: \[7,2\] vs\. \[100,2\].*fixed shape.*ops\.shape\(z_mean\)"),
        (sampling_with(lambda m, s: m + ops.exp(s) * keras.random.normal((100, 3))), r"fixed shape"),
        (sampling_with(lambda m, s: m + ops.exp(s) * keras.random.normal((1, ops.shape(m)[1]), seed=SEED)),
         r"Every row got the same noise"),
        (sampling_with(lambda m, s: m + ops.exp(s / 2) * noise(m)), r"rule for a log-VARIANCE head"),
        (sampling_with(lambda m, s: m + ops.exp(s) * keras.random.normal(ops.shape(m), stddev=0.01, seed=SEED)),
         r"epsilon_std = 0\.01"),
        (sampling_with(lambda m, s: m + noise(m)), r"standard deviation 1 whatever z_log_sigma"),
        (sampling_with(lambda m, s: m + ops.exp(-s) * noise(m)), r"reciprocal of σ"),
        (sampling_with(lambda m, s: m + ops.exp(2 * s) * noise(m)), r"σ², the variance"),
        (sampling_with(lambda m, s: m + s * noise(m)), r"z_log_sigma itself as the standard deviation"),
        (sampling_with(lambda m, s: ops.exp(s) * noise(m)), r"centred on 0: add `z_mean`"),
        (sampling_with(lambda m, s: s + ops.exp(m) * noise(m)), r"swapped the two inputs"),
        (sampling_with(lambda m, s: m + 0 * s), r"there is no noise"),
        (sampling_with(lambda m, s: m + ops.exp(s) * keras.random.normal(ops.shape(m), seed=7)),
         r"fixed integer seed"),
        (sampling_with(lambda m, s: m + ops.exp(s) * np.random.default_rng().standard_normal(tuple(m.shape))
                       .astype("float32")), r"inside a Keras model.*None"),
        (sampling_with(lambda m, s: [m + ops.exp(s) * noise(m)]), r"Python list of 1 item"),
        (two_arguments, r"passes ONE argument, the list \[z_mean, z_log_sigma\]"),
        (sampling_with(lambda m, s: m + ops.exp(s) * keras.random.normal(ops.shape(m), std=1.0)),
         r"`stddev`, not `std`"),
        (sampling_with(lambda m, s: m + ops.exp(s) * keras.backend.random_normal(ops.shape(m))),
         r"`K\.random_normal` is gone in Keras 3"),
        (sampling_with(lambda m, s: m + keras.backend.exp(s) * noise(m)), r"gone from `keras\.backend`.*keras\.ops"),
        (sampling_with(lambda m, s: m + ops.exp(s) * keras.random.normal(m.shape, seed=SEED)),
         r"inside a Keras model.*ops\.shape\(z_mean\)"),
        (sampling_with(lambda m, s: 1 / 0), r"raised ZeroDivisionError"),
        (sampling_with(lambda m, s: m + ops.log(s - 100.0) * noise(m)), r"NaN or infinity"),
        (sampling_with(lambda m, s: None), r"returned None"),
        (None, r"should be a function.*None"),
        ([1, 2], r"should be a function.*list"),
    ],
)
def test_sampling_any_batch_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.sampling_any_batch(fn), match)


def test_sampling_any_batch_placeholder_is_not_attempted():
    assert_not_attempted(check.sampling_any_batch(____))
    assert_not_attempted(check.sampling_any_batch(sampling_with(lambda m, s: ____)))
    result = check.sampling_any_batch(sampling_with(lambda m, s: m + ops.exp(s) * ____))
    assert result.status == "not_attempted" and "still a `____` placeholder inside" in result.message


# ---- sample_from_concatenated -----------------------------------------------------------------------------------

def half(h):
    return ops.shape(h)[-1] // 2


@pytest.mark.parametrize(
    "fn",
    [
        snippet2016.sample_from_concatenated,
        lambda h, eps: ops.split(h, 2, axis=-1)[0] + ops.exp(ops.split(h, 2, axis=-1)[1] / 2) * eps,
        lambda h, eps: h[:, : half(h)] + ops.sqrt(ops.exp(h[:, half(h):])) * eps,
        lambda h, eps: h[..., : eps.shape[-1]] + tf.exp(0.5 * h[..., eps.shape[-1]:]) * eps,
        lambda h, eps: tf.split(h, 2, axis=1)[0] + tf.exp(tf.split(h, 2, axis=1)[1] / 2) * eps,
    ],
    ids=["package", "ops.split", "slicing-sqrt", "ellipsis-from-eps", "tf.split"],
)
def test_sample_from_concatenated_accepts_every_correct_style(fn):
    assert_passes(check.sample_from_concatenated(fn))


def split_last(h):
    k = half(h)
    return h[:, :k], h[:, k:]


def with_halves(body):
    def fn(h, eps):
        mean, log_var = split_last(h)
        return body(mean, log_var, eps)

    return fn


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda h, eps: ops.split(h, 2)[0] + ops.exp(ops.split(h, 2)[1] / 2) * eps, r"split along axis 0, the batch"),
        (lambda h, eps: h[: half(h)] + ops.exp(h[half(h):] / 2) * eps, r"split along axis 0, the batch"),
        (lambda h, eps: h[:2] + ops.exp(h[2:] / 2) * eps, r"split along axis 0, the batch"),
        (lambda h, eps: h + ops.exp(h / 2) * eps, r"forgot to split"),
        (with_halves(lambda m, v, e: v + ops.exp(m / 2) * e), r"swapped the halves"),
        (with_halves(lambda m, v, e: m + ops.exp(v) * e), r"exp\(log_var\), which is σ², the variance"),
        (with_halves(lambda m, v, e: m + ops.exp(-v / 2) * e), r"reciprocal of σ"),
        (with_halves(lambda m, v, e: m + v * e), r"used log_var itself as the scale"),
        (with_halves(lambda m, v, e: ops.exp(v / 2) * e), r"forgot to add the mean"),
        (with_halves(lambda m, v, e: m + ops.exp(v / 2)), r"forgot to multiply by eps"),
        (with_halves(lambda m, v, e: m), r"the noise eps never enters"),
        (with_halves(lambda m, v, e: m + ops.exp(v / 2) * keras.random.normal(ops.shape(m), seed=SEED)),
         r"must not draw noise of its own"),
        (lambda h, eps: h[:, :2] + ops.exp(h[:, 2:] / 2) * eps, r"right when latent_dim is 2 but not when it is 3"),
        (lambda h, eps: ops.split(h, 2, axis=-1), r"returned the two halves .* did not sample"),
        (with_halves(lambda m, v, e: [m + ops.exp(v / 2) * e]), r"Python list of 1 item"),
        (lambda h, eps: np.split(np.asarray(h), 2, -1)[0] + np.exp(np.split(np.asarray(h), 2, -1)[1] / 2) * eps,
         r"no gradient flows back to h.*NumPy"),
        (with_halves(lambda m, v, e: m + ops.stop_gradient(ops.exp(v / 2)) * e), r"gradients with respect to h"),
        (with_halves(lambda m, v, e: ops.log(v - 10.0)), r"NaN or infinity"),
        (lambda h, eps: 1 / 0, r"raised ZeroDivisionError"),
        (lambda h, eps: None, r"returned None"),
        (lambda h, eps: "z", r"returned the string .z.; it should return a tensor"),
        (3.0, r"should be a function"),
        (None, r"should be a function.*None"),
    ],
)
def test_sample_from_concatenated_names_each_typical_mistake(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.sample_from_concatenated(fn), match)


def test_sample_from_concatenated_placeholder_is_not_attempted():
    assert_not_attempted(check.sample_from_concatenated(____))
    assert_not_attempted(check.sample_from_concatenated(lambda h, eps: ____))


# ---- compare_samplers -------------------------------------------------------------------------------------------

def persistent_tape(sampler_a, sampler_b, encoder, x, eps):
    with tf.GradientTape(persistent=True) as tape:
        z_mean, z_log_var = encoder(x)
        z_a, z_b = sampler_a(z_mean, z_log_var, eps), sampler_b(z_mean, z_log_var, eps)
        loss_a, loss_b = ops.sum(ops.square(z_a)), ops.sum(ops.square(z_b))
    grads_a = tape.gradient(loss_a, encoder.trainable_weights)
    grads_b = tape.gradient(loss_b, encoder.trainable_weights)
    zeros = [ops.zeros_like(w) for w in encoder.trainable_weights]
    grads_a = [z if g is None else g for g, z in zip(grads_a, zeros)]
    grads_b = [z if g is None else g for g, z in zip(grads_b, zeros)]
    return z_a, z_b, grads_a, grads_b


def _published_solution():
    """The exact code `solution.compare_samplers()` shows learners, so the test and the hint cannot drift apart."""
    from vae_course.checks import REGISTRY

    namespace = {"tf": tf, "ops": ops}
    exec(REGISTRY["compare_samplers"].solution, namespace)
    return namespace["compare_samplers"]


as_in_the_lesson = _published_solution()


def numpy_style(sampler_a, sampler_b, encoder, x, eps):
    """Gradients of sum(z) (a different loss), differences with NumPy, returned as a NumPy array of two."""
    grads = []
    for sampler in (sampler_a, sampler_b):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = encoder(x)
            z = sampler(z_mean, z_log_var, eps)
        grads.append([np.zeros(w.shape) if g is None else np.asarray(g)
                      for g, w in zip(tape.gradient(z, encoder.trainable_weights), encoder.trainable_weights)])
    z_a = np.asarray(sampler_a(*encoder(x), eps))
    z_b = np.asarray(sampler_b(*encoder(x), eps))
    grad = max(np.abs(a - b).max() for a, b in zip(*grads))
    return np.array([np.abs(z_a - z_b).max(), grad])


def comparing(report):
    """A compare_samplers built on the persistent tape that returns ``report(z_a, z_b, grads_a, grads_b)``."""

    def compare(sampler_a, sampler_b, encoder, x, eps):
        return report(*persistent_tape(sampler_a, sampler_b, encoder, x, eps))

    return compare


def max_abs(a, b):
    return ops.max(ops.abs(a - b))


def largest_gradient_difference(grads_a, grads_b):
    return max(float(max_abs(a, b)) for a, b in zip(grads_a, grads_b))


@pytest.mark.parametrize(
    "fn",
    [
        snippet2016.compare_samplers,
        as_in_the_lesson,
        comparing(lambda za, zb, ga, gb: (max_abs(za, zb), largest_gradient_difference(ga, gb))),
        comparing(lambda za, zb, ga, gb: [float(max_abs(za, zb)), float(max(max_abs(a, b) for a, b in zip(ga, gb)))]),
        numpy_style,
    ],
    ids=["package", "lesson", "tensors", "list-of-floats", "numpy-array-other-loss"],
)
def test_compare_samplers_accepts_every_correct_style(fn):
    assert_passes(check.compare_samplers(fn))


def with_fresh_noise(sampler_a, sampler_b, encoder, x, eps):
    other = keras.random.normal(ops.shape(eps), seed=SEED)
    z_mean, z_log_var = encoder(x)
    return float(max_abs(sampler_a(z_mean, z_log_var, eps), sampler_b(z_mean, z_log_var, other))), 0.0


def gradients_outside_the_tape(sampler_a, sampler_b, encoder, x, eps):
    z_mean, z_log_var = encoder(x)
    with tf.GradientTape() as tape:
        loss = ops.sum(sampler_a(z_mean, z_log_var, eps))
    grads = tape.gradient(loss, encoder.trainable_weights)
    return 0.0, max(float(ops.max(ops.abs(g - g))) for g in grads)


@pytest.mark.parametrize(
    "fn, match",
    [
        (comparing(lambda za, zb, ga, gb: (max_abs(za, zb), ____)), r"compared the outputs but not the gradients"),
        (comparing(lambda za, zb, ga, gb: (max_abs(za, zb), None)), r"compared the outputs but not the gradients"),
        (comparing(lambda za, zb, ga, gb: max_abs(za, zb)), r"returned one number.*not the gradients"),
        (comparing(lambda za, zb, ga, gb: (max_abs(za, zb), max_abs(za, zb))),
         r"same z but NOT the same gradients.*stop_gradient.*Equal outputs do not prove equal gradients"),
        (comparing(lambda za, zb, ga, gb: (max_abs(za, zb), float(max_abs(ga[-1], gb[-1])))),
         r"misses a gradient difference in the z_mean head.*EVERY weight"),
        (comparing(lambda za, zb, ga, gb: (max_abs(za, za), largest_gradient_difference(ga, ga))),
         r"running the same sampler twice"),
        (comparing(lambda za, zb, ga, gb: (ops.mean(ops.abs(za - zb)), largest_gradient_difference(ga, gb))),
         r"not a mean, not a sum"),
        (comparing(lambda za, zb, ga, gb: (ops.min(za - zb), largest_gradient_difference(ga, gb))), r"negative"),
        (comparing(lambda za, zb, ga, gb: (max_abs(za, zb), [float(max_abs(a, b)) for a, b in zip(ga, gb)])),
         r"ONE number.*over all weights"),
        (comparing(lambda za, zb, ga, gb: (max_abs(za, zb), largest_gradient_difference(ga, gb), 0.0)),
         r"returned 3 values"),
        (comparing(lambda za, zb, ga, gb: (max_abs(za, zb), largest_gradient_difference(ga, gb) + 1.0)),
         r"gradient difference of 1 for two samplers whose gradients agree"),
        (comparing(lambda za, zb, ga, gb: (float("nan"), 0.0)), r"output difference is nan"),
        (with_fresh_noise, r"output difference of .* Did you draw new noise"),
        (gradients_outside_the_tape, r"NoneType.*inside the `with tf.GradientTape\(\) as tape:` block"),
        (comparing(lambda za, zb, ga, gb: None), r"returned None"),
        (comparing(lambda za, zb, ga, gb: 1 / 0), r"raised ZeroDivisionError"),
        ("compare", r"should be a function"),
    ],
)
def test_compare_samplers_names_each_typical_mistake(fn, match):
    assert_fails(check.compare_samplers(fn), match)


def test_compare_samplers_placeholder_is_not_attempted():
    assert_not_attempted(check.compare_samplers(____))
    assert_not_attempted(check.compare_samplers(lambda *args: (____, ____)))
    assert_not_attempted(check.compare_samplers(comparing(lambda za, zb, ga, gb: ____)))


# ---- predict_blocked_gradients ----------------------------------------------------------------------------------

def test_blocked_gradients_prediction_of_four_passes():
    result = check.predict_blocked_gradients(4)
    assert_passes(result)
    assert "z_mean head's kernel and bias" in result.message


@pytest.mark.parametrize(
    "guess, match",
    [
        (0, r"Equal outputs do not mean equal gradients"),
        (2, r"h feeds both heads"),
        (1, r"h feeds both heads"),
        (6, r"z_mean head's path to z"),
        (3, r"Only 4 counts as right"),
        (2.5, r"Count whole weight tensors"),
        (9, r"Count whole weight tensors"),
        ("four", r"single number"),
    ],
)
def test_blocked_gradients_wrong_predictions_are_named(guess, match):
    assert_fails(check.predict_blocked_gradients(guess), match)


def test_blocked_gradients_prediction_placeholder_is_not_attempted():
    assert_not_attempted(check.predict_blocked_gradients(____))
