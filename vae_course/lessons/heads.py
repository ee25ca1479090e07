"""The scale head of a VAE encoder (lesson 04): four ways to turn h into sigma, and the 2016 mix-up.

The encoder's last Dense layer outputs an unconstrained real number h per latent
dimension. A parameterization turns it into a standard deviation sigma:

=============  ====================  ===========================  ======================
kind           sigma                 log sigma^2 for the KL term  d sigma / d h
=============  ====================  ===========================  ======================
``raw``        h                     log(h^2)                     1
``log_sigma``  exp(h)                2 h                          exp(h)
``log_var``    exp(h / 2)            h                            exp(h / 2) / 2
``softplus``   log(1 + exp(h))       log(softplus(h)^2)           sigmoid(h)
=============  ====================  ===========================  ======================

The KL term of one latent dimension is KL = 1/2 (sigma^2 + mu^2 - 1 - log sigma^2),
so dKL/dh = (sigma - 1/sigma) * d sigma / d h.

The 2016 Keras blog VAE samples z = z_mean + exp(h) * eps (h read as log sigma) but
charges the KL term -1/2 (1 + h - z_mean^2 - exp(h)) (h read as log sigma^2).
``make_vae_2016`` builds that model; ``elbo_terms_2016`` scores it with the KL of the
distribution its sampler really draws from.
"""

import math

import keras
import numpy as np
from keras import ops

from .. import _quiet  # noqa: F401  (TensorFlow's log level, before TensorFlow loads)
from ..vae.elbo import negative_elbo
from ..vae.maths import kl_log_var
from ..vae.model import VAE, build_decoder, build_encoder

HEAD_KINDS = ("raw", "log_sigma", "log_var", "softplus")
HEAD_LABELS = {
    "raw": "raw: σ = h",
    "log_sigma": "log σ: σ = exp(h)",
    "log_var": "log σ²: σ = exp(h / 2)",
    "softplus": "softplus: σ = log(1 + exp(h))",
}
HEAD_COLOURS = {"raw": "tab:gray", "log_sigma": "tab:orange", "log_var": "tab:blue", "softplus": "tab:green"}


def _check_kind(kind):
    if kind not in HEAD_KINDS:
        raise ValueError(f"Unknown head kind {kind!r}; choose one of {', '.join(HEAD_KINDS)}.")


# ---- the four parameterizations ------------------------------------------------------------


def sigma_from_head(h, kind):
    """sigma for head output h: h (raw), exp(h) (log_sigma), exp(h/2) (log_var) or softplus(h), elementwise."""
    _check_kind(kind)
    h = ops.convert_to_tensor(h)
    if kind == "raw":
        return h
    if kind == "log_sigma":
        return ops.exp(h)
    if kind == "log_var":
        return ops.exp(h / 2)
    return ops.softplus(h)


def log_var_from_head(h, kind):
    """log sigma^2 as the KL term gets it: log(h^2), 2h, h, or log(softplus(h)^2).

    The two exp heads hand over log sigma^2 without taking a log (2h and h);
    the raw and softplus heads must take the log of sigma^2, which is -inf
    wherever sigma^2 rounds to 0 in the working precision.
    """
    _check_kind(kind)
    h = ops.convert_to_tensor(h)
    if kind == "log_sigma":
        return 2 * h
    if kind == "log_var":
        return h
    return ops.log(ops.square(sigma_from_head(h, kind)))


def kl_from_head(mu, h, kind):
    """KL(N(mu, sigma^2) || N(0, 1)) = -1/2 sum_i (1 + log sigma_i^2 - sigma_i^2 - mu_i^2) for head h.

    sigma^2 is computed as square(sigma_from_head(h, kind)) and log sigma^2 by
    ``log_var_from_head``; sums over the last axis like ``kl_log_var``.
    """
    h = ops.convert_to_tensor(h)
    mu = ops.convert_to_tensor(mu, dtype=h.dtype)
    var = ops.square(sigma_from_head(h, kind))
    return -0.5 * ops.sum(1.0 + log_var_from_head(h, kind) - var - ops.square(mu), axis=-1)


def head_gradients(h, kind, mu=0.0, dtype="float32"):
    """d sigma / d h and d KL / d h at each value of the 1-D array h, by automatic differentiation.

    KL is one latent dimension's KL term with mean ``mu`` (``kl_from_head``).
    Computed by TensorFlow in ``dtype``, so the float32 failures (inf, NaN) are
    the ones a model in training would meet. Returns two NumPy arrays.
    """
    import tensorflow as tf

    h = tf.Variable(np.asarray(h, dtype=dtype).reshape(-1, 1))
    with tf.GradientTape(persistent=True) as tape:
        sigma = sigma_from_head(h, kind)
        kl = kl_from_head(tf.fill(tf.shape(h), tf.constant(mu, dtype=dtype)), h, kind)
    dsigma = tape.gradient(sigma, h)
    dkl = tape.gradient(kl, h)
    del tape
    return dsigma.numpy().ravel(), dkl.numpy().ravel()


# ---- where float32 breaks ------------------------------------------------------------------

TABLE_COLUMNS = (
    ("raw: log(h²)", lambda h: log_var_from_head(h, "raw")),
    ("softplus: log(σ²)", lambda h: log_var_from_head(h, "softplus")),
    ("log σ: log(exp(h)²)", lambda h: ops.log(ops.square(ops.exp(h)))),
    ("log σ: 2h", lambda h: log_var_from_head(h, "log_sigma")),
    ("log σ²: h", lambda h: log_var_from_head(h, "log_var")),
)


def log_var_table(h_values, dtype="float32"):
    """Rows (h, value per column of ``TABLE_COLUMNS``): log sigma^2 computed each way, in ``dtype``."""
    h = ops.convert_to_tensor(np.asarray(h_values, dtype=dtype))
    columns = [ops.convert_to_numpy(fn(h)) for _, fn in TABLE_COLUMNS]
    return [(float(h_value), *(float(col[i]) for col in columns)) for i, h_value in enumerate(np.asarray(h_values))]


def _cell(value, width):
    if math.isnan(value):
        text = "nan"
    elif math.isinf(value):
        text = "-inf" if value < 0 else "inf"
    else:
        text = f"{value:.4g}"
    return text.rjust(width)


def format_log_var_table(h_values, dtype="float32"):
    """``log_var_table`` as fixed-width text: one row per h, "-inf" where the log of 0 was taken."""
    widths = [8] + [max(len(name), 9) for name, _ in TABLE_COLUMNS]
    header = "h".rjust(widths[0]) + "".join("  " + name.rjust(w) for (name, _), w in zip(TABLE_COLUMNS, widths[1:]))
    lines = [header, "-" * len(header)]
    for row in log_var_table(h_values, dtype):
        lines.append("".join(("  " if i else "") + _cell(v, w) for i, (v, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def _first(mask, values):
    """The first value where ``mask`` holds, or None."""
    hits = np.flatnonzero(mask)
    return float(values[hits[0]]) if len(hits) else None


def _last(mask, values):
    hits = np.flatnonzero(mask)
    return float(values[hits[-1]]) if len(hits) else None


def breakdown_points(dtype="float32", step=0.01, limit=200.0):
    """Where each head's KL ingredients stop being finite, found by scanning h over [-limit, limit] in ``dtype``.

    Returns a dict per kind with (None where it never happens in the range):
    ``log_var_minus_inf_below``: largest negative h where log sigma^2 is -inf;
    ``variance_zero_below``: largest negative h where sigma^2 rounds to 0;
    ``variance_inf_above``: smallest h where sigma^2 overflows to inf.
    The raw head also gets ``log_var_minus_inf_near_zero``: the largest |h| with log(h^2) = -inf.
    """
    h_np = np.arange(-limit, limit + step / 2, step).astype(dtype)
    h = ops.convert_to_tensor(h_np)
    result = {}
    for kind in HEAD_KINDS:
        var = ops.convert_to_numpy(ops.square(sigma_from_head(h, kind)))
        log_var = ops.convert_to_numpy(log_var_from_head(h, kind))
        negative = h_np < 0
        entry = {
            "log_var_minus_inf_below": _last(np.isneginf(log_var) & negative & (h_np < -1), h_np),
            "variance_zero_below": _last((var == 0) & negative & (h_np < -1), h_np),
            "variance_inf_above": _first(np.isposinf(var), h_np),
        }
        if kind == "raw":
            tiny = np.logspace(-50, 0, 2001).astype(dtype)
            tiny_log = ops.convert_to_numpy(log_var_from_head(ops.convert_to_tensor(tiny), "raw"))
            entry["log_var_minus_inf_near_zero"] = _last(np.isneginf(tiny_log), tiny)
        result[kind] = entry
    return result


def format_breakdown_points(points=None):
    """``breakdown_points`` (computed in float32 if not given) as one line of words per head."""
    points = breakdown_points() if points is None else points
    lines = []
    for kind, where in points.items():
        parts = []
        if where.get("log_var_minus_inf_near_zero") is not None:
            parts.append(f"log σ² = -inf for |h| below {where['log_var_minus_inf_near_zero']:.1e}")
        elif where["log_var_minus_inf_below"] is not None:
            parts.append(f"log σ² = -inf below h = {where['log_var_minus_inf_below']:.2f}")
        else:
            parts.append("log σ² never -inf")
        if where["variance_zero_below"] is not None:
            parts.append(f"σ² = 0 below h = {where['variance_zero_below']:.2f}")
        if where["variance_inf_above"] is not None:
            parts.append(f"σ² = inf above h = {where['variance_inf_above']:.2f}")
        lines.append(f"{kind:>9}: " + "; ".join(parts))
    return "\n".join(lines)


# ---- the 2016 model ------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="vae_course")
class VAE2016(VAE):
    """The 2016 blog VAE's inconsistency, isolated: its sampler and its KL term disagree about h.

    The encoder's second head h (``z_log_sigma`` in the blog) is used twice:

    - sampler: z = z_mean + exp(h) * epsilon_std * eps, eps ~ N(0, 1), so the
      distribution actually drawn from has log sigma^2 = 2h + 2 log(epsilon_std);
    - KL term: -1/2 sum (1 + h - z_mean^2 - exp(h)), Equation 17-4 with gamma = h,
      i.e. the loss believes log sigma^2 = h.

    Everything else (architecture, reconstruction term -log p(x | z) from the
    model's likelihood, KL summed over latents, beta) is the consistent ``VAE``'s,
    so only the sigma mismatch differs. The noise comes from the base class's ``Sampling`` layer,
    fed the actual log-variance, so with the same seed both models draw the same eps.
    """

    def __init__(self, encoder, decoder, epsilon_std=1.0, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if not epsilon_std > 0:
            raise ValueError(f"epsilon_std must be positive, got {epsilon_std}")
        self.epsilon_std = float(epsilon_std)

    def actual_log_var(self, z_log_sigma):
        """log sigma^2 of the distribution the sampler draws from: 2h + 2 log(epsilon_std)."""
        return 2.0 * z_log_sigma + 2.0 * math.log(self.epsilon_std)

    def believed_log_var(self, z_log_sigma):
        """log sigma^2 as the KL term reads it: h itself."""
        return z_log_sigma

    def sample(self, z_mean, z_log_sigma):
        """z = z_mean + exp(z_log_sigma) * epsilon_std * eps: the blog's sampler."""
        return self.sampling([z_mean, self.actual_log_var(z_log_sigma)])

    def call(self, x, training=False):
        z_mean, z_log_sigma = self.encoder(x, training=training)
        return self.likelihood.mean(self.decoder(self.sample(z_mean, z_log_sigma), training=training))

    def compute_losses(self, x, training=False):
        """The blog's objective: reconstruction of z drawn with exp(h), plus the KL term written for log sigma^2 = h."""
        z_mean, z_log_sigma = self.encoder(x, training=training)
        logits = self.decoder(self.sample(z_mean, z_log_sigma), training=training)
        reconstruction = ops.mean(self.reconstruction_term(x, logits))
        reported_kl = ops.mean(kl_log_var(z_mean, self.believed_log_var(z_log_sigma)))
        return reconstruction + self.beta * reported_kl, reconstruction, reported_kl

    def get_config(self):
        return {**super().get_config(), "epsilon_std": self.epsilon_std}


def make_vae_2016(input_shape, latent_dim=2, hidden=(256, 128), beta=1.0, activation="gelu", seed=None,
                  epsilon_std=1.0):
    """``make_vae``'s architecture with the 2016 sampler/KL pair (``VAE2016``); epsilon_std=1 isolates the sigma
    mix-up."""
    input_shape = tuple(int(d) for d in input_shape)
    encoder = build_encoder(input_shape, latent_dim, hidden, activation)
    decoder = build_decoder(input_shape, latent_dim, tuple(reversed(hidden)), activation)
    vae = VAE2016(encoder, decoder, epsilon_std=epsilon_std, beta=beta, seed=seed, name="vae_2016")
    vae(ops.zeros((1,) + input_shape))  # builds every weight
    return vae


# ---- scoring a model with the KL of what it samples -----------------------------------------


def _encode(vae, batch):
    z_mean, head = vae.encoder(batch, training=False)
    return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(head)


def _log_vars(vae, head):
    """(actual, believed) log sigma^2 for a batch of head outputs of any VAE of the course."""
    if isinstance(vae, VAE2016):
        return (ops.convert_to_numpy(vae.actual_log_var(ops.convert_to_tensor(head))),
                ops.convert_to_numpy(vae.believed_log_var(ops.convert_to_tensor(head))))
    return head, head


def elbo_terms_2016(vae, x, n_samples=10, seed=0, batch_size=1024):
    """Per-example reconstruction, true KL and reported KL, in nats, for a ``VAE2016`` (or a ``VAE``).

    reconstruction = -E_q[log p(x | z)] (the model's likelihood) by ``n_samples`` draws of z
    from the q the sampler really uses, sigma = exp(h) * epsilon_std;
    true KL = KL(q || N(0, I)) = kl_log_var(z_mean, 2h + 2 log epsilon_std)
    (= kl_sigma(z_mean, exp(h)) when epsilon_std = 1);
    reported KL = kl_log_var(z_mean, h), the term the model was trained on.
    For a consistent ``VAE`` the two KLs coincide. Returns a dict of NumPy arrays.
    """
    x = np.asarray(x, dtype=np.float32)
    rng = np.random.default_rng(seed)
    parts = {"reconstruction": [], "true_kl": [], "reported_kl": []}
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        z_mean, head = _encode(vae, batch)
        actual, believed = _log_vars(vae, head)
        sigma = np.exp(0.5 * actual)
        total = np.zeros(len(batch))
        for _ in range(n_samples):
            z = (z_mean + sigma * rng.standard_normal(z_mean.shape)).astype(np.float32)
            total += ops.convert_to_numpy(-vae.likelihood.log_prob(batch, vae.decoder(z, training=False)))
        parts["reconstruction"].append(total / n_samples)
        parts["true_kl"].append(ops.convert_to_numpy(kl_log_var(z_mean, actual)))
        parts["reported_kl"].append(ops.convert_to_numpy(kl_log_var(z_mean, believed)))
    return {key: np.concatenate(value).astype(np.float64) for key, value in parts.items()}


def true_negative_elbo(vae, x, n_samples=10, seed=0, return_terms=False):
    """Mean true negative ELBO in nats: E_q[-log p(x | z)] + KL(q || p) with q the distribution actually sampled.

    For a consistent ``VAE`` this is ``vae_course.negative_elbo``; for a ``VAE2016`` the
    KL is that of sigma = exp(h) * epsilon_std, not the one its loss reports.
    With ``return_terms`` returns (negative ELBO, reconstruction, KL) as floats.
    """
    if not isinstance(vae, VAE2016):
        return negative_elbo(vae, x, n_samples=n_samples, seed=seed, return_terms=return_terms)
    terms = elbo_terms_2016(vae, x, n_samples=n_samples, seed=seed)
    reconstruction, kl = float(np.mean(terms["reconstruction"])), float(np.mean(terms["true_kl"]))
    value = reconstruction + kl
    return (value, reconstruction, kl) if return_terms else value


def posterior_scales(vae, x):
    """sigma per example and latent dimension: (actual, believed), the one sampled and the one the KL term assumes."""
    _, head = _encode(vae, np.asarray(x, dtype=np.float32))
    actual, believed = _log_vars(vae, head)
    return np.exp(0.5 * actual.astype(np.float64)), np.exp(0.5 * believed.astype(np.float64))


# ---- figures -------------------------------------------------------------------------------


def _axes(ax, figsize=(6.5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_sigma_vs_head(h=None, ax=None):
    """sigma against h for the four heads on a log scale; the raw head's h <= 0 (no valid sigma) is shaded."""
    h = np.linspace(-10, 10, 801) if h is None else np.asarray(h, dtype=np.float64)
    fig, ax = _axes(ax)
    for kind in HEAD_KINDS:
        sigma = np.asarray(ops.convert_to_numpy(sigma_from_head(h, kind)), dtype=np.float64)
        shown = np.where(sigma > 0, sigma, np.nan)
        ax.plot(h, shown, color=HEAD_COLOURS[kind], label=HEAD_LABELS[kind], lw=2,
                ls="--" if kind == "raw" else "-")
    ax.axvspan(h.min(), 0, color=HEAD_COLOURS["raw"], alpha=0.12, label="raw head: σ ≤ 0 here")
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 1e5)
    ax.set_xlabel("h (the encoder's unconstrained output)")
    ax.set_ylabel("σ (log scale)")
    ax.set_title("Four ways to turn h into a standard deviation")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_head_gradients(h=None, mu=0.0):
    """Two panels: d sigma / d h (log scale) and d KL / d h (symmetric log scale) for each head, float32 autodiff."""
    import matplotlib.pyplot as plt

    h = np.linspace(-10, 10, 801) if h is None else np.asarray(h)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for kind in HEAD_KINDS:
        dsigma, dkl = head_gradients(h, kind, mu=mu)
        style = dict(color=HEAD_COLOURS[kind], label=HEAD_LABELS[kind], lw=2, ls="--" if kind == "raw" else "-")
        left.plot(h, dsigma, **style)
        right.plot(h, dkl, **style)
    left.set_yscale("log")
    left.set_ylim(1e-5, 1e5)
    left.set_title("How fast σ moves: dσ/dh")
    left.set_ylabel("dσ/dh (log scale)")
    right.set_yscale("symlog", linthresh=1.0)
    right.axhline(0, color="black", lw=0.5)
    right.set_title(f"What the KL term pushes: dKL/dh (μ = {mu:g})")
    right.set_ylabel("dKL/dh (symmetric log scale)")
    for ax in (left, right):
        ax.set_xlabel("h")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_reported_vs_true_kl(reported, true, ax=None):
    """Scatter of each test example's KL as the loss reports it against the KL of the q actually sampled."""
    reported, true = np.asarray(reported), np.asarray(true)
    fig, ax = _axes(ax, figsize=(5, 4.5))
    ax.scatter(reported, true, s=10, alpha=0.6, color=HEAD_COLOURS["log_sigma"], label="one test image")
    top = float(max(reported.max(), true.max())) * 1.05
    line = np.array([0.0, top])
    ax.plot(line, line, color="black", lw=1, label="true = reported")
    ax.plot(line, 2 * line, color="black", lw=1, ls=":", label="true = 2 × reported")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("KL the loss reports (nats)")
    ax.set_ylabel("true KL of the q it samples from (nats)")
    ax.set_title("The 2016 model's KL term undercharges")
    ax.legend(fontsize=8)
    return fig


def plot_learned_sigmas(scales, ax=None):
    """Histograms (log-spaced bins) of learned sigmas; ``scales`` maps a label to an array of sigmas."""
    fig, ax = _axes(ax)
    values = np.concatenate([np.ravel(v) for v in scales.values()])
    bins = np.geomspace(max(values.min(), 1e-6) / 1.2, values.max() * 1.2, 50)
    colours = ["tab:blue", "tab:orange", "tab:red", "tab:purple"]
    for (label, sigma), colour in zip(scales.items(), colours):
        ax.hist(np.ravel(sigma), bins=bins, alpha=0.5, color=colour, label=label)
    ax.axvline(1.0, color="black", lw=0.8, ls=":", label="prior σ = 1")
    ax.set_xscale("log")
    ax.set_xlabel("σ of q(z | x), one value per test image and latent dimension (log scale)")
    ax.set_ylabel("count")
    ax.set_title("The σ each model learned")
    ax.legend(fontsize=8)
    return fig


def plot_elbo_comparison(bars, ax=None):
    """Stacked bars of reconstruction + KL (nats per image); ``bars`` maps a label to (reconstruction, KL)."""
    fig, ax = _axes(ax, figsize=(6.5, 4))
    labels = list(bars)
    reconstruction = np.array([bars[k][0] for k in labels])
    kl = np.array([bars[k][1] for k in labels])
    x = np.arange(len(labels))
    ax.bar(x, reconstruction, color="tab:blue", label="reconstruction")
    ax.bar(x, kl, bottom=reconstruction, color="tab:orange", label="KL")
    for i, total in enumerate(reconstruction + kl):
        ax.text(i, total + 0.3, f"{total:.1f}", ha="center", fontsize=9)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlabel("model, and which KL its score uses")
    ax.set_ylim(0, float((reconstruction + kl).max()) * 1.3)
    ax.set_ylabel("nats per test image (lower is better)")
    ax.set_title("Negative ELBO on the test split")
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    return fig
