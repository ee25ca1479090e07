"""A diverging VAE stops with a message naming the likely causes, instead of training on NaN."""

import keras
import numpy as np
import pytest

import vae_course
from vae_course.vae.guards import NonFiniteLossGuard, TrainingDiverged
from vae_course.vae.likelihood import NotOnSupport


def test_nan_data_is_refused_before_training_by_the_likelihood():
    vae = vae_course.make_vae((8, 8), 2, hidden=(16,), seed=0)
    vae.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(NotOnSupport, match="NaN"):
        vae.fit(np.full((64, 8, 8), np.nan, dtype=np.float32), epochs=1, verbose=0)


def test_nan_data_stops_training_with_the_likely_causes():
    # the textbook's BCE checks no support, so NaN data reaches training and the guard must catch the NaN loss
    vae = vae_course.make_vae((8, 8), 2, hidden=(16,), seed=0, reconstruction="textbook_bce")
    vae.compile(keras.optimizers.Adam(1e-3))
    x = np.full((64, 8, 8), np.nan, dtype=np.float32)
    with pytest.raises(TrainingDiverged) as info:
        vae.fit(x, epochs=5, batch_size=32, verbose=0)
    message = str(info.value)
    assert "epoch 1" in message and "loss = nan" in message
    for cause in ("learning rate", "log of zero", "exp that overflows"):
        assert cause in message


def test_an_exploding_learning_rate_is_caught():
    (x, _), _ = vae_course.load_dataset("digits")
    keras.utils.set_random_seed(0)
    vae = vae_course.make_vae((8, 8), 2, hidden=(32,), seed=0)
    vae.compile(keras.optimizers.SGD(1e6))
    with pytest.raises(TrainingDiverged, match="Training stopped at epoch"):
        vae.fit(x[:256], epochs=20, batch_size=64, verbose=0)


def test_finite_training_is_untouched_and_guard_not_duplicated():
    (x, _), _ = vae_course.load_dataset("digits")
    vae = vae_course.make_vae((8, 8), 2, hidden=(16,), seed=0)
    vae.compile(keras.optimizers.Adam(1e-3))
    guard = NonFiniteLossGuard()
    history = vae.fit(x[:128], epochs=2, batch_size=64, verbose=0, callbacks=[guard])
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_guard_names_every_bad_metric():
    guard = NonFiniteLossGuard()
    with pytest.raises(TrainingDiverged, match=r"kl_loss = inf, loss = nan"):
        guard.on_epoch_end(2, {"loss": float("nan"), "kl_loss": float("inf"), "reconstruction_loss": 3.0})
    guard.on_epoch_end(0, {"loss": 1.0})


def test_ctrl_c_during_a_save_is_held_until_the_save_ends():
    import os
    import signal

    from vae_course.vae.guards import sigint_deferred

    finished = []
    # Ctrl-C raises KeyboardInterrupt here, as in a terminal, even when pytest was started with it ignored
    # (a background job of a script inherits SIGINT ignored).
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with sigint_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                finished.append("the save went on to the end")
        assert finished == ["the save went on to the end"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)
