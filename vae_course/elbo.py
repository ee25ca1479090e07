"""Evaluate a trained VAE in nats per image."""

import numpy as np

from . import _quiet  # noqa: F401
from keras import ops

from .maths import kl_log_var
from .model import reconstruction_nats


def elbo_terms(vae, x, n_samples=10, seed=0, batch_size=1024):
    """Per-example reconstruction term and KL term, each in nats.

    reconstruction = -E_q[log p(x | z)] estimated with ``n_samples`` draws of z;
    KL = KL(q(z | x) || N(0, I)) in closed form (Equation 17-4).
    """
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    reconstruction, kl = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        z_mean, z_log_var = (ops.convert_to_numpy(t) for t in vae.encoder(batch, training=False))
        sigma = np.exp(0.5 * z_log_var)
        total = np.zeros(len(batch))
        for _ in range(n_samples):
            z = z_mean + sigma * rng.standard_normal(z_mean.shape).astype(np.float32)
            logits = vae.decoder(z, training=False)
            total += ops.convert_to_numpy(reconstruction_nats(batch, logits))
        reconstruction.append(total / n_samples)
        kl.append(ops.convert_to_numpy(kl_log_var(z_mean, z_log_var)))
    return np.concatenate(reconstruction), np.concatenate(kl)


def negative_elbo(vae, x, n_samples=10, seed=0, return_terms=False):
    """Mean negative ELBO, E_q[-log p(x | z)] + KL(q || p), in nats per example (beta = 1).

    With ``return_terms`` returns (negative ELBO, reconstruction, KL) as floats.
    """
    reconstruction, kl = elbo_terms(vae, x, n_samples=n_samples, seed=seed)
    value = float(np.mean(reconstruction + kl))
    if return_terms:
        return value, float(np.mean(reconstruction)), float(np.mean(kl))
    return value


def _log_normal(z, mean, log_var):
    """log N(z; mean, exp(log_var)) summed over the last axis (float64)."""
    return -0.5 * np.sum(np.log(2 * np.pi) + log_var + np.square(z - mean) / np.exp(log_var), axis=-1)


def importance_log_weights(vae, x, k, seed=0):
    """log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x), z_i ~ q(z | x); shape (k, n)."""
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    z_mean, z_log_var = (ops.convert_to_numpy(t).astype(np.float64) for t in vae.encoder(x, training=False))
    weights = np.empty((k, len(x)))
    for i in range(k):
        z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape)
        logits = vae.decoder(z.astype(np.float32), training=False)
        log_px_z = -ops.convert_to_numpy(reconstruction_nats(x, logits)).astype(np.float64)
        weights[i] = log_px_z + _log_normal(z, 0.0, 0.0) - _log_normal(z, z_mean, z_log_var)
    return weights


def importance_weighted_nll(vae, x, k=100, seed=0, batch_size=512):
    """Estimated -log p(x) in nats per example: -log (1/k sum_i w_i) (Burda et al. 2016), averaged over x.

    At k = 1 this is a one-sample estimate of the negative ELBO; its expectation
    decreases towards -log p(x) as k grows, so it is an upper bound on the NLL.
    """
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    x = np.asarray(x, dtype=np.float32)
    totals = []
    for start in range(0, len(x), batch_size):
        log_w = importance_log_weights(vae, x[start : start + batch_size], int(k), seed=seed + start)
        peak = log_w.max(axis=0)
        log_mean_w = peak + np.log(np.mean(np.exp(log_w - peak), axis=0))
        totals.append(-log_mean_w)
    return float(np.mean(np.concatenate(totals)))
