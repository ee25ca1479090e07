"""vae_course.lessons.reading: the 2016 encoder and sampler in Keras 3, and the R-style concatenate-then-split."""

import keras
import matplotlib
import numpy as np
import pytest
from keras import ops

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vae_course import snippet2016  # noqa: E402


@pytest.fixture(scope="module")
def encoder():
    return snippet2016.build_2016_encoder(64, 32, 2, seed=0)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (9, 64)).astype("float32"), rng.normal(0, 1, (9, 2)).astype("float32")


def test_encoder_has_two_linear_heads_on_one_hidden_layer(encoder):
    assert [layer.name for layer in encoder.layers] == ["x", "h", "z_mean", "z_log_sigma"]
    z_mean_layer, second = encoder.get_layer("z_mean"), encoder.get_layer("z_log_sigma")
    assert z_mean_layer.input is second.input  # both read the same h
    assert z_mean_layer.activation is keras.activations.linear and second.activation is keras.activations.linear
    assert z_mean_layer.kernel.shape == second.kernel.shape == (32, 2)
    assert not np.allclose(z_mean_layer.kernel.numpy(), second.kernel.numpy())  # own weights: no log sigma = mu


def test_encoder_accepts_any_batch_and_is_repeatable_with_a_seed(encoder, batch):
    x, _ = batch
    for n in (1, 9):
        z_mean, z_log_sigma = encoder(x[:n])
        assert z_mean.shape == z_log_sigma.shape == (n, 2)
    again = snippet2016.build_2016_encoder(64, 32, 2, seed=0)
    for a, b in zip(encoder(x), again(x)):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))


def test_second_head_name_and_fixed_batch_shape():
    model = snippet2016.build_2016_encoder(8, 4, 3, second_head="z_log_var", batch_size=5, seed=1)
    assert [layer.name for layer in model.layers][-2:] == ["z_mean", "z_log_var"]
    assert tuple(model.inputs[0].shape) == (5, 8)


def test_make_sampling_follows_the_input_shape_and_has_the_right_spread():
    sampling = snippet2016.make_sampling(seed=4)
    for n in (1, 3, 97):
        assert tuple(sampling([np.zeros((n, 2), "float32"), np.zeros((n, 2), "float32")]).shape) == (n, 2)
    z_mean = np.tile(np.array([1.0, -2.0], "float32"), (40_000, 1))
    z_log_sigma = np.tile(np.array([0.0, np.log(0.5)], "float32"), (40_000, 1))
    z = ops.convert_to_numpy(sampling([z_mean, z_log_sigma]))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(z.std(axis=0), [1.0, 0.5], rtol=0.03)  # sigma = exp(z_log_sigma)
    again = ops.convert_to_numpy(sampling([z_mean[:5], z_log_sigma[:5]]))
    assert not np.allclose(again, ops.convert_to_numpy(sampling([z_mean[:5], z_log_sigma[:5]])))  # fresh noise


def test_fixed_batch_sampling_fails_on_a_smaller_last_batch_with_a_short_message():
    sampling = snippet2016.make_sampling(seed=0, batch_size=100, latent_dim=2)
    assert tuple(sampling([np.zeros((100, 2), "float32")] * 2).shape) == (100, 2)
    with pytest.raises(Exception) as caught:
        sampling([np.zeros((97, 2), "float32")] * 2)
    assert snippet2016.shape_error_summary(caught.value) == "Incompatible shapes: [97,2] vs. [100,2]"


def test_shape_error_summary_falls_back_to_the_first_line():
    assert snippet2016.shape_error_summary(ValueError("\n  first line\nsecond")) == "first line"
    assert snippet2016.shape_error_summary(ValueError("")) == "ValueError"


def test_sampler_model_runs_on_any_batch(encoder, batch):
    x, _ = batch
    model = snippet2016.build_2016_sampler(encoder, snippet2016.make_sampling(seed=2))
    z_mean, z_log_sigma, z = model.predict(x, batch_size=4, verbose=0)  # batches of 4, 4 and 1
    assert z.shape == z_mean.shape == z_log_sigma.shape == (9, 2)


def test_concatenated_sampler_equals_the_two_input_sampler(batch):
    rng = np.random.default_rng(1)
    z_mean, z_log_var = rng.normal(size=(2, 6, 3)).astype("float32")
    eps = rng.normal(size=(6, 3)).astype("float32")
    expected = z_mean + np.exp(z_log_var / 2) * eps
    np.testing.assert_allclose(snippet2016.sample_two_inputs(z_mean, z_log_var, eps), expected, rtol=1e-6, atol=1e-6)
    h = np.concatenate([z_mean, z_log_var], axis=-1)
    np.testing.assert_allclose(snippet2016.sample_from_concatenated(h, eps), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        snippet2016.concatenate_then_sample(z_mean, z_log_var, eps), expected, rtol=1e-6, atol=1e-6
    )


def test_compare_samplers_finds_equal_outputs_and_gradients_and_tells_a_blocked_gradient_apart(batch):
    x, eps = batch
    encoder = snippet2016.build_2016_encoder(64, 32, 2, second_head="z_log_var", seed=3)
    out, grad = snippet2016.compare_samplers(
        snippet2016.sample_two_inputs, snippet2016.concatenate_then_sample, encoder, x, eps
    )
    assert out < 1e-6 and grad < 1e-5

    def blocked(z_mean, z_log_var, eps):
        return z_mean + ops.stop_gradient(ops.exp(z_log_var / 2)) * eps

    out, grad = snippet2016.compare_samplers(snippet2016.sample_two_inputs, blocked, encoder, x, eps)
    assert out < 1e-6 and grad > 1e-2


def test_sampler_gradients_gives_zeros_where_no_gradient_arrives(batch):
    x, eps = batch
    encoder = snippet2016.build_2016_encoder(64, 32, 2, second_head="z_log_var", seed=3)
    z, grads = snippet2016.sampler_gradients(lambda m, v, e: m, encoder, x, eps)
    assert z.shape == (9, 2)
    assert [g.shape for g in grads] == [tuple(w.shape) for w in encoder.trainable_weights]
    assert not np.any(grads[-1]) and not np.any(grads[-2])  # the z_log_var head gets nothing
    assert np.any(grads[0])


def test_yours_or_reference(capsys):
    probe = (np.zeros((3, 4), "float32"), np.zeros((3, 2), "float32"))
    reference = snippet2016.sample_from_concatenated
    assert snippet2016.yours_or_reference(reference, reference, probe, "f") is reference
    assert capsys.readouterr().out == ""
    for not_ready in (lambda h, eps: None, lambda h, eps: 1 / 0, lambda h, eps: [h], lambda h, eps: h):
        assert snippet2016.yours_or_reference(not_ready, reference, probe, "f") is reference
        assert "not ready yet" in capsys.readouterr().out


def test_plot_agreement_draws_the_diagonal_and_labels():
    fig, ax = plt.subplots()
    snippet2016.plot_agreement([0, 1, 2], [0, 1, 2.5], ax, "two inputs", "concatenated", "same?")
    assert ax.get_xlabel() == "two inputs" and ax.get_ylabel() == "concatenated" and ax.get_title() == "same?"
    assert len(ax.lines) == 1 and len(ax.collections) == 1
    plt.close(fig)


def test_plot_sample_clouds_draws_one_cloud_and_ellipse_per_row():
    fig, ax = plt.subplots()
    z_mean = np.array([[-3.0, 2.0], [2.5, 2.0]], "float32")
    z_log_sigma = np.array([[-1.0, -1.0], [0.0, -1.5]], "float32")
    snippet2016.plot_sample_clouds(snippet2016.make_sampling(seed=0), z_mean, z_log_sigma, ax, draws=50)
    assert len(ax.collections) == 3  # two clouds and the z_mean markers
    assert len(ax.patches) == 2
    np.testing.assert_allclose(ax.patches[1].width, 4.0, rtol=1e-6)  # 2 sigma either side, sigma = exp(0)
    cloud = ax.collections[0].get_offsets()
    assert cloud.shape == (50, 2) and np.abs(cloud.mean(axis=0) - [-3.0, 2.0]).max() < 0.3
    plt.close(fig)
