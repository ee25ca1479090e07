"""vae_course.lessons.complete (lesson 07): the reference pieces, the loss scalings, ComposedVAE, training and
reporting."""

import math

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402

import vae_course  # noqa: E402
from vae_course import complete  # noqa: E402
from vae_course.checks import ____  # noqa: E402
from vae_course.exercises import trainable_kl, yours_if_correct  # noqa: E402
from vae_course.exercises.complete import reference_loss  # noqa: E402

RNG = np.random.default_rng(3)
X = (RNG.integers(0, 17, (6, 8, 8)) / 16).astype(np.float32)  # on the support of Binomial(16): k / 16
LOGITS = RNG.normal(0, 2, (6, 8, 8)).astype(np.float32)
Z_MEAN = RNG.normal(0, 1, (6, 2)).astype(np.float32)
Z_LOG_VAR = RNG.normal(0, 1, (6, 2)).astype(np.float32)


def numbers(values):
    return [float(ops.convert_to_numpy(v)) for v in values]


def log_binomial(k, n, p):
    return (math.lgamma(n + 1) - np.vectorize(math.lgamma)(k + 1) - np.vectorize(math.lgamma)(n - k + 1)
            + k * np.log(p) + (n - k) * np.log(1 - p))


def test_reference_loss_is_the_negative_elbo_in_nats_per_image():
    total, reconstruction, kl = numbers(complete.reference_vae_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    p = 1 / (1 + np.exp(-LOGITS.astype(np.float64)))
    by_hand = np.mean(np.sum(-log_binomial(np.round(16 * X.astype(np.float64)), 16, p), axis=(1, 2)))
    assert reconstruction == pytest.approx(by_hand, rel=1e-5)
    assert kl == pytest.approx(np.mean(ops.convert_to_numpy(vae_course.kl_log_var(Z_MEAN, Z_LOG_VAR))), rel=1e-6)
    assert total == pytest.approx(reconstruction + kl, rel=1e-6)
    assert np.allclose([total, reconstruction, kl], reference_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR), rtol=1e-5)


def test_make_vae_loss_weights_the_kl_term_and_uses_the_given_kl():
    _, reconstruction, kl = numbers(complete.reference_vae_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    total, _, _ = numbers(complete.make_vae_loss(beta=4.0)(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    assert total == pytest.approx(reconstruction + 4 * kl, rel=1e-6)
    doubled = complete.make_vae_loss(lambda m, v: 2 * vae_course.kl_log_var(m, v))
    assert numbers(doubled(X, LOGITS, Z_MEAN, Z_LOG_VAR))[2] == pytest.approx(2 * kl, rel=1e-6)


def test_mean_over_pixels_loss_is_beta_64_scaled_by_one_64th():
    _, reconstruction, kl = numbers(complete.reference_vae_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    total, per_pixel, kl_2 = numbers(complete.mean_over_pixels_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    assert per_pixel == pytest.approx(reconstruction / 64, rel=1e-6)
    assert kl_2 == pytest.approx(kl, rel=1e-6)
    assert 64 * total == pytest.approx(reconstruction + 64 * kl, rel=1e-5)


def test_textbook_loss_is_the_likelihood_over_16_plus_a_constant():
    _, reconstruction, kl = numbers(complete.reference_vae_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    total, bce, kl_2 = numbers(complete.textbook_vae_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    constant = float(np.mean(ops.convert_to_numpy(complete.log_choose_total(X))))
    assert bce == pytest.approx((reconstruction + constant) / 16, rel=1e-5)
    assert total == pytest.approx((reconstruction + 16 * kl + constant) / 16, rel=1e-5) and kl_2 == kl


def test_loss_scalings_identities():
    _, reconstruction, kl = numbers(complete.reference_vae_loss(X, LOGITS, Z_MEAN, Z_LOG_VAR))
    scalings = complete.loss_scalings(X, LOGITS, Z_MEAN, Z_LOG_VAR)
    assert list(scalings) == ["sum over pixels + KL", "mean over pixels + KL / 64", "mean over pixels + KL",
                              "textbook BCE + KL"]
    for value, beta, divisor, constant in scalings.values():
        assert value * divisor == pytest.approx(reconstruction + beta * kl + constant, rel=1e-5)
    assert [s[1] for s in scalings.values()] == [1.0, 1.0, 64.0, 16.0]
    assert scalings["textbook BCE + KL"][3] > 0 and scalings["sum over pixels + KL"][3] == 0


def test_log_choose_is_a_table_of_binomial_coefficients_and_refuses_grey_levels():
    k = np.arange(17, dtype=np.float32)
    expected = [math.log(math.comb(16, int(j))) for j in k]
    assert np.allclose(ops.convert_to_numpy(complete.log_choose(k)), expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"counts k.*pass k = 16 \* x"):
        complete.log_choose(np.array([0.5, 0.25]))
    with pytest.raises(ValueError, match="whole numbers from 0 to 16"):
        complete.log_choose(np.array([17.0]))


def test_bce_floor_is_the_entropy_of_the_grey_levels_and_the_least_bce():
    floor = complete.bce_floor(X)
    x = X.astype(np.float64).clip(1e-12, 1 - 1e-12)
    assert np.allclose(floor, np.sum(-(x * np.log(x) + (1 - x) * np.log(1 - x)), axis=(1, 2)), atol=1e-6)
    at_floor = ops.convert_to_numpy(vae_course.vae.likelihood.textbook_bce(X, np.log(x / (1 - x)).astype(np.float32)))
    assert np.allclose(at_floor, floor, rtol=1e-3, atol=1e-3)
    other = ops.convert_to_numpy(vae_course.vae.likelihood.textbook_bce(X, LOGITS))
    assert np.all(other > floor)


def test_squared_error_is_a_gaussian_with_variance_one_half():
    mean = (RNG.uniform(0, 1, X.shape)).astype(np.float32)
    squared = ((X - mean) ** 2).reshape(len(X), -1).sum(axis=1)
    assert np.allclose(complete.gaussian_nats(X, mean, variance=0.5), squared + 32 * math.log(math.pi))
    mass = complete.gaussian_mass_in_unit_interval(np.array([0.5, 0.0, 5.0]), variance=0.5)
    assert mass[0] == pytest.approx(math.erf(0.5), rel=1e-9) and mass[1] == pytest.approx(math.erf(1.0) / 2)
    assert mass[2] < 1e-6


def test_make_sampling_layer_accepts_classes_with_or_without_seed_and_instances():
    class NoSeed(keras.layers.Layer):
        def call(self, inputs):
            return inputs[0]

    assert complete.make_sampling_layer(vae_course.Sampling, seed=5).seed == 5
    assert isinstance(complete.make_sampling_layer(NoSeed, seed=5), NoSeed)
    layer = vae_course.Sampling(seed=1)
    assert complete.make_sampling_layer(layer) is layer
    with pytest.raises(TypeError, match="could not create"):
        complete.make_sampling_layer(lambda a: a)


def small_parts(seed=0):
    keras.utils.set_random_seed(seed)
    return complete.reference_encoder((8, 8), 2), complete.reference_decoder(2, (8, 8))


def test_composed_vae_with_default_parts_matches_vae():
    encoder, decoder = small_parts()
    composed = complete.compose_vae(encoder, decoder, seed=3)
    # the lesson's default loss (make_vae_loss) is the Binomial negative ELBO, like the package's VAE
    plain = vae_course.VAE(encoder, decoder, seed=3)
    plain(ops.zeros((1, 8, 8)))
    assert numbers(composed.compute_losses(X)) == pytest.approx(numbers(plain.compute_losses(X)), rel=1e-6)


def test_composed_vae_uses_the_given_sampling_layer_and_loss():
    calls = []

    class Mean(keras.layers.Layer):  # no noise: z = z_mean
        def call(self, inputs):
            calls.append("sampling")
            return inputs[0]

    def constant_loss(x, logits, z_mean, z_log_var):
        calls.append("loss")
        return ops.sum(logits) * 0 + 7.0, ops.convert_to_tensor(5.0), ops.convert_to_tensor(2.0)

    encoder, decoder = small_parts()
    vae = complete.compose_vae(encoder, decoder, sampling=Mean, loss=constant_loss)
    assert isinstance(vae.sampling, Mean)
    assert not any(isinstance(layer, vae_course.Sampling) for layer in vae._layers)
    assert numbers(vae.compute_losses(X)) == [7.0, 5.0, 2.0]
    assert "sampling" in calls and "loss" in calls
    z_mean = ops.convert_to_numpy(encoder(X)[0])
    expected = ops.convert_to_numpy(ops.sigmoid(decoder(z_mean)))
    assert np.allclose(ops.convert_to_numpy(vae(X)), expected, atol=1e-6)


def test_train_vae_is_reproducible_and_reports_every_few_epochs(capsys):
    x = vae_course.load_dataset()[0][0][:128]

    def run():
        encoder, decoder = small_parts()
        vae = complete.compose_vae(encoder, decoder, loss=complete.reference_vae_loss)
        return complete.train_vae(vae, x, epochs=4, batch_size=32, report_every=2).history

    first, second = run(), run()
    # Same seed, same numbers; multithreaded CPU kernels may differ in the last float32 digit (NBVAL-NOTES 5).
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_allclose(first[key], second[key], rtol=1e-5)
    assert set(first) == {"loss", "reconstruction_loss", "kl_loss"} and len(first["loss"]) == 4
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["1/4", "2/4", "4/4"] * 2
    assert all("left" not in line and "in all" not in line for line in lines)  # show_eta=False: no timings


def test_reference_vae_is_make_vae_after_the_seed():
    a, b = complete.reference_vae(seed=4), complete.reference_vae(seed=4)
    for wa, wb in zip(a.weights, b.weights):
        assert np.array_equal(wa.numpy(), wb.numpy())
    assert isinstance(a, vae_course.VAE) and a.beta == 1.0


def test_evaluate_and_format_results():
    encoder, decoder = small_parts()
    vae = complete.compose_vae(encoder, decoder)
    x = vae_course.load_dataset()[1][0][:40]
    row = complete.evaluate(vae, x, n_samples=2)
    assert set(row) == {"negative ELBO", "reconstruction", "KL"}
    assert row["negative ELBO"] == pytest.approx(row["reconstruction"] + row["KL"])
    table = complete.format_results({"a model": {"negative ELBO": 24.3449, "reconstruction": 21.7, "KL": 2.6451}})
    assert table.splitlines()[0].split()[0] == "model"
    assert table.splitlines()[1].split() == ["a", "model", "24.34", "21.70", "2.65"]


def test_plots_have_titles_labels_and_one_row_per_model():
    results = {"first": {"negative ELBO": 24.0, "reconstruction": 21.0, "KL": 3.0},
               "second": {"negative ELBO": 26.5, "reconstruction": 26.5, "KL": 0.0}}
    fig = complete.plot_results(results)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "nats per image" and ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["first", "second"]
    assert len(ax.patches) == 6
    plt.close(fig)
    encoder, decoder = small_parts()
    vae = complete.compose_vae(encoder, decoder)
    fig = complete.plot_reconstruction_rows({"a": vae, "b": vae}, vae_course.load_dataset()[1][0], n=4)
    assert len(fig.axes) == 3 * 4
    assert [fig.axes[4 * r].get_ylabel() for r in range(3)] == ["original", "a", "b"]
    plt.close(fig)


def test_yours_if_correct_falls_back_with_a_note(capsys):
    chosen = yours_if_correct("build_encoder", ____, complete.reference_encoder, "`the reference`")
    assert chosen is complete.reference_encoder
    assert "does not pass `check.build_encoder` yet, so the cells below use `the reference`" in capsys.readouterr().out
    chosen = yours_if_correct("build_encoder", complete.reference_encoder, None, "unused")
    assert chosen is complete.reference_encoder and capsys.readouterr().out == ""


def test_trainable_kl_keeps_a_keras_ops_kl_and_replaces_numpy_or_placeholder(capsys):
    def ops_kl(mu, log_var):
        return -0.5 * ops.sum(1 + log_var - ops.exp(log_var) - ops.square(mu), axis=-1)

    def numpy_kl(mu, log_var):
        mu, log_var = np.asarray(mu, dtype=np.float64), np.asarray(log_var, dtype=np.float64)
        return 0.5 * np.sum(np.expm1(log_var) - log_var + mu**2, axis=-1)

    assert complete.gradients_flow(ops_kl) and not complete.gradients_flow(numpy_kl)
    assert trainable_kl(ops_kl) is ops_kl and capsys.readouterr().out == ""
    assert trainable_kl(numpy_kl) is vae_course.kl_log_var
    assert "no gradient passes through it" in capsys.readouterr().out
    assert trainable_kl(____) is vae_course.kl_log_var
    assert "does not pass `check.kl_log_var`" in capsys.readouterr().out


def test_constants_of_the_lesson():
    assert complete.IMAGE_SHAPE == (8, 8) and complete.LATENT_DIM == 2
    assert complete.ELBO_BAR == 175.0 and complete.EPOCHS == 60 and complete.COLLAPSE_EPOCHS < complete.EPOCHS
    assert math.isclose(complete.LEARNING_RATE, 5e-3)
