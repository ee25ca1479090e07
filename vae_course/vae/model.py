"""A complete VAE in Keras 3: dense encoder and decoder composed in a ``keras.Model``.

The decoder outputs one logit per pixel; ``likelihood.likelihood_for(dataset)`` turns them into a normalised
distribution over the pixel values of the data (Binomial(16, p) for the digits), and the reconstruction term is
-log p(x | z) in nats per image. The loss is reconstruction + beta * KL (Equation 17-4), the negative ELBO when
beta = 1 (lesson 07). ``reconstruction="textbook_bce"`` trains on the textbook's grey-level binary cross-entropy
instead (not a log-probability; beta = 1 there is beta = 16 against the digits' likelihood); whatever a model
trained on, ``negative_elbo`` scores it with its likelihood.
"""

import math

import keras
import numpy as np
from keras import layers, ops

from .. import _quiet  # noqa: F401
from .fast_path import ArrayEpochs, apply_adam, array_dataset, auto_steps_per_execution
from .layers import Sampling
from .likelihood import RECONSTRUCTIONS, likelihood_for, textbook_bce
from .maths import kl_log_var

OLD_FILE_RECONSTRUCTION = "textbook_bce"  # what every model saved before the likelihood existed trained on


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


def build_decoder(output_shape, latent_dim, hidden=(128, 256), activation="gelu", name="decoder", dropout=0.0):
    """z -> logits of p(x | z), one per pixel (p = sigmoid(logit)); ``dropout`` after each hidden layer."""
    z = keras.Input(shape=(latent_dim,), name="z")
    h = z
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
        if dropout:
            h = layers.Dropout(float(dropout), name=f"dropout_{i}")(h)
    logits = layers.Dense(math.prod(output_shape), name="logits")(h)
    logits = layers.Reshape(tuple(output_shape), name="image_logits")(logits)
    return keras.Model(z, logits, name=name)


# The textbook's grey-level BCE summed over pixels, under its older name (a training loss, not -log p(x | z)).
reconstruction_nats = textbook_bce


@keras.saving.register_keras_serializable(package="vae_course")
class VAE(keras.Model):
    """Encoder, Sampling and decoder; trains on reconstruction + beta * KL and reports both terms.

    ``likelihood`` names the data set whose p(x | z) the decoder's logits parametrise (``None``: the default
    data set); ``reconstruction`` is "likelihood" (-log p(x | z)) or "textbook_bce" (the book's loss).
    """

    def __init__(self, encoder, decoder, beta=1.0, seed=None, likelihood=None, reconstruction="likelihood",
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.seed = seed
        self.likelihood = likelihood_for(likelihood)
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"reconstruction must be one of {', '.join(map(repr, RECONSTRUCTIONS))}; "
                             f"got {reconstruction!r}.")
        self.reconstruction = reconstruction
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
        return self.likelihood.mean(self.decoder(z, training=training))

    def generate(self, z):
        """The mean image of p(x | z) for latent points z (pixel values in the data's units)."""
        return self.likelihood.mean(self.decoder(z, training=False))

    def reconstruction_term(self, x, logits):
        """What training minimises per image: -log p(x | z), or the textbook's summed BCE if chosen."""
        if self.reconstruction == "textbook_bce":
            return textbook_bce(x, logits)
        return -self.likelihood.log_prob(x, logits)

    def compute_losses(self, x, training=False):
        """Mean over the batch of the reconstruction term, the KL term, and their beta-weighted sum."""
        z_mean, z_log_var = self.encoder(x, training=training)[:2]  # an encoder may return more (flows.py)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        reconstruction = ops.mean(self.reconstruction_term(x, logits))
        kl = ops.mean(kl_log_var(z_mean, z_log_var))
        return reconstruction + self.beta * kl, reconstruction, kl

    def _update_metrics(self, total, reconstruction, kl):
        self.loss_tracker.update_state(total)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def compile(self, *args, steps_per_execution=None, **kwargs):
        """keras.Model.compile; without ``steps_per_execution``, ``fit`` picks it from the data (fast_path.py)."""
        self._auto_steps_per_execution = steps_per_execution is None
        super().compile(*args, steps_per_execution=steps_per_execution or 1, **kwargs)
        saved = getattr(getattr(self, "_compile_config", None), "config", None)
        if isinstance(saved, dict):  # a saved model keeps "left to fit" rather than 1
            saved["steps_per_execution"] = steps_per_execution

    def compile_from_config(self, config):
        """Compile a loaded model as it was compiled (Keras skips this for models whose compile is custom)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, *args, callbacks=None, **kwargs):
        """keras.Model.fit, fast by default (fast_path.py), with a guard that stops with a plain-words
        TrainingDiverged on a NaN or inf loss.

        Images given as an array are checked first: the likelihood refuses values it gives no probability to.
        """
        from .guards import NonFiniteLossGuard

        if isinstance(x, np.ndarray) and (x.ndim == 0 or len(x) == 0):
            raise ValueError(f"fit got no images: the array has shape {x.shape}. Pass at least one image, e.g. "
                             f"x_train from vae_course.load_dataset().")
        if self.reconstruction == "likelihood" and isinstance(x, np.ndarray):
            self.likelihood.check(x)
        callbacks = list(callbacks or [])
        if not any(isinstance(c, NonFiniteLossGuard) for c in callbacks):
            callbacks.append(NonFiniteLossGuard())
        if args or not _plain_arrays(x, kwargs):
            return super().fit(x, *args, callbacks=callbacks, **kwargs)
        x, kwargs = _as_datasets(self, x, kwargs)
        if not isinstance(x, ArrayEpochs):
            return super().fit(x, callbacks=callbacks, **kwargs)
        if not self.optimizer.built:  # its slots must exist before the step loop is traced
            self.optimizer.build(self.trainable_variables)
        keras_function, self.train_function = self.train_function, x
        try:
            return super().fit(x.step_numbers(), callbacks=callbacks, **kwargs)
        finally:
            self.train_function = keras_function

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
            "likelihood": self.likelihood.dataset,
            "reconstruction": self.reconstruction,
        }

    @classmethod
    def from_config(cls, config):
        config = _with_old_file_defaults(config)
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def _with_old_file_defaults(config):
    """A saved config; files from before the likelihood existed trained on the textbook BCE over the digits."""
    return {"likelihood": "digits", "reconstruction": OLD_FILE_RECONSTRUCTION, **dict(config)}


def _features(data):
    """fit(x) passes x; fit(x, y) or a dataset of (x, y) pairs passes a tuple: use its first item."""
    return data[0] if isinstance(data, (tuple, list)) else data


def _apply_gradients(model, x):
    """One optimizer step on the model's loss (Adam fused where exact, fast_path.apply_adam)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        total, reconstruction, kl = model.compute_losses(x, training=True)
    grads = tape.gradient(total, model.trainable_weights)
    apply_adam(model.optimizer, grads, model.trainable_weights)
    return total, reconstruction, kl


_KERAS_ARRAY_OPTIONS = ("y", "sample_weight", "validation_split", "steps_per_epoch", "class_weight")


def _plain_arrays(x, kwargs):
    """fit(images) with nothing that needs Keras' own array handling (targets, weights, a split, 'batch')."""
    return (isinstance(x, np.ndarray) and kwargs.get("shuffle", True) in (True, False)
            and not any(kwargs.get(name) for name in _KERAS_ARRAY_OPTIONS))


def _epochs_to_run(kwargs):
    """How many epochs this fit call trains: ``epochs`` less ``initial_epoch`` (a resumed run)."""
    return max(1, int(kwargs.get("epochs", 1)) - int(kwargs.get("initial_epoch", 0) or 0))


def _as_datasets(model, x, kwargs):
    """fit's array arguments: the images as an ``ArrayEpochs`` (a ``tf.data`` dataset when the model runs eagerly),
    validation images as a dataset, and steps per execution chosen from the data if left to fit."""
    kwargs = dict(kwargs)
    batch_size = kwargs.pop("batch_size", None) or 32  # Keras' default
    steps = auto_steps_per_execution(len(x), batch_size)
    shuffle = kwargs.pop("shuffle", True)
    kwargs["shuffle"] = False  # shuffled by fast_path already
    if model.run_eagerly:
        x = array_dataset(x, batch_size, shuffle=shuffle)
    else:
        x = ArrayEpochs(model, x, batch_size, shuffle=shuffle, epochs=_epochs_to_run(kwargs))
    validation = kwargs.get("validation_data")
    if isinstance(validation, (tuple, list)) and len(validation) == 1:
        validation = validation[0]
    if isinstance(validation, np.ndarray):
        kwargs["validation_data"] = array_dataset(validation, kwargs.pop("validation_batch_size", None) or batch_size,
                                                  shuffle=False)
    if getattr(model, "_auto_steps_per_execution", False) and steps != model.steps_per_execution:
        model.steps_per_execution = steps
        model.train_function = model.test_function = model.predict_function = None  # rebuilt for it
    return x, kwargs


def make_vae(input_shape, latent_dim=2, hidden=(256, 128), beta=1.0, activation="gelu", seed=None,
             likelihood=None, reconstruction="likelihood", dropout=0.0):
    """A dense VAE for images of ``input_shape``; the decoder mirrors the encoder's hidden sizes.

    ``likelihood``: the data set whose p(x | z) it models (default: the default data set, digits);
    ``reconstruction``: train on "likelihood" (-log p(x | z), default) or "textbook_bce";
    ``dropout``: rate of the decoder's dropout layers while training (0: none).
    """
    input_shape = tuple(int(d) for d in input_shape)
    encoder = build_encoder(input_shape, latent_dim, hidden, activation)
    decoder = build_decoder(input_shape, latent_dim, tuple(reversed(hidden)), activation, dropout=dropout)
    vae = VAE(encoder, decoder, beta=beta, seed=seed, likelihood=likelihood, reconstruction=reconstruction,
              name="vae")
    vae(ops.zeros((1,) + input_shape))  # builds every weight, the sampler's seed state included
    return vae
