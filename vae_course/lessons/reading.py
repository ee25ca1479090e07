"""The 2016 Keras blog VAE encoder and sampler, translated to Keras 3 (lesson 01).

The 2016 encoder puts two linear heads on one hidden layer::

    h = relu(W_h x + b_h),   z_mean = W_mu h + b_mu,   z_log_sigma = W_s h + b_s

and samples z = z_mean + exp(z_log_sigma) * eps with eps ~ N(0, I). Nothing ties
the two heads to each other: each gets its meaning from how the sampler and the
loss use it. The R example concatenates the heads, [z_mean | z_log_var], and
splits them again inside its sampler; ``sample_from_concatenated`` and
``compare_samplers`` show that this gives the same z and the same gradients.

Samplers that take the noise as an argument, ``sampler(z_mean, z_log_var, eps)``,
use the log-variance convention of the R example and of keras.io:
z = z_mean + exp(z_log_var / 2) * eps.
"""

import re

import keras
import numpy as np
from keras import layers, ops

from .. import _quiet  # noqa: F401  (sets the TensorFlow log level first)


def build_2016_encoder(
    original_dim, intermediate_dim, latent_dim, second_head="z_log_sigma", batch_size=None, seed=None,
    name="encoder_2016",
):
    """x -> [z_mean, second head]: h = relu(W_h x + b_h), then two independent linear heads on the same h.

    ``second_head`` names the second head ("z_log_sigma" as in 2016, "z_log_var" as in R and keras.io);
    the name changes nothing the layer computes. With ``batch_size`` the input is
    ``Input(batch_shape=(batch_size, original_dim))`` as in 2016; without it the batch size is free.
    ``seed`` makes the initial weights repeatable.
    """

    def initializer(offset):
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed + offset)

    if batch_size is None:
        x = keras.Input(shape=(original_dim,), name="x")
    else:
        x = keras.Input(batch_shape=(batch_size, original_dim), name="x")
    h = layers.Dense(intermediate_dim, activation="relu", kernel_initializer=initializer(0), name="h")(x)
    z_mean = layers.Dense(latent_dim, kernel_initializer=initializer(1), name="z_mean")(h)
    second = layers.Dense(latent_dim, kernel_initializer=initializer(2), name=second_head)(h)
    return keras.Model(x, [z_mean, second], name=name)


def make_sampling(seed=None, batch_size=None, latent_dim=None, stddev=1.0):
    """The 2016 ``sampling(args)`` in Keras 3: z = z_mean + exp(z_log_sigma) * eps, eps ~ N(0, stddev^2 I).

    ``args`` is the list [z_mean, z_log_sigma], as a ``Lambda`` layer passes it. Without ``batch_size`` the
    noise takes the shape of z_mean, so any batch size works. With ``batch_size`` and ``latent_dim`` the noise
    has the fixed shape (batch_size, latent_dim), as ``K.random_normal(shape=(batch_size, latent_dim))`` had
    in 2016. Each function owns a ``keras.random.SeedGenerator(seed)``: fresh noise at every call.
    """
    seed_generator = keras.random.SeedGenerator(seed)
    fixed_shape = None if batch_size is None else (int(batch_size), int(latent_dim))

    def sampling(args):
        z_mean, z_log_sigma = args
        shape = ops.shape(z_mean) if fixed_shape is None else fixed_shape
        epsilon = keras.random.normal(shape, mean=0.0, stddev=stddev, seed=seed_generator)
        return z_mean + ops.exp(z_log_sigma) * epsilon

    return sampling


def build_2016_sampler(encoder, sampling, name="sampler_2016"):
    """x -> [z_mean, z_log_sigma, z]: the encoder's two heads, then ``Lambda(sampling)`` on the list of both."""
    z_mean, z_log_sigma = encoder.outputs
    z = layers.Lambda(sampling, name="z")([z_mean, z_log_sigma])
    return keras.Model(encoder.inputs, [z_mean, z_log_sigma, z], name=name)


def sample_two_inputs(z_mean, z_log_var, eps):
    """Python style, two separate inputs: z = z_mean + exp(z_log_var / 2) * eps."""
    return z_mean + ops.exp(0.5 * z_log_var) * eps


def sample_from_concatenated(h, eps):
    """R style, one input h = [z_mean | z_log_var] along the last axis.

    Split h in half there, then z = mean + exp(log_var / 2) * eps.
    """
    z_mean, z_log_var = ops.split(h, 2, axis=-1)
    return z_mean + ops.exp(0.5 * z_log_var) * eps


def concatenate_then_sample(z_mean, z_log_var, eps, split_sampler=sample_from_concatenated):
    """The R route for the two heads: join them along the last axis, then call ``split_sampler(h, eps)``."""
    return split_sampler(ops.concatenate([z_mean, z_log_var], axis=-1), eps)


def sampler_gradients(sampler, encoder, x, eps):
    """z = sampler(z_mean, z_log_var, eps) on the encoder's heads, and dL/dw for every encoder weight w.

    The stand-in loss is L = sum(z^2). Returns (z, list of gradients) as NumPy arrays, in the order of
    ``encoder.trainable_weights``; a weight that no gradient reaches gets zeros.
    """
    import tensorflow as tf  # gradients need the backend: the course runs Keras 3 on TensorFlow

    with tf.GradientTape() as tape:
        z_mean, z_log_var = encoder(x, training=False)
        z = sampler(z_mean, z_log_var, eps)
        loss = ops.sum(ops.square(z))
    grads = tape.gradient(loss, encoder.trainable_weights)
    grads = [
        np.zeros(tuple(w.shape), dtype=np.float32) if g is None else ops.convert_to_numpy(g)
        for g, w in zip(grads, encoder.trainable_weights)
    ]
    return ops.convert_to_numpy(z), grads


def compare_samplers(sampler_a, sampler_b, encoder, x, eps):
    """(max |z_a - z_b|, max over all encoder weights of |dL/dw_a - dL/dw_b|), same x, same eps, L = sum(z^2)."""
    z_a, grads_a = sampler_gradients(sampler_a, encoder, x, eps)
    z_b, grads_b = sampler_gradients(sampler_b, encoder, x, eps)
    output_difference = float(np.max(np.abs(z_a - z_b)))
    gradient_difference = max(float(np.max(np.abs(g_a - g_b))) for g_a, g_b in zip(grads_a, grads_b))
    return output_difference, gradient_difference


def yours_or_reference(fn, reference, probe, name):
    """``fn`` if ``fn(*probe)`` runs and has the shape of ``reference(*probe)``, else ``reference`` (and say so).

    Lets a cell after an exercise run while the learner's function is still the placeholder.
    """
    expected = np.shape(ops.convert_to_numpy(reference(*probe)))
    try:
        result = fn(*probe)
        ready = not isinstance(result, (list, tuple)) and np.shape(ops.convert_to_numpy(result)) == expected
    except Exception:
        ready = False
    if not ready:
        print(f"Your `{name}` is not ready yet, so this cell uses the course's reference version.")
        return reference
    return fn


def shape_error_summary(err):
    """The "Incompatible shapes: [a,b] vs. [c,d]" part of a TensorFlow error, else its first informative line."""
    found = re.search(r"Incompatible shapes: \[[\d,]*\] vs\. \[[\d,]*\]", str(err))
    if found:
        return found.group(0)
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(err).__name__


def plot_agreement(a, b, ax, label_a, label_b, title, diagonal_label="y = x", point_label="one value"):
    """Scatter b against a with the line y = x: points on the line mean the two computations agree."""
    a = np.ravel(np.asarray(a, dtype=np.float64))
    b = np.ravel(np.asarray(b, dtype=np.float64))
    low = min(a.min(), b.min())
    high = max(a.max(), b.max())
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], "--", color="grey", lw=1, label=diagonal_label)
    ax.scatter(a, b, s=8, alpha=0.6, label=point_label)
    ax.set_xlabel(label_a)
    ax.set_ylabel(label_b)
    ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def plot_sample_clouds(sampling, z_mean, z_log_sigma, ax, draws=400):
    """``draws`` samples of z = sampling([z_mean, z_log_sigma]) for each row of the heads, on one axes.

    Each cloud is drawn with its centre z_mean (+) and an ellipse at ±2 sigma per axis, sigma = exp(z_log_sigma)
    (the 2016 reading of the second head). Takes 2-D heads of shape (n, 2).
    """
    from matplotlib.patches import Ellipse

    z_mean = np.asarray(z_mean, dtype=np.float32)
    z_log_sigma = np.asarray(z_log_sigma, dtype=np.float32)
    z = ops.convert_to_numpy(sampling([np.repeat(z_mean, draws, axis=0), np.repeat(z_log_sigma, draws, axis=0)]))
    sigma = np.exp(z_log_sigma.astype(np.float64))
    for k, (mu, s) in enumerate(zip(z_mean, sigma)):
        cloud = z[k * draws : (k + 1) * draws]
        points = ax.scatter(cloud[:, 0], cloud[:, 1], s=6, alpha=0.35,
                            label=f"μ = ({mu[0]:g}, {mu[1]:g}), σ = ({s[0]:.2f}, {s[1]:.2f})")
        colour = points.get_facecolor()[0][:3]
        ax.add_patch(Ellipse(tuple(mu), 4 * s[0], 4 * s[1], fill=False, color=colour, lw=1.5))
    ax.scatter(z_mean[:, 0], z_mean[:, 1], marker="+", s=150, color="black", label="z_mean")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize="small")
    return ax
