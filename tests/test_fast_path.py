"""The fast path behind VAE.fit (vae_course/vae/fast_path.py): exact Adam, every image once per epoch, and
steps per execution chosen from the data unless the learner chose."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import vae_course
from vae_course.vae import fast_path

IMAGES = (np.random.default_rng(0).integers(0, 17, (160, 8, 8)) / 16).astype(np.float32)


def _trained(optimizer, fused, monkeypatch, epochs=2):
    keras.utils.set_random_seed(0)
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer=optimizer())
    with monkeypatch.context() as patch:
        if not fused:
            patch.setattr(fast_path, "_fusable", lambda *args: False)
        history = vae.fit(IMAGES, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    return [w.numpy() for w in vae.trainable_weights], history.history, vae


OPTIMIZERS = {
    "Adam": lambda: keras.optimizers.Adam(1e-2),
    "AdamW": lambda: keras.optimizers.AdamW(1e-2, weight_decay=0.1),
    "Adam with a cosine schedule": lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-2, 10)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fused_adam_is_keras_adam(name, monkeypatch):
    fused, fused_history, fused_vae = _trained(OPTIMIZERS[name], True, monkeypatch)
    keras_weights, keras_history, keras_vae = _trained(OPTIMIZERS[name], False, monkeypatch)
    for a, b in zip(fused, keras_weights):
        np.testing.assert_allclose(a, b, atol=5e-5)
    np.testing.assert_allclose(fused_history["loss"], keras_history["loss"], rtol=1e-5)
    assert int(fused_vae.optimizer.iterations) == int(keras_vae.optimizer.iterations) == 2 * 5
    assert any(np.abs(a - b).max() > 0 for a, b in zip(fused, [w.numpy() for w in vae_course.make_vae(
        (8, 8), latent_dim=2, hidden=(16,), seed=0).trainable_weights]))  # training moved the weights


@pytest.mark.parametrize("optimizer", [
    keras.optimizers.Adam(1e-3, clipnorm=1.0), keras.optimizers.Adam(1e-3, amsgrad=True),
    keras.optimizers.SGD(1e-3), keras.optimizers.RMSprop(1e-3)], ids=["clipnorm", "amsgrad", "SGD", "RMSprop"])
def test_options_the_fused_kernel_cannot_honour_use_the_optimizer(optimizer, monkeypatch):
    calls = []
    original = type(optimizer).apply
    monkeypatch.setattr(type(optimizer), "apply", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer=optimizer)
    vae.fit(IMAGES, epochs=1, batch_size=32, verbose=0)
    assert calls, "the optimizer's own apply was not used"


def test_fused_adam_skips_the_optimizer_apply(monkeypatch):
    calls = []
    monkeypatch.setattr(keras.optimizers.Adam, "apply", lambda self, *a, **k: calls.append(1))
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(IMAGES, epochs=1, batch_size=32, verbose=0)
    assert not calls


def test_every_image_once_per_epoch_in_a_new_order():
    keras.utils.set_random_seed(0)
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1)
    dataset = fast_path.array_dataset(x, batch_size=4)
    epochs = [np.concatenate([b.numpy().ravel() for b in dataset]) for _ in range(2)]
    assert [len(b) for b in dataset] == [4, 4, 2]  # the last batch is partial, as with Keras' arrays
    for order in epochs:
        assert sorted(order) == list(range(10))
    assert list(epochs[0]) != list(epochs[1])
    unshuffled = fast_path.array_dataset(x, batch_size=4, shuffle=False)
    assert list(np.concatenate([b.numpy().ravel() for b in unshuffled])) == list(range(10))


@pytest.mark.parametrize("n, batch, expected", [(1500, 64, 24), (160, 32, 5), (60000, 128, 32), (5, 64, 1)])
def test_steps_per_execution_is_one_epoch_at_most_32(n, batch, expected):
    assert fast_path.auto_steps_per_execution(n, batch) == expected


def test_fit_chooses_steps_per_execution_unless_compile_was_told():
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer="adam")
    vae.fit(IMAGES, epochs=1, batch_size=32, verbose=0)
    assert vae.steps_per_execution == 5
    vae.fit(IMAGES, epochs=1, batch_size=16, verbose=0)
    assert vae.steps_per_execution == 10
    told = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    told.compile(optimizer="adam", steps_per_execution=2)
    told.fit(IMAGES, epochs=1, batch_size=32, verbose=0)
    assert told.steps_per_execution == 2


def test_results_semantics_stay(tmp_path):
    """Metrics, callbacks at every epoch, validation data, evaluate and saving work on the fast path."""
    seen = []
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer="adam")
    history = vae.fit(IMAGES, epochs=3, batch_size=32, verbose=0, validation_data=IMAGES[:40],
                      callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    assert seen == [0, 1, 2]
    assert set(history.history) >= {"loss", "reconstruction_loss", "kl_loss", "val_loss", "val_kl_loss"}
    assert np.isfinite(history.history["val_loss"]).all()
    evaluated = vae.evaluate(IMAGES[:40], verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(history.history["val_loss"][-1], rel=0.2)
    path = tmp_path / "vae.keras"
    vae.save(path)
    again = keras.saving.load_model(path)
    assert again.compiled and again._auto_steps_per_execution  # compiled as saved, steps still left to fit
    again.fit(IMAGES, epochs=1, batch_size=32, verbose=0)  # a reloaded model trains on
    assert isinstance(vae_course.negative_elbo(again, IMAGES), float)


def test_tf_data_and_targets_still_go_through_keras():
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer="adam")
    dataset = tf.data.Dataset.from_tensor_slices(IMAGES).batch(32)
    assert np.isfinite(vae.fit(dataset, epochs=1, shuffle=False, verbose=0).history["loss"]).all()
    assert np.isfinite(vae.fit(IMAGES, IMAGES, epochs=1, batch_size=32, verbose=0).history["loss"]).all()
    assert np.isfinite(vae.fit(IMAGES, epochs=1, batch_size=32, validation_split=0.25, verbose=0)
                       .history["val_loss"]).all()


def test_epoch_batches_hold_every_image_once_in_a_new_order():
    keras.utils.set_random_seed(0)
    orders = fast_path.epoch_orders(10)
    epochs = [fast_path.epoch_batches(next(orders), 4) for _ in range(2)]
    assert [len(b) for b in epochs[0]] == [4, 4, 2]  # the last batch is partial, as with Keras' arrays
    for batches in epochs:
        assert sorted(np.concatenate(batches)) == list(range(10))
    assert list(np.concatenate(epochs[0])) != list(np.concatenate(epochs[1]))
    assert list(next(fast_path.epoch_orders(10, shuffle=False))) == list(range(10))


def test_epoch_orders_are_the_tf_data_pipeline_orders():
    """The orders fit drew when the images went through tf.data: seeded runs keep their batches and results."""
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1)
    keras.utils.set_random_seed(0)
    dataset = fast_path.array_dataset(x, batch_size=10)
    through_tf_data = [b.numpy().ravel().astype(int).tolist() for _ in range(3) for b in dataset]
    keras.utils.set_random_seed(0)
    orders = fast_path.epoch_orders(10)
    assert [next(orders).tolist() for _ in range(3)] == through_tf_data


def _weights_after(images, run_eagerly, batch_size, epochs=2):
    keras.utils.set_random_seed(0)
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=run_eagerly)
    history = vae.fit(images, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return [w.numpy() for w in vae.trainable_weights], history.history, vae


@pytest.mark.parametrize("batch_size", [32, 48], ids=["whole batches", "a partial last batch"])
def test_the_step_loop_trains_as_keras_own_loop(batch_size):
    """The same batches in the same order: the weights and the logged means agree with Keras' eager loop."""
    loop, loop_history, vae = _weights_after(IMAGES, False, batch_size)
    keras_weights, keras_history, _ = _weights_after(IMAGES, True, batch_size)
    for a, b in zip(loop, keras_weights):
        np.testing.assert_allclose(a, b, atol=2e-5)
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        np.testing.assert_allclose(loop_history[name], keras_history[name], rtol=1e-5)
    assert int(vae.optimizer.iterations) == 2 * -(-len(IMAGES) // batch_size)  # every batch, the partial one too


def test_fit_hands_keras_its_own_training_function_back():
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer="adam")
    vae.fit(IMAGES, epochs=1, batch_size=32, verbose=0)
    assert not isinstance(vae.train_function, fast_path.ArrayEpochs)
    assert np.isfinite(vae.train_on_batch(IMAGES[:32], return_dict=True)["loss"])
    dataset = tf.data.Dataset.from_tensor_slices(IMAGES).batch(32)
    assert np.isfinite(vae.fit(dataset, epochs=1, shuffle=False, verbose=0).history["loss"]).all()


def test_fitting_again_does_not_trace_again():
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer="adam")
    vae.fit(IMAGES, epochs=1, batch_size=32, verbose=0)
    loop = fast_path._loop_for(vae, (8, 8))
    traced = loop.experimental_get_tracing_count()
    vae.fit(IMAGES[::-1].copy(), epochs=2, batch_size=32, verbose=0)
    assert loop.experimental_get_tracing_count() == traced == 1
    vae.compile(optimizer="adam")  # a new optimizer has slots of its own: a new loop
    assert fast_path._loop_for(vae, (8, 8)) is not loop
    assert len(fast_path._LOOPS[vae]) == 1  # the old optimizer's loop is not kept


@pytest.mark.parametrize("shape, steps, expected", [
    ((28, 28), 10_750, True), ((28, 28), 2_000, True), ((28, 28), 64, False), ((16, 16), 5_000, True),
    ((8, 8), 100_000, False)])
def test_xla_is_chosen_by_data_size(shape, steps, expected):
    assert fast_path.compiles(shape, steps) is expected


def test_a_long_fit_compiles_its_full_calls_with_xla_and_is_deterministic(monkeypatch):
    """Calls of whole batches run the XLA loop, the rest of each epoch the plain one; seeded twice, the run ends
    with the same weights (the cache and the notebooks rely on it)."""
    monkeypatch.setattr(fast_path, "XLA_MIN_PIXELS", 64)
    monkeypatch.setattr(fast_path, "XLA_MIN_STEPS", 10)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
        vae.compile(optimizer="adam", steps_per_execution=2)
        history = vae.fit(IMAGES, epochs=3, batch_size=48, verbose=0)  # calls of 2 full batches, then 1 + 1 partial
        assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 3
        assert fast_path._loop_for(vae, (8, 8), jit_compile=True).experimental_get_tracing_count() == 1
        assert fast_path._loop_for(vae, (8, 8)).experimental_get_tracing_count() == 1  # the rest of each epoch
        assert int(vae.optimizer.iterations) == 3 * 4
        runs.append([w.numpy() for w in vae.trainable_weights])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    short = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    short.compile(optimizer="adam")
    short.fit(IMAGES, epochs=1, batch_size=48, verbose=0)  # 4 steps: under the threshold, no XLA
    assert fast_path._loop_for(short, (8, 8), jit_compile=True).experimental_get_tracing_count() == 0


@pytest.mark.parametrize("images", [np.zeros((0, 8, 8), np.float32), np.float32(0.5)], ids=["empty", "a scalar"])
def test_fit_without_images_says_so(images):
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    vae.compile(optimizer="adam")
    with pytest.raises(ValueError, match="fit got no images"):
        vae.fit(np.asarray(images), epochs=1, verbose=0)
