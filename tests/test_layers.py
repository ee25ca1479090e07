"""The Sampling layer: right distribution, gradients through the trick, any batch size, seeds, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from vae_course import Sampling


def to_np(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


@pytest.mark.parametrize("mean, log_var", [(0.0, 0.0), (2.0, -2.0), (-1.0, 1.5)])
def test_draws_have_the_requested_mean_and_standard_deviation(mean, log_var):
    """z = mean + exp(log_var / 2) eps: sample mean ~ mean, sample std ~ exp(log_var / 2)."""
    n = 40_000
    layer = Sampling(seed=11)
    z = to_np(layer([np.full((n, 2), mean, np.float32), np.full((n, 2), log_var, np.float32)]))
    sigma = np.exp(log_var / 2)
    assert z.shape == (n, 2)
    # the sample mean is within 4 standard errors, the sample std within 2.5 %
    assert np.all(np.abs(z.mean(axis=0) - mean) < 4 * sigma / np.sqrt(n)), z.mean(axis=0)
    np.testing.assert_allclose(z.std(axis=0), sigma, rtol=0.025)
    # and the draws are Gaussian: about 68 % within one sigma
    within = np.mean(np.abs(z - mean) < sigma)
    assert 0.66 < within < 0.70, within


def test_gradients_reach_mean_and_log_var_and_match_the_analytic_ones():
    """dz/dmean = 1 and dz/dlog_var = 1/2 exp(log_var / 2) eps = 1/2 (z - mean)."""
    rng = np.random.default_rng(0)
    mean = tf.Variable(rng.normal(size=(5, 3)).astype(np.float32))
    log_var = tf.Variable(rng.uniform(-2, 2, size=(5, 3)).astype(np.float32))
    layer = Sampling(seed=3)
    with tf.GradientTape() as tape:
        z = layer([mean, log_var])
        total = tf.reduce_sum(z)
    grad_mean, grad_log_var = tape.gradient(total, [mean, log_var])
    assert grad_mean is not None and grad_log_var is not None
    np.testing.assert_allclose(grad_mean.numpy(), np.ones((5, 3)), rtol=1e-6)
    expected = 0.5 * (z.numpy() - mean.numpy())
    np.testing.assert_allclose(grad_log_var.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(grad_log_var.numpy()) > 0)  # the noise really flows into the gradient


def test_works_for_batch_sizes_it_was_not_built_with():
    """Inside a functional model, batches of 1, 7 and 300 each get noise of their own shape."""
    mean_in = keras.Input(shape=(3,))
    log_var_in = keras.Input(shape=(3,))
    model = keras.Model([mean_in, log_var_in], Sampling(seed=0)([mean_in, log_var_in]))
    for batch in (1, 7, 300):
        mean = np.full((batch, 3), 5.0, np.float32)
        z = to_np(model([mean, np.zeros((batch, 3), np.float32)]))
        assert z.shape == (batch, 3)
        assert np.all(z != 5.0)  # noise was added to every entry
    z = model.predict([np.zeros((300, 3), np.float32), np.zeros((300, 3), np.float32)], batch_size=64, verbose=0)
    assert z.shape == (300, 3) and len(np.unique(z)) == z.size


def test_same_seed_repeats_the_first_draw_and_each_call_gets_new_noise():
    mean = np.zeros((4, 2), np.float32)
    log_var = np.zeros((4, 2), np.float32)
    first_a = to_np(Sampling(seed=42)([mean, log_var]))
    layer_b = Sampling(seed=42)
    first_b = to_np(layer_b([mean, log_var]))
    np.testing.assert_array_equal(first_a, first_b)
    second_b = to_np(layer_b([mean, log_var]))
    assert not np.allclose(first_b, second_b)
    other_seed = to_np(Sampling(seed=43)([mean, log_var]))
    assert not np.allclose(first_a, other_seed)


def test_a_model_with_the_layer_saves_and_reloads(tmp_path):
    mean_in = keras.Input(shape=(2,))
    log_var_in = keras.Input(shape=(2,))
    z = Sampling(seed=7, name="sampler")([mean_in, log_var_in])
    model = keras.Model([mean_in, log_var_in], keras.layers.Dense(1)(z))
    path = tmp_path / "with_sampling.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    layer = restored.get_layer("sampler")
    assert type(layer) is Sampling
    assert layer.get_config() == model.get_layer("sampler").get_config()
    assert layer.get_config()["seed"] == 7
    out = to_np(restored([np.zeros((3, 2), np.float32), np.zeros((3, 2), np.float32)]))
    assert out.shape == (3, 1) and np.all(np.isfinite(out))


def test_a_single_tensor_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"\[mean, log_var\]"):
        Sampling()(np.zeros((2, 3), np.float32))


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        Sampling()([np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)])
