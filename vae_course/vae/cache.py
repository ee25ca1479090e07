"""Train a model once, load it every time after: ``fit_cached`` files trained weights under their settings.

    vae = make_vae((8, 8), latent_dim=2)
    vae.compile(keras.optimizers.Adam(1e-3))
    history = fit_cached(vae, x_train, seed=0, epochs=150, batch_size=64, verbose=0)

The first call trains (``keras.utils.set_random_seed(seed)`` just before ``fit``) and saves the weights and the
history; a later call with the same settings (cache_key.py) loads them into the model instead and returns the same
history. Set ``VAE_COURSE_CACHE=off`` to always train. Where the files go: ``cache_store.cache_folder``.
"""

import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from .. import _quiet  # noqa: F401
from . import cache_key, cache_store
from .progress import format_seconds

# Callbacks that steer training (stop it, change the learning rate, resume it): a run with one is not cached.
STEERING_CALLBACKS = (
    keras.callbacks.EarlyStopping,
    keras.callbacks.ReduceLROnPlateau,
    keras.callbacks.LearningRateScheduler,
    keras.callbacks.BackupAndRestore,
    keras.callbacks.TerminateOnNaN,
)


def fit_cached(model, x, *, seed=0, **fit_kwargs):
    """``model.fit(x, **fit_kwargs)`` after ``keras.utils.set_random_seed(seed)``, or its saved result.

    Returns a ``keras.callbacks.History`` either way. On a load, callbacks do not run; one line says where the
    model came from, unless the call asked for no output at all (``verbose=0`` and no callbacks).
    """
    check_model(model)
    check_seed(seed)
    x = training_array(x)
    folder = cache_store.cache_folder()
    if folder is None:
        return seeded_fit(model, x, seed, fit_kwargs)
    try:
        settings = cacheable_settings(model, x, seed, fit_kwargs)
    except cache_key.Uncacheable as err:
        note(f"Training without the model cache: {err}.")
        return seeded_fit(model, x, seed, fit_kwargs)
    reason = cache_store.unusable_because(folder)
    if reason:
        note(f"Training without the model cache: the folder {folder} cannot be used ({reason}).")
        return seeded_fit(model, x, seed, fit_kwargs)
    key = cache_key.key_of(settings)
    stem = f"{cache_key.snake_case(type(model).__name__)}-{key[:16]}"
    try:
        record = cache_store.read_record(folder, stem, key)
        if record is not None:
            history = load_entry(model, folder, record, fit_kwargs)
            if wants_output(fit_kwargs):
                note(loaded_line(folder, record))
            keras.utils.set_random_seed(seed)  # what follows draws the same numbers as after a real fit
            return history
    except cache_store.BadEntry as err:
        note(f"The cached model is unusable: {err}. Training it again and replacing it.")
    return train_and_save(model, x, seed, fit_kwargs, folder, stem, key, settings)


# ---------------------------------------------------------------------------------------------- the input


def check_model(model):
    """A built, compiled Keras model, or a plain-words error saying what to do."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"fit_cached trains a Keras model, such as vae_course.make_vae(...); got a "
                        f"{type(model).__name__}.")
    if not model.built:
        raise ValueError("The model has no weights yet, so there is nothing to train: build it first (make_vae "
                         "does; a model of your own is built by calling it once on a batch, model(x[:1])).")
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ValueError("The model is not compiled: call model.compile(optimizer=keras.optimizers.Adam(1e-3)) "
                         "before fit_cached.")


def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a whole number 0 or more (it is passed to keras.utils.set_random_seed); "
                        f"got {seed!r}.")


def training_array(x):
    """x as a NumPy array of numbers (a list of lists is converted to float32); other inputs pass unchanged."""
    if x is None:
        raise ValueError("fit_cached needs the training data x; got None.")
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError("x is a list whose rows differ in length or hold something other than numbers; give "
                             "an array of shape (examples, height, width), e.g. np.stack(rows).") from None
    elif not isinstance(x, np.ndarray) and hasattr(x, "__array__") and hasattr(x, "shape"):
        x = np.asarray(x)  # a TensorFlow tensor
    if isinstance(x, np.ndarray):
        check_numbers(x)
    return x


def check_numbers(x):
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"x holds no examples (shape {x.shape}).")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"x must hold numbers; its dtype is {x.dtype}.")
    if np.issubdtype(x.dtype, np.inexact):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        if bad:
            raise ValueError(f"x contains {bad} NaN or infinite value(s), and one is enough to make every loss NaN; "
                             "remove or replace them first (np.isfinite(x) shows where they are).")


def cacheable_settings(model, x, seed, fit_kwargs):
    """The settings the result is filed under; Uncacheable if the input or a callback rules caching out."""
    if not isinstance(x, np.ndarray):
        raise cache_key.Uncacheable(f"x is a {type(x).__name__}, and only an array can be recognised again")
    for callback in fit_kwargs.get("callbacks") or []:
        if isinstance(callback, STEERING_CALLBACKS):
            raise cache_key.Uncacheable(f"the callback {type(callback).__name__} changes how training goes")
    return cache_key.settings_of(model, x, seed, fit_kwargs)


def wants_output(fit_kwargs):
    """False only when the call asked to show nothing: verbose=0 and no callbacks."""
    return fit_kwargs.get("verbose", "auto") != 0 or bool(fit_kwargs.get("callbacks"))


def note(line):
    print(line, file=sys.stdout, flush=True)


# ---------------------------------------------------------------------------------------------- a miss


def seeded_fit(model, x, seed, fit_kwargs):
    """Seed, fit, and seed again: what runs next draws the same random numbers as after a load from the cache."""
    keras.utils.set_random_seed(int(seed))
    history = model.fit(x, **fit_kwargs)
    keras.utils.set_random_seed(int(seed))
    return history


def train_and_save(model, x, seed, fit_kwargs, folder, stem, key, settings):
    """Train for real, then save the entry; a failed save is one line, never a lost training run."""
    started = time.time()
    history = seeded_fit(model, x, seed, fit_kwargs)
    seconds = time.time() - started
    record = make_record(model, history, key, stem, settings, seconds)
    try:
        cache_store.write_entry(folder, stem, model.save_weights, record, started)
    except OSError as err:
        note(f"The trained model could not be saved to the model cache in {folder} "
             f"({err.strerror or type(err).__name__}); it will train again next time.")
    return history


def make_record(model, history, key, stem, settings, seconds):
    state = cache_key.state_digest(model)
    return {
        "format": cache_store.FORMAT,
        "key": key,
        "weights_file": cache_store.weights_name(stem, state),
        "state_sha256": state,
        "extra_variables": [variable_record(v) for v in unsaved_variables(model)],
        "history": cache_key.plain(history.history),
        "epoch": cache_key.plain(list(history.epoch)),
        "params": cache_key.plain(dict(history.params)),
        "trained_at": cache_store.utc_now(),
        "seconds": round(seconds, 2),
        "summary": summary(model, settings),
        "settings": settings,
    }


def unsaved_variables(model):
    """Model variables that ``save_weights`` leaves out: the sampling layers' seed states."""
    saved = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in saved]


def variable_record(variable):
    value = np.asarray(keras.ops.convert_to_numpy(variable))
    return {"path": variable.path, "dtype": str(value.dtype), "value": value.tolist()}


def summary(model, settings):
    """One readable line: the model, its optimizer, the data and the fit settings."""
    config = settings["model"]["config"].get("config", {})
    scalars = ", ".join(f"{k}={v!r}" for k, v in sorted(config.items())
                        if isinstance(v, (bool, int, float, str, type(None))) and k not in ("name", "trainable"))
    optimizer = settings["optimizer"]
    rate = optimizer["config"].get("learning_rate")
    if isinstance(rate, dict):
        rate = f"{rate.get('class_name')} from {rate.get('config', {}).get('initial_learning_rate')}"
    elif isinstance(rate, float):
        rate = f"{rate:.6g}"
    data = settings["data"]
    fit = settings["fit"]
    return (f"{type(model).__name__}({scalars}), {model.count_params():,} weights; "
            f"{optimizer.get('class_name')} learning rate {rate}; "
            f"data {'x'.join(map(str, data['shape']))} {data['dtype']}; "
            f"epochs {fit.get('epochs')}, batch_size {fit.get('batch_size')}, seed {settings['seed']}")


# ---------------------------------------------------------------------------------------------- a hit


def load_entry(model, folder, record, fit_kwargs):
    """Put the entry's weights, optimizer state and seed states into ``model``; its History. BadEntry if not."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)  # so the saved optimizer state has somewhere to go
    before = [(v, np.array(keras.ops.convert_to_numpy(v))) for v in list(model.variables) + model.optimizer.variables]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a mismatch shows below as a different state digest
            model.load_weights(Path(folder) / record["weights_file"])
        restore_unsaved(model, record.get("extra_variables", []))
        if cache_key.state_digest(model) != record["state_sha256"]:
            raise cache_store.BadEntry(f"{record['weights_file']} does not hold the weights its record describes")
    except Exception as err:
        for variable, value in before:
            variable.assign(value)
        if isinstance(err, cache_store.BadEntry):
            raise
        raise cache_store.BadEntry(f"{record['weights_file']} could not be loaded ({type(err).__name__})") from None
    return rebuilt_history(model, record, fit_kwargs)


def restore_unsaved(model, saved):
    """Assign the seed states the record kept (matched by order and shape: their paths carry Keras' numbering)."""
    variables = unsaved_variables(model)
    values = [np.asarray(entry["value"], dtype=entry["dtype"]) for entry in saved]
    if [tuple(v.shape) for v in variables] != [value.shape for value in values]:
        raise cache_store.BadEntry("its seed states do not match this model's sampling layers")
    for variable, value in zip(variables, values):
        variable.assign(value)


def rebuilt_history(model, record, fit_kwargs):
    """A ``keras.callbacks.History`` holding what the real run's did, set on the model as ``fit`` does."""
    history = keras.callbacks.History()
    history.set_model(model)
    history.history = {name: list(values) for name, values in record["history"].items()}
    history.epoch = list(record["epoch"])
    params = dict(record["params"])
    if "verbose" in params:
        params["verbose"] = fit_kwargs.get("verbose", "auto")
    history.set_params(params)
    model.history = history
    return history


def loaded_line(folder, record):
    path = str(Path(folder) / record["weights_file"])
    home = str(Path.home())
    if path.startswith(home + "/"):
        path = "~" + path[len(home):]
    epochs = len(record["epoch"])
    return (f"Loaded the trained model from the cache: {path} (trained {record.get('trained_at', '?')}, "
            f"{epochs} epochs in {format_seconds(float(record.get('seconds', 0)))}; VAE_COURSE_CACHE=off "
            "trains it again).")
