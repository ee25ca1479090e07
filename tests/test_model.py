"""The VAE model: structure, training, evaluation in nats, saving."""

import math

import keras
import numpy as np
import pytest
from keras import layers, ops

from vae_course import VAE, load_dataset, make_vae, negative_elbo

EPOCHS = 8


def to_np(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    """A 2-D latent VAE trained for a few epochs, with its negative ELBO before and after."""
    (x_train, _), (x_test, _) = digits
    keras.utils.set_random_seed(0)
    vae = make_vae((8, 8), latent_dim=2, hidden=(256, 128), seed=0)
    before = negative_elbo(vae, x_test)
    steps = EPOCHS * math.ceil(len(x_train) / 64)
    vae.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(5e-3, steps)))
    history = vae.fit(x_train, epochs=EPOCHS, batch_size=64, verbose=0)
    return vae, history, before, negative_elbo(vae, x_test)


def test_make_vae_builds_an_encoder_and_a_decoder():
    vae = make_vae((8, 8), latent_dim=3, hidden=(32, 16), seed=1)
    assert isinstance(vae, VAE)
    assert isinstance(vae.encoder, keras.Model) and isinstance(vae.decoder, keras.Model)
    z_mean, z_log_var = vae.encoder(np.zeros((5, 8, 8), np.float32))
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (5, 3)
    assert tuple(vae.decoder(np.zeros((5, 3), np.float32)).shape) == (5, 8, 8)
    # the decoder mirrors the encoder's hidden widths
    assert [layer.units for layer in vae.encoder.layers if layer.name.startswith("hidden")] == [32, 16]
    assert [layer.units for layer in vae.decoder.layers if layer.name.startswith("hidden")] == [16, 32]
    probabilities = to_np(vae(np.full((4, 8, 8), 0.5, np.float32)))
    assert probabilities.shape == (4, 8, 8)
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_fit_reports_the_loss_and_both_terms(trained):
    _, history, _, _ = trained
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    for key, values in history.history.items():
        assert len(values) == EPOCHS and np.all(np.isfinite(values)), key
    # beta = 1: the loss is the sum of its two parts, epoch by epoch
    np.testing.assert_allclose(
        history.history["loss"],
        np.add(history.history["reconstruction_loss"], history.history["kl_loss"]),
        rtol=1e-5,
    )
    assert history.history["loss"][-1] < history.history["loss"][0]


def coin_flip_nats(x):
    """-log p(x) when every pixel is Binomial(16, 1/2): sum of 16 log 2 - log C(16, k), mean over images."""
    k = np.round(np.asarray(x) * 16).astype(int)
    log_choose = np.vectorize(lambda j: math.log(math.comb(16, j)))(k)
    return float(np.mean(np.sum(16 * math.log(2) - log_choose, axis=(1, 2))))


def test_training_lowers_the_test_negative_elbo(trained, digits):
    """An untrained decoder gives logits near 0 (p = 1/2 everywhere, about 540 nats); 8 epochs reach about 190."""
    _, _, before, after = trained
    (_, _), (x_test, _) = digits
    assert before == pytest.approx(coin_flip_nats(x_test), rel=0.1), before
    assert after < 215, after
    assert before - after > 300


def test_evaluate_returns_the_three_metrics(trained, digits):
    vae, _, _, after = trained
    (_, _), (x_test, _) = digits
    result = vae.evaluate(x_test, batch_size=128, verbose=0, return_dict=True)
    assert set(result) == {"loss", "reconstruction_loss", "kl_loss"}
    assert all(np.isfinite(v) for v in result.values())
    assert result["loss"] == pytest.approx(result["reconstruction_loss"] + result["kl_loss"], rel=1e-5)
    assert result["kl_loss"] > 0
    # one sample of z per image instead of ten, so close to negative_elbo but not equal
    assert result["loss"] == pytest.approx(after, rel=0.03)


def test_beta_weights_the_kl_term_in_the_loss(digits):
    (x_train, _), _ = digits
    keras.utils.set_random_seed(1)
    vae = make_vae((8, 8), latent_dim=2, hidden=(16,), beta=0.25, seed=1)
    vae.compile(optimizer="adam")
    result = vae.evaluate(x_train[:256], batch_size=64, verbose=0, return_dict=True)
    assert result["kl_loss"] > 0
    assert result["loss"] == pytest.approx(result["reconstruction_loss"] + 0.25 * result["kl_loss"], rel=1e-5)


def test_fit_accepts_labels_and_ignores_them(digits):
    (x_train, y_train), _ = digits
    keras.utils.set_random_seed(2)
    vae = make_vae((8, 8), latent_dim=2, hidden=(16,), seed=2)
    vae.compile(optimizer="adam")
    history = vae.fit(x_train[:256], y_train[:256], epochs=1, batch_size=64, verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    loss = history.history["loss"][0]
    # the loss is still the image's negative ELBO (an untrained model is near 540 nats), not a label loss
    assert np.isfinite(loss) and 250 < loss < 700, loss


def fixed_vae(z_mean, z_log_var, logits):
    """A VAE whose encoder ignores x (zero kernels, known biases) and whose decoder ignores z."""
    z_mean, z_log_var, logits = (np.asarray(a, np.float32) for a in (z_mean, z_log_var, logits))
    k = len(z_mean)
    x = keras.Input(shape=logits.shape)
    flat = layers.Flatten()(x)
    mean = layers.Dense(k, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(z_mean))(flat)
    log_var = layers.Dense(k, kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(z_log_var))(flat)
    encoder = keras.Model(x, [mean, log_var], name="encoder")
    z = keras.Input(shape=(k,))
    out = layers.Dense(logits.size, kernel_initializer="zeros",
                       bias_initializer=keras.initializers.Constant(logits.ravel()))(z)
    decoder = keras.Model(z, layers.Reshape(logits.shape)(out), name="decoder")
    return VAE(encoder, decoder, seed=0)


def test_negative_elbo_matches_a_hand_computation():
    z_mean = np.array([0.5, -1.0])
    z_log_var = np.array([-1.0, 0.5])
    logits = np.array([[2.0, -1.0], [0.0, 3.0]])
    k = np.array([[[16, 0], [8, 16]], [[0, 3], [16, 0]], [[5, 5], [5, 5]]])
    x = (k / 16).astype(np.float32)
    vae = fixed_vae(z_mean, z_log_var, logits)

    # -log p(x | z) for Binomial(16, p) pixels with p = sigmoid(logit), summed over the 4 pixels
    p = 1.0 / (1.0 + np.exp(-logits))
    log_choose = np.vectorize(lambda j: math.log(math.comb(16, int(j))))(k)
    reconstruction = -(log_choose + k * np.log(p) + (16 - k) * np.log(1 - p)).sum(axis=(1, 2))
    kl = 0.5 * np.sum(np.exp(z_log_var) + z_mean**2 - 1.0 - z_log_var)  # the same for every x

    value, rec, kl_term = negative_elbo(vae, x, return_terms=True)
    assert rec == pytest.approx(reconstruction.mean(), rel=1e-5)
    assert kl_term == pytest.approx(kl, rel=1e-5)
    assert value == pytest.approx(reconstruction.mean() + kl, rel=1e-5)
    # a sanity anchor: the first image alone, written out pixel by pixel (C(16, 8) = 12870)
    first = -(16 * np.log(p[0, 0]) + 16 * np.log(1 - p[0, 1]) + math.log(12870) + 8 * np.log(p[1, 0])
              + 8 * np.log(1 - p[1, 0]) + 16 * np.log(p[1, 1]))
    assert negative_elbo(vae, x[:1]) == pytest.approx(first + kl, rel=1e-5)


def test_a_textbook_bce_model_trains_on_the_summed_bce_and_is_scored_with_the_likelihood():
    z_mean, z_log_var = np.array([0.3]), np.array([-2.0])
    logits = np.array([[1.5, -0.5], [0.0, 2.0]])
    x = (np.array([[[16, 0], [4, 12]]]) / 16).astype(np.float32)
    vae = fixed_vae(z_mean, z_log_var, logits)
    bce_vae = VAE(vae.encoder, vae.decoder, seed=0, reconstruction="textbook_bce")
    p = 1.0 / (1.0 + np.exp(-logits))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum()
    _, reconstruction, _ = (float(t) for t in bce_vae.compute_losses(x))
    assert reconstruction == pytest.approx(bce, rel=1e-5)
    _, likelihood_term, _ = (float(t) for t in vae.compute_losses(x))
    log_choose = sum(math.log(math.comb(16, j)) for j in (16, 0, 4, 12))
    assert likelihood_term == pytest.approx(16 * bce - log_choose, rel=1e-5)  # the identity, inside the loss
    # one rule for scoring, whatever the model trained on
    assert negative_elbo(bce_vae, x) == pytest.approx(negative_elbo(vae, x), rel=1e-6)


def test_an_unknown_reconstruction_loss_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'likelihood', 'textbook_bce'.*'bce'"):
        make_vae((8, 8), latent_dim=2, hidden=(8,), reconstruction="bce")


def test_fit_refuses_images_off_the_likelihoods_support(digits):
    from vae_course.vae.likelihood import NotOnSupport

    (x_train, _), _ = digits
    vae = make_vae((8, 8), latent_dim=2, hidden=(8,), seed=0)
    vae.compile(optimizer="adam")
    with pytest.raises(NotOnSupport, match=r"binomial\(16\)"):
        vae.fit(x_train[:64] * 0.9, epochs=1, verbose=0)


def test_a_saved_vae_reloads_with_the_same_encoder(trained, digits, tmp_path):
    vae, _, _, _ = trained
    (_, _), (x_test, _) = digits
    path = tmp_path / "vae.keras"
    vae.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, VAE)
    assert restored.beta == vae.beta and restored.seed == vae.seed
    assert (restored.likelihood.name, restored.reconstruction) == ("binomial(16)", "likelihood")
    for original, reloaded in zip(vae.encoder(x_test), restored.encoder(x_test)):
        np.testing.assert_allclose(to_np(reloaded), to_np(original), rtol=1e-6, atol=1e-6)
    z = np.random.default_rng(0).standard_normal((10, 2)).astype(np.float32)
    np.testing.assert_allclose(to_np(restored.generate(z)), to_np(vae.generate(z)), rtol=1e-6, atol=1e-6)
    assert negative_elbo(restored, x_test) == pytest.approx(negative_elbo(vae, x_test), rel=1e-6)
