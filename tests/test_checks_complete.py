"""check.build_encoder, check.build_decoder and check.vae_loss (lesson 07): right answers in several styles pass,
the placeholder is "not attempted", and each diagnosed mistake gets its own message."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

import vae_course
from vae_course import complete
from vae_course.checks import ____, check

from checker_helpers import assert_fails, assert_not_attempted, assert_passes

# ------------------------------------------------------------------------------------------------ encoder


def encoder_with(head_mean=None, head_log_var=None, body="relu", width=32, flat_input=False, batch_size=None,
                 fixed_shape=None, fixed_latent=None, swapped=False):
    """A functional build_encoder; each head is Dense(latent_dim) followed by ``head(t)`` when given."""

    def build_encoder(input_shape, latent_dim):
        shape = fixed_shape or input_shape
        latent = fixed_latent or latent_dim
        if flat_input:
            x = keras.Input(shape=(math.prod(shape),))
        elif batch_size:
            x = keras.Input(batch_shape=(batch_size,) + tuple(shape))
        else:
            x = keras.Input(shape=shape)
        h = layers.Dense(width, activation=body)(layers.Flatten()(x))
        z_mean = layers.Dense(latent, name="z_mean")(h)
        z_log_var = layers.Dense(latent, name="z_log_var")(h)
        if head_mean is not None:
            z_mean = head_mean(z_mean)
        if head_log_var is not None:
            z_log_var = head_log_var(z_log_var)
        outputs = [z_log_var, z_mean] if swapped else [z_mean, z_log_var]
        return keras.Model(x, outputs)

    return build_encoder


class SubclassedEncoder(keras.Model):
    def __init__(self, latent_dim, log_var_activation=None):
        super().__init__()
        self.flatten = layers.Flatten()
        self.hidden = layers.Dense(32, activation="tanh")
        self.mean = layers.Dense(latent_dim)
        self.log_var = layers.Dense(latent_dim, activation=log_var_activation)

    def call(self, x):
        h = self.hidden(self.flatten(x))
        return [self.mean(h), self.log_var(h)]


def test_reference_encoder_passes():
    assert_passes(check.build_encoder(complete.reference_encoder))


@pytest.mark.parametrize(
    "fn",
    [
        encoder_with(),
        encoder_with(body="tanh", width=16),
        encoder_with(body=keras.activations.leaky_relu),
        lambda input_shape, latent_dim: SubclassedEncoder(latent_dim),
    ],
    ids=["relu-body", "tanh-body", "leaky-relu-body", "subclassed"],
)
def test_correct_encoders_pass(fn):
    assert_passes(check.build_encoder(fn))


def test_encoder_placeholder_is_not_attempted():
    assert_not_attempted(check.build_encoder(____))

    def returns_placeholder(input_shape, latent_dim):
        return ____

    assert_not_attempted(check.build_encoder(returns_placeholder))

    def placeholder_inside(input_shape, latent_dim):
        x = keras.Input(shape=input_shape)
        return keras.Model(x, [layers.Dense(____)(x)])

    assert_not_attempted(check.build_encoder(placeholder_inside))


@pytest.mark.parametrize(
    "fn, match",
    [
        (encoder_with(head_log_var=layers.Activation("relu")), r"ends in a relu.*shekkizh/TensorflowProjects#1"),
        (encoder_with(head_log_var=ops.softplus), r"softplus.*wohlert/semi-supervised-pytorch#16"),
        (encoder_with(head_log_var=layers.Activation("sigmoid")), r"sigmoid.*between 0 and 1"),
        (encoder_with(head_log_var=ops.exp), r"exp.*a variance"),
        (encoder_with(head_log_var=ops.tanh), r"tanh.*cannot become confident"),
        (encoder_with(head_mean=layers.ReLU()), r"`z_mean` head ends in a relu"),
        (encoder_with(flat_input=True), r"flat inputs.*layers\.Flatten"),
        (encoder_with(batch_size=32), r"Leave the batch size out"),
        (encoder_with(fixed_shape=(8, 8)), r"input shape \(None, 8, 8\); expected \(None, 6, 7\)"),
        (encoder_with(fixed_latent=2), r"shape \(5, 2\); expected \(5, 3\)"),
        (encoder_with(swapped=True), r"order is \[z_mean, z_log_var\]"),
        (lambda input_shape, latent_dim: SubclassedEncoder(latent_dim, "softplus"), r"never negative"),
    ],
    ids=["relu", "softplus", "sigmoid", "exp", "tanh", "relu-mean", "flat", "fixed-batch", "fixed-shape",
         "fixed-latent", "swapped", "subclassed-softplus"],
)
def test_each_encoder_mistake_is_named(fn, match):
    assert_fails(check.build_encoder(fn), match)


def _concatenated(input_shape, latent_dim):
    x = keras.Input(shape=input_shape)
    h = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    return keras.Model(x, layers.Concatenate()([layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)]))


def _with_z(input_shape, latent_dim):
    x = keras.Input(shape=input_shape)
    h = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    z_mean, z_log_var = layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)
    z = vae_course.Sampling(seed=1)([z_mean, z_log_var])
    return keras.Model(x, [z_mean, z_log_var, z])


def _tensors_only(input_shape, latent_dim):
    x = keras.Input(shape=input_shape)
    h = layers.Flatten()(x)
    return [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)]


def _no_return(input_shape, latent_dim):
    keras.Input(shape=input_shape)


def _raises(input_shape, latent_dim):
    x = keras.Input(shape=input_shape)
    return keras.Model(x, [layers.Dense(latent_dim)(x, wrong=1)])


@pytest.mark.parametrize(
    "fn, match",
    [
        (_concatenated, r"one output of width 4.*concatenated"),
        (_with_z, r"3 outputs.*keras\.io"),
        (_tensors_only, r"not a model.*keras\.Model\(x, \[z_mean, z_log_var\]\)"),
        (_no_return, r"returned None"),
        (_raises, r"raised TypeError"),
        (complete.reference_encoder((8, 8), 2), r"should be a function"),
    ],
    ids=["concatenated", "three-outputs", "tensors", "none", "raises", "model-not-function"],
)
def test_encoder_structure_mistakes(fn, match):
    assert_fails(check.build_encoder(fn), match)


# ------------------------------------------------------------------------------------------------ decoder


def decoder_with(end=None, activation=None, reshape=True, channel=False, fixed_shape=None, input_image=False):
    def build_decoder(latent_dim, output_shape):
        shape = fixed_shape or output_shape
        z = keras.Input(shape=tuple(output_shape) if input_image else (latent_dim,))
        h = layers.Dense(32, activation="relu")(layers.Flatten()(z) if input_image else z)
        h = layers.Dense(math.prod(shape), activation=activation)(h)
        if end is not None:
            h = end(h)
        if reshape:
            h = layers.Reshape(tuple(shape) + ((1,) if channel else ()))(h)
        return keras.Model(z, h)

    return build_decoder


def _sequential_decoder(latent_dim, output_shape):
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(32, activation="gelu"),
        layers.Dense(math.prod(output_shape)),
        layers.Reshape(output_shape),
    ])


def _sequential_lambda_sigmoid(latent_dim, output_shape):
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(math.prod(output_shape)),
        layers.Lambda(lambda t: ops.sigmoid(t)),
        layers.Reshape(output_shape),
    ])


def test_reference_decoder_passes():
    assert_passes(check.build_decoder(complete.reference_decoder))


@pytest.mark.parametrize("fn", [decoder_with(), _sequential_decoder], ids=["functional", "sequential"])
def test_correct_decoders_pass(fn):
    assert_passes(check.build_decoder(fn))


def test_decoder_placeholder_is_not_attempted():
    assert_not_attempted(check.build_decoder(____))

    def returns_placeholder(latent_dim, output_shape):
        return ____

    assert_not_attempted(check.build_decoder(returns_placeholder))


@pytest.mark.parametrize(
    "fn, match",
    [
        (decoder_with(reshape=False), r"shape \(64, 64\): flat rows.*layers\.Reshape"),
        (decoder_with(activation="sigmoid"), r"ends in a sigmoid, so it outputs probabilities.*applied twice"),
        (decoder_with(end=layers.Activation("sigmoid")), r"ends in a sigmoid"),
        (decoder_with(activation="relu"), r"ends in a relu"),
        (decoder_with(activation="softmax"), r"softmax"),
        (_sequential_lambda_sigmoid, r"between 0 and 1, like probabilities"),
        (decoder_with(channel=True), r"channel axis"),
        (decoder_with(fixed_shape=(8, 8)), r"shape \(64, 8, 8\); expected \(64, 6, 7\)"),
        (decoder_with(input_image=True), r"the other way, from z to the image"),
        (complete.reference_decoder(2, (8, 8)), r"should be a function.*check\.build_decoder\(build_decoder\)"),
    ],
    ids=["flat", "sigmoid", "sigmoid-layer", "relu", "softmax", "lambda-sigmoid", "channel", "fixed-shape",
         "image-input", "model-not-function"],
)
def test_each_decoder_mistake_is_named(fn, match):
    assert_fails(check.build_decoder(fn), match)


# ------------------------------------------------------------------------------------------------ loss


BCE = lambda x, logit: ops.binary_crossentropy(x, logit, from_logits=True)  # noqa: E731


def kl_terms(z_mean, z_log_var):
    return 1 + z_log_var - ops.exp(z_log_var) - ops.square(z_mean)


def binomial_from(cross_entropy):
    """Per-pixel -log Binomial(16 x; 16, p) written as 16 * cross_entropy(x, logits) - log C(16, 16 x)."""
    return lambda x, logit: 16 * cross_entropy(x, logit) - complete.log_choose(16 * x)


def loss_from(reconstruction_per_pixel=None, reduce_pixels=None, reduce_kl=None, batch=ops.mean, combine=None):
    """A vae_loss assembled from parts; every default is the right answer."""

    def vae_loss(x, logits, z_mean, z_log_var):
        bce = (reconstruction_per_pixel or binomial_from(BCE))(x, logits)
        per_image = (reduce_pixels or (lambda b: ops.sum(b, axis=(1, 2))))(bce)
        kl_per = (reduce_kl or (lambda t: -0.5 * ops.sum(t, axis=-1)))(kl_terms(z_mean, z_log_var))
        reconstruction, kl = batch(per_image), batch(kl_per)
        total = (combine or (lambda r, k: r + k))(reconstruction, kl)
        return total, reconstruction, kl

    return vae_loss


def tf_style(x, logits, z_mean, z_log_var):
    x = tf.cast(x, tf.float32)
    k = 16.0 * x
    log_choose = tf.math.lgamma(17.0) - tf.math.lgamma(k + 1.0) - tf.math.lgamma(17.0 - k)
    bce = 16.0 * tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits) - log_choose
    reconstruction = tf.reduce_mean(tf.reduce_sum(bce, axis=[1, 2]))
    kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + z_log_var - tf.exp(z_log_var) - tf.square(z_mean), axis=1))
    return reconstruction + kl, reconstruction, kl


def by_hand(x, logits, z_mean, z_log_var):
    k = 16 * x
    bce = 16 * ops.softplus(logits) - k * logits - complete.log_choose(k)
    reconstruction = ops.mean(ops.sum(ops.reshape(bce, (ops.shape(x)[0], -1)), axis=1))
    kl = ops.mean(vae_course.kl_log_var(z_mean, z_log_var))
    return reconstruction + kl, reconstruction, kl


def probabilities_style(x, logits, z_mean, z_log_var):
    k, p = 16 * x, ops.sigmoid(logits)
    bce = complete.log_choose(k) * -1 - k * ops.log(p) - (16 - k) * ops.log(1 - p)
    reconstruction = ops.mean(ops.sum(bce, axis=(1, 2)))
    kl = ops.mean(-0.5 * ops.sum(kl_terms(z_mean, z_log_var), axis=-1))
    return [reconstruction + kl, reconstruction, kl]


def keras_losses_with_channel(x, logits, z_mean, z_log_var):
    bce = keras.losses.binary_crossentropy(x[..., None], logits[..., None], from_logits=True)
    bce = 16 * bce - complete.log_choose(16 * x)
    reconstruction = ops.mean(ops.sum(bce, axis=(1, 2)))
    kl = ops.mean(-0.5 * ops.sum(kl_terms(z_mean, z_log_var), axis=-1))
    return reconstruction + kl, reconstruction, kl


def library_likelihood(x, logits, z_mean, z_log_var):
    reconstruction = ops.mean(-vae_course.likelihood_for("digits").log_prob(x, logits))
    kl = ops.mean(vae_course.kl_log_var(z_mean, z_log_var))
    return reconstruction + kl, reconstruction, kl


@pytest.mark.parametrize(
    "fn",
    [complete.reference_vae_loss, loss_from(), tf_style, by_hand, probabilities_style, keras_losses_with_channel,
     library_likelihood],
    ids=["package", "keras-ops", "tensorflow", "softplus-by-hand", "probabilities", "keras-losses-channel",
         "library-likelihood"],
)
def test_correct_losses_pass(fn):
    assert_passes(check.vae_loss(fn))


def test_loss_placeholder_is_not_attempted():
    assert_not_attempted(check.vae_loss(____))

    def lesson_stub(x, logits, z_mean, z_log_var):  # what the generated lesson contains
        reconstruction = ____  # YOUR CODE HERE
        kl = ____  # YOUR CODE HERE
        return reconstruction + kl, reconstruction, kl

    assert_not_attempted(check.vae_loss(lesson_stub))

    def half_done(x, logits, z_mean, z_log_var):
        reconstruction = ops.mean(ops.sum(binomial_from(BCE)(x, logits), axis=(1, 2)))
        return reconstruction, reconstruction, ____

    assert_not_attempted(check.vae_loss(half_done))


def _numpy_loss(x, logits, z_mean, z_log_var):
    from vae_course.exercises.complete import _log_choose

    x, logits, z_mean, z_log_var = (np.asarray(a, dtype=np.float64) for a in (x, logits, z_mean, z_log_var))
    nll = 16 * np.logaddexp(0, logits) - 16 * x * logits - _log_choose(x)
    reconstruction = np.mean(np.sum(nll, axis=(1, 2)))
    kl = np.mean(-0.5 * np.sum(1 + z_log_var - np.exp(z_log_var) - z_mean**2, axis=-1))
    return reconstruction + kl, reconstruction, kl


def _graph_unsafe(x, logits, z_mean, z_log_var):
    weight = float(np.asarray(x).size > 0)  # needs concrete values: fails on symbolic tensors
    return complete.reference_vae_loss(x, logits * weight, z_mean, z_log_var)


def _fixed_batch_divisor(x, logits, z_mean, z_log_var):
    reconstruction = ops.sum(binomial_from(BCE)(x, logits)) / 5
    kl = ops.sum(-0.5 * ops.sum(kl_terms(z_mean, z_log_var), axis=-1)) / 5
    return reconstruction + kl, reconstruction, kl


MEAN_PIXELS = lambda b: ops.mean(b, axis=(1, 2))  # noqa: E731
KERAS_LOSSES_BCE = lambda x, logit: keras.losses.binary_crossentropy(x, logit, from_logits=True)  # noqa: E731


def _k_for_x(x, logit):
    return 16 * ops.softplus(logit) - x * logit - complete.log_choose(16 * x)


def _softplus_without_16(x, logit):
    return ops.softplus(logit) - 16 * x * logit - complete.log_choose(16 * x)


@pytest.mark.parametrize(
    "fn, match",
    [
        (loss_from(reconstruction_per_pixel=BCE), r"the textbook's.*same optimum as β = 16 against the real "
         r"likelihood, up to a constant.*log C\(16, k\)"),
        (loss_from(reconstruction_per_pixel=lambda x, logit: 16 * BCE(x, logit)),
         r"16 · BCE without the − log C\(16, k\)"),
        (loss_from(reconstruction_per_pixel=lambda x, logit: 16 * BCE(x, logit) + complete.log_choose(16 * x)),
         r"log C\(16, k\) has the wrong sign"),
        (loss_from(reconstruction_per_pixel=_k_for_x), r"the count k = 16 · x belongs"),
        (loss_from(reconstruction_per_pixel=_softplus_without_16), r"softplus\(ℓ\) needs the factor 16"),
        (loss_from(reduce_pixels=MEAN_PIXELS), r"averaged over the pixels instead of summing.*β = 64"),
        (loss_from(reconstruction_per_pixel=BCE, reduce_pixels=MEAN_PIXELS), r"textbook's.*β = 64"),
        (loss_from(reconstruction_per_pixel=KERAS_LOSSES_BCE, reduce_pixels=lambda b: ops.sum(b, axis=-1)),
         r"textbook's.*8 times too small.*keras\.losses\.binary_crossentropy"),
        (loss_from(reconstruction_per_pixel=binomial_from(lambda x, logit: ops.binary_crossentropy(x, logit))),
         r"treats the logits as probabilities.*from_logits=True"),
        (loss_from(reconstruction_per_pixel=binomial_from(lambda x, logit: BCE(x, 1 / (1 + ops.exp(-logit))))),
         r"sigmoid is applied twice"),
        (loss_from(reconstruction_per_pixel=binomial_from(lambda x, logit: BCE(logit, x))),
         r"arguments of the cross-entropy are swapped"),
        (loss_from(reconstruction_per_pixel=lambda x, logit: ops.square(x - ops.sigmoid(logit))),
         r"squared error.*Gaussian"),
        (loss_from(reduce_kl=lambda t: -0.5 * ops.mean(t, axis=-1)),
         r"averaged over the 3 latent dimensions.*β = 1/3"),
        (loss_from(reduce_kl=lambda t: 0.5 * ops.sum(t, axis=-1)), r"KL term has the wrong sign"),
        (loss_from(reduce_kl=lambda t: -ops.sum(t, axis=-1)), r"twice too big"),
        (loss_from(batch=lambda t: t), r"one value per example.*Average over the batch"),
        (loss_from(batch=ops.sum), r"summed over the batch"),
        (loss_from(combine=lambda r, k: r - k), r"`total` subtracts the KL term.*keras-team/keras#6500"),
        (loss_from(combine=lambda r, k: r + 2 * k), r"not their sum"),
        (loss_from(reduce_pixels=MEAN_PIXELS, reduce_kl=lambda t: -0.5 * ops.mean(t, axis=-1)),
         r"β = 64.*β = 1/3"),
        (_numpy_loss, r"no gradient reaches logits, z_mean, z_log_var.*NumPy"),
        (_graph_unsafe, r"compiled training step"),
        (_fixed_batch_divisor, r"for the check's batch"),
    ],
    ids=["textbook-bce", "no-log-choose", "log-choose-sign", "x-for-k", "softplus-without-16", "mean-pixels",
         "textbook-mean-pixels", "keras-losses-last-axis", "no-from-logits", "double-sigmoid", "swapped-args", "mse",
         "mean-latents", "kl-sign", "kl-factor", "no-batch-mean", "batch-sum", "total-minus", "total-other",
         "two-mistakes", "numpy", "graph-unsafe", "hard-coded-batch"],
)
def test_each_loss_mistake_is_named(fn, match):
    assert_fails(check.vae_loss(fn), match)


def _wrong_order(x, logits, z_mean, z_log_var):
    total, reconstruction, kl = complete.reference_vae_loss(x, logits, z_mean, z_log_var)
    return reconstruction, kl, total


def _one_value(x, logits, z_mean, z_log_var):
    return complete.reference_vae_loss(x, logits, z_mean, z_log_var)[0]


def _as_dict(x, logits, z_mean, z_log_var):
    total, reconstruction, kl = complete.reference_vae_loss(x, logits, z_mean, z_log_var)
    return {"total": total, "reconstruction": reconstruction, "kl": kl}


def _not_summed_over_pixels(x, logits, z_mean, z_log_var):
    bce = ops.mean(binomial_from(BCE)(x, logits), axis=0)
    kl = ops.mean(vae_course.kl_log_var(z_mean, z_log_var))
    return ops.sum(bce) + kl, bce, kl


def _nan(x, logits, z_mean, z_log_var):
    total, reconstruction, kl = complete.reference_vae_loss(x, logits, z_mean, z_log_var)
    return total, reconstruction, ops.log(kl - 1e6)


def _raises(x, logits, z_mean, z_log_var):
    return ops.sum(x, axis=5)


@pytest.mark.parametrize(
    "fn, match",
    [
        (_wrong_order, r"right but in the wrong order"),
        (_one_value, r"returned one value.*return total, reconstruction, kl"),
        (_as_dict, r"returned a dict"),
        (_not_summed_over_pixels, r"`reconstruction` has shape \(8, 8\).*axis=\(1, 2\)"),
        (_nan, r"NaN or infinity"),
        (_raises, r"raised"),
        ("not a function", r"should be a function"),
    ],
    ids=["order", "one-value", "dict", "pixels-not-summed", "nan", "raises", "string"],
)
def test_loss_structure_mistakes(fn, match):
    with np.errstate(all="ignore"):
        assert_fails(check.vae_loss(fn), match)


def test_no_checker_raises_on_odd_input():
    for odd in (None, 3, [1, 2], np.zeros(3)):
        for checker in (check.build_encoder, check.build_decoder, check.vae_loss):
            result = checker(odd)
            assert result.status in ("incorrect", "not_attempted"), (checker, odd, result)



# ------------------------------------------------------------------------------------------------ predict, then check


def test_predicted_kl_near_the_measurement_passes_and_reveals_it():
    result = check.predicted_kl(0.0, 0.003, 2.7)
    assert_passes(result)
    assert "measured value is 0.00" in result.message and "2.70" in result.message
    assert_passes(check.predicted_kl(0.4, 0.003, 2.7))


@pytest.mark.parametrize(
    "guess, match",
    [
        (2.5, r"about what your β = 1 model spends"),
        (30.0, r"pushes the KL down"),
        (-1.0, r"never negative"),
        (1.0, r"Guesses from 0.00 to 0.50"),
    ],
    ids=["own-kl", "more-kl", "negative", "too-high"],
)
def test_predicted_kl_wrong_guesses_are_named(guess, match):
    assert_fails(check.predicted_kl(guess, 0.003, 2.7), match)


@pytest.mark.parametrize(
    "guess, match",
    [("0", r"text '0'.*without quotes"), ([0.0, 1.0], r"holds 2 values"), (float("nan"), r"NaN"),
     (float("inf"), r"infinite"), (True, r"yes/no"), (None, r"one number")],
    ids=["text", "list", "nan", "inf", "bool", "none"],
)
def test_predicted_kl_bad_input_gets_a_plain_message(guess, match):
    assert_fails(check.predicted_kl(guess, 0.003, 2.7), match)


def test_predicted_kl_placeholder_is_not_attempted():
    assert_not_attempted(check.predicted_kl(____, 0.003, 2.7))


def test_predicted_kl_with_a_missing_measurement_says_to_rerun():
    assert_fails(check.predicted_kl(0.0, float("nan"), 2.7), r"rerun the cells")
