"""vae_course: the helper package of a Jupyter course on variational autoencoders.

The names below are the public API that the lessons import. They load on
first use, so ``python -m vae_course lessons`` and ``--help`` never start
TensorFlow; importing the package only sets TensorFlow's log level.
"""

import importlib

from . import _quiet  # noqa: F401  (TensorFlow's C++ log level, before TensorFlow loads)

__version__ = "0.1.0"

_EXPORTS = {
    "DatasetError": "data",
    "load_dataset": "data",
    "elbo_terms": "elbo",
    "importance_weighted_nll": "elbo",
    "negative_elbo": "elbo",
    "Sampling": "layers",
    "likelihood_for": "likelihood",
    "kl_log_var": "maths",
    "kl_monte_carlo": "maths",
    "kl_sigma": "maths",
    "VAE": "model",
    "build_decoder": "model",
    "build_encoder": "model",
    "make_vae": "model",
    "load_model": "saving",
    "UnsafeModelError": "saving",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vae_course' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
