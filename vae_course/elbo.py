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
