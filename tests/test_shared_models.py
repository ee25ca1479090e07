"""Lessons 07, 08 and 09 share trained models through the model cache: the settings must match exactly."""

import json
from pathlib import Path

import keras
import numpy as np

import vae_course
from vae_course.lessons import complete
from vae_course.vae import cache, cache_key

ROOT = Path(__file__).resolve().parent.parent
LESSON_08 = ROOT / "solutions" / "08-exploring-the-latent-space.ipynb"


def _recording_fit_cached(keys):
    """A stand-in for fit_cached that files the key it would use and trains nothing."""

    def fit_cached(model, x, seed=0, **fit_kwargs):
        x = cache.training_array(x)
        keys.append(cache_key.key_of(cache.cacheable_settings(model, x, seed, fit_kwargs)))
        history = keras.callbacks.History()
        history.set_model(model)
        history.history = {"loss": [0.0]}
        return history

    return fit_cached


def _lesson_08_training_code():
    """Lesson 08's set-up cells and its training cell, as the notebook has them."""
    cells = [c for c in json.loads(LESSON_08.read_text())["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    training = next(i for i, s in enumerate(sources) if "fit_cached(" in s)
    return "\n".join(sources[: training + 1])


def test_lesson_08_asks_the_cache_for_lesson_07s_model(monkeypatch):
    keys = []
    fake = _recording_fit_cached(keys)
    monkeypatch.setattr(cache, "fit_cached", fake)
    monkeypatch.setattr(vae_course, "fit_cached", fake, raising=False)
    (x_train, _), _ = vae_course.load_dataset()
    complete.train_vae(complete.reference_vae(), x_train, epochs=complete.EPOCHS, cache=True, progress=False)
    exec(compile(_lesson_08_training_code(), str(LESSON_08), "exec"), {"__name__": "lesson_08"})
    assert len(keys) == 2 and keys[0] == keys[1], "lesson 08 would train its own model instead of loading lesson 07's"


def test_the_key_would_notice_a_different_recipe(monkeypatch):
    keys = []
    monkeypatch.setattr(cache, "fit_cached", _recording_fit_cached(keys))
    (x_train, _), _ = vae_course.load_dataset()
    complete.train_vae(complete.reference_vae(), x_train, epochs=complete.EPOCHS, cache=True, progress=False)
    complete.train_vae(complete.reference_vae(), x_train, epochs=complete.EPOCHS - 1, cache=True, progress=False)
    assert keys[0] != keys[1]


def test_a_learners_model_is_never_cached(monkeypatch):
    keys = []
    monkeypatch.setattr(cache, "fit_cached", _recording_fit_cached(keys))
    x = np.full((64, 8, 8), 0.5, dtype=np.float32)
    learner = complete.compose_vae(complete.reference_encoder((8, 8), 2), complete.reference_decoder(2, (8, 8)))
    complete.train_vae(learner, x, epochs=1, progress=False)
    assert keys == []


LESSON_09 = ROOT / "solutions" / "09-going-further.ipynb"


def test_cache_fill_trains_the_models_lesson_09_trains():
    import re

    from vae_course.lessons import further

    text = "".join("".join(c["source"]) for c in json.loads(LESSON_09.read_text())["cells"] if c["cell_type"] == "code")
    plain = re.findall(r"further\.train_vae\(x_train, beta=([\d.]+)\)", text)
    free = re.findall(r"further\.train_vae\(x_train, beta=([\d.]+), free_bits=further\.FREE_BITS\)", text)
    in_lesson = [(float(b), None) for b in plain] + [(float(b), further.FREE_BITS) for b in free]
    assert text.count("further.train_vae(") == len(in_lesson) == 4, "a train_vae call this test cannot read"
    assert sorted(in_lesson, key=str) == sorted(further.LESSON_MODELS, key=str)


def test_cache_fill_asks_the_cache_for_five_models(monkeypatch, tmp_path, capsys):
    import argparse

    from vae_course.tools import cache_command

    keys = []
    monkeypatch.setattr(cache, "fit_cached", _recording_fit_cached(keys))
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path))
    assert cache_command.run(argparse.Namespace(where=False, clear=False, fill=True)) == 0
    assert len(keys) == len(set(keys)) == 5
    assert "No cached models" in capsys.readouterr().out  # the stand-in trained nothing, and the listing says so
