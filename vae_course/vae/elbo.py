"""Evaluate a trained VAE in nats per image, under the normalised likelihood p(x | z) of the data.

Every function scores a model with ``vae.likelihood`` (``likelihood.likelihood_for``), or with the
``likelihood`` given, whatever loss the model trained on: a decoder trained on the textbook's grey-level BCE
outputs the same per-pixel p, so it is scored by the same rule as any other model.
"""

import numpy as np
from keras import ops

from .. import _quiet  # noqa: F401
from .likelihood import likelihood_for
from .maths import kl_log_var


def likelihood_of(vae, likelihood=None):
    """The likelihood to score ``vae`` with: ``likelihood`` if given, else the model's own, else the default's."""
    if likelihood is not None:
        return likelihood_for(likelihood)
    own = getattr(vae, "likelihood", None)
    return likelihood_for(own) if own is not None else likelihood_for(None)


def _nll(likelihood, x, logits):
    """-log p(x | z) per example, in nats."""
    return -ops.convert_to_numpy(likelihood.log_prob(x, logits)).astype(np.float64)


def elbo_terms(vae, x, n_samples=10, seed=0, batch_size=1024, likelihood=None):
    """Per-example reconstruction term and KL term, each in nats.

    reconstruction = -E_q[log p(x | z)] estimated with ``n_samples`` draws of z, p from ``likelihood_of``;
    KL = KL(q(z | x) || N(0, I)) in closed form (Equation 17-4), or, for a model whose q has no closed form
    (one with ``sample_posterior``, e.g. ``flows.FlowVAE``), E_q[log q(z | x) - log p(z)] from the same draws.
    """
    x = np.asarray(x, dtype=np.float32)
    lik = likelihood_of(vae, likelihood)
    lik.check(x)
    rng = np.random.default_rng(seed)
    if hasattr(vae, "sample_posterior"):
        return _sampled_elbo_terms(vae, x, n_samples, rng, batch_size, lik)
    reconstruction, kl = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        z_mean, z_log_var = (ops.convert_to_numpy(t) for t in vae.encoder(batch, training=False))
        sigma = np.exp(0.5 * z_log_var)
        total = np.zeros(len(batch))
        for _ in range(n_samples):
            z = z_mean + sigma * rng.standard_normal(z_mean.shape).astype(np.float32)
            logits = vae.decoder(z, training=False)
            total += _nll(lik, batch, logits)
        reconstruction.append(total / n_samples)
        kl.append(ops.convert_to_numpy(kl_log_var(z_mean, z_log_var)))
    return np.concatenate(reconstruction), np.concatenate(kl)


def _posterior_draw(vae, x, rng):
    """z ~ q(z | x) from NumPy noise, with log q(z | x) and log p(z), for a model with ``sample_posterior``."""
    latent_dim = int(vae.decoder.inputs[0].shape[-1])
    eps = rng.standard_normal((len(x), latent_dim)).astype(np.float32)
    z, log_q = vae.sample_posterior(x, eps=eps)
    log_prior = _log_normal(ops.convert_to_numpy(z).astype(np.float64), 0.0, 0.0)
    return z, ops.convert_to_numpy(log_q).astype(np.float64), log_prior


def _sampled_elbo_terms(vae, x, n_samples, rng, batch_size, lik):
    reconstruction, kl = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        rec, log_ratio = np.zeros(len(batch)), np.zeros(len(batch))
        for _ in range(n_samples):
            z, log_q, log_p = _posterior_draw(vae, batch, rng)
            rec += _nll(lik, batch, vae.decoder(z, training=False))
            log_ratio += log_q - log_p
        reconstruction.append(rec / n_samples)
        kl.append(log_ratio / n_samples)
    return np.concatenate(reconstruction), np.concatenate(kl)


def negative_elbo(vae, x, n_samples=10, seed=0, return_terms=False, likelihood=None):
    """Mean negative ELBO, E_q[-log p(x | z)] + KL(q || p), in nats per example (beta = 1): a bound on -log p(x).

    With ``return_terms`` returns (negative ELBO, reconstruction, KL) as floats. ``likelihood``: see ``elbo_terms``.
    """
    reconstruction, kl = elbo_terms(vae, x, n_samples=n_samples, seed=seed, likelihood=likelihood)
    value = float(np.mean(reconstruction + kl))
    if return_terms:
        return value, float(np.mean(reconstruction)), float(np.mean(kl))
    return value


def _log_normal(z, mean, log_var):
    """log N(z; mean, exp(log_var)) summed over the last axis (float64)."""
    return -0.5 * np.sum(np.log(2 * np.pi) + log_var + np.square(z - mean) / np.exp(log_var), axis=-1)


IMPORTANCE_ROWS = 16384  # images decoded per call when drawing importance samples: several draws of x at once


def importance_log_weights(vae, x, k, seed=0, likelihood=None):
    """log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x), z_i ~ q(z | x); shape (k, n).

    The k draws go through the model in groups (``IMPORTANCE_ROWS`` images per call), with the noise drawn in the
    same order as one draw at a time, so the weights do not depend on the grouping.
    """
    x = np.asarray(x, dtype=np.float32)
    lik = likelihood_of(vae, likelihood)
    rng = np.random.default_rng(seed)
    weights = np.empty((k, len(x)))
    group = max(1, IMPORTANCE_ROWS // max(1, len(x)))
    for first in range(0, k, group):
        draws = min(group, k - first)
        weights[first : first + draws] = _log_weights(vae, x, draws, rng, lik).reshape(draws, len(x))
    return weights


def _log_weights(vae, x, draws, rng, lik):
    """log w for ``draws`` draws of z per example of x, flat: draw 0 of every example, then draw 1, ..."""
    stacked = np.tile(x, (draws,) + (1,) * (x.ndim - 1))
    if hasattr(vae, "sample_posterior"):
        z, log_q, log_p = _posterior_draw(vae, stacked, rng)
        return -_nll(lik, stacked, vae.decoder(z, training=False)) + log_p - log_q
    z_mean, z_log_var = (np.tile(ops.convert_to_numpy(t).astype(np.float64), (draws, 1))
                         for t in vae.encoder(x, training=False))
    z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape)
    logits = vae.decoder(z.astype(np.float32), training=False)
    return -_nll(lik, stacked, logits) + _log_normal(z, 0.0, 0.0) - _log_normal(z, z_mean, z_log_var)


def importance_weighted_nll(vae, x, k=100, seed=0, batch_size=512, likelihood=None):
    """Estimated -log p(x) in nats per example: -log (1/k sum_i w_i) (Burda et al. 2016), averaged over x.

    At k = 1 this is a one-sample estimate of the negative ELBO; its expectation
    decreases towards -log p(x) as k grows, so it is an upper bound on the NLL.
    """
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    x = np.asarray(x, dtype=np.float32)
    lik = likelihood_of(vae, likelihood)
    lik.check(x)
    totals = []
    for start in range(0, len(x), batch_size):
        log_w = importance_log_weights(vae, x[start : start + batch_size], int(k), seed=seed + start, likelihood=lik)
        peak = log_w.max(axis=0)
        log_mean_w = peak + np.log(np.mean(np.exp(log_w - peak), axis=0))
        totals.append(-log_mean_w)
    return float(np.mean(np.concatenate(totals)))
