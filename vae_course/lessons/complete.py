"""Lesson 07, the complete VAE: a model assembled from the learner's own pieces, trained and compared.

The loss of the lesson is the negative ELBO per image, averaged over the batch:

    reconstruction = sum over pixels of BCE(x, sigmoid(logits))      (nats per image, Bernoulli decoder)
    kl             = -1/2 sum_k (1 + gamma_k - exp(gamma_k) - mu_k^2)  (Equation 17-4, gamma = z_log_var)
    total          = reconstruction + kl                              (beta = 1)

``ComposedVAE`` is ``vae_course.VAE`` with two parts made pluggable: the sampling layer (the learner's
``Sampling`` from lesson 06) and the loss function (the learner's ``vae_loss``). Everything else, the custom
``train_step`` with its three metrics, ``test_step``, ``call`` and ``generate``, is inherited, so the learner's
model and ``make_vae`` are trained and measured the same way.
"""

import math

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

from .. import _quiet  # noqa: F401  (sets the TensorFlow log level first)
from ..vae.maths import kl_log_var
from ..vae.model import VAE, build_decoder, build_encoder, make_vae, reconstruction_nats

IMAGE_SHAPE = (8, 8)
LATENT_DIM = 2
EPOCHS = 100
BATCH_SIZE = 64
LEARNING_RATE = 5e-3
SEED = 0
# The lesson's bar for the learner's model: test negative ELBO in nats per 8x8 digit.
# make_vae trained the same way reaches about 23.9 (python -m vae_course train).
ELBO_BAR = 26.0

# ---------------------------------------------------------------------------------------------- reference pieces


def reference_encoder(input_shape, latent_dim):
    """x -> [z_mean, z_log_var]: ``vae_course.build_encoder`` with the argument order of the exercise."""
    return build_encoder(tuple(input_shape), int(latent_dim))


def reference_decoder(latent_dim, output_shape):
    """z -> logits of shape ``output_shape``: ``vae_course.build_decoder`` with the exercise's argument order."""
    return build_decoder(tuple(output_shape), int(latent_dim))


def make_vae_loss(kl_function=kl_log_var, beta=1.0):
    """A loss ``(x, logits, z_mean, z_log_var) -> (total, reconstruction, kl)``, each a mean over the batch.

    reconstruction = mean_n sum_pixels BCE(x, logits, from_logits=True); kl = mean_n kl_function(z_mean, z_log_var);
    total = reconstruction + beta * kl. With ``beta = 1`` the total is the negative ELBO in nats per image.
    """

    def vae_loss(x, logits, z_mean, z_log_var):
        reconstruction = ops.mean(reconstruction_nats(x, logits))
        kl = ops.mean(kl_function(z_mean, z_log_var))
        return reconstruction + beta * kl, reconstruction, kl

    vae_loss.__qualname__ = vae_loss.__name__ = "vae_loss"
    return vae_loss


reference_vae_loss = make_vae_loss()


def mean_over_pixels_loss(x, logits, z_mean, z_log_var):
    """The per-pixel mean cross-entropy plus the summed KL: (total, reconstruction per pixel, kl).

    mean_pixels BCE + KL = (1 / P) (sum_pixels BCE + P * KL) for P pixels, so this is a beta-VAE with
    beta = P (64 on 8x8 digits), its loss scaled by 1 / P. It is what ``binary_crossentropy`` gives when the
    KL term is not divided by P as well.
    """
    n_pixels = math.prod(tuple(x.shape)[1:])
    reconstruction = ops.mean(reconstruction_nats(x, logits)) / n_pixels
    kl = ops.mean(kl_log_var(z_mean, z_log_var))
    return reconstruction + kl, reconstruction, kl


def loss_scalings(x, logits, z_mean, z_log_var):
    """Three ways to write a VAE loss for one batch, P = number of pixels, as name -> (value, beta, divisor).

    Each value equals (sum_pixels BCE + beta * KL) / divisor, batch-averaged:

    - "sum over pixels + KL": the negative ELBO (beta = 1, divisor 1);
    - "mean over pixels + KL / P": the negative ELBO / P (Geron 2e: still beta = 1, divisor P);
    - "mean over pixels + KL": (sum BCE + P * KL) / P (beta = P, divisor P).
    """
    x = ops.convert_to_tensor(np.asarray(x, dtype=np.float32))
    n_pixels = math.prod(tuple(x.shape)[1:])
    reconstruction = float(ops.convert_to_numpy(ops.mean(reconstruction_nats(x, logits))))
    kl = float(ops.convert_to_numpy(ops.mean(kl_log_var(z_mean, z_log_var))))
    return {
        "sum over pixels + KL": (reconstruction + kl, 1.0, 1),
        f"mean over pixels + KL / {n_pixels}": (reconstruction / n_pixels + kl / n_pixels, 1.0, n_pixels),
        "mean over pixels + KL": (reconstruction / n_pixels + kl, float(n_pixels), n_pixels),
    }


# ---------------------------------------------------------------------------------------------- the model


def make_sampling_layer(sampling, seed=None):
    """An instance of ``sampling`` (a Layer class or instance), given ``seed`` if its constructor takes one."""
    if isinstance(sampling, keras.layers.Layer):
        return sampling
    problem = None
    for kwargs in ({"seed": seed, "name": "sampling"}, {"name": "sampling"}, {}):
        try:
            return sampling(**kwargs)
        except (TypeError, ValueError) as err:  # Keras raises ValueError for an unknown keyword argument
            problem = err
    raise TypeError(f"could not create a sampling layer from {sampling!r}: {problem}")


@keras.saving.register_keras_serializable(package="vae_course")
class ComposedVAE(VAE):
    """``vae_course.VAE`` with a pluggable sampling layer and loss function.

    ``sampling`` is a Layer class or instance called on ``[z_mean, z_log_var]`` (default ``vae_course.Sampling``);
    ``loss`` maps ``(x, logits, z_mean, z_log_var)`` to ``(total, reconstruction, kl)`` batch means (default: the
    negative ELBO with ``beta``, see ``make_vae_loss``). The optimizer minimises ``total``; the metrics
    ``loss``, ``reconstruction_loss`` and ``kl_loss`` report the three values. A saved and reloaded model gets the
    package's sampling layer and loss back, since functions are not saved.
    """

    def __init__(self, encoder, decoder, sampling=None, loss=None, beta=1.0, seed=None, **kwargs):
        super().__init__(encoder, decoder, beta=beta, seed=seed, **kwargs)
        if sampling is not None:
            replaced = self.sampling
            self.sampling = make_sampling_layer(sampling, seed)
            _untrack(self, replaced)
        self.loss_fn = loss if loss is not None else make_vae_loss(beta=self.beta)

    def compute_losses(self, x, training=False):
        """(total, reconstruction, kl) from the loss function, on one sample of z per example."""
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        total, reconstruction, kl = self.loss_fn(x, logits, z_mean, z_log_var)
        return tuple(ops.reshape(ops.cast(t, "float32"), ()) for t in (total, reconstruction, kl))


def _untrack(model, layer):
    """Forget a sub-layer that was replaced, so its seed state is not kept as a weight of the model."""
    layers = getattr(model, "_layers", None)
    if isinstance(layers, list) and layer in layers:
        layers.remove(layer)


def compose_vae(encoder, decoder, sampling=None, loss=None, seed=SEED):
    """A built ``ComposedVAE``: one call on a zero image creates every weight, the sampler's seed state included."""
    vae = ComposedVAE(encoder, decoder, sampling=sampling, loss=loss, seed=seed, name="vae")
    input_shape = _input_shape(encoder)
    vae(ops.zeros((1,) + input_shape))
    return vae


def _input_shape(encoder, default=IMAGE_SHAPE):
    try:
        return tuple(int(d) for d in encoder.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return tuple(default)


def reference_vae(input_shape=IMAGE_SHAPE, latent_dim=LATENT_DIM, seed=SEED):
    """``vae_course.make_vae`` after ``keras.utils.set_random_seed(seed)``: the model the learner's is compared with."""
    keras.utils.set_random_seed(seed)
    return make_vae(tuple(input_shape), latent_dim, seed=seed)


# ---------------------------------------------------------------------------------------------- training


def train_vae(vae, x_train, epochs=EPOCHS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=SEED,
              report_every=20, progress=True):
    """Adam with a cosine-decayed learning rate, seeded shuffling, one rounded progress line every few epochs.

    The same recipe as ``python -m vae_course train``, so two models trained with it differ only in their parts.
    Returns the ``History``.
    """
    from ..vae.progress import EpochProgress

    steps = math.ceil(len(x_train) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps)
    vae.compile(optimizer=keras.optimizers.Adam(schedule))
    keras.utils.set_random_seed(seed)
    callbacks = [EpochProgress(epochs, every=report_every, show_eta=False)] if progress else []
    return vae.fit(x_train, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=callbacks)


def evaluate(vae, x, n_samples=10, seed=SEED):
    """Test negative ELBO and its two terms in nats per image (``vae_course.negative_elbo``) as a dict."""
    from ..vae.elbo import negative_elbo

    value, reconstruction, kl = negative_elbo(vae, x, n_samples=n_samples, seed=seed, return_terms=True)
    return {"negative ELBO": value, "reconstruction": reconstruction, "KL": kl}


def format_results(results):
    """A plain-text table, one row per model, numbers rounded to 2 decimals."""
    columns = ("negative ELBO", "reconstruction", "KL")
    width = max([len("model")] + [len(name) for name in results])
    lines = [f"{'model':<{width}}  " + "  ".join(f"{c:>14}" for c in columns)]
    for name, row in results.items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{row[c]:>14.2f}" for c in columns))
    return "\n".join(lines)


def plot_results(results, title="Test set, nats per image (lower is better)"):
    """Grouped bars: negative ELBO, reconstruction and KL for each model, each bar labelled with its value."""
    columns = ("negative ELBO", "reconstruction", "KL")
    names = list(results)
    width = 0.8 / max(len(names), 1)
    positions = np.arange(len(columns))
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    for i, name in enumerate(names):
        values = [results[name][c] for c in columns]
        bars = ax.bar(positions + (i - (len(names) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
    ax.set_xticks(positions, columns)
    ax.set_ylabel("nats per image")
    ax.set_title(title)
    ax.margins(y=0.15)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_reconstruction_rows(vaes, x, n=10):
    """Originals in the first row, then one row of reconstructions (decoded z_mean) per model."""
    x = np.asarray(x, dtype=np.float32)[:n]
    rows = [("original", x)]
    for name, vae in vaes.items():
        z_mean = ops.convert_to_numpy(vae.encoder(x, training=False)[0])
        rows.append((name, np.asarray(ops.convert_to_numpy(vae.generate(z_mean))).reshape(x.shape)))
    fig, axes = plt.subplots(len(rows), len(x), figsize=(len(x), 1.05 * len(rows) + 0.5), squeeze=False,
                             layout="constrained")
    for r, (name, images) in enumerate(rows):
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image, cmap="binary", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle("Test digits and their reconstructions from z_mean")
    return fig


# ---------------------------------------------------------------------------------------------- the learner's parts


def gradients_flow(kl_function):
    """True if d(sum KL)/d(z_mean) and d(sum KL)/d(z_log_var) both exist: the function can be trained through."""
    import tensorflow as tf

    z_mean = tf.Variable(np.full((2, 3), 0.5, dtype=np.float32))
    z_log_var = tf.Variable(np.full((2, 3), -0.5, dtype=np.float32))
    try:
        with tf.GradientTape() as tape:
            total = ops.sum(kl_function(z_mean, z_log_var))
        grads = tape.gradient(total, [z_mean, z_log_var])
    except Exception:  # NumPy on a watched variable, a non-tensor result, ...
        return False
    return all(g is not None for g in grads)

