"""The settings a trained model depends on, and the key ``fit_cached`` files it under (a SHA-256 of them).

Two runs that agree on every setting here give the same trained weights, so the second can load the first's:
the model's class and config, its starting weights (sampler seeds included), the optimizer's config and state,
the training data, the ``fit`` arguments that change the result, the seed, the library versions and its source.
Layer names Keras numbers on its own ("flatten_3") are renamed in order, so a model built after others in the
same session gets the same key as one built first. Names never change what a model learns.
"""

import hashlib
import importlib.metadata
import inspect
import json
import re
import sys
from pathlib import Path

import keras
import numpy as np

from .. import _quiet  # noqa: F401
from ..version_check import __version__

IGNORED_FIT_ARGUMENTS = ("x", "callbacks", "verbose")  # they change what is shown, never what is learned
VERSIONED = ("keras", "tensorflow", "numpy")
LIBRARY = Path(__file__).resolve().parent  # vae_course/vae


class Uncacheable(ValueError):
    """These settings cannot be written down exactly, so a trained result cannot be looked up by them."""


def key_of(settings):
    """The SHA-256 (hex) of the settings' canonical JSON: sorted keys, no spaces."""
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def settings_of(model, x, seed, fit_kwargs):
    """Everything the trained result depends on, as plain JSON values; raises Uncacheable if something is not."""
    return {
        "model": model_description(model),
        "initial_state": state_digest(model),
        "optimizer": optimizer_description(model.optimizer),
        "data": array_description(x),
        "fit": fit_description(fit_kwargs),
        "seed": plain(seed),
        "versions": versions(),
        "code": code_digest(type(model)),
    }


def model_description(model):
    """The model's class and its serialized config (compile settings without the optimizer, names normalised)."""
    cls = type(model)
    try:
        config = keras.saving.serialize_keras_object(model)
        compile_config = model.get_compile_config() if getattr(model, "compiled", False) else None
    except Exception as err:  # noqa: BLE001  (any failure means: no exact description)
        raise Uncacheable(f"its config could not be serialized ({type(err).__name__}: {err})") from None
    config = dict(config)
    config.pop("compile_config", None)
    compile_config = {k: v for k, v in (compile_config or {}).items() if k != "optimizer"}
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "config": plain(without_auto_names(config)),
            "compile": plain(compile_config)}


def optimizer_description(optimizer):
    """The optimizer's serialized config (learning-rate schedule included), without its automatic name."""
    try:
        config = keras.optimizers.serialize(optimizer)
    except Exception as err:  # noqa: BLE001
        raise Uncacheable(f"its optimizer could not be serialized ({type(err).__name__}: {err})") from None
    config = dict(config)
    config["config"] = {k: v for k, v in dict(config.get("config", {})).items() if k != "name"}
    return plain(config)


def state_digest(model):
    """SHA-256 of every model variable (weights and sampler seed states) and the optimizer's, if it has any."""
    digest = hashlib.sha256()
    optimizer = getattr(model, "optimizer", None)
    optimizer_variables = list(optimizer.variables) if optimizer is not None and optimizer.built else []
    for variable in list(model.variables) + optimizer_variables:
        update_with_array(digest, np.asarray(keras.ops.convert_to_numpy(variable)))
    return digest.hexdigest()


def array_description(array):
    """Shape, dtype and the SHA-256 of an array's bytes."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256()
    update_with_array(digest, array)
    return {"shape": list(array.shape), "dtype": str(array.dtype), "sha256": digest.hexdigest()}


def update_with_array(digest, array):
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())


def fit_description(fit_kwargs):
    """The ``fit`` arguments that change the result, Keras' defaults filled in (callbacks and verbose left out)."""
    defaults = {name: p.default for name, p in inspect.signature(keras.Model.fit).parameters.items()
                if p.default is not inspect.Parameter.empty}
    given = {**defaults, **fit_kwargs}
    return {name: plain(value) for name, value in sorted(given.items()) if name not in IGNORED_FIT_ARGUMENTS}


def versions():
    """The versions of the packages whose code computes the result."""
    found = {"vae_course": __version__}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def code_digest(model_class):
    """SHA-256 of the library's source files and the model class's own module: a changed training step, loss or
    layer in a checkout (where the version number stays put) is a new key, never a stale load."""
    paths = sorted(LIBRARY.glob("*.py"))
    own = getattr(sys.modules.get(model_class.__module__), "__file__", None)
    if own and not model_class.__module__.startswith("keras"):
        paths.append(Path(own))
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def plain(value):
    """``value`` as JSON values: arrays become their description; anything else unknown raises Uncacheable."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        return array_description(np.asarray(value))
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    raise Uncacheable(f"a {type(value).__name__} cannot be written down exactly")


def without_auto_names(config):
    """The config with Keras' automatic layer names ("dense_4") renamed "dense#0", "dense#1"... in order of use."""
    found = []
    _collect_auto_names(config, found)
    renamed = {}
    for name in found:
        renamed.setdefault(name, f"{_base_name(name)}#{len(renamed)}")
    return _rename(config, renamed)


def _collect_auto_names(node, found):
    if isinstance(node, dict):
        inner = node.get("config")
        if isinstance(node.get("class_name"), str) and isinstance(inner, dict) and isinstance(inner.get("name"), str):
            if re.fullmatch(re.escape(snake_case(node["class_name"])) + r"(_\d+)?", inner["name"]):
                found.append(inner["name"])
        for key in sorted(node):
            _collect_auto_names(node[key], found)
    elif isinstance(node, list):
        for item in node:
            _collect_auto_names(item, found)


def _rename(node, renamed):
    if isinstance(node, dict):
        return {key: _rename(value, renamed) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename(item, renamed) for item in node]
    if isinstance(node, tuple):
        return [_rename(item, renamed) for item in node]
    if isinstance(node, str):
        return renamed.get(node, node)
    return node


def _base_name(name):
    return re.sub(r"_\d+$", "", name)


def snake_case(class_name):
    """Keras' automatic layer name for a class: "InputLayer" -> "input_layer", "Dense" -> "dense"."""
    text = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", text).lower()
