"""Lesson 07, the complete VAE: a model assembled from the learner's own pieces, trained and compared.

The loss of the lesson is the negative ELBO per image, averaged over the batch, under the digits' likelihood
(each stored pixel is a count k = 16 x of 16 binary pixels, so p(x | z) is Binomial(16, sigmoid(logit)) per pixel):

    reconstruction = sum over pixels of 16 softplus(l) - k l - log C(16, k)   (-log p(x | z), nats per image)
    kl             = -1/2 sum_k (1 + gamma_k - exp(gamma_k) - mu_k^2)          (Equation 17-4, gamma = z_log_var)
    total          = reconstruction + kl                                      (beta = 1)

The textbook's grey-level BCE stays available as a named training loss (``make_vae_loss(reconstruction=
"textbook_bce")``): summed BCE + KL is (-log p(x | z) + sum log C(16, k) + 16 KL) / 16, beta = 16 against the
likelihood. ``ComposedVAE`` is ``vae_course.VAE`` with two parts made pluggable: the sampling layer (the learner's
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
from ..vae.likelihood import likelihood_for, textbook_bce
from ..vae.maths import kl_log_var
from ..vae.model import VAE, build_decoder, build_encoder, make_vae

IMAGE_SHAPE = (8, 8)
LATENT_DIM = 2
EPOCHS = 60  # as good on the test digits as 100 (160.9 / 151.7 nats against 163.4 / 151.9 for seeds 0 / 1)
BATCH_SIZE = 64
LEARNING_RATE = 5e-3
SEED = 0
COLLAPSE_EPOCHS = 20  # the mean-over-pixels model (beta = 64) has lost its KL term by epoch 20 of 60
TRIALS = 16  # binary pixels behind each stored pixel of the digits
LIKELIHOOD = likelihood_for("digits")
# The lesson's bar for the learner's model: test negative ELBO in nats per 8x8 digit under LIKELIHOOD.
ELBO_BAR = 175.0  # make_vae trained the same way reaches about 161 (lesson 08's first cell)

# ---------------------------------------------------------------------------------------------- reference pieces


def reference_encoder(input_shape, latent_dim):
    """x -> [z_mean, z_log_var]: ``vae_course.build_encoder`` with the argument order of the exercise."""
    return build_encoder(tuple(input_shape), int(latent_dim))


def reference_decoder(latent_dim, output_shape):
    """z -> logits of shape ``output_shape``: ``vae_course.build_decoder`` with the exercise's argument order."""
    return build_decoder(tuple(output_shape), int(latent_dim))


def log_choose(k, n=TRIALS):
    """log C(n, k) elementwise for whole-number counts ``k`` (0..n), as a tensor; a keras.ops table lookup."""
    values = _concrete_values(k)
    if values is not None:
        off = (values < 0) | (values > n) | (np.abs(values - np.round(values)) > 1e-3)
        if off.any():
            raise ValueError(f"log_choose takes counts k, whole numbers from 0 to {n}; got e.g. "
                             f"{values[off].flat[0]:g}. For a grey level x in [0, 1], pass k = {n} * x.")
    table = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in range(n + 1)],
                     dtype=np.float32)
    index = ops.cast(ops.round(ops.cast(k, "float32")), "int32")
    return ops.take(ops.convert_to_tensor(table), index)


def _concrete_values(k):
    """``k`` as a NumPy array when its values are known now (NumPy, numbers, an eager tensor), else None."""
    if isinstance(k, (np.ndarray, np.generic, list, tuple, int, float)):
        return np.asarray(k, dtype=np.float64)
    try:
        return np.asarray(k.numpy(), dtype=np.float64)
    except (AttributeError, TypeError, ValueError, NotImplementedError):
        return None


def binomial_nats(x, logits):
    """-log p(x | z) per image in nats under the digits' Binomial(16) likelihood (``LIKELIHOOD.log_prob``)."""
    return -LIKELIHOOD.log_prob(x, logits)


def log_choose_total(x):
    """Sum over the pixels of log C(16, k), k = 16 x, per image: the constant between 16 * BCE and -log p(x | z)."""
    per_pixel = log_choose(ops.round(ops.cast(x, "float32") * TRIALS))
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)


RECONSTRUCTIONS = {"likelihood": binomial_nats, "textbook_bce": textbook_bce}


def make_vae_loss(kl_function=kl_log_var, beta=1.0, reconstruction="likelihood"):
    """A loss ``(x, logits, z_mean, z_log_var) -> (total, reconstruction, kl)``, each a mean over the batch.

    reconstruction = mean_n of -log p(x | z) (``"likelihood"``) or of the summed grey-level BCE
    (``"textbook_bce"``); kl = mean_n kl_function(z_mean, z_log_var); total = reconstruction + beta * kl. With the
    likelihood and ``beta = 1`` the total is the negative ELBO in nats per image.
    """
    if reconstruction not in RECONSTRUCTIONS:
        raise ValueError(f"reconstruction must be one of {', '.join(map(repr, RECONSTRUCTIONS))}; "
                         f"got {reconstruction!r}.")
    per_image = RECONSTRUCTIONS[reconstruction]

    def vae_loss(x, logits, z_mean, z_log_var):
        reconstruction_term = ops.mean(per_image(x, logits))
        kl = ops.mean(kl_function(z_mean, z_log_var))
        return reconstruction_term + beta * kl, reconstruction_term, kl

    vae_loss.__qualname__ = vae_loss.__name__ = "vae_loss"
    return vae_loss


reference_vae_loss = make_vae_loss()
textbook_vae_loss = make_vae_loss(reconstruction="textbook_bce")


def mean_over_pixels_loss(x, logits, z_mean, z_log_var):
    """The per-pixel mean of -log p(x | z) plus the summed KL: (total, reconstruction per pixel, kl).

    mean_pixels + KL = (1 / P) (sum_pixels + P * KL) for P pixels, so this is a beta-VAE with beta = P
    (64 on 8x8 digits), its loss scaled by 1 / P: what a mean over pixels does when the KL is not divided by P too.
    """
    n_pixels = math.prod(tuple(x.shape)[1:])
    reconstruction = ops.mean(binomial_nats(x, logits)) / n_pixels
    kl = ops.mean(kl_log_var(z_mean, z_log_var))
    return reconstruction + kl, reconstruction, kl


def loss_scalings(x, logits, z_mean, z_log_var):
    """Ways to write a VAE loss for one batch, as name -> (value, beta, divisor, constant), batch-averaged.

    Each value equals (-log p(x | z) + beta * KL + constant) / divisor, P = number of pixels:

    - "sum over pixels + KL": the negative ELBO (beta = 1);
    - "mean over pixels + KL / P": the negative ELBO / P (still beta = 1);
    - "mean over pixels + KL": (sum + P * KL) / P (beta = P);
    - "textbook BCE + KL": summed grey-level BCE + KL, = (-log p(x | z) + 16 KL + sum log C(16, k)) / 16.
    """
    x = ops.convert_to_tensor(np.asarray(x, dtype=np.float32))
    n_pixels = math.prod(tuple(x.shape)[1:])

    def batch_mean(t):
        return float(ops.convert_to_numpy(ops.mean(t)))

    nll, kl = batch_mean(binomial_nats(x, logits)), batch_mean(kl_log_var(z_mean, z_log_var))
    bce, constant = batch_mean(textbook_bce(x, logits)), batch_mean(log_choose_total(x))
    return {
        "sum over pixels + KL": (nll + kl, 1.0, 1, 0.0),
        f"mean over pixels + KL / {n_pixels}": (nll / n_pixels + kl / n_pixels, 1.0, n_pixels, 0.0),
        "mean over pixels + KL": (nll / n_pixels + kl, float(n_pixels), n_pixels, 0.0),
        "textbook BCE + KL": (bce + kl, float(TRIALS), TRIALS, constant),
    }


def bce_floor(x):
    """The least summed grey-level BCE any decoder can reach on each image: sum over pixels of H(x), at p = x.

    BCE(x, p) is smallest at p = x, where it equals the entropy of a coin with bias x, which is 0 only for x = 0 or
    1: the textbook's loss has a floor set by the data's grey levels, not by the model.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(np.where(x > 0, x * np.log(x), 0.0) + np.where(x < 1, (1 - x) * np.log1p(-x), 0.0))
    return entropy.sum(axis=1)


def gaussian_nats(x, mean, variance=0.5):
    """-log N(x; mean, variance) summed over the pixels, per image: what a squared error is a likelihood of."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    mean = np.asarray(mean, dtype=np.float64).reshape(len(x), -1)
    return np.sum((x - mean) ** 2 / (2 * variance) + 0.5 * np.log(2 * np.pi * variance), axis=1)


def gaussian_mass_in_unit_interval(mean, variance=0.5):
    """P(0 <= X <= 1) for X ~ N(mean, variance), elementwise: how much of the Gaussian falls where pixels can be."""
    erf = np.vectorize(math.erf, otypes=[np.float64])
    scale = math.sqrt(2 * variance)
    mean = np.asarray(mean, dtype=np.float64)
    return 0.5 * (erf((1 - mean) / scale) - erf((0 - mean) / scale))


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
              report_every=20, progress=True, cache=False):
    """Adam with a cosine-decayed learning rate, seeded shuffling, one rounded progress line every few epochs.

    Two models trained with it differ only in their parts. Returns the ``History``. With ``cache`` the result is
    kept in (or loaded from) the course's model cache (``vae_course.fit_cached``): only for the package's models,
    never for a learner's, whose code can change while its settings stay the same.
    """
    from ..vae.cache import fit_cached
    from ..vae.progress import EpochProgress

    steps = math.ceil(len(x_train) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps)
    vae.compile(optimizer=keras.optimizers.Adam(schedule))
    callbacks = [EpochProgress(epochs, every=report_every, show_eta=False)] if progress else []
    options = dict(epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=callbacks)
    if cache:
        return fit_cached(vae, x_train, seed=seed, **options)
    keras.utils.set_random_seed(seed)
    return vae.fit(x_train, **options)


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

