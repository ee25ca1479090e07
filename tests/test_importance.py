"""importance_weighted_nll: the k-sample bound of Burda et al. (2016) on -log p(x)."""

import keras
import numpy as np
import pytest

import vae_course
from vae_course.vae.elbo import importance_log_weights


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    (x_train, _), (x_test, _) = vae_course.load_dataset("digits")
    vae = vae_course.make_vae((8, 8), latent_dim=2, hidden=(64, 32), seed=0)
    vae.compile(keras.optimizers.Adam(2e-3))
    vae.fit(x_train, epochs=8, batch_size=64, verbose=0)
    return vae, x_test[:100]


def test_k1_matches_the_negative_elbo_in_expectation(trained):
    """At k = 1 the estimate is a one-sample negative ELBO: averaged over seeds it matches negative_elbo."""
    vae, x = trained
    one_sample = np.mean([vae_course.importance_weighted_nll(vae, x, k=1, seed=s) for s in range(20)])
    elbo = vae_course.negative_elbo(vae, x, n_samples=50)
    assert one_sample == pytest.approx(elbo, rel=0.01)


def test_bound_tightens_with_k(trained):
    """More importance samples give a smaller (tighter) estimate, and never cross below a much larger k by much."""
    vae, x = trained
    values = [vae_course.importance_weighted_nll(vae, x, k=k) for k in (1, 10, 100)]
    assert values[0] > values[1] > values[2]
    assert values[0] - values[2] > 0.05  # a real gap, in nats, not rounding


def test_log_weights_by_hand_for_one_example(trained):
    """log w = log p(x|z) + log N(z; 0, I) - log N(z; mu, sigma^2), checked against SciPy's densities."""
    from scipy.stats import norm

    vae, x = trained
    rng = np.random.default_rng(5)
    z_mean, z_log_var = (np.asarray(t, dtype=np.float64) for t in vae.encoder(x[:1]))
    z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape)
    logits = np.asarray(vae.decoder(z.astype(np.float32)), dtype=np.float64)[0]
    from scipy.stats import binom

    p = 1 / (1 + np.exp(-logits))
    log_px_z = np.sum(binom.logpmf(np.round(x[0] * 16), 16, p))  # the digits' likelihood, Binomial(16, p)
    expected = log_px_z + norm.logpdf(z, 0, 1).sum() - norm.logpdf(z, z_mean, np.exp(0.5 * z_log_var)).sum()
    got = importance_log_weights(vae, x[:1], k=1, seed=5)[0, 0]
    assert got == pytest.approx(expected, rel=1e-4)


def test_k_must_be_positive(trained):
    vae, x = trained
    with pytest.raises(ValueError, match="k must be at least 1"):
        vae_course.importance_weighted_nll(vae, x, k=0)
