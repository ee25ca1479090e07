"""vae_course: the helper package of a Jupyter course on variational autoencoders.

The names below are the public API that the lessons import.
"""

from . import _quiet  # noqa: F401  (TensorFlow's C++ log level, before TensorFlow loads)
from .data import DatasetError, load_dataset
from .elbo import elbo_terms, importance_weighted_nll, negative_elbo
from .layers import Sampling
from .maths import kl_log_var, kl_monte_carlo, kl_sigma
from .model import VAE, build_decoder, build_encoder, make_vae

__version__ = "0.1.0"

__all__ = [
    "DatasetError",
    "Sampling",
    "VAE",
    "build_decoder",
    "build_encoder",
    "elbo_terms",
    "importance_weighted_nll",
    "kl_log_var",
    "kl_monte_carlo",
    "kl_sigma",
    "load_dataset",
    "make_vae",
    "negative_elbo",
]
