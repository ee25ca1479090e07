"""Figures for the course: loss curves, image grids, reconstructions, samples, latent space, manifold.

Every function takes what it draws explicitly (arrays, a history, a model),
returns the matplotlib ``Figure`` and never calls ``plt.show()``: a notebook
ends its cell with ``plt.show()``, the command line saves and closes the
figure. This module does not choose a matplotlib backend.
"""

import math

import matplotlib.pyplot as plt
import numpy as np

IMAGE_CMAP = "binary"  # dark ink on white, pixel value 1 = black


def _history_dict(history):
    """Accept a ``keras.callbacks.History`` or its ``.history`` dict."""
    history = getattr(history, "history", history)
    if not isinstance(history, dict):
        raise TypeError(f"expected a History or a dict of per-epoch lists, got {type(history).__name__}")
    return history


def plot_loss_curves(history_dict, title="Training loss per epoch"):
    """Total loss and reconstruction term (left) and KL term (right) per epoch, in nats per image.

    ``history_dict`` is ``fit(...).history`` (or the History itself); ``val_`` curves are drawn dashed
    when present.
    """
    history = _history_dict(history_dict)
    panels = (
        (("loss", "total loss"), ("reconstruction_loss", "reconstruction")),
        (("kl_loss", "KL"),),
    )
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    drawn = 0
    for ax, curves in zip(axes, panels):
        for key, label in curves:
            for prefix, style, suffix in (("", "-", " (train)"), ("val_", "--", " (validation)")):
                values = history.get(prefix + key)
                if values is None or len(values) == 0:
                    continue
                epochs = np.arange(1, len(values) + 1)
                has_val = ("val_" + key) in history
                ax.plot(epochs, np.asarray(values, dtype=float), style, label=label + (suffix if has_val else ""))
                drawn += 1
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per image")
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
    axes[0].set_title("Total loss and reconstruction term")
    axes[1].set_title("KL term")
    if drawn == 0:
        plt.close(fig)
        raise ValueError(f"no loss, reconstruction_loss or kl_loss in the history (keys: {sorted(history)})")
    fig.suptitle(title)
    return fig


def _as_images(images):
    """(n, h, w) float array from (n, h, w), (n, h, w, 1) or a tensor."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n, height, width), got shape {images.shape}")
    return images


def _show(ax, image):
    ax.imshow(image, cmap=IMAGE_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_image_grid(images, titles=None, ncols=10, title=None, cell_size=1.0):
    """Images (pixel values in [0, 1]) in a grid of ``ncols`` columns, optionally one title each."""
    images = _as_images(images)
    n = len(images)
    if n == 0:
        raise ValueError("no images to plot")
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {len(titles)} titles for {n} images")
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    extra = 0.35 if titles is not None else 0.0
    height = nrows * (cell_size + extra) + (0.5 if title else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_size, height), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i < n:
            _show(ax, images[i])
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=9)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def _to_numpy(tensor):
    from keras import ops

    return np.asarray(ops.convert_to_numpy(tensor))


def encode_mean(vae, x, batch_size=2048):
    """z_mean for every row of x, from ``vae.encoder`` in a few large batches."""
    x = np.asarray(x, dtype=np.float32)
    parts = [_to_numpy(vae.encoder(x[i : i + batch_size], training=False)[0]) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, latent_dim_of(vae)), dtype=np.float32)


def latent_dim_of(vae):
    """The size of z: the decoder's input width."""
    return int(vae.decoder.inputs[0].shape[-1])


def plot_reconstructions(vae, x, n=10, ncols=10):
    """The first ``n`` images of x (upper row) above their reconstructions (lower row).

    Each reconstruction decodes the encoder's z_mean, so the figure is the same every time.
    """
    x = np.asarray(x, dtype=np.float32)[:n]
    n = len(x)
    if n == 0:
        raise ValueError("no images to reconstruct")
    recon = _as_images(_to_numpy(vae.generate(encode_mean(vae, x))))
    originals = _as_images(x)
    ncols = max(1, min(int(ncols), n))
    pairs = math.ceil(n / ncols)
    fig, axes = plt.subplots(2 * pairs, ncols, figsize=(ncols, 2 * pairs + 0.6), squeeze=False, layout="constrained")
    for i in range(pairs * ncols):
        row, col = divmod(i, ncols)
        top, bottom = axes[2 * row, col], axes[2 * row + 1, col]
        if i < n:
            _show(top, originals[i])
            _show(bottom, recon[i])
        else:
            top.axis("off")
            bottom.axis("off")
        if col == 0 and i < n:
            top.set_ylabel("original", fontsize=9)
            bottom.set_ylabel("decoded", fontsize=9)
    fig.suptitle("Originals (upper row) and their reconstructions from z_mean (lower row)")
    return fig


def plot_prior_samples(vae, n=25, seed=0, ncols=None):
    """Images decoded from ``n`` points z ~ N(0, I), all in one batch; pixel probabilities are shown."""
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    z = np.random.default_rng(seed).standard_normal((n, latent_dim_of(vae))).astype(np.float32)
    images = _to_numpy(vae.generate(z))
    ncols = ncols or math.ceil(math.sqrt(n))
    return plot_image_grid(images, ncols=ncols, title=f"{n} samples decoded from the prior z ~ N(0, I)")


def plot_latent_space(vae, x, y=None, class_names=None, title=None, point_size=8):
    """Scatter of z_mean for every image in x, coloured by its label y, with a colour bar.

    With more than two latent dimensions the first two are shown (and the title says so);
    with one, z is plotted against the label.
    """
    z = encode_mean(vae, x)
    k = z.shape[1]
    fig, ax = plt.subplots(figsize=(6.4, 5.2), layout="constrained")
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(z):
            plt.close(fig)
            raise ValueError(f"got {len(y)} labels for {len(z)} images")
    if k >= 2:
        xs, ys = z[:, 0], z[:, 1]
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
    else:
        jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(z))
        xs = z[:, 0]
        ys = (y.astype(float) if y is not None else np.zeros(len(z))) + jitter
        ax.set_xlabel("z[0]")
        ax.set_ylabel("label (jittered)")
    if y is None:
        ax.scatter(xs, ys, s=point_size, alpha=0.7)
    else:
        labels = np.unique(y)
        discrete = np.issubdtype(y.dtype, np.integer) and len(labels) <= 20
        if discrete:
            lo, hi = int(labels.min()), int(labels.max())
            cmap = plt.get_cmap("tab10" if hi - lo < 10 else "tab20", hi - lo + 1)
            points = ax.scatter(xs, ys, c=y, s=point_size, cmap=cmap, vmin=lo - 0.5, vmax=hi + 0.5, alpha=0.8)
            bar = fig.colorbar(points, ax=ax, ticks=np.arange(lo, hi + 1))
            if class_names is not None:
                bar.ax.set_yticklabels([str(class_names[i]) for i in range(lo, hi + 1)])
        else:
            points = ax.scatter(xs, ys, c=y, s=point_size, cmap="viridis", alpha=0.8)
            bar = fig.colorbar(points, ax=ax)
        bar.set_label("label")
    if title is None:
        title = f"Latent space: z_mean of {len(z)} images"
        if k > 2:
            title += f"\n(first 2 of {k} latent dimensions)"
        elif k == 1:
            title += " (1-D latent space)"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def plot_manifold(vae, n=15, span=None, title=None):
    """Decode an n x n grid of z in one batch and tile the images into one picture (2-D latent spaces only).

    By default the coordinates are the normal quantiles Phi^-1((i + 1/2) / n) of lesson 08
    (``latent.normal_quantiles``), so every column and every row holds the same share 1/n of the
    prior's mass. Pass ``span`` for evenly spaced coordinates on [-span, span] instead. Tick labels
    give the latent coordinates of the tile centres; z[1] grows upwards.
    """
    from ..lessons import latent  # imported here: latent imports this module's IMAGE_CMAP inside its functions

    k = latent_dim_of(vae)
    if k != 2:
        raise ValueError(f"plot_manifold needs a 2-D latent space; this model has latent_dim = {k}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if span is None:
        values = latent.normal_quantiles(n)
        title = title or f"Images decoded from a {n} x {n} grid of z at normal quantiles"
    else:
        values = np.linspace(-span, span, n, dtype=np.float32)
        title = title or f"Images decoded from a {n} x {n} grid of z evenly spaced in [-{span:g}, {span:g}]²"
    grid = latent.manifold_grid(values)  # picture order: row 0 holds the largest z[1]
    images = _as_images(_to_numpy(vae.generate(grid)))
    return latent.plot_manifold_images(images, grid, title=title)
