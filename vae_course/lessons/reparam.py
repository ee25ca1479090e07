"""The reparameterization trick (lesson 02): z = mu + sigma * eps with eps ~ N(0, 1).

If eps has the standard normal density phi and sigma > 0, the affine map
z = mu + sigma * eps has density phi((z - mu) / sigma) / sigma = N(z; mu, sigma^2):
the mean shifts by mu and the standard deviation scales by sigma. For a fixed
eps, z is a differentiable function of mu and sigma (dz/dmu = 1, dz/dsigma = eps),
which is what lets gradients reach the encoder's outputs.

This module holds the lesson's reference functions, its figures and the
slider explorer. Everything random takes a seed.
"""

import numpy as np

from .. import _quiet  # noqa: F401  (TensorFlow's log level, before anything imports it)
from ..vae.arrays import to_numpy
from .widgets import EXPLORER_DPI, MU_RANGE, SIGMA_RANGE, MuSigmaExplorer, explorer_figure  # noqa: F401

# The slider explorer's fixed x-axis; its sliders' ranges MU_RANGE and SIGMA_RANGE come from vae_course.widgets.
X_LIMITS = (-9.0, 9.0)


# ---- the maths -----------------------------------------------------------------------------


def reparameterize(mu, sigma, eps):
    """z = mu + sigma * eps, elementwise with broadcasting (NumPy arrays or tensors)."""
    return mu + sigma * eps


def sample_normal(mu, sigma, n, seed=0):
    """n draws of N(mu, sigma^2) made from standard normal noise: mu + sigma * eps, eps from ``seed``."""
    eps = np.random.default_rng(seed).standard_normal(int(n))
    return reparameterize(mu, sigma, eps)


def normal_density(z, mu, sigma):
    """N(z; mu, sigma^2) = exp(-(z - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi)), elementwise (NumPy)."""
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-0.5 * np.square((z - mu) / sigma)) / (sigma * np.sqrt(2.0 * np.pi))


def reparam_gradients(mu, sigma, eps):
    """Gradients of mean(z^2), z = mu + sigma * eps, with respect to mu and sigma (tf.GradientTape).

    For fixed eps they equal 2 mean(z) and 2 mean(z * eps); their expectation
    over eps is (2 mu, 2 sigma), the gradient of E[z^2] = mu^2 + sigma^2.
    Returns two Python floats.
    """
    import tensorflow as tf

    mu = tf.Variable(mu, dtype=tf.float32)
    sigma = tf.Variable(sigma, dtype=tf.float32)
    eps = tf.constant(eps, dtype=tf.float32)
    with tf.GradientTape() as tape:
        z = mu + sigma * eps
        loss = tf.reduce_mean(tf.square(z))
    d_mu, d_sigma = tape.gradient(loss, [mu, sigma])
    return float(d_mu), float(d_sigma)


def mc_gradients(mu, sigma, n, seed=0):
    """Monte Carlo estimate of the gradient of E[z^2] by the chain rule through each draw.

    With z = mu + sigma * eps: d(z^2)/dmu = 2z and d(z^2)/dsigma = 2z * eps.
    Averaging over n draws estimates (2 mu, 2 sigma) with standard errors
    2 sigma / sqrt(n) and 2 sqrt(mu^2 + 2 sigma^2) / sqrt(n).
    """
    eps = np.random.default_rng(seed).standard_normal(int(n))
    z = mu + sigma * eps
    return float(np.mean(2 * z)), float(np.mean(2 * z * eps))


def mc_standard_errors(mu, sigma, n):
    """Standard errors of the two estimates from ``mc_gradients`` with n draws."""
    n = np.asarray(n, dtype=np.float64)
    return 2 * sigma / np.sqrt(n), 2 * np.sqrt(mu**2 + 2 * sigma**2) / np.sqrt(n)


# ---- figures -------------------------------------------------------------------------------


def _is_missing(values):
    from ..checks.placeholder import is_placeholder

    return values is None or is_placeholder(values)


def plot_histogram_vs_density(z, mu, sigma, ax=None, bins=50, title=None):
    """Histogram of the draws z (density=True) against the density N(mu, sigma^2); returns the axes.

    The histogram is one filled step outline (``histtype="stepfilled"``), so neighbouring bars have no seams.

    ``z`` may still be the ``____`` placeholder (or None): then only the density is drawn,
    with a note, so a fresh lesson runs top to bottom.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.8))
    half_width = 4.5 * sigma
    grid = np.linspace(mu - half_width, mu + half_width, 400)
    if _is_missing(z):
        ax.text(0.03, 0.95, "no draws yet:\nfinish the exercise above", transform=ax.transAxes,
                ha="left", va="top", color="0.4")
    else:
        z = to_numpy(z, np.float64).ravel()
        ax.hist(z, bins=bins, density=True, histtype="stepfilled", alpha=0.55, color="C0",
                label=f"histogram of {z.size:,} draws")
        grid = np.linspace(min(grid[0], z.min()), max(grid[-1], z.max()), 400)
    ax.plot(grid, normal_density(grid, mu, sigma), color="C3", lw=2, label=f"density N({mu:g}, {sigma:g}²)")
    ax.set_xlabel("z")
    ax.set_ylabel("probability density")
    ax.set_title(title or f"z = μ + σ·ε with μ = {mu:g}, σ = {sigma:g}")
    ax.set_ylim(0, 1.3 * ax.get_ylim()[1])  # headroom for the legend
    ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_reparam_grid(params=((0.0, 1.0), (2.0, 0.5), (-1.0, 2.0)), n=5000, seed=0, bins=40):
    """One panel per (mu, sigma): the SAME eps shifted and stretched, against N(mu, sigma^2); returns the figure.

    Every panel shares the x-axis, so the shift by mu and the stretch by sigma are
    visible side by side; the dashed curve is N(0, 1), where the noise comes from.
    """
    import matplotlib.pyplot as plt

    eps = np.random.default_rng(seed).standard_normal(int(n))
    fig, axes = plt.subplots(1, len(params), figsize=(4.0 * len(params), 3.4), sharex=True, squeeze=False)
    low = min(mu - 4 * sigma for mu, sigma in params)
    high = max(mu + 4 * sigma for mu, sigma in params)
    grid = np.linspace(min(low, -4.0), max(high, 4.0), 400)
    for ax, (mu, sigma) in zip(axes[0], params):
        z = reparameterize(mu, sigma, eps)
        ax.hist(z, bins=bins, density=True, histtype="stepfilled", alpha=0.55, color="C0",
                label="histogram of μ + σ·ε")
        ax.plot(grid, normal_density(grid, mu, sigma), color="C3", lw=2, label="N(μ, σ²)")
        ax.plot(grid, normal_density(grid, 0.0, 1.0), "--", color="0.45", lw=1, label="N(0, 1)")
        ax.set_title(f"μ = {mu:g}, σ = {sigma:g}")
        ax.set_xlabel("z")
    axes[0, 0].set_ylabel("probability density")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(f"The same {int(n):,} standard normal draws ε, shifted by μ and stretched by σ")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_gradient_convergence(estimator=None, mu=1.0, sigma=0.5, sizes=None, seeds=10):
    """Monte Carlo gradient estimates of E[z^2] against the number of draws n, with the exact values.

    ``estimator(mu, sigma, n, seed)`` returns (d/dmu, d/dsigma); when it is None or
    still returns the placeholder, the packaged ``mc_gradients`` is used and the
    title says so. The band is +/- 2 standard errors around 2 mu and 2 sigma.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    sizes = np.array(sizes if sizes is not None else [10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000])
    note = ""
    if estimator is None or _is_missing(estimator) or _is_missing(estimator(mu, sigma, int(sizes[0]), 0)):
        estimator, note = mc_gradients, " (packaged estimator: yours is not written yet)"
    estimates = np.array([[to_numpy(estimator(mu, sigma, int(n), seed), np.float64).ravel() for seed in range(seeds)]
                          for n in sizes])  # (len(sizes), seeds, 2)
    errors = mc_standard_errors(mu, sigma, sizes)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    for k, (ax, exact, se, label) in enumerate(zip(axes, (2 * mu, 2 * sigma), errors, ("μ", "σ"))):
        ax.fill_between(sizes, exact - 2 * se, exact + 2 * se, color="C1", alpha=0.25, label="±2 standard errors")
        ax.axhline(exact, color="C3", lw=2, label=f"exact: 2{label} = {exact:g}")
        ax.semilogx(np.repeat(sizes, seeds), estimates[:, :, k].ravel(), "o", ms=3, color="C0", alpha=0.6,
                    label=f"estimates ({seeds} seeds per n)")
        ax.set_xlabel("number of draws n")
        ax.set_ylabel(f"estimate of ∂E[z²]/∂{label}")
        ax.set_title(f"gradient with respect to {label}")
        ax.legend(loc="upper right", fontsize="small")
    fig.suptitle(f"Monte Carlo gradients through z = μ + σ·ε, μ = {mu:g}, σ = {sigma:g}{note}")
    fig.tight_layout()
    return fig


# ---- the slider explorer -------------------------------------------------------------------


class ReparamExplorer(MuSigmaExplorer):
    """Two sliders (mu, sigma) and a histogram of z = mu + sigma * eps that redraws as they move.

    The noise eps is drawn ONCE; a move only recomputes z, the histogram (one filled step outline, so
    neighbouring bars have no seams) and the density curve on the same matplotlib figure, which
    ``MuSigmaExplorer`` then shows as a PNG at its natural size. Attributes for code and tests: ``mu``,
    ``sigma`` (the sliders), ``eps``, ``z``, ``heights``, ``edges``, ``figure``, ``image``,
    ``update_seconds`` (last redraw).
    """

    def __init__(self, n=5000, seed=0, mu=0.0, sigma=1.0, bins=40, dpi=EXPLORER_DPI):
        self.eps = np.random.default_rng(seed).standard_normal(int(n))
        self._eps_edges = np.linspace(-4.0, 4.0, int(bins) + 1)
        figure = explorer_figure(700, 390, dpi=dpi)
        self._ax = ax = figure.add_subplot()
        self._grid = np.linspace(*X_LIMITS, 400)
        self._histogram = ax.stairs(np.zeros(int(bins)), self._eps_edges, fill=True, color="C0", alpha=0.55,
                                    label="histogram of z = μ + σ·ε")
        (self._curve,) = ax.plot(self._grid, normal_density(self._grid, 0.0, 1.0), color="C3", lw=2,
                                 label="density N(μ, σ²)")
        ax.plot(self._grid, normal_density(self._grid, 0.0, 1.0), "--", color="0.45", lw=1,
                label="N(0, 1), where ε comes from")
        ax.set_xlim(*X_LIMITS)
        ax.set_xlabel("z")
        ax.set_ylabel("probability density")
        ax.legend(loc="upper right", fontsize="small")
        ax.set_title("μ = 0.00, σ = 1.00")
        figure.tight_layout()
        super().__init__(figure, mu, sigma)

    def redraw(self, mu, sigma):
        """New draws z, bin edges (the eps bins, shifted and stretched), bar heights, curve and title."""
        self.z = reparameterize(mu, sigma, self.eps)
        self.edges = reparameterize(mu, sigma, self._eps_edges)
        counts, _ = np.histogram(self.z, bins=self.edges)
        self.heights = counts / (self.z.size * np.diff(self.edges))
        self._histogram.set_data(self.heights, self.edges)
        self._curve.set_ydata(normal_density(self._grid, mu, sigma))
        peak = max(self.heights.max(), normal_density(mu, mu, sigma), normal_density(0.0, 0.0, 1.0))
        self._ax.set_ylim(0, 1.12 * peak)
        self._ax.set_title(f"μ = {mu:.2f}, σ = {sigma:.2f}: sample mean {self.z.mean():.2f}, "
                           f"sample std {self.z.std():.2f}")

    @property
    def sample_mean(self):
        return float(self.z.mean())

    @property
    def sample_std(self):
        return float(self.z.std())


def reparam_explorer(n=5000, seed=0, mu=0.0, sigma=1.0):
    """The slider explorer widget: move mu and sigma, watch the histogram of mu + sigma * eps follow.

    Display it with ``display(...)``; without a widget front end (nbconvert, GitHub)
    it shows only as text, so lessons also draw ``plot_reparam_grid``.
    """
    return ReparamExplorer(n=n, seed=seed, mu=mu, sigma=sigma)
