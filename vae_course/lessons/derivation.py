"""Deriving Equation 17-3 (lesson 05): the KL divergence of N(mu, sigma^2) from N(0, 1), three ways.

For q = N(mu, sigma^2) and p = N(0, 1), with log q(z) = -1/2 log(2 pi) - log sigma - (z - mu)^2 / (2 sigma^2)
and log p(z) = -1/2 log(2 pi) - z^2 / 2,

    KL(q || p) = E_q[log q(z) - log p(z)] = integral of q(z) log(q(z) / p(z)) dz
               = 1/2 (mu^2 + sigma^2 - 1 - log sigma^2),

because E_q[(z - mu)^2] = sigma^2 and E_q[z^2] = mu^2 + sigma^2. Independent latent dimensions add their
KLs, which gives Equation 17-3. This module computes the same number by Monte Carlo (an average over draws)
and by quadrature (the trapezoidal rule on a grid), and draws the lesson's figures. Everything is NumPy in
float64; everything random takes a seed.
"""

import numpy as np

from .. import _quiet  # noqa: F401  (TensorFlow's log level, before anything imports it)
from ..vae.maths import gaussian_log_density, kl_monte_carlo
from .widgets import EXPLORER_DPI, MU_RANGE, SIGMA_RANGE, MuSigmaExplorer, explorer_figure  # noqa: F401

HALF_LOG_TWO_PI = 0.5 * np.log(2.0 * np.pi)

# The slider explorer's fixed z-axis; its sliders' ranges MU_RANGE and SIGMA_RANGE come from vae_course.widgets.
Z_LIMITS = (-8.0, 8.0)


# ---- the maths -----------------------------------------------------------------------------


def kl_per_dimension(mu, sigma):
    """KL(N(mu, sigma^2) || N(0, 1)) = 1/2 (mu^2 + sigma^2 - 1 - log sigma^2), elementwise (no sum)."""
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    return 0.5 * (np.square(mu) + np.square(sigma) - 1.0 - np.log(np.square(sigma)))


def log_ratio_std(mu, sigma):
    """Standard deviation of one draw of log q(z) - log p(z), z = mu + sigma * eps, summed over the last axis.

    log q(z) - log p(z) = -log sigma + mu^2 / 2 + mu sigma eps + (sigma^2 - 1) eps^2 / 2, and eps, eps^2 are
    uncorrelated with variances 1 and 2, so one dimension has variance mu^2 sigma^2 + (sigma^2 - 1)^2 / 2;
    independent dimensions add their variances. A Monte Carlo average of n draws has standard error
    ``log_ratio_std(mu, sigma) / sqrt(n)``.
    """
    mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    variance = np.square(mu * sigma) + 0.5 * np.square(np.square(sigma) - 1.0)
    return np.sqrt(np.sum(variance, axis=-1) if variance.ndim else variance)


def kl_integrand(z, mu, sigma):
    """q(z) log(q(z) / p(z)) on the points z, computed from the log densities so that 0 * log 0 gives 0."""
    log_q = gaussian_log_density(z, mu, sigma)
    log_p = gaussian_log_density(z, 0.0, 1.0)
    return np.exp(log_q) * (log_q - log_p)


def default_grid(mu, sigma, half_width=12.0, num=4001):
    """``num`` evenly spaced points from mu - half_width * sigma to mu + half_width * sigma."""
    return np.linspace(mu - half_width * sigma, mu + half_width * sigma, int(num))


def kl_quadrature(mu, sigma, grid=None):
    """KL(N(mu, sigma^2) || N(0, 1)) by the trapezoidal rule: np.trapezoid(q log(q / p), grid).

    One latent dimension: ``mu`` and ``sigma`` are numbers and the result is a float. With arrays, each
    element is integrated on its own and an array of the same shape comes back. ``grid`` defaults to
    ``default_grid(mu, sigma)`` (mu +/- 12 sigma, 4001 points), where the error is far below float32's.
    A grid that misses part of q's mass gives a wrong answer: see ``grid_width_errors``.
    """
    mu_array, sigma_array = np.broadcast_arrays(np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64))
    if mu_array.ndim:
        return np.array([kl_quadrature(m, s, grid) for m, s in zip(mu_array.ravel(), sigma_array.ravel())]).reshape(
            mu_array.shape
        )
    mu, sigma = float(mu_array), float(sigma_array)
    z = default_grid(mu, sigma) if grid is None else np.asarray(grid, dtype=np.float64)
    return float(np.trapezoid(kl_integrand(z, mu, sigma), z))


def grid_width_errors(mu, sigma, half_widths, num=2001):
    """Quadrature minus closed form on grids mu +/- h sigma, for each h in ``half_widths`` (``num`` points each)."""
    exact = float(kl_per_dimension(mu, sigma))
    return np.array([kl_quadrature(mu, sigma, default_grid(mu, sigma, h, num)) - exact for h in half_widths])


def mc_convergence(mu, sigma, sizes, seed=0):
    """Monte Carlo estimates and standard errors for each sample size in ``sizes``.

    Uses the packaged ``kl_monte_carlo(..., return_stderr=True)``; the estimate for ``sizes[i]`` uses seed
    ``seed + i``, so the points are independent. ``mu`` and ``sigma`` are numbers or vectors (latent
    dimensions, whose KLs add up). Returns (estimates, standard errors) as arrays.
    """
    mu, sigma = np.atleast_1d(mu), np.atleast_1d(sigma)  # kl_monte_carlo sums over a latent axis
    results = [kl_monte_carlo(mu, sigma, int(n), seed=seed + i, return_stderr=True) for i, n in enumerate(sizes)]
    estimates, errors = zip(*results)
    return np.array(estimates, dtype=np.float64), np.array(errors, dtype=np.float64)


def compare_estimates(params, n_samples=10_000, seed=0, grid_half_width=12.0, grid_points=4001):
    """One row per (mu, sigma): the closed form, Monte Carlo with its standard error, and quadrature.

    Returns a list of dicts with keys mu, sigma, closed_form, monte_carlo, stderr, quadrature.
    """
    rows = []
    for i, (mu, sigma) in enumerate(params):
        estimate, stderr = kl_monte_carlo([mu], [sigma], n_samples, seed=seed + i, return_stderr=True)
        grid = default_grid(mu, sigma, grid_half_width, grid_points)
        rows.append(
            {
                "mu": float(mu),
                "sigma": float(sigma),
                "closed_form": float(kl_per_dimension(mu, sigma)),
                "monte_carlo": float(estimate),
                "stderr": float(stderr),
                "quadrature": kl_quadrature(mu, sigma, grid),
            }
        )
    return rows


def format_comparison(rows, digits=3):
    """The rows of ``compare_estimates`` as a fixed-width text table."""
    header = f"{'mu':>6} {'sigma':>6} | {'closed form':>11} | {'Monte Carlo ± stderr':>20} | {'quadrature':>10}"
    lines = [header, "-" * len(header)]
    for r in rows:
        mc = f"{r['monte_carlo']:.{digits}f} ± {r['stderr']:.{digits}f}"
        lines.append(
            f"{r['mu']:>6g} {r['sigma']:>6g} | {r['closed_form']:>11.{digits}f} | {mc:>20} | "
            f"{r['quadrature']:>10.{digits}f}"
        )
    return "\n".join(lines)


# ---- figures -------------------------------------------------------------------------------


def _draw_densities(ax, z, mu, sigma):
    q, p = np.exp(gaussian_log_density(z, mu, sigma)), np.exp(gaussian_log_density(z, 0.0, 1.0))
    ax.plot(z, q, color="C0", lw=2, label=f"q(z) = N({mu:g}, {sigma:g}²)")
    ax.plot(z, p, color="C1", lw=2, ls="--", label="p(z) = N(0, 1)")
    ax.set_xlabel("z")
    ax.set_ylabel("probability density")
    ax.set_title("The encoder's q and the prior p")
    ax.legend(loc="upper right", fontsize="small")


def _draw_integrand(ax, z, mu, sigma):
    f = kl_integrand(z, mu, sigma)
    area = kl_quadrature(mu, sigma)  # on a grid wide enough for q, not only the part drawn
    ax.plot(z, f, color="C2", lw=2, label="q(z) log(q(z) / p(z))")
    ax.fill_between(z, f, where=f >= 0, color="C2", alpha=0.3, label="positive area")
    ax.fill_between(z, f, where=f < 0, color="C3", alpha=0.3, label="negative area")
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel("z")
    ax.set_ylabel("integrand")
    ax.set_title(f"Net area = {area:.3f}; closed form = {float(kl_per_dimension(mu, sigma)):.3f}")
    ax.legend(loc="upper right", fontsize="small")
    return area


def plot_kl_integrand(mu=1.5, sigma=0.7, z=None):
    """Left: the densities q = N(mu, sigma^2) and p = N(0, 1). Right: q log(q / p), whose net area is the KL.

    Returns the figure.
    """
    import matplotlib.pyplot as plt

    if z is None:
        low, high = min(mu - 5 * sigma, -4.0), max(mu + 5 * sigma, 4.0)
        z = np.linspace(low, high, 1001)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    _draw_densities(left, z, mu, sigma)
    _draw_integrand(right, z, mu, sigma)
    fig.suptitle(f"KL(q ‖ p) for μ = {mu:g}, σ = {sigma:g}: the area under q log(q/p)")
    fig.tight_layout()
    return fig


def plot_mc_convergence(mu=1.5, sigma=0.7, sizes=None, seed=0):
    """Monte Carlo KL estimates with +/- 1 standard error against n (left) and the standard error itself (right).

    The right panel is on log-log axes with the reference line log_ratio_std / sqrt(n) (slope -1/2).
    Uses the packaged estimator, so it works before the learner's exercise is done. Returns the figure.
    """
    import matplotlib.pyplot as plt

    sizes = np.array(sizes if sizes is not None else np.round(np.logspace(1, 6, 11)).astype(int))
    estimates, errors = mc_convergence(mu, sigma, sizes, seed)
    exact = float(np.sum(kl_per_dimension(mu, sigma)))
    reference = log_ratio_std(mu, sigma) / np.sqrt(sizes)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.axhline(exact, color="C3", lw=2, label=f"closed form = {exact:.4f}")
    left.errorbar(sizes, estimates, yerr=errors, fmt="o", color="C0", capsize=3, label="estimate ± 1 standard error")
    left.set_xscale("log")
    left.set_xlabel("number of draws n")
    left.set_ylabel("estimate of KL(q ‖ p)")
    left.set_title("The estimates close in on the closed form")
    left.legend(loc="upper right", fontsize="small")
    right.loglog(sizes, errors, "o", color="C0", label="standard error of each estimate")
    right.loglog(sizes, reference, color="0.3", ls="--", label="sd / √n (slope −1/2)")
    right.set_xlabel("number of draws n")
    right.set_ylabel("standard error")
    right.set_title("The error shrinks like 1/√n")
    right.legend(loc="upper right", fontsize="small")
    fig.suptitle(f"Monte Carlo KL for μ = {mu:g}, σ = {sigma:g} (one seed per n)")
    fig.tight_layout()
    return fig


def plot_grid_width(mu=1.5, sigma=0.7, half_widths=None, num=2001):
    """|quadrature - closed form| against the grid's half-width in units of sigma (log y-axis). Returns the figure."""
    import matplotlib.pyplot as plt

    half_widths = np.array(half_widths if half_widths is not None else np.arange(0.5, 12.01, 0.5))
    errors = np.abs(grid_width_errors(mu, sigma, half_widths, num))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.semilogy(half_widths, np.maximum(errors, 1e-17), "o-", color="C0", label=f"grid μ ± h·σ, {num} points")
    ax.axhline(np.finfo(np.float32).eps, color="0.4", ls=":", label="float32 resolution (≈1.2e-7)")
    ax.set_xlabel("half-width of the grid h (in units of σ)")
    ax.set_ylabel("|quadrature − closed form|")
    ax.set_title(f"A grid too narrow misses part of q (μ = {mu:g}, σ = {sigma:g})")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def plot_comparison(rows):
    """The three estimates side by side (left) and each estimate minus the closed form (right). Returns the figure."""
    import matplotlib.pyplot as plt

    x = np.arange(len(rows))
    labels = [f"μ={r['mu']:g}\nσ={r['sigma']:g}" for r in rows]
    closed = np.array([r["closed_form"] for r in rows])
    mc = np.array([r["monte_carlo"] for r in rows])
    se = np.array([r["stderr"] for r in rows])
    quad = np.array([r["quadrature"] for r in rows])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.bar(x, closed, width=0.5, color="C3", alpha=0.35, label="closed form (Eq. 17-3, one dimension)")
    left.errorbar(x - 0.1, mc, yerr=2 * se, fmt="o", color="C0", capsize=3, label="Monte Carlo ± 2 stderr")
    left.plot(x + 0.1, quad, "s", color="C2", label="quadrature")
    left.set_xticks(x, labels)
    left.set_xlabel("parameters of q")
    left.set_ylabel("KL(q ‖ p) in nats")
    left.set_title("Three ways to the same number")
    left.legend(loc="upper left", fontsize="small")
    right.axhline(0.0, color="C3", lw=2, label="closed form")
    right.errorbar(x - 0.1, mc - closed, yerr=2 * se, fmt="o", color="C0", capsize=3, label="Monte Carlo ± 2 stderr")
    right.plot(x + 0.1, quad - closed, "s", color="C2", label="quadrature")
    right.set_xticks(x, labels)
    right.set_xlabel("parameters of q")
    right.set_ylabel("estimate − closed form")
    right.set_title("Differences from the closed form")
    right.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def latent_losses(latent_dims, seed=0):
    """Summed and averaged KL for the first K dimensions of one made-up encoder output, for each K in latent_dims.

    Each dimension gets its own (mu, sigma) from a seeded generator (mu ~ N(0, 0.8^2), log sigma ~ N(-0.7, 0.3^2)),
    roughly what a trained encoder gives. Returns (sums, means) as arrays.
    """
    latent_dims = np.asarray(latent_dims, dtype=int)
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 0.8, latent_dims.max())
    sigma = np.exp(rng.normal(-0.7, 0.3, latent_dims.max()))
    per_dimension = kl_per_dimension(mu, sigma)
    sums = np.array([per_dimension[:k].sum() for k in latent_dims])
    return sums, sums / latent_dims


def plot_sum_versus_mean(latent_dims=None, seed=0):
    """Left: the latent loss summed (Equation 17-3) and averaged over K dimensions. Right: their ratio, beta = 1/K.

    Returns the figure.
    """
    import matplotlib.pyplot as plt

    latent_dims = np.array(latent_dims if latent_dims is not None else [1, 2, 4, 8, 16, 32, 64, 128])
    sums, means = latent_losses(latent_dims, seed)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.loglog(latent_dims, sums, "o-", color="C0", label="sum over dimensions (Equation 17-3)")
    left.loglog(latent_dims, means, "s--", color="C1", label="mean over dimensions")
    left.set_xlabel("number of latent dimensions K")
    left.set_ylabel("latent loss (nats)")
    left.set_title("The sum grows with K, the mean does not")
    left.legend(loc="upper left", fontsize="small")
    right.loglog(latent_dims, means / sums, "o-", color="C2", label="mean / sum = 1/K")
    right.axhline(1.0, color="0.4", ls=":", label="β = 1: the ELBO")
    right.annotate("latent_dim = 2: β = 0.5\n(keras.io 2020, R example)", xy=(2, 0.5), xytext=(5, 0.35),
                   arrowprops={"arrowstyle": "->", "color": "0.3"}, fontsize="small")
    right.set_xlabel("number of latent dimensions K")
    right.set_ylabel("implied β")
    right.set_title("Averaging weighs the KL term by β = 1/K")
    right.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig


# ---- the slider explorer -------------------------------------------------------------------


class KLExplorer(MuSigmaExplorer):
    """Two sliders (mu, sigma) and the figure of q, p and q log(q / p), redrawn on every move.

    The figure is a plain matplotlib ``Figure`` that ``MuSigmaExplorer`` shows as a PNG at its natural size,
    so no pyplot state is touched. Attributes for code and tests: ``mu``, ``sigma`` (the sliders), ``image``,
    ``figure``, ``closed_form`` and ``area`` (the KL by Equation 17-3 and by ``kl_quadrature``).
    """

    def __init__(self, mu=1.5, sigma=0.7, dpi=EXPLORER_DPI, num=1201):
        figure = explorer_figure(940, 340, dpi=dpi)
        self._axes = figure.subplots(1, 2)
        self._z = np.linspace(*Z_LIMITS, int(num))
        super().__init__(figure, mu, sigma)

    def redraw(self, mu, sigma):
        """Both panels drawn afresh for mu and sigma."""
        left, right = self._axes
        left.clear()
        right.clear()
        _draw_densities(left, self._z, mu, sigma)
        self.area = _draw_integrand(right, self._z, mu, sigma)
        self.closed_form = float(kl_per_dimension(mu, sigma))
        for ax in (left, right):
            ax.set_xlim(*Z_LIMITS)
        self.figure.tight_layout()


def kl_explorer(mu=1.5, sigma=0.7):
    """The slider explorer: move mu and sigma, watch q, p, the integrand and its area follow.

    Display it with ``display(...)``; without a widget front end it shows only as text, so the lesson also
    draws ``plot_kl_integrand``.
    """
    return KLExplorer(mu=mu, sigma=sigma)
