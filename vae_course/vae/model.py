"""A complete VAE in Keras 3: dense encoder and decoder composed in a ``keras.Model``.

The decoder outputs logits; the likelihood is Bernoulli per pixel, so the
reconstruction term is binary cross-entropy from logits summed over pixels
(nats per image). The loss is reconstruction + beta * KL (Equation 17-4),
which is the negative ELBO when beta = 1 (lesson 07).
"""

import math

from .. import _quiet  # noqa: F401
import keras
from keras import layers, ops

from .layers import Sampling
from .maths import kl_log_var


def build_encoder(input_shape, latent_dim, hidden=(256, 128), activation="gelu", name="encoder",
                  return_hidden=False):
    """x -> (z_mean, z_log_var): a dense network with two linear heads; also its last hidden layer if asked."""
    x = keras.Input(shape=tuple(input_shape), name="x")
    h = layers.Flatten()(x)
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var, h] if return_hidden else [z_mean, z_log_var], name=name)


def build_decoder(output_shape, latent_dim, hidden=(128, 256), activation="gelu", name="decoder"):
    """z -> logits of p(x | z), one Bernoulli logit per pixel."""
    z = keras.Input(shape=(latent_dim,), name="z")
    h = z
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    logits = layers.Dense(math.prod(output_shape), name="logits")(h)
    logits = layers.Reshape(tuple(output_shape), name="image_logits")(logits)
    return keras.Model(z, logits, name=name)


def reconstruction_nats(x, logits):
    """-log p(x | z) per example: binary cross-entropy from logits summed over every pixel."""
    bce = ops.binary_crossentropy(x, logits, from_logits=True)
    return ops.sum(ops.reshape(bce, (ops.shape(bce)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="vae_course")
class VAE(keras.Model):
    """Encoder, Sampling and decoder; trains on reconstruction + beta * KL and reports both terms."""

    def __init__(self, encoder, decoder, beta=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def call(self, x, training=False):
        """Reconstruction probabilities for x (one sample of z per example)."""
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling([z_mean, z_log_var])
        return ops.sigmoid(self.decoder(z, training=training))

    def generate(self, z):
        """Pixel probabilities decoded from latent points z."""
        return ops.sigmoid(self.decoder(z, training=False))

    def compute_losses(self, x, training=False):
        """Mean over the batch of the reconstruction term, the KL term, and their beta-weighted sum."""
        z_mean, z_log_var = self.encoder(x, training=training)[:2]  # an encoder may return more (flows.py)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        reconstruction = ops.mean(reconstruction_nats(x, logits))
        kl = ops.mean(kl_log_var(z_mean, z_log_var))
        return reconstruction + self.beta * kl, reconstruction, kl

    def _update_metrics(self, total, reconstruction, kl):
        self.loss_tracker.update_state(total)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def fit(self, *args, callbacks=None, **kwargs):
        """keras.Model.fit, plus a guard that stops with a plain-words TrainingDiverged on a NaN or inf loss."""
        from .guards import NonFiniteLossGuard

        callbacks = list(callbacks or [])
        if not any(isinstance(c, NonFiniteLossGuard) for c in callbacks):
            callbacks.append(NonFiniteLossGuard())
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def train_step(self, data):
        x = _features(data)
        total, reconstruction, kl = _apply_gradients(self, x)
        return self._update_metrics(total, reconstruction, kl)

    def test_step(self, data):
        x = _features(data)
        return self._update_metrics(*self.compute_losses(x, training=False))

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def _features(data):
    """fit(x) passes x; fit(x, y) or a dataset of (x, y) pairs passes a tuple: use its first item."""
    return data[0] if isinstance(data, (tuple, list)) else data


def _apply_gradients(model, x):
    """One optimizer step on the model's loss; the only TensorFlow-specific code in the package."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        total, reconstruction, kl = model.compute_losses(x, training=True)
    grads = tape.gradient(total, model.trainable_weights)
    model.optimizer.apply_gradients(zip(grads, model.trainable_weights))
    return total, reconstruction, kl


def make_vae(input_shape, latent_dim=2, hidden=(256, 128), beta=1.0, activation="gelu", seed=None):
    """A dense VAE for images of ``input_shape``; the decoder mirrors the encoder's hidden sizes."""
    input_shape = tuple(int(d) for d in input_shape)
    encoder = build_encoder(input_shape, latent_dim, hidden, activation)
    decoder = build_decoder(input_shape, latent_dim, tuple(reversed(hidden)), activation)
    vae = VAE(encoder, decoder, beta=beta, seed=seed, name="vae")
    vae(ops.zeros((1,) + input_shape))  # builds every weight, the sampler's seed state included
    return vae
