"""The textbook's VAE recipe, ported to Keras 3: the baseline every benchmark figure is measured against.

*Hands-On Machine Learning* (2nd ed., chapter 17) builds a variational autoencoder for Fashion-MNIST:

- encoder: ``Flatten`` -> ``Dense(150, selu)`` -> ``Dense(100, selu)`` -> two linear ``Dense(10)`` heads,
  ``codings_mean`` (mu) and ``codings_log_var`` (gamma = log sigma^2), then a ``Sampling`` layer;
- decoder: ``Dense(100, selu)`` -> ``Dense(150, selu)`` -> ``Dense(784, sigmoid)`` -> ``Reshape([28, 28])``;
- loss: ``compile(loss="binary_crossentropy", optimizer="rmsprop")``, i.e. the binary cross-entropy
  *averaged* over the 784 pixels, plus ``add_loss(K.mean(latent_loss) / 784.)`` with the latent loss of
  Equation 17-4, ``-0.5 * sum(1 + gamma - exp(gamma) - mu^2)``;
- training: ``fit(X_train, X_train, epochs=25, batch_size=128)``, one optimizer step per batch.

Dividing the KL term by 784 makes the loss (1/784) (sum BCE + KL): the weight of the KL term relative to the
*summed* BCE (``implied_beta``) is 1, and the 1/784 only rescales the gradient (/work/shared/VAE-HISTORY.md,
"Mean versus sum"). The summed BCE on grey levels is not -log p(x | z) of any distribution over the stored
pixel values, though: it is (1/n) times the Binomial(n, p) negative log-likelihood plus a constant
(``vae_course.likelihood``), so against the real likelihood the book trains with beta = n
(``likelihood_beta``; 16 for the digits, 255 for Fashion-MNIST). Its decoder outputs the same per-pixel p as
any other, so ``negative_elbo`` scores it with the data set's likelihood like every model.

**Why the port looks the way it does.** The printed code no longer runs on Keras 3: ``K.random_normal`` is
gone (``vae_course.Sampling`` uses ``keras.random.normal`` with a seed generator), and ``add_loss`` on the
symbolic tensors of a functional model raises ("Symbolic add_loss() is removed", Keras 3 migration guide).
Of the two Keras 3 ways out, this port moves the latent loss *inside a layer's call*, the ``LatentLoss``
layer below, an identity on ``[z_mean, z_log_var]`` that calls ``self.add_loss`` on real tensors at every
step. A custom ``train_step`` would have worked too, but it replaces the book's training loop with one of
ours; with the layer, everything else stays the book's: a functional model, ``compile`` with the string loss
``"binary_crossentropy"`` and ``RMSprop``, and Keras' stock ``fit``/``train_step``, which adds the layer's
loss to the compiled loss exactly as the book's ``model.add_loss`` did. That matters for a baseline: its
speed must be the speed of the book's recipe, not of our training step.

**Logits for evaluation.** ``vae_course.negative_elbo`` needs ``.encoder`` returning ``[z_mean, z_log_var]``
and ``.decoder`` returning logits. The book's ``Dense(784, activation="sigmoid")`` is built here as a linear
``Dense(784, name="logits")`` followed by a separate ``Activation("sigmoid")``: the same function with the
same weights, with the logits available without the numerically poor ``log(p) - log(1 - p)``. ``.decoder``
maps z to image-shaped logits; the training model applies the sigmoid and *then* reshapes, as the book does,
so Keras computes the loss from clipped probabilities (epsilon 1e-7) just like the book's model.
``negative_elbo(textbook_vae, x)`` then gives nats per image on the same scale as every other figure.

``make_textbook_vae`` scales the recipe to other shapes: the 8x8 digits use ``hidden=(48, 32)``
(``DIGITS_HIDDEN``) with the same loss, i.e. the KL term divided by the 64 pixels.
"""

import math

import keras
from keras import layers, ops

from .. import _quiet  # noqa: F401  (sets the TensorFlow log level first)
from .layers import Sampling
from .likelihood import likelihood_for

FASHION_MNIST_SHAPE = (28, 28)
FASHION_HIDDEN = (150, 100)
FASHION_LATENT_DIM = 10
DIGITS_SHAPE = (8, 8)
DIGITS_HIDDEN = (48, 32)
ACTIVATION = "selu"
BATCH_SIZE = 128
EPOCHS = 25  # the book's Fashion-MNIST run


def book_latent_loss(z_mean, z_log_var):
    """The book's latent loss per example, Equation 17-4 as printed: -1/2 sum(1 + gamma - exp(gamma) - mu^2)."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.exp(z_log_var) - ops.square(z_mean), axis=-1)


@keras.saving.register_keras_serializable(package="vae_course")
class LatentLoss(layers.Layer):
    """Identity on ``[z_mean, z_log_var]`` that adds ``weight * mean(latent loss)`` to the model's losses.

    The Keras 3 form of the book's ``model.add_loss(K.mean(latent_loss) / 784.)``: ``add_loss`` is called
    inside ``call``, on the batch's real tensors, so ``fit`` adds it to the compiled loss at every step.
    """

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        self.add_loss(self.weight * ops.mean(book_latent_loss(z_mean, z_log_var)))
        return z_mean, z_log_var

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0]), tuple(input_shape[1])

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


class TextbookVAE:
    """The book's three models: ``encoder`` (x -> [z_mean, z_log_var]), ``decoder`` (z -> logits) and
    ``model`` (x -> reconstruction probabilities, the one the book compiles and fits).

    ``compile()`` and ``fit(x)`` do what the book does (RMSprop, ``loss="binary_crossentropy"``,
    ``fit(x, x, batch_size=128)``); ``vae_course.negative_elbo(self, x)`` evaluates it in nats per image under
    ``likelihood``, the data set's p(x | z).
    """

    def __init__(self, encoder, decoder, model, input_shape, latent_dim, hidden, kl_weight, from_logits=False,
                 likelihood=None):
        self.encoder = encoder
        self.decoder = decoder
        self.model = model
        self.input_shape = tuple(input_shape)
        self.latent_dim = int(latent_dim)
        self.hidden = tuple(hidden)
        self.n_pixels = math.prod(self.input_shape)
        self.kl_weight = float(kl_weight)
        self.from_logits = bool(from_logits)
        self.likelihood = likelihood_for(likelihood)

    @property
    def reconstruction_weight(self):
        """Weight of the *summed* BCE in the loss: the per-pixel mean is sum / n_pixels."""
        return 1.0 / self.n_pixels

    @property
    def implied_beta(self):
        """The ELBO's beta this loss implies: KL weight / summed-BCE weight (1 for the book's recipe)."""
        return self.kl_weight / self.reconstruction_weight

    @property
    def likelihood_beta(self):
        """The beta this loss implies against the likelihood: the summed BCE is -log p(x | z) / trials + const."""
        return self.implied_beta * self.likelihood.trials

    def compile(self, optimizer=None, **kwargs):
        """The book's ``compile(loss="binary_crossentropy", optimizer="rmsprop")``; extra keywords go to Keras
        (``steps_per_execution``, ``jit_compile``, ...). With ``from_logits`` (a benchmark lever only) the loss
        is the same mean BCE computed from logits."""
        loss = keras.losses.BinaryCrossentropy(from_logits=True) if self.from_logits else "binary_crossentropy"
        self.model.compile(loss=loss, optimizer=optimizer or keras.optimizers.RMSprop(), **kwargs)
        return self

    def fit(self, x, epochs=1, batch_size=BATCH_SIZE, **kwargs):
        """``model.fit(x, x, ...)``: the autoencoder's target is its input."""
        kwargs.setdefault("verbose", 0)
        return self.model.fit(x, x, epochs=epochs, batch_size=batch_size, **kwargs)

    def __call__(self, x, training=False):
        return self.model(x, training=training)


def make_textbook_vae(input_shape=FASHION_MNIST_SHAPE, latent_dim=FASHION_LATENT_DIM, hidden=FASHION_HIDDEN,
                      activation=ACTIVATION, kl_weight=None, seed=None, from_logits=False, likelihood="fashion_mnist"):
    """The book's VAE for images of ``input_shape``; the decoder mirrors ``hidden``.

    ``likelihood`` names the data set whose p(x | z) scores it (Fashion-MNIST's by default, as the book's).
    ``kl_weight`` defaults to 1 / number of pixels (the book's ``/ 784.`` for 28x28), which keeps beta = 1.
    ``from_logits=True`` makes the training model output logits and the loss BCE-from-logits (same value,
    no clipping): a speed lever the benchmark measures, not the book's recipe.
    """
    input_shape = tuple(int(d) for d in input_shape)
    hidden = tuple(int(h) for h in hidden)
    n_pixels = math.prod(input_shape)
    kl_weight = 1.0 / n_pixels if kl_weight is None else float(kl_weight)

    x = keras.Input(shape=input_shape, name="x")
    h = layers.Flatten()(x)
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    encoder = keras.Model(x, [z_mean, z_log_var], name="textbook_encoder")

    z = keras.Input(shape=(latent_dim,), name="z")
    h = z
    for i, units in enumerate(reversed(hidden)):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    flat_logits = layers.Dense(n_pixels, name="logits")(h)
    flat_decoder = keras.Model(z, flat_logits, name="textbook_flat_decoder")
    decoder = keras.Model(z, layers.Reshape(input_shape, name="image_logits")(flat_logits), name="textbook_decoder")

    inputs = keras.Input(shape=input_shape, name="x")
    mean, log_var = encoder(inputs)
    mean, log_var = LatentLoss(kl_weight, name="latent_loss")([mean, log_var])
    codings = Sampling(seed=seed, name="sampling")([mean, log_var])
    out = flat_decoder(codings)
    if not from_logits:
        out = layers.Activation("sigmoid", name="sigmoid")(out)  # the book's Dense(784, activation="sigmoid")
    outputs = layers.Reshape(input_shape, name="reconstruction")(out)
    model = keras.Model(inputs, outputs, name="textbook_vae")
    return TextbookVAE(encoder, decoder, model, input_shape, latent_dim, hidden, kl_weight, from_logits, likelihood)


def make_digits_textbook_vae(latent_dim=2, seed=None):
    """The recipe scaled to the 8x8 digits: dense 64-48-32 SELU, the same loss (KL / 64), RMSprop, batch 128."""
    return make_textbook_vae(DIGITS_SHAPE, latent_dim, DIGITS_HIDDEN, seed=seed, likelihood="digits")

