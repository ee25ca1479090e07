"""vae_course: the helper package of a Jupyter course on variational autoencoders.

The names below are the public API that the lessons import. They load on
first use, so ``python -m vae_course lessons`` and ``--help`` never start
TensorFlow; importing the package only sets TensorFlow's log level.
"""

import importlib

from . import _quiet  # noqa: F401  (TensorFlow's C++ log level, before TensorFlow loads)
from .version_check import __version__  # noqa: F401  (one version number, light to import)

_EXPORTS = {
    "fit_cached": "vae.cache",
    "DatasetError": "vae.data",
    "load_dataset": "vae.data",
    "elbo_terms": "vae.elbo",
    "importance_weighted_nll": "vae.elbo",
    "negative_elbo": "vae.elbo",
    "Sampling": "vae.layers",
    "likelihood_for": "vae.likelihood",
    "kl_log_var": "vae.maths",
    "kl_monte_carlo": "vae.maths",
    "kl_sigma": "vae.maths",
    "VAE": "vae.model",
    "build_decoder": "vae.model",
    "build_encoder": "vae.model",
    "make_vae": "vae.model",
    "load_model": "vae.saving",
    "UnsafeModelError": "vae.saving",
}

# ``from vae_course import reparam`` (as the lessons write it): short module names -> where they live now.
MODULE_ALIASES = {
    **{name: f"lessons.{name}" for name in (
        "welcome", "reading", "reparam", "generative", "heads", "derivation", "stability", "complete", "latent",
        "further", "widgets",
    )},
    **{name: f"vae.{name}" for name in (
        "maths", "layers", "model", "elbo", "flows", "data", "saving", "plots", "progress", "guards", "recipes",
        "textbook", "likelihood",
    )},
    "environment": "lessons.welcome",  # lesson 00's helper before the package was split into layers
    "snippet2016": "lessons.reading",  # lesson 01's helper before the package was split into layers
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in MODULE_ALIASES:
        value = importlib.import_module(f".{MODULE_ALIASES[name]}", __name__)
    else:
        raise AttributeError(f"module 'vae_course' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(MODULE_ALIASES))
