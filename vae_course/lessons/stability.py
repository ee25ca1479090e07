"""Equation 17-3 against Equation 17-4 in float32: where computing log sigma^2 from sigma breaks (lesson 06).

Both equations give the same KL divergence per latent dimension,

    17-3:  KL = -1/2 (1 + log sigma^2 - sigma^2 - mu^2)
    17-4:  KL = -1/2 (1 + gamma - exp(gamma) - mu^2),   gamma = log sigma^2,

but in float32 they fail in different places. Computing sigma = exp(gamma / 2)
first and then log(sigma^2) loses everything once sigma^2 leaves the float32
range; using gamma directly never takes a log at all. This module evaluates
every form and its derivative d KL / d gamma with ``tf.GradientTape``, finds
the breakdown points, and draws them.
"""

from dataclasses import dataclass, field

import numpy as np
from keras import ops

from .. import _quiet  # noqa: F401  (TensorFlow's log level, before TensorFlow loads)
from ..vae.maths import kl_log_var, kl_sigma

_F32 = np.finfo(np.float32)

#: Where float32 runs out, as values of gamma = log sigma^2 (natural logs of float32 limits).
FLOAT32_LIMITS = {
    # exp(gamma) is larger than the largest float32, 3.4e38: it becomes inf.
    "exp_overflows": float(np.log(np.float64(_F32.max))),
    # sigma^2 is below the smallest normal float32, 1.2e-38: it is subnormal (or 0 if flushed).
    "subnormal": float(np.log(np.float64(_F32.tiny))),
    # sigma^2 is the smallest subnormal float32, 2^-149 = 1.4e-45.
    "smallest_subnormal": float(-149 * np.log(2.0)),
    # sigma^2 is below half the smallest subnormal, 2^-150: it rounds to 0 even with subnormals.
    "underflows_to_zero": float(-150 * np.log(2.0)),
}


# ---- the forms of the KL term, as functions of (mu, gamma) ------------------------------------

def kl_17_3_via_sigma(mu, log_var):
    """Equation 17-3 the fragile way: sigma = exp(gamma / 2) first, then log(sigma^2) inside the KL."""
    log_var = ops.convert_to_tensor(log_var)
    return kl_sigma(mu, ops.exp(log_var / 2))


def kl_17_4_plain(mu, log_var):
    """Equation 17-4 as printed: -1/2 sum_i (1 + gamma_i - exp(gamma_i) - mu_i^2)."""
    mu = ops.convert_to_tensor(mu)
    log_var = ops.convert_to_tensor(log_var, dtype=mu.dtype)
    return -0.5 * ops.sum(1.0 + log_var - ops.exp(log_var) - ops.square(mu), axis=-1)


def clamped(low=-20.0, high=20.0):
    """Equation 17-4 on gamma clipped to [low, high] (the fix of synthcity#331): finite, but d KL / d gamma = 0
    outside."""

    def kl_17_4_clamped(mu, log_var):
        return kl_log_var(mu, ops.clip(ops.convert_to_tensor(log_var), low, high))

    kl_17_4_clamped.__name__ = f"kl_17_4_clamped_{low:g}_{high:g}"
    return kl_17_4_clamped


#: The forms compared in lesson 06, by the label used in tables and figures.
FORMS = {
    "17-3 via σ = exp(γ/2)": kl_17_3_via_sigma,
    "17-4 as printed": kl_17_4_plain,
    "vae_course.kl_log_var (expm1)": kl_log_var,
}


def kl_and_gradient(form, gammas, mu=0.0):
    """KL per latent dimension and d KL / d gamma at each gamma, both float32 NumPy arrays.

    Each gamma is one example with a single latent dimension (mean ``mu``), so
    the gradient of the summed KL gives every example's own derivative.
    """
    import tensorflow as tf

    gamma = tf.constant(np.asarray(gammas, dtype=np.float32).reshape(-1, 1))
    mean = tf.fill(tf.shape(gamma), tf.constant(mu, tf.float32))
    with tf.GradientTape() as tape:
        tape.watch(gamma)
        kl = form(mean, gamma)
        total = tf.reduce_sum(kl)
    grad = tape.gradient(total, gamma)
    if grad is None:  # the form cut the graph (it never does for the forms above)
        grad = tf.zeros_like(gamma)
    return np.asarray(kl, dtype=np.float32).reshape(-1), np.asarray(grad, dtype=np.float32).reshape(-1)


@dataclass
class Scan:
    """Every form's KL and gradient over one grid of gammas (float32)."""

    gammas: np.ndarray
    kl: dict = field(default_factory=dict)
    grad: dict = field(default_factory=dict)


def scan_kl_forms(gammas, forms=None, mu=0.0):
    """Evaluate each form (default: ``FORMS``) and its gradient at every gamma."""
    gammas = np.asarray(gammas, dtype=np.float32)
    scan = Scan(gammas)
    for label, form in (forms or FORMS).items():
        scan.kl[label], scan.grad[label] = kl_and_gradient(form, gammas, mu)
    return scan


# ---- breakdown points --------------------------------------------------------------------------

def first_gamma_where(predicate, start, stop, num=2001, rounds=3):
    """Walking from ``start`` to ``stop``, the first float32 gamma where ``predicate(gammas)`` is True.

    ``predicate`` takes a float32 array and returns a boolean array. The walk
    uses ``num`` points, then zooms ``rounds`` times into the step where the
    answer changes, so the result is exact to about (stop - start) / num**(rounds + 1).
    Returns None if the predicate is False all the way.
    """
    grid = np.linspace(start, stop, num).astype(np.float32)
    hits = np.asarray(predicate(grid), dtype=bool)
    if not hits.any():
        return None
    i = int(np.argmax(hits))
    for _ in range(rounds):
        if i == 0:
            break
        grid = np.linspace(grid[i - 1], grid[i], num).astype(np.float32)
        hits = np.asarray(predicate(grid), dtype=bool)
        i = int(np.argmax(hits))
    return float(grid[i])


@dataclass
class Breakdown:
    """Where one quantity of one form stops being finite, walking from gamma = 0 to one side."""

    form: str
    quantity: str  # "KL" or "dKL/dγ"
    side: str  # "low" (gamma < 0) or "high" (gamma > 0)
    gamma: object  # float, or None when it stays finite up to the limit
    value: float = float("nan")  # what the quantity is just past the breakdown: inf, -inf or nan

    @property
    def kind(self):
        if self.gamma is None:
            return "finite"
        return "NaN" if np.isnan(self.value) else ("+inf" if self.value > 0 else "-inf")


def breakdown_points(forms=None, low=-120.0, high=100.0, mu=0.0):
    """For each form, the first gamma (walking out from 0 to ``low`` and to ``high``) where KL or its gradient is not
    finite."""
    rows = []
    for label, form in (forms or FORMS).items():
        for index, quantity in enumerate(("KL", "dKL/dγ")):
            for side, stop in (("low", low), ("high", high)):

                def broken(g, form=form, index=index):
                    return ~np.isfinite(kl_and_gradient(form, g, mu)[index])

                gamma = first_gamma_where(broken, 0.0, stop)
                value = float("nan") if gamma is None else float(kl_and_gradient(form, [gamma], mu)[index][0])
                rows.append(Breakdown(label, quantity, side, gamma, value))
    return rows


def breakdown_table(rows):
    """The rows of ``breakdown_points`` as aligned text, gammas to 2 decimals."""
    lines = [f"{'form':<31} {'quantity':<8} {'γ < 0 side':>18} {'γ > 0 side':>18}"]
    by_key = {(r.form, r.quantity, r.side): r for r in rows}
    for form in dict.fromkeys(r.form for r in rows):
        for quantity in ("KL", "dKL/dγ"):
            cells = []
            for side in ("low", "high"):
                r = by_key.get((form, quantity, side))
                cells.append("finite" if r is None or r.gamma is None else f"{r.kind} from {r.gamma:.2f}")
            lines.append(f"{form:<31} {quantity:<8} {cells[0]:>18} {cells[1]:>18}")
    return "\n".join(lines)


def first_gamma_where_17_3_breaks(gammas, backend="tensorflow"):
    """Reference answer of lesson 06's exercise: the first gamma (in the order given) where Equation 17-3,
    computed from sigma = exp(gamma / 2) in float32 with mu = 0, is not finite; None if there is none.

    ``backend="numpy"`` computes with NumPy, which keeps subnormal numbers; TensorFlow on a CPU flushes
    them to zero, so its answer is the subnormal threshold (about -87.34) rather than -103.97.
    """
    gammas = np.asarray(gammas, dtype=np.float32).reshape(-1)
    if backend == "numpy":
        with np.errstate(all="ignore"):
            sigma = np.exp(gammas / np.float32(2))
            kl = np.float32(-0.5) * (np.float32(1) + np.log(sigma**2) - sigma**2)
    elif backend == "tensorflow":
        kl = kl_and_gradient(kl_17_3_via_sigma, gammas)[0]
    else:
        raise ValueError(f"backend must be 'tensorflow' or 'numpy', got {backend!r}")
    broken = ~np.isfinite(kl)
    return float(gammas[np.argmax(broken)]) if broken.any() else None


# ---- sigma^2 near the bottom of float32 --------------------------------------------------------

def sigma_squared_float32(gammas, backend="tensorflow"):
    """sigma^2 computed as exp(gamma / 2) ** 2 in float32, by TensorFlow (flushes subnormals) or NumPy (keeps them)."""
    gammas = np.asarray(gammas, dtype=np.float32)
    if backend == "numpy":
        with np.errstate(all="ignore"):
            sigma = np.exp(gammas / np.float32(2))
            return sigma * sigma
    if backend == "tensorflow":
        import tensorflow as tf

        sigma = tf.exp(tf.constant(gammas) / 2)
        return (sigma * sigma).numpy()
    raise ValueError(f"backend must be 'tensorflow' or 'numpy', got {backend!r}")


def underflow_points(low=-120.0):
    """Measured gammas (walking down from 0) where sigma^2 = exp(gamma / 2) ** 2 leaves the normal float32 range.

    Keys: ``subnormal`` (NumPy's sigma^2 below the smallest normal float32),
    ``zero_numpy`` and ``zero_tensorflow`` (sigma^2 == 0 in each library).
    """
    tiny = np.float32(_F32.tiny)
    return {
        "subnormal": first_gamma_where(lambda g: sigma_squared_float32(g, "numpy") < tiny, 0.0, low),
        "zero_numpy": first_gamma_where(lambda g: sigma_squared_float32(g, "numpy") == 0, 0.0, low),
        "zero_tensorflow": first_gamma_where(lambda g: sigma_squared_float32(g, "tensorflow") == 0, 0.0, low),
    }


def log_sigma_squared_error(gammas):
    """|log(sigma^2) - gamma| with sigma^2 from NumPy float32: the digits lost to subnormal numbers (inf once sigma^2
    = 0)."""
    var = sigma_squared_float32(gammas, "numpy").astype(np.float64)
    with np.errstate(divide="ignore"):
        return np.abs(np.log(var) - np.asarray(gammas, dtype=np.float64))


# ---- figures -----------------------------------------------------------------------------------

_STYLES = {
    "17-3 via σ = exp(γ/2)": {"color": "#cf222e", "lw": 2.5},
    "17-4 as printed": {"color": "#0969da", "lw": 1.5, "ls": "--"},
    "vae_course.kl_log_var (expm1)": {"color": "#1a7f37", "lw": 1.5, "ls": ":"},
}


def _mark_nonfinite(ax, gammas, values, row, style, label):
    """Tick marks along the top of ``ax`` where ``values`` is not finite (one row per form)."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    transform = ax.get_xaxis_transform()
    y = 0.96 - 0.05 * row
    for kind, mask, marker in (("inf", np.isinf(values), "|"), ("NaN", np.isnan(values), "x")):
        if mask.any():
            ax.plot(gammas[mask][::20], np.full(mask[mask][::20].shape, y), linestyle="none", marker=marker,
                    color=style["color"], transform=transform, markersize=5,
                    label=f"{label}: {kind}")


def _breakdown_labels(rows):
    """{gamma rounded to 2 decimals: "γ = ..., which forms break there"} for the vertical lines of a figure."""
    forms = {}
    for r in rows or []:
        if r.gamma is not None:
            forms.setdefault(round(r.gamma, 2), set()).add(r.form)
    every = {r.form for r in rows or []}
    labels = {}
    for g, broken in sorted(forms.items()):
        who = "every form" if broken == every else ", ".join(f.split(" ")[0] for f in sorted(broken)) + " only"
        labels[g] = f"γ = {g:.2f}: {who}"
    return labels


def plot_kl_forms(scan, rows=None, title="Equation 17-3 via σ against Equation 17-4, in float32"):
    """Two panels against gamma: the KL of one latent dimension and d KL / d gamma, one line per form.

    Non-finite values are drawn as marks along the top of each panel (| for inf,
    x for NaN); the breakdown points in ``rows`` (from ``breakdown_points``) are
    vertical lines. Returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    for ax, values, ylabel in ((axes[0], scan.kl, "KL of one dimension (nats, μ = 0)"),
                               (axes[1], scan.grad, "dKL/dγ")):
        for row, (label, y) in enumerate(values.items()):
            style = _STYLES.get(label, {"color": "#8250df", "lw": 2, "ls": "-."})
            finite = np.where(np.isfinite(y), y, np.nan)
            ax.plot(scan.gammas, finite, label=label, **style)
            _mark_nonfinite(ax, scan.gammas, y, row, style, "not finite")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xlabel("γ = log σ²")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        for g, text in _breakdown_labels(rows).items():
            ax.axvline(g, color="grey", lw=0.8)
            ax.annotate(text, (g, 0.03), xycoords=("data", "axes fraction"), rotation=90,
                        ha="right", va="bottom", fontsize=8, color="dimgrey")
    axes[0].set_title("the KL term")
    axes[1].set_title("its gradient")
    handles, labels = axes[0].get_legend_handles_labels()
    seen = {}
    for h, lab in zip(handles, labels):
        if lab.startswith("not finite"):
            lab = "not finite (| inf, x NaN)"
        seen.setdefault(lab, h)
    axes[0].legend(seen.values(), seen.keys(), loc="center left", bbox_to_anchor=(0.2, 0.6), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_underflow(gammas):
    """sigma^2 in float32 by TensorFlow and NumPy against the exact exp(gamma), and NumPy's error in log sigma^2."""
    import matplotlib.pyplot as plt

    gammas = np.asarray(gammas, dtype=np.float32)
    exact = np.exp(gammas.astype(np.float64))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    left.semilogy(gammas, exact, color="black", lw=1, label="exact exp(γ) (float64)")
    styles = (("numpy", {"color": "#9a6700", "lw": 2.5}), ("tensorflow", {"color": "#cf222e", "lw": 1.5, "ls": "--"}))
    for backend, style in styles:
        var = sigma_squared_float32(gammas, backend).astype(np.float64)
        left.semilogy(gammas, np.where(var > 0, var, np.nan), label=f"σ² in float32, {backend}", **style)
    limits = FLOAT32_LIMITS
    for key, text in (("subnormal", "smallest normal float32"), ("underflows_to_zero", "rounds to 0")):
        for ax in (left, right):
            ax.axvline(limits[key], color="grey", lw=0.8)
        left.annotate(f"{text}\nγ = {limits[key]:.2f}", (limits[key], 0.97), xycoords=("data", "axes fraction"),
                      ha="right", va="top", fontsize=8, color="grey")
    left.set_xlabel("γ = log σ²")
    left.set_ylabel("σ² (log scale; 0 is not drawn)")
    left.set_title("σ² = exp(γ/2)² at the bottom of float32")
    left.legend(loc="lower right", fontsize=8)
    error = log_sigma_squared_error(gammas)
    right.semilogy(gammas, np.where(np.isfinite(error) & (error > 0), error, np.nan), color="#9a6700")
    right.set_xlabel("γ = log σ²")
    right.set_ylabel("|log(σ²) − γ| (nats, log scale)")
    right.set_title("NumPy: digits lost in log(σ²) once σ² is subnormal")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_standardized_noise(samples, bins=40):
    """Histograms of eps = (z - z_mean) / exp(z_log_var / 2), one per entry of ``samples`` ({label: eps}), against
    N(0, 1).

    If a sampling layer is right, eps recovered from its output is standard normal whatever mean and log_var were.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    grid = np.linspace(-4, 4, 400)
    for (label, eps), style in zip(samples.items(), ({"histtype": "stepfilled", "alpha": 0.35},
                                                      {"histtype": "step", "lw": 2},
                                                      {"histtype": "step", "lw": 1.5, "ls": "--"})):
        eps = np.asarray(eps, dtype=np.float64).ravel()
        ax.hist(eps, bins=bins, range=(-4, 4), density=True, label=f"{label} ({eps.size:,} values)", **style)
    ax.plot(grid, np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi), color="black", lw=1.5, label="N(0, 1) density")
    ax.set_xlabel("ε = (z − z_mean) / exp(z_log_var / 2)")
    ax.set_ylabel("probability density")
    ax.set_title("The noise recovered from each sampling layer")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


# ---- a slider to explore one gamma at a time ----------------------------------------------------

def describe_gamma(gamma, mu=0.0):
    """One line per quantity at a single gamma, in float32: sigma^2 by both libraries, and each form's KL and
    gradient."""
    g = np.float32(gamma)
    lines = [f"γ = {float(g):.6g}",
             f"σ² = exp(γ/2)²: TensorFlow {sigma_squared_float32([g], 'tensorflow')[0]:.4g}, "
             f"NumPy {sigma_squared_float32([g], 'numpy')[0]:.4g}, exact {np.exp(np.float64(g)):.4g}"]
    for label, form in FORMS.items():
        kl, grad = kl_and_gradient(form, [g], mu)
        lines.append(f"{label}: KL = {kl[0]:.6g}, dKL/dγ = {grad[0]:.6g}")
    return "\n".join(lines)


def gamma_explorer(value=-90.0, low=-120.0, high=100.0):
    """A slider for gamma and a text box that shows ``describe_gamma`` for the value chosen (needs ipywidgets)."""
    import html

    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=value, min=low, max=high, step=0.1, description="γ = log σ²",
                                 continuous_update=False, layout=widgets.Layout(width="60%"))
    text = widgets.HTML()

    def update(change=None):
        text.value = "<pre>" + html.escape(describe_gamma(slider.value)) + "</pre>"

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, text])
