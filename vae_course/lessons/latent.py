"""Exploring a trained VAE's latent space (lesson 08): paths, grids, maps and a slider explorer.

The prior is p(z) = N(0, I) and the decoder maps a point z to Bernoulli logits,
so the image "at" z is sigmoid(decoder(z)), pixel probabilities in [0, 1].

- A straight path from z_a to z_b is z(t) = z_a + t (z_b - z_a) for t = 0, 1/(n-1), ..., 1.
- A manifold grid takes its coordinates at normal quantiles, Phi^-1((i + 1/2) / n) for
  i = 0..n-1 (Phi is the standard normal CDF). Each of the n columns then holds the same
  share 1/n of the prior's mass along z[0], and each tile 1/n^2 of the whole plane's mass.
- Every function here decodes or encodes a whole stack of points in one call of the
  model, never one call per point.

This module holds the lesson's reference versions of the exercises, its figures and
the ``LatentExplorer`` widget.
"""

import base64
import math
import time
from statistics import NormalDist

import ipywidgets
import numpy as np

from .. import _quiet  # noqa: F401  (TensorFlow's log level, before anything imports it)
from ..vae.arrays import as_images, encode_means, to_numpy
from ..vae.plots import (  # noqa: F401  (the manifold's pieces live with the library's figure; the lesson uses them)
    IMAGE_CMAP,
    manifold_grid,
    normal_quantiles,
    plot_image_grid,
    plot_manifold_images,
    tile_images,
)
from .widgets import EXPLORER_DPI, canvas_png, explorer_figure, figure_image, redraw_on_change

SLIDER_RANGE = (-3.0, 3.0)  # the explorer's sliders: 3 prior standard deviations either way
MAP_MARGIN = 0.3  # the explorer's map reaches this far past the sliders' range, so the marker shows whole at the ends


# ---- reference versions of the exercises ------------------------------------------------


def interpolate(z_a, z_b, n):
    """n points evenly spaced on the straight line from z_a to z_b, both ends included: shape (n, latent_dim).

    z(t) = z_a + t (z_b - z_a) with t = 0, 1/(n-1), ..., 1 (n = 1 gives z_a alone).
    """
    z_a = to_numpy(z_a, np.float64).reshape(-1)
    z_b = to_numpy(z_b, np.float64).reshape(-1)
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same size, got {z_a.shape} and {z_b.shape}")
    t = np.linspace(0.0, 1.0, int(n))[:, None]
    return (z_a + t * (z_b - z_a)).astype(np.float32)


def decode_grid(decoder, grid):
    """sigmoid(decoder(grid)) in ONE call: pixel probabilities for every row of ``grid``."""
    from keras import ops

    z = to_numpy(grid, np.float32)
    return to_numpy(ops.sigmoid(decoder(z, training=False)))


def latent_means(encoder, x, batch_size=2048):
    """z_mean for every image in x, from a few large batches of ``encoder`` (which returns z_mean, z_log_var)."""
    return encode_means(encoder, x, batch_size)


def prior_mass_per_cell(points):
    """Prior N(0, 1) mass of the cell around each of the sorted ``points`` (cells end halfway to a neighbour).

    The outer cells reach to -inf and +inf, so the masses add up to 1.
    """
    points = np.sort(np.asarray(points, dtype=np.float64).reshape(-1))
    edges = np.concatenate([[-np.inf], (points[1:] + points[:-1]) / 2, [np.inf]])
    cdf = np.array([_normal_cdf(e) for e in edges])
    return np.diff(cdf)


def _normal_cdf(value):
    if value == np.inf:
        return 1.0
    if value == -np.inf:
        return 0.0
    return NormalDist().cdf(float(value))


# ---- figures ---------------------------------------------------------------------------------


def plot_interpolation(images, x_a=None, x_b=None, labels=None, title=None):
    """The decoded path as a strip of images (t = 0 ... 1), with the two original images at its ends."""
    decoded = as_images(images)
    n = len(decoded)
    t = np.linspace(0.0, 1.0, n)
    strip, titles = list(decoded), [f"t={v:.2f}" for v in t]
    names = labels or ("image A", "image B")
    if x_a is not None:
        strip.insert(0, as_images(np.asarray(x_a)[None])[0])
        titles.insert(0, names[0])
    if x_b is not None:
        strip.append(as_images(np.asarray(x_b)[None])[0])
        titles.append(names[1])
    fig = plot_image_grid(np.stack(strip), titles=titles, ncols=len(strip), cell_size=0.9)
    fig.suptitle(title or f"{n} images decoded from a straight line in latent space (originals at the ends)")
    return fig


def plot_grid_spacing(n=15, span=3.0):
    """Prior mass per column for an even grid on [-span, span] and for a grid at normal quantiles."""
    import matplotlib.pyplot as plt

    grids = {
        f"even spacing on [-{span:g}, {span:g}]": np.linspace(-span, span, n),
        "normal quantiles Φ⁻¹((i + ½) / n)": normal_quantiles(n),
    }
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True, layout="constrained")
    density_z = np.linspace(-3.5, 3.5, 300)
    density = np.exp(-0.5 * density_z**2) / math.sqrt(2 * math.pi)
    for ax, (name, points) in zip(axes, grids.items()):
        mass = prior_mass_per_cell(points)
        ax.plot(density_z, density, color="0.5", lw=1, label="prior density N(0, 1)")
        ax.vlines(points, 0, mass, color="C0", lw=3, label="prior mass of each column")
        ax.axhline(1 / n, color="C3", ls="--", lw=1, label=f"1/n = {1 / n:.3f}")
        ax.set_title(f"{n} columns, {name}")
        ax.set_xlabel("z[0] of the column")
        ax.set_xlim(-3.6, 3.6)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("probability (mass) or density")
    axes[1].legend(loc="upper right", fontsize="small")
    fig.suptitle("Where a grid spends its points: share of the prior's mass per column")
    return fig


def overlay_on_latent_map(fig, path=None, grid=None):
    """Draw an interpolation path (a line with dots) and grid points (crosses) on a latent-space scatter."""
    ax = fig.axes[0]
    if grid is not None:
        grid = to_numpy(grid)
        ax.scatter(grid[:, 0], grid[:, 1], marker="+", s=14, color="0.55", lw=0.8, label="manifold grid")
    if path is not None:
        path = to_numpy(path)
        ax.plot(path[:, 0], path[:, 1], "-o", color="black", ms=3, lw=1.2, label="interpolation path")
        ax.annotate("A", path[0, :2], xytext=(-12, 6), textcoords="offset points", fontweight="bold")
        ax.annotate("B", path[-1, :2], xytext=(6, 6), textcoords="offset points", fontweight="bold")
    if grid is not None or path is not None:
        ax.legend(loc="lower right", fontsize="small", framealpha=0.9)
    return fig


def plot_aggregate_posterior(z_mean=None, y=None, title=None):
    """Do the encoded training images fill the prior? z_mean coloured by label over the prior's circles,
    and the histogram of each coordinate against the N(0, 1) density.

    The circles of radius r = sqrt(-2 log(1 - p)) hold prior mass p (39 %, 86 %, 99 %). If ``z_mean``
    is missing (None or the placeholder), only the prior is drawn.
    """
    import matplotlib.pyplot as plt

    from ..checks.placeholder import is_placeholder

    missing = z_mean is None or is_placeholder(z_mean)
    fig, (ax, hist_ax) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained",
                                      gridspec_kw={"width_ratios": [1.15, 1]})
    angle = np.linspace(0, 2 * np.pi, 200)
    for p in (0.39, 0.86, 0.99):
        r = math.sqrt(-2 * math.log(1 - p))
        ax.plot(r * np.cos(angle), r * np.sin(angle), color="0.4", lw=1, ls="--")
        ax.annotate(f"{p:.0%}", (r * math.cos(0.8), r * math.sin(0.8)), fontsize=8, color="0.3")
    grid_z = np.linspace(-4, 4, 300)
    hist_ax.plot(grid_z, np.exp(-0.5 * grid_z**2) / math.sqrt(2 * math.pi), color="black", lw=2,
                 label="prior N(0, 1)")
    if not missing:
        z = to_numpy(z_mean, np.float64)
        if y is None:
            ax.scatter(z[:, 0], z[:, 1], s=4, alpha=0.6)
        else:
            points = ax.scatter(z[:, 0], z[:, 1], c=np.asarray(y), s=4, cmap="tab10", vmin=-0.5, vmax=9.5,
                                alpha=0.7)
            bar = fig.colorbar(points, ax=ax, ticks=np.arange(10))
            bar.set_label("label")
        bins = np.linspace(-4, 4, 41)
        for k, colour in ((0, "C0"), (1, "C1")):
            hist_ax.hist(z[:, k], bins=bins, density=True, histtype="stepfilled", alpha=0.45, color=colour,
                         label=f"z_mean[{k}] of {len(z)} images")
    else:
        ax.text(0, 0, "write latent_means\nto see your points", ha="center", va="center", color="0.3")
    ax.set_xlim(-4, 4)
    ax.set_ylim(-4, 4)
    ax.set_aspect("equal")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title("z_mean of each image; dashed circles hold 39 %, 86 %, 99 % of the prior")
    ax.grid(alpha=0.3)
    hist_ax.set_xlabel("coordinate value")
    hist_ax.set_ylabel("density")
    hist_ax.set_title("Each coordinate against the prior")
    hist_ax.legend(fontsize="small")
    hist_ax.grid(alpha=0.3)
    fig.suptitle(title or "Do the encoded images fill the prior?")
    return fig


# ---- the slider explorer -----------------------------------------------------------------------


class LatentExplorer(ipywidgets.VBox):
    """Two sliders, z[0] and z[1], and the image the decoder makes at that point, redrawn on every move.

    One move costs one direct call of the decoder on a single point (no ``predict``, which
    sets up a whole prediction loop each time), new data for the three matplotlib artists that
    move (the image, a marker on the latent map, a title) drawn over a saved background of
    everything else (blitting), and one PNG of the canvas into the same ``ipywidgets.Image``.
    Nothing is re-created, and pyplot is not touched, so any backend works.

    Without a widget front end the explorer shows as a PNG of its current frame.
    Attributes for code and tests: ``z0``, ``z1`` (sliders), ``image`` (the widget),
    ``figure``, ``decoded`` (the current (h, w) image), ``update_seconds`` (last redraw)
    and ``moves`` (redraws so far).
    """

    def __init__(self, decoder, z_points=None, labels=None, value=(0.0, 0.0), dpi=EXPLORER_DPI):
        self.decoder = decoder
        latent_dim = int(decoder.inputs[0].shape[-1])
        if latent_dim != 2:
            raise ValueError(f"the explorer needs a 2-D latent space; this decoder takes latent_dim = {latent_dim}")
        low, high = SLIDER_RANGE
        self.z0 = ipywidgets.FloatSlider(value=value[0], min=low, max=high, step=0.05, description="z[0]",
                                         continuous_update=True)
        self.z1 = ipywidgets.FloatSlider(value=value[1], min=low, max=high, step=0.05, description="z[1]",
                                         continuous_update=True)
        self.moves = 0
        self._point = np.zeros((1, 2), dtype=np.float32)  # reused for every decoder call

        self.figure = explorer_figure(8.0 * dpi, 3.8 * dpi, dpi=dpi)
        self.image = figure_image(self.figure)  # shown at the PNG's own size, not stretched
        map_ax, image_ax = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        if z_points is not None:
            z_points = to_numpy(z_points)
            colours = None if labels is None else np.asarray(labels)
            points = map_ax.scatter(z_points[:, 0], z_points[:, 1], c=colours, s=5, cmap="tab10", vmin=-0.5,
                                    vmax=9.5, alpha=0.6)
            if labels is not None:
                self.figure.colorbar(points, ax=map_ax, ticks=np.arange(10), label="label")
        # The map reaches MAP_MARGIN past the sliders' range and the marker is not clipped at the axes' edge,
        # so at z = -3 or +3 the whole cross still shows.
        (self._marker,) = map_ax.plot([value[0]], [value[1]], "X", color="black", ms=11, mec="white", clip_on=False)
        map_ax.set_xlim(low - MAP_MARGIN, high + MAP_MARGIN)
        map_ax.set_ylim(low - MAP_MARGIN, high + MAP_MARGIN)
        map_ax.set_xlabel("z[0]")
        map_ax.set_ylabel("z[1]")
        map_ax.set_title("where you are in the latent space")
        map_ax.grid(alpha=0.3)
        output_shape = tuple(int(d) for d in decoder.outputs[0].shape[1:3])
        self._shown = image_ax.imshow(np.zeros(output_shape), cmap=IMAGE_CMAP, vmin=0.0, vmax=1.0,
                                      interpolation="nearest")
        image_ax.set_xticks([])
        image_ax.set_yticks([])
        self._title = image_ax.set_title("decoded at z = (0.00, 0.00)")
        self.figure.tight_layout()
        # Draw everything that never changes once; a move redraws only the three moving artists on top.
        self._moving = (self._shown, self._marker, self._title)
        for artist in self._moving:
            artist.set_animated(True)
        self._frame = tuple(image_ax.spines.values())  # redrawn over the image, which would cover its edges
        self.figure.canvas.draw()
        self._background = self.figure.canvas.copy_from_bbox(self.figure.bbox)

        super().__init__(children=[ipywidgets.HBox([self.z0, self.z1]), self.image])
        redraw_on_change((self.z0, self.z1), self.update)
        self.update()

    @property
    def z(self):
        """The current latent point as a length-2 array."""
        return np.array([self.z0.value, self.z1.value], dtype=np.float32)

    def decode(self, z):
        """sigmoid(decoder(z)) for ONE point z: a direct call, as an (h, w) array."""
        from keras import ops

        self._point[0] = z
        return to_numpy(ops.sigmoid(self.decoder(self._point, training=False)))[0]

    def update(self):
        """Decode the sliders' point and redraw the existing figure into the image widget."""
        start = time.perf_counter()
        z = self.z
        self.decoded = self.decode(z)
        self._shown.set_data(self.decoded)
        self._marker.set_data([z[0]], [z[1]])
        self._title.set_text(f"decoded at z = ({z[0]:.2f}, {z[1]:.2f})")
        canvas = self.figure.canvas
        canvas.restore_region(self._background)
        for artist in self._moving + self._frame:
            self.figure.draw_artist(artist)
        self.image.value = canvas_png(self.figure)
        self.moves += 1
        self.update_seconds = time.perf_counter() - start

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle = dict(bundle)
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")  # shown without widgets
        return bundle


def latent_explorer(vae_or_decoder, x=None, y=None, value=(0.0, 0.0)):
    """The slider explorer for a 2-D latent space; pass images ``x`` (and labels ``y``) to draw their z_mean map.

    Display it with ``display(...)``. A front end without widget support shows a still PNG of
    the current frame instead, and lessons also draw the static manifold figure.
    """
    decoder = getattr(vae_or_decoder, "decoder", vae_or_decoder)
    encoder = getattr(vae_or_decoder, "encoder", None)
    z_points = latent_means(encoder, x) if (x is not None and encoder is not None) else None
    return LatentExplorer(decoder, z_points=z_points, labels=y, value=value)


def class_centres(z_mean, y):
    """{digit: mean z_mean of its images}: where each labelled class sits on the latent map of this run."""
    z_mean, y = np.asarray(to_numpy(z_mean), dtype=np.float64), np.asarray(y)
    return {int(label): z_mean[y == label].mean(axis=0) for label in np.unique(y)}


def digits_by_distance_from_origin(z_mean, y):
    """The digits ordered by how far their class centre lies from the origin of the latent plane, nearest first."""
    centres = class_centres(z_mean, y)
    return sorted(centres, key=lambda label: float(np.linalg.norm(centres[label])))


def nearest_digit(point, z_mean, y, k=15):
    """(digit, share): the most common label among the ``k`` test codes nearest to ``point``, and its share."""
    z_mean, y = np.asarray(to_numpy(z_mean), dtype=np.float64), np.asarray(y)
    distances = np.linalg.norm(z_mean - np.asarray(point, dtype=np.float64), axis=1)
    labels = y[np.argsort(distances)[:k]]
    values, counts = np.unique(labels, return_counts=True)
    return int(values[np.argmax(counts)]), float(counts.max() / len(labels))
