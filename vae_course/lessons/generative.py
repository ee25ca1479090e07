"""The model and the ELBO (lesson 03): a toy model where every quantity is exact, and the two ELBO estimates.

The toy model has one latent number and one observed number:

    p(z) = N(0, 1),   p(x | z) = N(x; w z, s^2).

Everything about it has a closed form. The evidence is p(x) = N(x; 0, w^2 + s^2); the posterior is
p(z | x) = N(m, v) with v = s^2 / (w^2 + s^2) and m = w x / (w^2 + s^2). For q = N(mu, sigma^2),

    E_q[log p(x | z)] = -1/2 log(2 pi s^2) - ((x - w mu)^2 + w^2 sigma^2) / (2 s^2),
    KL(q || p(z))     = 1/2 (mu^2 + sigma^2 - 1 - log sigma^2)          (Equation 17-3, lesson 05),
    ELBO              = E_q[log p(x | z)] - KL(q || p(z)).

The lesson checks log p(x) = ELBO + KL(q || p(z | x)) with the last KL computed by quadrature, not by a formula.
Everything is NumPy in float64; everything random takes a seed.
"""

from dataclasses import dataclass

import numpy as np

from .. import _quiet  # noqa: F401  (TensorFlow's log level, before anything imports it)
from ..vae.likelihood import likelihood_for
from ..vae.maths import gaussian_log_density as log_normal  # log N(z; mean, sd^2), elementwise, float64

HALF_LOG_TWO_PI = 0.5 * np.log(2.0 * np.pi)
DIGIT_TRIALS = 16  # each stored pixel of the 8x8 digits counts the "on" pixels of a 4x4 block


def kl_to_standard_normal(mu, sigma):
    """KL(N(mu, sigma^2) || N(0, 1)) = 1/2 (mu^2 + sigma^2 - 1 - log sigma^2), elementwise; lesson 05 derives it."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    return 0.5 * (np.square(mu) + np.square(sigma) - 1.0 - 2.0 * np.log(sigma))


# ---- the toy model --------------------------------------------------------------------------


@dataclass(frozen=True)
class ToyModel:
    """z ~ N(0, 1), x | z ~ N(w z, s^2): a one-number "decoder" z -> w z with noise s."""

    w: float = 2.0
    s: float = 1.0

    def log_prior(self, z):
        """log p(z) = log N(z; 0, 1)."""
        return log_normal(z, 0.0, 1.0)

    def log_likelihood(self, x, z):
        """log p(x | z) = log N(x; w z, s^2)."""
        return log_normal(x, self.w * np.asarray(z, dtype=np.float64), self.s)

    def log_evidence(self, x):
        """log p(x) = log N(x; 0, w^2 + s^2), in closed form."""
        return float(log_normal(x, 0.0, np.sqrt(self.w**2 + self.s**2)))

    def log_evidence_quadrature(self, x, grid=None):
        """log of the integral of p(x | z) p(z) dz, by the trapezoidal rule on ``grid`` (default -12..12)."""
        z = default_grid() if grid is None else np.asarray(grid, dtype=np.float64)
        return float(np.log(np.trapezoid(np.exp(self.log_likelihood(x, z) + self.log_prior(z)), z)))

    def posterior(self, x):
        """(mean, standard deviation) of p(z | x), which is normal."""
        precision = self.w**2 + self.s**2
        return self.w * x / precision, self.s / np.sqrt(precision)

    def best_z(self, x):
        """The z that makes x most likely (maximum of p(x | z) over z): x / w."""
        return x / self.w

    def expected_log_likelihood(self, x, mu, sigma):
        """E_q[log p(x | z)] for q = N(mu, sigma^2), in closed form: the reconstruction term."""
        mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
        return -HALF_LOG_TWO_PI - np.log(self.s) - (np.square(x - self.w * mu) + (self.w * sigma) ** 2) / (
            2.0 * self.s**2
        )

    def elbo(self, x, mu, sigma):
        """ELBO = E_q[log p(x | z)] - KL(q || p(z)) for q = N(mu, sigma^2)."""
        return self.expected_log_likelihood(x, mu, sigma) - kl_to_standard_normal(mu, sigma)

    def kl_to_posterior(self, x, mu, sigma, grid=None):
        """KL(q || p(z | x)) for q = N(mu, sigma^2), by the trapezoidal rule on a grid around q."""
        m, sd = self.posterior(x)
        z = default_grid(mu, sigma) if grid is None else np.asarray(grid, dtype=np.float64)
        log_q, log_post = log_normal(z, mu, sigma), log_normal(z, m, sd)
        return float(np.trapezoid(np.exp(log_q) * (log_q - log_post), z))


def default_grid(center=0.0, scale=1.0, half_width=12.0, num=4001):
    """``num`` evenly spaced points from center - half_width * scale to center + half_width * scale."""
    return np.linspace(center - half_width * scale, center + half_width * scale, int(num))


def toy_rows(model, x, candidates):
    """One dict per (name, mu, sigma): the ELBO, its two terms, log p(x), the gap and KL(q || posterior)."""
    log_px = model.log_evidence(x)
    rows = []
    for name, mu, sigma in candidates:
        elbo = float(model.elbo(x, mu, sigma))
        rows.append({
            "q": name, "mu": mu, "sigma": sigma,
            "reconstruction": float(model.expected_log_likelihood(x, mu, sigma)),
            "kl_prior": float(kl_to_standard_normal(mu, sigma)),
            "elbo": elbo, "log_px": log_px, "gap": log_px - elbo,
            "kl_posterior": model.kl_to_posterior(x, mu, sigma),
        })
    return rows


def format_toy_rows(rows):
    """The rows of ``toy_rows`` as a fixed-width text table (3 decimals)."""
    header = (f"{'q':<26} {'mu':>5} {'sigma':>6} | {'E_q log p(x|z)':>14} {'KL(q‖p(z))':>10} {'ELBO':>7} | "
              f"{'log p(x) − ELBO':>15} {'KL(q‖p(z|x))':>12}")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['q']:<26} {r['mu']:>5.2f} {r['sigma']:>6.3f} | {r['reconstruction']:>14.3f} {r['kl_prior']:>10.3f} "
            f"{r['elbo']:>7.3f} | {r['gap']:>15.3f} {r['kl_posterior']:>12.3f}"
        )
    return "\n".join(lines)


# ---- figures --------------------------------------------------------------------------------


def plot_toy_model(model, x):
    """Left: the joint density p(x, z), the observed x marked. Right: prior, p(x | z) as a function of z, posterior."""
    import matplotlib.pyplot as plt

    z = np.linspace(-3.5, 3.5, 281)
    xs = np.linspace(-6.0, 6.0, 241)
    joint = np.exp(model.log_likelihood(xs[:, None], z[None, :]) + model.log_prior(z)[None, :])
    m, sd = model.posterior(x)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.9), layout="constrained")
    left.contourf(z, xs, joint, levels=12, cmap="Blues")
    left.axhline(x, color="C3", lw=2, label=f"the observed x = {x:g}")
    left.set_xlabel("latent z")
    left.set_ylabel("data x")
    left.set_title("p(x, z) = p(x | z) p(z)")
    left.legend(loc="upper left", fontsize="small")
    likelihood = np.exp(model.log_likelihood(x, z))
    right.plot(z, np.exp(model.log_prior(z)), color="0.4", ls="--", label="prior p(z) = N(0, 1)")
    right.plot(z, likelihood, color="C1", label=f"p(x = {x:g} | z), a function of z")
    right.plot(z, np.exp(log_normal(z, m, sd)), color="C3", lw=2,
               label=f"posterior p(z | x) = N({m:.2g}, {sd:.3g}²)")
    right.axvline(model.best_z(x), color="C1", ls=":", lw=1)
    right.set_xlabel("latent z")
    right.set_title("Prior × likelihood, divided by p(x), is the posterior")
    right.legend(loc="upper left", fontsize="small")
    return fig


def plot_two_terms(model, x):
    """The ELBO and its two terms as q = N(mu, sigma^2) moves (left, sigma fixed) and widens (right, mu fixed)."""
    import matplotlib.pyplot as plt

    m, sd = model.posterior(x)
    log_px = model.log_evidence(x)
    mus = np.linspace(-1.0, 2.5, 351)
    sigmas = np.geomspace(0.05, 2.0, 351)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0), layout="constrained", sharey=True)
    for ax, values, mu, sigma, label, best in (
        (axes[0], mus, mus, sd, "mean μ of q", m),
        (axes[1], sigmas, m, sigmas, "standard deviation σ of q", sd),
    ):
        reconstruction = model.expected_log_likelihood(x, mu, sigma)
        minus_kl = -kl_to_standard_normal(mu, sigma)
        for curve, colour, width, name in (
            (reconstruction, "C1", 1.5, "E_q[log p(x | z)]  (reconstruction)"),
            (minus_kl, "C0", 1.5, "−KL(q ‖ p(z))"),
            (reconstruction + minus_kl, "k", 2.0, "ELBO, their sum"),
        ):
            ax.plot(values, curve, color=colour, lw=width, label=name)
            top = int(np.argmax(curve))
            ax.plot(values[top], curve[top], "o", color=colour, ms=6)
        ax.axhline(log_px, color="C3", ls="--", label=f"log p(x) = {log_px:.3f}")
        ax.axvline(best, color="C3", ls=":", lw=1)
        ax.set_xlabel(label)
        ax.set_ylim(-9.0, 0.3)
        ax.grid(alpha=0.3)
    axes[1].set_xscale("log")
    axes[0].set_ylabel("nats")
    axes[0].set_title(f"Moving q (σ fixed at {sd:.3f})")
    axes[1].set_title(f"Widening q (μ fixed at {m:.2f})")
    axes[0].legend(loc="lower center", fontsize="small")
    fig.suptitle(f"Each term peaks somewhere else (dots); the ELBO peaks at the posterior N({m:.2g}, {sd:.3f}²), "
                 "where it touches log p(x)")
    return fig


# ---- the digits' likelihood -----------------------------------------------------------------
# p(x | z) itself is the library's: ``vae_course.likelihood_for("digits")``, Binomial(16, sigmoid(logit)) per pixel.


def log_binomial_coefficient(k, n=DIGIT_TRIALS):
    """log C(n, k), elementwise: the term of -log Binomial(k; n, p) that does not depend on the model."""
    from scipy.special import gammaln

    k = np.asarray(k, dtype=np.float64)
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def logits_of(p, smallest=1e-3):
    """log(p / (1 - p)) as float32, p clipped into [smallest, 1 - smallest] so that no pixel is certain."""
    p = np.clip(np.asarray(p, dtype=np.float64), smallest, 1.0 - smallest)
    return (np.log(p) - np.log1p(-p)).astype(np.float32)


# ---- the ELBO from three log-densities --------------------------------------------------------


def elbo_one_sample(log_px_given_z, z, z_mean, z_log_var):
    """log p(x | z) + log p(z) - log q(z | x) for one z per example, the logs summed over the latent axis."""
    z, z_mean, z_log_var = (np.asarray(a, dtype=np.float64) for a in (z, z_mean, z_log_var))
    log_p_z = np.sum(log_normal(z, 0.0, 1.0), axis=-1)
    log_q_z = np.sum(log_normal(z, z_mean, np.exp(0.5 * z_log_var)), axis=-1)
    return np.asarray(log_px_given_z, dtype=np.float64) + log_p_z - log_q_z


def elbo_closed_form_kl(log_px_given_z, z_mean, z_log_var):
    """log p(x | z) - KL(q(z | x) || p(z)) with the KL in closed form (Equation 17-3, summed over the latent axis)."""
    sigma = np.exp(0.5 * np.asarray(z_log_var, dtype=np.float64))
    return np.asarray(log_px_given_z, dtype=np.float64) - np.sum(kl_to_standard_normal(z_mean, sigma), axis=-1)


def toy_estimates(model, x, mu, sigma, elbo_fn, n, seed=0):
    """``n`` single-sample ELBO estimates from ``elbo_fn`` and ``n`` closed-form-KL estimates, same draws z ~ q."""
    z = mu + sigma * np.random.default_rng(seed).standard_normal((n, 1))
    log_px_given_z = model.log_likelihood(x, z[:, 0])
    z_mean, z_log_var = np.full((n, 1), mu), np.full((n, 1), 2.0 * np.log(sigma))
    one_sample = np.asarray(elbo_fn(log_px_given_z, z, z_mean, z_log_var), dtype=np.float64)
    return one_sample, elbo_closed_form_kl(log_px_given_z, z_mean, z_log_var)


def vae_estimates(encoder, decoder, x, elbo_fn, n_draws, seed=0):
    """For each image, ``n_draws`` single-sample ELBO estimates from ``elbo_fn`` and closed-form-KL estimates.

    Both are arrays of shape (n_draws, len(x)), made from the same draws z ~ q(z | x), in nats; log p(x | z) is
    the digits' Binomial likelihood.
    """
    from keras import ops

    z_mean, z_log_var = (ops.convert_to_numpy(t).astype(np.float64) for t in encoder(x, training=False)[:2])
    eps = np.random.default_rng(seed).standard_normal((n_draws,) + z_mean.shape)
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    flat_z = z.reshape(-1, z_mean.shape[-1]).astype(np.float32)
    logits = decoder(flat_z, training=False)
    images = np.broadcast_to(np.asarray(x), (n_draws,) + np.shape(x)).reshape((-1,) + np.shape(x)[1:])
    log_px = ops.convert_to_numpy(likelihood_for("digits").log_prob(images, logits)).astype(np.float64)
    log_px_given_z = log_px.reshape(n_draws, len(x))
    repeat = lambda a: np.broadcast_to(a, z.shape).reshape(flat_z.shape)  # noqa: E731
    one_sample = np.asarray(
        elbo_fn(log_px_given_z.ravel(), flat_z.astype(np.float64), repeat(z_mean), repeat(z_log_var)), dtype=np.float64
    ).reshape(n_draws, len(x))
    closed = elbo_closed_form_kl(log_px_given_z, z_mean[None], z_log_var[None])
    return one_sample, closed
