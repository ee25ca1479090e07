"""The textbook's VAE ported to Keras 3 (vae_course.vae.textbook): the book's architecture, its loss, trainable."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from vae_course import load_dataset, negative_elbo
from vae_course.vae.textbook import (
    BATCH_SIZE,
    DIGITS_HIDDEN,
    LatentLoss,
    TextbookVAE,
    book_latent_loss,
    make_digits_textbook_vae,
    make_textbook_vae,
)


def to_np(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_the_default_is_the_books_fashion_mnist_architecture():
    tb = make_textbook_vae(seed=0)
    assert isinstance(tb, TextbookVAE)
    assert [(layer.units, layer.activation.__name__) for layer in dense_layers(tb.encoder)] == [
        (150, "selu"), (100, "selu"), (10, "linear"), (10, "linear")]
    assert [(layer.units, layer.activation.__name__) for layer in dense_layers(tb.decoder)] == [
        (100, "selu"), (150, "selu"), (784, "linear")]
    x = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    z_mean, z_log_var = tb.encoder(x)
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (5, 10)
    logits = to_np(tb.decoder(np.random.default_rng(1).standard_normal((5, 10)).astype(np.float32)))
    assert logits.shape == (5, 28, 28)
    assert logits.min() < 0 < logits.max()  # logits, not probabilities
    probabilities = to_np(tb(x))
    assert probabilities.shape == (5, 28, 28)
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert BATCH_SIZE == 128
    assert tb.kl_weight == pytest.approx(1 / 784)


def test_the_digits_scaling_is_64_48_32():
    tb = make_digits_textbook_vae(latent_dim=2, seed=0)
    assert DIGITS_HIDDEN == (48, 32)
    assert tb.likelihood.name == "binomial(16)" and tb.likelihood_beta == 16.0  # the BCE's beta against it
    assert [layer.units for layer in dense_layers(tb.encoder)] == [48, 32, 2, 2]
    assert [layer.units for layer in dense_layers(tb.decoder)] == [32, 48, 64]
    assert tb.kl_weight == pytest.approx(1 / 64)
    assert tb.implied_beta == pytest.approx(1.0)


def forced(tb, z_mean_bias, log_var=-30.0):
    """Make the encoder ignore x: z_mean = z_mean_bias, z_log_var = log_var (sigma = e^-15, so z = z_mean)."""
    mean_head, log_var_head = tb.encoder.get_layer("z_mean"), tb.encoder.get_layer("z_log_var")
    mean_head.kernel.assign(np.zeros(mean_head.kernel.shape, np.float32))
    mean_head.bias.assign(np.asarray(z_mean_bias, np.float32))
    log_var_head.kernel.assign(np.zeros(log_var_head.kernel.shape, np.float32))
    log_var_head.bias.assign(np.full(log_var_head.bias.shape, log_var, np.float32))
    return tb


def hand_terms(tb, x):
    """Per image: BCE summed over pixels (probabilities clipped as Keras does) and the book's latent loss."""
    z_mean, z_log_var = (to_np(t).astype(np.float64) for t in tb.encoder(x))
    p = 1.0 / (1.0 + np.exp(-to_np(tb.decoder(z_mean.astype(np.float32))).astype(np.float64)))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)
    kl = -0.5 * np.sum(1 + z_log_var - np.exp(z_log_var) - z_mean**2, axis=-1)
    return bce, kl


def test_the_loss_is_mean_bce_over_pixels_plus_kl_over_pixels_so_beta_is_1():
    keras.utils.set_random_seed(3)
    tb = forced(make_textbook_vae((2, 3), latent_dim=2, hidden=(4,), seed=3), [0.5, -1.0])
    tb.compile()
    k = np.random.default_rng(1).integers(0, 256, (4, 2, 3))
    x = (k / 255).astype(np.float32)  # grey levels as Fashion-MNIST stores them
    loss = float(tb.model.evaluate(x, x, batch_size=4, verbose=0))
    bce, kl = hand_terms(tb, x)
    assert kl.mean() > 1  # the KL term is far from negligible, so a wrong weight would show
    assert loss == pytest.approx(bce.mean() / 6 + kl.mean() / 6, rel=1e-5)
    # implied beta: loss = (sum BCE + beta KL) / n_pixels
    assert (loss * 6 - bce.mean()) / kl.mean() == pytest.approx(1.0, rel=1e-4)
    assert tb.implied_beta == 1.0
    # against the likelihood, Binomial(255, p): -log p(x | z) = 255 BCE - log C(255, k), so beta is 255
    assert tb.likelihood.name == "binomial(255)" and tb.likelihood_beta == 255.0
    log_choose = np.vectorize(lambda j: math.log(math.comb(255, int(j))))(k).sum(axis=(1, 2))
    expected = np.mean(255 * bce - log_choose) + kl.mean()
    assert negative_elbo(tb, x, n_samples=2) == pytest.approx(expected, rel=1e-4)


def test_a_kl_weight_changes_beta_and_the_loss_accordingly():
    keras.utils.set_random_seed(4)
    tb = forced(make_textbook_vae((2, 3), latent_dim=2, hidden=(4,), kl_weight=0.5, seed=4), [1.0, 0.0])
    tb.compile()
    x = np.random.default_rng(2).random((3, 2, 3)).astype(np.float32)
    bce, kl = hand_terms(tb, x)
    loss = float(tb.model.evaluate(x, x, batch_size=3, verbose=0))
    assert loss == pytest.approx(bce.mean() / 6 + 0.5 * kl.mean(), rel=1e-5)
    assert tb.implied_beta == pytest.approx(3.0)


def test_the_latent_loss_layer_adds_one_loss_per_call_and_passes_its_inputs_through():
    layer = LatentLoss(0.25)
    mean = np.array([[0.5, -1.0], [0.0, 2.0]], np.float32)
    log_var = np.array([[-1.0, 0.5], [0.0, 0.0]], np.float32)
    out_mean, out_log_var = layer([mean, log_var])
    np.testing.assert_array_equal(to_np(out_mean), mean)
    np.testing.assert_array_equal(to_np(out_log_var), log_var)
    assert len(layer.losses) == 1
    expected = 0.25 * np.mean(-0.5 * np.sum(1 + log_var - np.exp(log_var) - mean**2, axis=-1))
    assert float(to_np(layer.losses[0])) == pytest.approx(expected, rel=1e-6)
    assert to_np(book_latent_loss(mean, log_var)) == pytest.approx(
        -0.5 * np.sum(1 + log_var - np.exp(log_var) - mean**2, axis=-1), rel=1e-6)
    layer([mean, log_var])
    assert len(layer.losses) == 1  # cleared at each call, not accumulated


def test_from_logits_gives_the_same_loss_value():
    x = np.random.default_rng(5).random((4, 2, 3)).astype(np.float32)
    losses = []
    for from_logits in (False, True):
        keras.utils.set_random_seed(5)
        tb = forced(make_textbook_vae((2, 3), latent_dim=2, hidden=(4,), seed=5, from_logits=from_logits), [0.1, 0.2])
        tb.compile()
        losses.append(float(tb.model.evaluate(x, x, batch_size=4, verbose=0)))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_the_digits_recipe_trains():
    (x_train, _), (x_test, _) = load_dataset("digits")
    keras.utils.set_random_seed(0)
    tb = make_digits_textbook_vae(latent_dim=2, seed=0)
    before = negative_elbo(tb, x_test)
    history = tb.compile().fit(x_train, epochs=3)
    losses = history.history["loss"]
    assert len(losses) == 3 and np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    after = negative_elbo(tb, x_test)
    assert np.isfinite(after) and after < before
