"""Going further (lesson 09): the ELBO as a bound, beta-VAE and posterior collapse.

Reference versions of the lesson's exercises (``log_mean_exp``, ``per_dimension_kl``, ``active_units``), a
helper that trains the lesson's small 8-D models, a free-bits variant of the VAE, and the lesson's figures.

The maths, for q(z | x) = N(mu, diag sigma^2) and p(z) = N(0, I):

- log p(x) = ELBO + KL(q(z | x) || p(z | x)), so the ELBO is a lower bound on log p(x);
- with k importance samples, L_k = E[log (1/k) sum_i w_i], w_i = p(x, z_i) / q(z_i | x), rises from
  L_1 = ELBO towards log p(x) as k grows (Burda, Grosse & Salakhutdinov 2016);
- the KL to the prior splits over latent dimensions: KL = sum_j 1/2 (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2).
"""


import keras
import numpy as np
from keras import ops

from .. import _quiet  # noqa: F401  (sets the TensorFlow log level first)
from ..vae import arrays
from ..vae.elbo import elbo_terms, importance_log_weights
from ..vae.model import VAE, build_decoder, build_encoder, make_vae

LATENT_DIM = 8
HIDDEN = (64, 32)
EPOCHS = 40
BATCH_SIZE = 100  # 1500 training digits: 15 full batches, so the training step is traced for one shape only
LEARNING_RATE = 5e-3
ACTIVITY_THRESHOLD = 0.01  # Burda et al. (2016): a unit is active if Var_x(E_q[z_j]) exceeds 10^-2
FREE_BITS = 0.5  # nats per latent dimension
# The models lesson 09 trains, as (beta, free_bits): `python -m vae_course cache --fill` trains them in advance.
LESSON_MODELS = ((1.0, None), (16.0, None), (64.0, None), (64.0, FREE_BITS))


def to_numpy(value):
    """``vae_course.vae.arrays.to_numpy`` in float64: what this lesson's tables and figures compute with."""
    return arrays.to_numpy(value, np.float64)


# ---- the three exercises, reference versions --------------------------------------------------------------


def log_mean_exp(log_w, axis=0):
    """log((1/k) sum_i exp(a_i)) along ``axis``, computed as m + log((1/k) sum_i exp(a_i - m)) with m = max_i a_i.

    Subtracting the maximum makes the largest term exp(0) = 1, so nothing overflows and the mean is at least
    1/k, so its log is finite: the result is right even for log-weights of -1000 or +1000 (float64).
    """
    log_w = to_numpy(log_w)
    peak = np.max(log_w, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)  # a slice of only -inf gives -inf, not NaN
    with np.errstate(divide="ignore"):
        return np.squeeze(peak, axis=axis) + np.log(np.mean(np.exp(log_w - peak), axis=axis))


def per_dimension_kl(z_mean, z_log_var):
    """KL_j = mean over the batch of 1/2 (exp(gamma_j) - 1 - gamma_j + mu_j^2), one value per latent dimension.

    ``z_mean`` and ``z_log_var`` (gamma = log sigma^2) have shape (n, K); the result has shape (K,) and sums to the
    batch mean of the KL term (Equation 17-4). exp(gamma) - 1 is computed with expm1, exact near gamma = 0.
    """
    mu, gamma = to_numpy(z_mean), to_numpy(z_log_var)
    return np.mean(0.5 * (np.expm1(gamma) - gamma + np.square(mu)), axis=0)


def activity(z_mean):
    """A_j = Var_x(E_q[z_j]): the variance over the data of each column of ``z_mean`` (Burda et al. 2016)."""
    return np.var(to_numpy(z_mean), axis=0)


def active_units(z_mean, threshold=ACTIVITY_THRESHOLD):
    """How many latent dimensions have activity A_j = Var_x(z_mean[:, j]) > ``threshold`` (an int)."""
    return int(np.sum(activity(z_mean) > threshold))


# ---- models -------------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="vae_course")
class FreeBitsVAE(VAE):
    """A VAE trained on reconstruction + beta * sum_j max(KL_j, free_bits), KL_j averaged over the batch.

    Below ``free_bits`` nats a latent dimension's KL costs nothing (its gradient is zero), so the encoder can
    keep each dimension informative up to that much without being pushed to the prior ("free bits", Kingma
    et al. 2016). The ``kl_loss`` it reports is the true KL, not the clamped penalty; ``loss`` uses the penalty.
    """

    def __init__(self, encoder, decoder, beta=1.0, seed=None, free_bits=FREE_BITS, **kwargs):
        super().__init__(encoder, decoder, beta=beta, seed=seed, **kwargs)
        self.free_bits = float(free_bits)

    def compute_losses(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        reconstruction = ops.mean(self.reconstruction_term(x, logits))  # -log p(x | z) under the likelihood
        kl_per_dim = ops.mean(0.5 * (ops.expm1(z_log_var) - z_log_var + ops.square(z_mean)), axis=0)
        kl = ops.sum(kl_per_dim)
        penalty = ops.sum(ops.maximum(kl_per_dim, self.free_bits))
        return reconstruction + self.beta * penalty, reconstruction, kl

    def get_config(self):
        return {**super().get_config(), "free_bits": self.free_bits}


def make_free_bits_vae(input_shape, latent_dim=LATENT_DIM, hidden=HIDDEN, beta=1.0, free_bits=FREE_BITS,
                       activation="gelu", seed=None):
    """Like ``make_vae``, with the free-bits KL penalty."""
    input_shape = tuple(int(d) for d in input_shape)
    encoder = build_encoder(input_shape, latent_dim, hidden, activation)
    decoder = build_decoder(input_shape, latent_dim, tuple(reversed(hidden)), activation)
    vae = FreeBitsVAE(encoder, decoder, beta=beta, seed=seed, free_bits=free_bits, name="free_bits_vae")
    vae(ops.zeros((1,) + input_shape))
    return vae


def describe_model(beta, free_bits=None):
    """A short label: "β = 4" or "β = 4, free bits 0.5"."""
    label = f"β = {beta:g}"
    return label if free_bits is None else f"{label}, free bits {free_bits:g}"


def train_vae(x, beta=1.0, free_bits=None, latent_dim=LATENT_DIM, hidden=HIDDEN, epochs=EPOCHS,
              batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=0, progress=True):
    """Seed, build and train one small VAE on reconstruction + beta * KL; returns the trained model.

    Every call with the same ``seed`` starts from the same weights and sees the same batches, so models that
    differ only in ``beta`` (or ``free_bits``) differ only because of it. With ``progress`` it prints a title
    line and three lines of ``EpochProgress`` (epochs 1, half-way and last; no timings). The trained model is kept
    in the course's model cache (``vae_course.fit_cached``), so a second run loads it.
    """
    from ..vae.cache import fit_cached
    from ..vae.progress import EpochProgress

    keras.utils.set_random_seed(seed)
    shape = tuple(int(d) for d in np.shape(x)[1:])
    if free_bits is None:
        vae = make_vae(shape, latent_dim, hidden, beta=beta, seed=seed)
    else:
        vae = make_free_bits_vae(shape, latent_dim, hidden, beta=beta, free_bits=free_bits, seed=seed)
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
    callbacks = []
    if progress:
        print(f"{describe_model(beta, free_bits)}: latent_dim {latent_dim}, {epochs} epochs")
        callbacks.append(EpochProgress(epochs, every=max(1, epochs // 2), show_eta=False))
    fit_cached(vae, np.asarray(x, dtype=np.float32), seed=seed, epochs=epochs, batch_size=batch_size, shuffle=True,
               verbose=0, callbacks=callbacks)
    return vae


def encode(vae, x):
    """(z_mean, z_log_var) of the encoder for every row of x, as float64 NumPy arrays."""
    z_mean, z_log_var = vae.encoder(np.asarray(x, dtype=np.float32), training=False)
    return to_numpy(z_mean), to_numpy(z_log_var)


# ---- the importance-weighted bound --------------------------------------------------------------------------


def log_weights(vae, x, k, seed=0, copies=10):
    """log w = log p(x | z) + log p(z) - log q(z | x) for k draws z ~ q(z | x) per example: shape (k, n).

    Calls ``vae_course.vae.elbo.importance_log_weights`` on ``copies`` stacked copies of x with k / copies draws,
    then regroups: the same independent draws, with ``copies`` times fewer (and larger) decoder calls.
    """
    k, copies = int(k), int(copies)
    if k < 1 or copies < 1 or k % copies:
        raise ValueError(f"k must be a positive multiple of copies; got k = {k}, copies = {copies}")
    x = np.asarray(x, dtype=np.float32)
    stacked = np.concatenate([x] * copies, axis=0)
    weights = importance_log_weights(vae, stacked, k // copies, seed=seed)  # (k / copies, copies * n)
    return weights.reshape(k // copies, copies, len(x)).reshape(k, len(x))


def bound_curve(log_w, ks, log_mean_exp=log_mean_exp):
    """The estimate of -L_k, in nats per example, for each k in ``ks`` from one (k_max, n) array of log-weights.

    The k_max draws are split into k_max // k groups of k; -log_mean_exp over each group is a k-sample bound
    for one example, and the result averages it over the groups and the examples. ``log_mean_exp`` is called
    once per k with axis=0 on an array of shape (k, groups * n).
    """
    log_w = to_numpy(log_w)
    k_max, n = log_w.shape
    values = []
    for k in ks:
        k = int(k)
        if not 1 <= k <= k_max:
            raise ValueError(f"every k must be between 1 and {k_max}; got {k}")
        groups = k_max // k
        grouped = log_w[: groups * k].reshape(groups, k, n).transpose(1, 0, 2).reshape(k, groups * n)
        values.append(-float(np.mean(to_numpy(log_mean_exp(grouped, axis=0)))))
    return values


# ---- rate and distortion ------------------------------------------------------------------------------------


def rate_distortion(models, x, n_samples=10, seed=0):
    """{label: (distortion, rate)}: mean reconstruction term E_q[-log p(x | z)] and mean KL term, nats per example."""
    points = {}
    for label, vae in models.items():
        reconstruction, kl = elbo_terms(vae, x, n_samples=n_samples, seed=seed)
        points[label] = (float(np.mean(reconstruction)), float(np.mean(kl)))
    return points


# ---- figures ------------------------------------------------------------------------------------------------


def _label(key):
    return f"β = {key:g}" if isinstance(key, (int, float)) else str(key)


def plot_bound(ks, values, negative_elbo=None, title="Importance sampling tightens the bound on −log p(x)"):
    """The k-sample estimate of -log p(x) against k on a log axis, with the negative ELBO as a reference line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    ax.plot(ks, values, "o-", color="#0969da", label="k-sample bound, −L_k")
    for k, value in zip(ks, values):
        ax.annotate(f"{value:.2f}", (k, value), textcoords="offset points", xytext=(6, 6), fontsize=9)
    if negative_elbo is not None:
        ax.axhline(negative_elbo, color="#cf222e", ls="--", lw=1, label="negative ELBO (closed-form KL)")
    ax.set_xscale("log")
    ax.set_xlabel("k, importance samples per image (log scale)")
    ax.set_ylabel("estimated −log p(x), nats per image")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def plot_rate_distortion(points, title="Rate against distortion on the test digits"):
    """Each model as a point (rate = KL, distortion = reconstruction), with dotted lines of constant D + R."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    rates = np.array([r for _, r in points.values()])
    top = max(rates.max(), 1.0) * 1.15
    grid = np.linspace(0.0, top, 50)
    for i, (key, (distortion, rate)) in enumerate(points.items()):
        total = distortion + rate
        ax.plot(grid, total - grid, ":", color="grey", lw=0.8, label="D + R = constant (the negative ELBO)"
                if i == 0 else None)
        ax.plot(rate, distortion, "o", ms=8, color=plt.get_cmap("tab10")(i))
        ax.annotate(f"{_label(key)}\nD + R = {total:.1f}", (rate, distortion), textcoords="offset points",
                    xytext=(8, 4), fontsize=9)
    distortions = np.array([d for d, _ in points.values()])
    ax.set_xlim(-0.05 * top, top)
    ax.set_ylim(distortions.min() - 1.5, distortions.max() + 1.5)
    ax.set_xlabel("rate R = KL(q(z|x) ‖ p(z)), nats per image")
    ax.set_ylabel("distortion D = E_q[−log p(x|z)], nats per image")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def _show_image(ax, image):
    from ..vae.plots import IMAGE_CMAP

    ax.imshow(image, cmap=IMAGE_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_beta_gallery(models, x, n=10, seed=0, title="What each model does with z"):
    """Rows: n test images; each model's reconstruction from z_mean; each model's decoding of n draws z ~ N(0, I)."""
    import matplotlib.pyplot as plt

    x = np.asarray(x, dtype=np.float32)[:n]
    n = len(x)
    rows = [("original", x)]
    for key, vae in models.items():
        z_mean, _ = encode(vae, x)
        rows.append((f"decoded\n{_label(key)}", to_numpy(vae.generate(z_mean.astype(np.float32)))))
    for key, vae in models.items():
        z = np.random.default_rng(seed).standard_normal((n, vae.decoder.inputs[0].shape[-1])).astype(np.float32)
        rows.append((f"sampled\n{_label(key)}", to_numpy(vae.generate(z))))
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.85 + 1.0, len(rows) * 0.9 + 0.5), squeeze=False,
                             layout="constrained")
    for r, (name, images) in enumerate(rows):
        for c in range(n):
            _show_image(axes[r, c], np.reshape(images[c], x.shape[1:3]))
        axes[r, 0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title)
    return fig


def plot_per_dimension_kl(kl_by_model, activity_by_model=None, threshold=ACTIVITY_THRESHOLD,
                          title="KL of each latent dimension, averaged over the test digits", free_bits=None):
    """One bar chart per model: KL_j for each latent dimension j (nats).

    With ``activity_by_model`` (label -> Var_x(z_mean) per dimension), bars of active dimensions
    (activity > ``threshold``) are blue and inactive ones grey, and each title counts the active ones.
    With ``free_bits`` a dashed line marks that level of KL_j in every panel.
    """
    import matplotlib.pyplot as plt

    m = len(kl_by_model)
    fig, axes = plt.subplots(1, m, figsize=(3.2 * m, 3.4), sharey=True, squeeze=False, layout="constrained")
    for ax, (key, kl) in zip(axes[0], kl_by_model.items()):
        kl = to_numpy(kl)
        dims = np.arange(len(kl))
        subtitle = f"{_label(key)}\nKL = {kl.sum():.2f} nats"
        if activity_by_model is not None:
            active = to_numpy(activity_by_model[key]) > threshold
            colours = np.where(active, "#0969da", "#8c959f")
            subtitle += f", {int(active.sum())} of {len(kl)} active"
        else:
            colours = "#0969da"
        ax.bar(dims, kl, color=colours)
        if free_bits is not None:
            ax.axhline(free_bits, color="#cf222e", ls="--", lw=1)
        ax.set_xticks(dims)
        ax.set_xlabel("latent dimension j")
        ax.set_title(subtitle, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].set_ylabel("KL_j, nats per image")
    if activity_by_model is not None:
        from matplotlib.patches import Patch

        handles = [Patch(color="#0969da", label=f"active: Var_x(z_mean) > {threshold:g}"),
                   Patch(color="#8c959f", label="inactive")]
        if free_bits is not None:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="#cf222e", ls="--", lw=1, label=f"free bits λ = {free_bits:g} nats"))
        fig.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=len(handles))
    fig.suptitle(title)
    return fig


def plot_activity(activity_by_model, threshold=ACTIVITY_THRESHOLD,
                  title="Activity of each latent dimension: how much z_mean moves across the test digits"):
    """One bar chart per model: A_j = Var_x(z_mean[:, j]) on a log axis, with the threshold as a dashed line."""
    import matplotlib.pyplot as plt

    m = len(activity_by_model)
    fig, axes = plt.subplots(1, m, figsize=(3.2 * m, 3.4), sharey=True, squeeze=False, layout="constrained")
    floor = threshold * 1e-3  # a dimension that never moves is drawn at the floor, not at log 0
    for ax, (key, values) in zip(axes[0], activity_by_model.items()):
        values = to_numpy(values)
        dims = np.arange(len(values))
        active = values > threshold
        ax.bar(dims, np.maximum(values, floor), bottom=0, color=np.where(active, "#0969da", "#8c959f"))
        ax.axhline(threshold, color="#cf222e", ls="--", lw=1, label=f"threshold {threshold:g}")
        ax.set_yscale("log")
        ax.set_ylim(floor, max(10.0, values.max() * 2))
        ax.set_xticks(dims)
        ax.set_xlabel("latent dimension j")
        ax.set_title(f"{_label(key)}: {int(active.sum())} of {len(values)} active", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].set_ylabel("activity Var_x(z_mean[:, j]) (log scale)")
    axes[0, -1].legend(fontsize=8, loc="upper right")
    fig.suptitle(title)
    return fig
