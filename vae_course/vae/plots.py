"""Figures for the course: loss curves, image grids, reconstructions, samples, latent space, manifold.

Every function takes what it draws explicitly (arrays, a history, a model),
returns the matplotlib ``Figure`` and never calls ``plt.show()``: a notebook
ends its cell with ``plt.show()``, the command line saves and closes the
figure. This module does not choose a matplotlib backend.
"""

import math
from statistics import NormalDist

import matplotlib.pyplot as plt
import numpy as np

from .arrays import as_images, encode_means, to_numpy

IMAGE_CMAP = "binary"  # dark ink on white, pixel value 1 = black


def _history_dict(history):
    """Accept a ``keras.callbacks.History`` or its ``.history`` dict."""
    history = getattr(history, "history", history)
    if not isinstance(history, dict):
        raise TypeError(f"expected a History or a dict of per-epoch lists, got {type(history).__name__}")
    return history


def plot_loss_curves(history_dict, title="Training loss per epoch", units="nats per image"):
    """Total loss and reconstruction term (left) and KL term (right) per epoch, labelled in ``units``.

    ``history_dict`` is ``fit(...).history`` (or the History itself); ``val_`` curves are drawn dashed
    when present. A model trained on the textbook's BCE should pass other ``units``: its loss is not in nats.
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
        ax.set_ylabel(units)
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


def _show(ax, image):
    ax.imshow(image, cmap=IMAGE_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_image_grid(images, titles=None, ncols=10, title=None, cell_size=1.0):
    """Images (pixel values in [0, 1]) in a grid of ``ncols`` columns, optionally one title each."""
    images = as_images(images)
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


def encode_mean(vae, x, batch_size=2048):
    """z_mean for every row of x, from ``vae.encoder`` in a few large batches."""
    return encode_means(vae.encoder, x, batch_size)


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
    recon = as_images(to_numpy(vae.generate(encode_mean(vae, x))))
    originals = as_images(x)
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
    """Images decoded from ``n`` points z ~ N(0, I), all in one batch; the mean of p(x | z) is shown."""
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    z = np.random.default_rng(seed).standard_normal((n, latent_dim_of(vae))).astype(np.float32)
    images = to_numpy(vae.generate(z))
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
    (``normal_quantiles``), so every column and every row holds the same share 1/n of the
    prior's mass. Pass ``span`` for evenly spaced coordinates on [-span, span] instead. Tick labels
    give the latent coordinates of the tile centres; z[1] grows upwards.
    """
    k = latent_dim_of(vae)
    if k != 2:
        raise ValueError(f"plot_manifold needs a 2-D latent space; this model has latent_dim = {k}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if span is None:
        values = normal_quantiles(n)
        title = title or f"Images decoded from a {n} x {n} grid of z at normal quantiles"
    else:
        values = np.linspace(-span, span, n, dtype=np.float32)
        title = title or f"Images decoded from a {n} x {n} grid of z evenly spaced in [-{span:g}, {span:g}]²"
    grid = manifold_grid(values)  # picture order: row 0 holds the largest z[1]
    images = as_images(to_numpy(vae.generate(grid)))
    return plot_manifold_images(images, grid, title=title)


# ---- the manifold: a grid of z at normal quantiles, decoded and tiled (lesson 08 builds it step by step)


def normal_quantiles(n):
    """The n standard normal quantiles Phi^-1((i + 1/2) / n), i = 0..n-1, increasing.

    The cells between neighbouring midpoints each hold prior mass 1/n, so a grid built
    from these values spends its points where N(0, 1) puts its mass.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    standard = NormalDist()
    return np.array([standard.inv_cdf((i + 0.5) / n) for i in range(n)], dtype=np.float32)


def manifold_grid(values):
    """Every pair of ``values`` as (n*n, 2) points in picture order (row by row, from the top).

    Point ``r * n + c`` is the tile in row r, column c: z[0] = values[c] grows from left to
    right, z[1] = values[n - 1 - r] grows from bottom to top, so row 0 holds the largest z[1].
    """
    values = to_numpy(values, np.float32).reshape(-1)
    z0, z1 = np.meshgrid(values, values[::-1])  # rows of the picture: z[1] from largest to smallest
    return np.stack([z0.ravel(), z1.ravel()], axis=1)


def tile_images(images, nrows, ncols, gap=1):
    """One picture made of ``nrows`` x ``ncols`` images in reading order, ``gap`` blank pixels between tiles."""
    images = as_images(images)
    if len(images) != nrows * ncols:
        raise ValueError(f"got {len(images)} images for a {nrows} x {ncols} picture")
    h, w = images.shape[1:]
    picture = np.zeros((nrows * (h + gap) - gap, ncols * (w + gap) - gap), dtype=np.float32)
    for index, image in enumerate(images):
        row, col = divmod(index, ncols)
        picture[row * (h + gap) : row * (h + gap) + h, col * (w + gap) : col * (w + gap) + w] = image
    return picture


def plot_manifold_images(images, grid, title=None, tick_every=2):
    """Decoded grid images tiled into one picture, axes labelled with each tile's latent coordinates.

    ``grid`` holds the (n*n, 2) points in picture order (see ``manifold_grid``); the tick
    labels are read from it, so a grid in the wrong order shows up in the axes.
    """
    images = as_images(images)
    grid = to_numpy(grid, np.float32)
    n = math.isqrt(len(images))
    if n * n != len(images) or grid.shape != (len(images), 2):
        raise ValueError(f"expected n*n images and an (n*n, 2) grid, got {len(images)} images and grid "
                         f"of shape {grid.shape}")
    h, w = images.shape[1:]
    gap = 1
    picture = tile_images(images, n, n, gap)
    fig, ax = plt.subplots(figsize=(6.6, 6.6), layout="constrained")
    ax.imshow(picture, cmap=IMAGE_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    centres_x = np.arange(n) * (w + gap) + (w - 1) / 2
    centres_y = np.arange(n) * (h + gap) + (h - 1) / 2
    shown = np.arange(0, n, max(int(tick_every), 1))
    ax.set_xticks(centres_x[shown], [f"{v:.1f}" for v in grid[:n, 0][shown]])
    ax.set_yticks(centres_y[shown], [f"{v:.1f}" for v in grid[::n, 1][shown]])
    ax.set_xlabel("z[0] (tile centres)")
    ax.set_ylabel("z[1] (tile centres)")
    ax.set_title(title or f"Images decoded from a {n} x {n} grid at normal quantiles")
    return fig
