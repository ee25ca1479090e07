"""``fit_cached``: a model trained once is loaded the next time, keyed by every setting that changes the result.

Tiny models (8x8 images, latent_dim 2, one hidden layer of 16) trained 2 epochs on 64 digits. One training run
is shared by the module (``first_run``); a test that needs an entry copies its folder.
"""

import hashlib
import json
import multiprocessing
import shutil

import keras
import numpy as np
import pytest
from cache_helpers import write_repeatedly

from vae_course import fit_cached, load_dataset, make_vae
from vae_course.tools import cli
from vae_course.vae import cache, cache_key, cache_store
from vae_course.vae.progress import EpochProgress

FIT = {"epochs": 2, "batch_size": 32}
X = load_dataset()[0][0][:64]


def fresh_model(latent_dim=2, beta=1.0, learning_rate=1e-3, seed=0):
    """The same starting weights every call: seeded before it is built. Eager: no graph to trace for 4 steps."""
    keras.utils.set_random_seed(seed)
    model = make_vae((8, 8), latent_dim=latent_dim, hidden=(16,), beta=beta)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), run_eagerly=True)
    return model


def random_draws():
    """The next numbers NumPy's and Keras' global generators give."""
    return np.random.rand(), float(keras.random.uniform(()))


def variables_of(model):
    return [np.array(v) for v in list(model.variables) + list(model.optimizer.variables)]


def entry_files(folder):
    return sorted(p.name for p in (folder / "models").iterdir())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One real training run into an empty cache: (cache root, trained variables, History, random draws after)."""
    root = tmp_path_factory.mktemp("first") / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAE_COURSE_CACHE", str(root))
        model = fresh_model()
        history = fit_cached(model, X, seed=0, verbose=0, **FIT)
        draws = random_draws()
    return root, variables_of(model), history, draws


@pytest.fixture
def cached(first_run, tmp_path, monkeypatch):
    """A copy of the first run's cache, in use: its root."""
    root = tmp_path / "cache"
    shutil.copytree(first_run[0], root)
    monkeypatch.setenv("VAE_COURSE_CACHE", str(root))
    return root


def the_record(root):
    (path,) = (root / "models").glob("*.json")
    return path, json.loads(path.read_text())


# ---- a miss, then a hit


def test_the_first_run_trains_and_writes_one_record_and_its_weights(first_run):
    root, _, history, _ = first_run
    path, record = the_record(root)
    assert entry_files(root) == sorted([path.name, record["weights_file"]])
    assert record["history"] == history.history and record["epoch"] == [0, 1] and len(history.history["loss"]) == 2
    assert record["settings"]["fit"]["epochs"] == 2 and record["settings"]["seed"] == 0
    assert "epochs 2, batch_size 32, seed 0" in record["summary"] and record["seconds"] > 0


def test_a_hit_loads_the_same_weights_and_history_without_replaying_callbacks(first_run, cached, capsys):
    _, trained, first, _ = first_run
    model = fresh_model()
    history = fit_cached(model, X, seed=0, verbose=0, callbacks=[EpochProgress(2, show_eta=False)], **FIT)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("Loaded the trained model from the cache: ")
    assert "2 epochs in" in out[0] and str(cached) in out[0]
    assert all(np.array_equal(a, b) for a, b in zip(variables_of(model), trained, strict=True))
    assert history.history == first.history and history.epoch == first.epoch and history.params == first.params
    assert history.model is model and model.history is history
    assert isinstance(history, keras.callbacks.History)


def test_a_hit_leaves_the_random_numbers_where_a_real_fit_leaves_them(first_run, cached):
    np.random.rand(), keras.random.uniform(())  # move both generators on: the hit must put them back
    fit_cached(fresh_model(), X, seed=0, verbose=0, **FIT)
    assert random_draws() == first_run[3]


def test_a_silent_call_loads_silently(cached, capsys):
    fit_cached(fresh_model(), X, seed=0, verbose=0, **FIT)
    assert capsys.readouterr().out == ""


# ---- the key


def key_for(model=None, x=X, seed=0, **fit):
    model = fresh_model() if model is None else model
    return cache_key.key_of(cache.cacheable_settings(model, x, seed, {**FIT, **fit}))


def schedule_model():
    model = fresh_model()
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, 100)))
    return model


def test_the_key_changes_with_every_setting_that_changes_the_result():
    base = fresh_model()
    other_x = X.copy()
    other_x[0, 0, 0] = 1 - other_x[0, 0, 0]
    keys = [
        key_for(base),
        key_for(base, epochs=3),
        key_for(base, batch_size=16),
        key_for(base, shuffle=False),
        key_for(base, validation_data=X[:8]),
        key_for(base, x=other_x),
        key_for(base, x=X.astype(np.float64)),
        key_for(base, seed=1),
        key_for(fresh_model(beta=2.0)),
        key_for(fresh_model(latent_dim=3)),
        key_for(fresh_model(learning_rate=1e-2)),
        key_for(schedule_model()),
        key_for(fresh_model(seed=1)),  # other starting weights
    ]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("package", ["vae_course", "keras", "tensorflow", "numpy"])
def test_the_key_changes_with_each_version(monkeypatch, package):
    model = fresh_model()
    before = key_for(model)
    if package == "vae_course":
        monkeypatch.setattr(cache_key, "__version__", "0.0.0-test")
    else:
        real = cache_key.importlib.metadata.version
        monkeypatch.setattr(cache_key.importlib.metadata, "version",
                            lambda name: "0.0.0-test" if name == package else real(name))
    assert key_for(model) != before


def test_the_key_changes_with_the_library_source(monkeypatch, tmp_path):
    model = fresh_model()
    before = key_for(model)
    copy = tmp_path / "vae"
    shutil.copytree(cache_key.LIBRARY, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache_key, "LIBRARY", copy)
    assert key_for(model) == before
    (copy / "model.py").write_text((copy / "model.py").read_text() + "\n# a changed training step\n")
    assert key_for(model) != before


def test_the_key_ignores_callbacks_verbosity_and_keras_own_layer_numbering():
    before = key_for()
    for _ in range(2):
        make_vae((8, 8), latent_dim=2, hidden=(16,))  # Keras numbers the next model's unnamed layers further on
    assert key_for(callbacks=[EpochProgress(2)], verbose=2) == before
    assert key_for(shuffle=True, validation_split=0.0) == before  # Keras' defaults, spelled out


def test_steering_callbacks_and_inputs_that_cannot_be_recognised_are_not_cached():
    import tensorflow as tf

    with pytest.raises(cache_key.Uncacheable, match="EarlyStopping changes how training goes"):
        key_for(callbacks=[keras.callbacks.EarlyStopping()])
    with pytest.raises(cache_key.Uncacheable, match="only an array"):
        key_for(x=tf.data.Dataset.from_tensor_slices(X).batch(32))


class NoConfig(keras.Model):
    """A model whose config cannot be written down."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        raise NotImplementedError("no config")


def test_a_model_without_a_config_trains_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path))
    model = NoConfig()
    model(np.zeros((1, 4), np.float32))
    model.compile(optimizer="sgd", loss="mse")
    history = fit_cached(model, np.ones((8, 4), np.float32), y=np.ones((8, 1), np.float32), epochs=1, verbose=0)
    assert capsys.readouterr().out.splitlines() == [
        "Training without the model cache: its config could not be serialized (NotImplementedError: no config)."]
    assert len(history.history["loss"]) == 1 and list(tmp_path.iterdir()) == []


# ---- where, and when the cache cannot be used


def test_the_folder_follows_the_environment(tmp_path):
    assert cache_store.cache_folder({"VAE_COURSE_CACHE": str(tmp_path)}) == tmp_path / "models"
    assert cache_store.cache_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "vae_course" / "models"
    assert cache_store.cache_folder({"VAE_COURSE_CACHE": "", "XDG_CACHE_HOME": str(tmp_path)}) == (
        tmp_path / "vae_course" / "models")
    for off in ("off", "OFF", "0"):
        assert cache_store.cache_folder({"VAE_COURSE_CACHE": off}) is None


def test_off_switches_off_the_model_cache_but_downloads_still_have_their_folder(tmp_path, monkeypatch):
    from vae_course.vae import data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("VAE_COURSE_CACHE", "off")
    assert data.cache_dir() == tmp_path / "vae_course"


def test_a_disabled_cache_trains_and_writes_nothing(tmp_path, monkeypatch, capsys):
    for name, value in {"VAE_COURSE_CACHE": "off", "XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    history = fit_cached(fresh_model(), X, seed=0, verbose=0, callbacks=[EpochProgress(2, show_eta=False)], **FIT)
    assert capsys.readouterr().out.startswith("epoch 1/2")
    assert len(history.history["loss"]) == 2 and list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_made_means_training_without_the_cache(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VAE_COURSE_CACHE", str(blocker))
    history = fit_cached(fresh_model(), X, seed=0, verbose=0, **FIT)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Training without the model cache: the folder {blocker / 'models'} cannot be used (Not a directory)."]
    assert len(history.history["loss"]) == 2


def test_a_folder_inside_the_repository_is_refused():
    reason = cache_store.unusable_because(cache_store.REPOSITORY / "model-cache")
    assert "inside the course repository" in reason and not (cache_store.REPOSITORY / "model-cache").exists()


# ---- entries that cannot be trusted are trained again and replaced


def break_record(root):
    path, _ = the_record(root)
    path.write_text('{"format": 1, "key": ')


def break_weights(root):
    _, record = the_record(root)
    (root / "models" / record["weights_file"]).write_bytes(b"not an HDF5 file")


def alter_weights(root):
    """A valid weights file whose numbers are not those the record describes."""
    import h5py

    _, record = the_record(root)
    with h5py.File(root / "models" / record["weights_file"], "r+") as f:
        f["encoder/layers/dense/vars/1"][0] += 1.0


def other_key(root):
    path, record = the_record(root)
    path.write_text(json.dumps({**record, "key": "0" * 64}))


@pytest.mark.parametrize("damage, says", [
    (break_record, "could not be read (JSONDecodeError)"),
    (break_weights, "could not be loaded"),
    (alter_weights, "does not hold the weights its record describes"),
    (other_key, "was written for other settings"),
])
def test_an_untrustworthy_entry_is_trained_again_and_replaced(cached, capsys, damage, says):
    damage(cached)
    model = fresh_model()
    history = fit_cached(model, X, seed=0, verbose=0, callbacks=[EpochProgress(2, show_eta=False)], **FIT)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("The cached model is unusable: ") and says in out[0] and out[0].endswith("replacing it.")
    assert out[1].startswith("epoch 1/2") and len(history.history["loss"]) == 2
    _, record = the_record(cached)
    assert record["key"] == key_for() and len(list((cached / "models").glob("*.weights.h5"))) == 1
    again = fresh_model()
    fit_cached(again, X, seed=0, verbose=0, **FIT)
    assert all(np.array_equal(a, b) for a, b in zip(variables_of(again), variables_of(model), strict=True))


# ---- two processes writing one key at the same time


def second_entry(record, stem, folder):
    """Another valid entry for the same key: the cached model with one weight moved, saved, and its record."""
    model = fresh_model()
    fit_cached(model, X, seed=0, verbose=0, **FIT)
    model.encoder.get_layer("z_mean").bias.assign([0.5, -0.5])
    digest = cache_key.state_digest(model)
    model.save_weights(folder / "other.weights.h5")
    return folder / "other.weights.h5", {**record, "state_sha256": digest,
                                         "weights_file": cache_store.weights_name(stem, digest)}


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_processes_writing_one_key_never_leave_a_mismatched_entry(cached, tmp_path):
    models = cached / "models"
    path, record = the_record(cached)
    stem = path.stem
    first = (tmp_path / "first.weights.h5", record)
    shutil.copyfile(models / record["weights_file"], first[0])
    second = second_entry(record, stem, tmp_path)
    expected = {entry[1]["weights_file"]: sha256_of(entry[0]) for entry in (first, second)}
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    # started=0: each writer began before any file here existed, so none is cleaned away under the others
    writers = [context.Process(target=write_repeatedly, args=(models, stem, order, 40, 0.0, barrier))
               for order in ([first, second], [second, first])]
    for writer in writers:
        writer.start()
    barrier.wait()
    reads = 0
    while any(writer.is_alive() for writer in writers):
        seen = cache_store.read_record(models, stem, record["key"])
        assert sha256_of(models / seen["weights_file"]) == expected[seen["weights_file"]]
        reads += 1
    for writer in writers:
        writer.join(timeout=60)
    assert [writer.exitcode for writer in writers] == [0, 0] and reads > 0
    assert not list(models.glob(".tmp-*"))
    final = cache_store.read_record(models, stem, record["key"])
    model = fresh_model()
    history = fit_cached(model, X, seed=0, verbose=0, **FIT)
    assert cache_key.state_digest(model) == final["state_sha256"] and history.history == record["history"]


# ---- plain words for wrong input


def test_wrong_input_gets_plain_words():
    with pytest.raises(TypeError, match="trains a Keras model.*got a list"):
        fit_cached([1, 2], X)
    with pytest.raises(ValueError, match="no weights yet"):
        unbuilt = keras.Sequential([keras.layers.Dense(2)])
        unbuilt.compile(optimizer="adam", loss="mse")
        fit_cached(unbuilt, X)
    with pytest.raises(ValueError, match=r"not compiled: call model.compile"):
        fit_cached(make_vae((8, 8), latent_dim=2, hidden=(16,)), X)
    with pytest.raises(ValueError, match="rows differ in length"):
        fit_cached(fresh_model(), [[0.0, 1.0], [0.5]])
    with pytest.raises(ValueError, match="contains 1 NaN or infinite value"):
        fit_cached(fresh_model(), np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X))
    with pytest.raises(ValueError, match="no examples"):
        fit_cached(fresh_model(), X[:0])
    with pytest.raises(TypeError, match="seed must be a whole number"):
        fit_cached(fresh_model(), X, seed="0")


def test_a_list_of_lists_is_converted_to_a_float32_array():
    converted = cache.training_array(X[:2].tolist())
    assert converted.dtype == np.float32 and np.array_equal(converted, X[:2])


# ---- python -m vae_course cache


def test_the_command_lists_locates_and_clears_the_cache(cached, capsys, monkeypatch):
    assert cli.main(["cache"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"1 cached model(s) in {cached / 'models'}") and "epochs 2, batch_size 32, seed 0" in out
    assert cli.main(["cache", "--where"]) == 0 and capsys.readouterr().out == f"{cached / 'models'}\n"
    assert cli.main(["cache", "--clear"]) == 0 and capsys.readouterr().out.startswith("Removed 2 file(s)")
    assert entry_files(cached) == []
    assert cli.main(["cache"]) == 0 and capsys.readouterr().out.startswith("No cached models in")
    monkeypatch.setenv("VAE_COURSE_CACHE", "off")
    assert cli.main(["cache"]) == 0 and "is off" in capsys.readouterr().out
