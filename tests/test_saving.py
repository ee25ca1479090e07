"""Saved models reload with the course's layers, and in safe mode only."""

import keras
import numpy as np
import pytest

import vae_course


def test_a_trained_vae_reloads_with_its_custom_layers(tmp_path):
    vae = vae_course.make_vae((8, 8), 2, hidden=(16,), seed=0)
    path = tmp_path / "model.keras"
    vae.save(path)
    again = vae_course.load_model(path)
    assert isinstance(again, vae_course.VAE) and isinstance(again.sampling, vae_course.Sampling)
    x = np.random.default_rng(0).random((4, 8, 8)).astype("float32")
    np.testing.assert_allclose(again.encoder(x)[0], vae.encoder(x)[0], rtol=1e-6)


def test_a_file_that_would_run_code_is_refused_in_plain_words(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(vae_course.UnsafeModelError, match="contains Python code .* trust its source"):
        vae_course.load_model(path)


def test_a_missing_file_says_where_models_come_from(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m vae_course train"):
        vae_course.load_model(tmp_path / "nothing.keras")


DATA = __import__("pathlib").Path(__file__).parent / "data"


@pytest.mark.parametrize("name, key", [("vae", "vae_z_mean"), ("flow-vae", "flow_z_mean")])
def test_a_file_saved_before_the_package_restructure_still_loads(name, key):
    """Files were saved with the flat package (module `vae_course.model`); they must load after any move."""
    again = vae_course.load_model(DATA / f"{name}-before-restructure.keras")
    assert isinstance(again, vae_course.VAE)
    # saved before the likelihood existed: trained on the textbook BCE, scored with the digits' Binomial(16)
    assert (again.reconstruction, again.likelihood.name) == ("textbook_bce", "binomial(16)")
    expected = np.load(DATA / "before-restructure-outputs.npz")
    np.testing.assert_allclose(again.encoder(expected["x"])[0], expected[key], rtol=1e-5, atol=1e-6)
