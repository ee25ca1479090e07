"""What the slider explorers share (lessons 02, 05 and 08): sliders wired to a redraw, a figure shown as a PNG.

An explorer keeps ONE matplotlib ``Figure`` on an Agg canvas (pyplot is never touched, so any backend
works), redraws it when a slider moves and puts the PNG into an ``ipywidgets.Image``. The image widget is
given the PNG's own width in pixels, so the browser shows it at its natural size instead of stretching it
to the width of the output area (a stretched PNG has blurry text and lines).
"""

import io
import time

import ipywidgets
import numpy as np

# The ranges of the mu and sigma sliders (lessons 02 and 05): sigma stays away from 0, where N(mu, sigma^2)
# collapses to a spike, and mu covers three prior standard deviations either way.
MU_RANGE = (-3.0, 3.0)
SIGMA_RANGE = (0.2, 2.5)

# Explorer figures are drawn at this resolution and shown pixel for pixel.
EXPLORER_DPI = 100


def explorer_figure(width_px, height_px, dpi=EXPLORER_DPI):
    """A matplotlib ``Figure`` of ``width_px`` x ``height_px`` pixels on its own Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def pixel_size(figure):
    """(width, height) in pixels of the PNG that ``figure`` renders to."""
    width, height = figure.get_size_inches() * figure.dpi
    return int(round(width)), int(round(height))


def figure_png(figure):
    """The figure drawn afresh and encoded as PNG bytes, at the figure's own size and dpi."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()


def canvas_png(figure):
    """The figure's canvas as PNG bytes, as last drawn: no new layout or redraw (for blitted explorers)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(figure.canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def figure_image(figure):
    """An empty PNG ``ipywidgets.Image`` that the browser shows at ``figure``'s pixel width, never wider.

    The width is set in the widget's layout (CSS); ``max-width: 100%`` from ipywidgets still shrinks it in a
    narrow window, and the height follows the PNG's aspect ratio.
    """
    width, _ = pixel_size(figure)
    return ipywidgets.Image(format="png", layout=ipywidgets.Layout(width=f"{width}px"))


def redraw_on_change(sliders, redraw):
    """Call ``redraw()`` (no arguments) whenever the value of any of ``sliders`` changes."""
    def on_change(change):
        redraw()

    for slider in sliders:
        slider.observe(on_change, names="value")


def mu_sigma_sliders(mu, sigma):
    """The two sliders of lessons 02 and 05: mu on MU_RANGE (step 0.1) and sigma on SIGMA_RANGE (step 0.05)."""
    mu_slider = ipywidgets.FloatSlider(value=mu, min=MU_RANGE[0], max=MU_RANGE[1], step=0.1, description="μ")
    sigma_slider = ipywidgets.FloatSlider(value=sigma, min=SIGMA_RANGE[0], max=SIGMA_RANGE[1], step=0.05,
                                          description="σ")
    return mu_slider, sigma_slider


class MuSigmaExplorer(ipywidgets.VBox):
    """A row of two sliders, mu and sigma, above a figure that is redrawn for their values on every move.

    A subclass creates ``figure`` (see ``explorer_figure``) and its artists, then calls this ``__init__``, and
    writes ``redraw(mu, sigma)``, which changes the figure; ``update`` calls it and puts the new PNG into
    ``image``. Attributes: ``mu``, ``sigma`` (the sliders), ``figure``, ``image``, ``update_seconds`` (the
    last redraw, PNG included).
    """

    def __init__(self, figure, mu, sigma):
        self.figure = figure
        self.mu, self.sigma = mu_sigma_sliders(mu, sigma)
        self.image = figure_image(figure)
        super().__init__(children=[ipywidgets.HBox([self.mu, self.sigma]), self.image])
        redraw_on_change((self.mu, self.sigma), self.update)
        self.update()

    def redraw(self, mu, sigma):
        """Change ``self.figure`` for the values mu and sigma (written by each explorer)."""
        raise NotImplementedError

    def update(self):
        """Redraw for the sliders' current values and show the new PNG (called on every move)."""
        start = time.perf_counter()
        self.redraw(float(self.mu.value), float(self.sigma.value))
        self.image.value = figure_png(self.figure)
        self.update_seconds = time.perf_counter() - start
