"""The latent loss of a VAE in closed form and by Monte Carlo.

All functions take the encoder's outputs for one or more examples and reduce
over the last (latent) axis, so a batch of shape (n, K) gives n values.
"""

import numpy as np
from keras import ops

from .. import _quiet  # noqa: F401  (sets the TensorFlow log level first)


def kl_sigma(mu, sigma):
    """KL(N(mu, sigma^2) || N(0, I)) = -1/2 sum_i (1 + log sigma_i^2 - sigma_i^2 - mu_i^2).

    Equation 17-3, written literally: log sigma^2 is computed from sigma, which
    breaks in float32 once sigma^2 underflows: below sigma ~ 1e-19 in TensorFlow on
    the CPU (subnormals flushed to zero, gamma ~ -87.3), below ~ 1e-23 in NumPy
    (lesson 06 measures both).
    """
    mu = ops.convert_to_tensor(mu)
    sigma = ops.convert_to_tensor(sigma, dtype=mu.dtype)
    var = ops.square(sigma)
    return -0.5 * ops.sum(1.0 + ops.log(var) - var - ops.square(mu), axis=-1)


def kl_log_var(mu, log_var):
    """KL with gamma = log sigma^2: -1/2 sum_i (1 + gamma_i - exp(gamma_i) - mu_i^2), Equation 17-4.

    Each term is computed as (exp(gamma) - 1 - gamma) = expm1(gamma) - gamma,
    which is exactly zero at gamma = 0 and never rounds below zero.
    """
    mu = ops.convert_to_tensor(mu)
    log_var = ops.convert_to_tensor(log_var, dtype=mu.dtype)
    variance_part = ops.maximum(ops.expm1(log_var) - log_var, 0.0)
    return 0.5 * ops.sum(variance_part + ops.square(mu), axis=-1)


def gaussian_log_density(z, mu, sigma):
    """log N(z; mu, sigma^2) = -1/2 log(2 pi) - log sigma - (z - mu)^2 / (2 sigma^2), elementwise (NumPy)."""
    z, mu, sigma = (np.asarray(a, dtype=np.float64) for a in (z, mu, sigma))
    return -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * np.square((z - mu) / sigma)


def kl_monte_carlo(mu, sigma, n_samples=10_000, seed=0, return_stderr=False):
    """Unbiased estimate of KL(q || p) = E_q[log q(z) - log p(z)], q = N(mu, sigma^2), p = N(0, I).

    Draws ``n_samples`` z = mu + sigma * eps per example (float64, NumPy) and
    averages the log-ratio summed over the last axis. With ``return_stderr``
    also returns the standard error, which shrinks like 1 / sqrt(n_samples).
    """
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim == 0:  # a single number is one latent dimension
        result = kl_monte_carlo(mu[None], np.asarray(sigma, dtype=np.float64).reshape(1), n_samples, seed,
                                return_stderr)
        return tuple(float(r) for r in result) if return_stderr else float(result)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), mu.shape)
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n_samples,) + mu.shape)
    z = mu + sigma * eps
    log_ratio = gaussian_log_density(z, mu, sigma) - gaussian_log_density(z, 0.0, 1.0)
    per_sample = log_ratio.sum(axis=-1)
    estimate = per_sample.mean(axis=0)
    if return_stderr:
        return estimate, per_sample.std(axis=0, ddof=1) / np.sqrt(n_samples)
    return estimate
