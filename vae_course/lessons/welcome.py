"""The welcome lesson's environment check: versions, data, widgets, in one glance."""

import html
import importlib
import os
import platform
import sys
from dataclasses import dataclass

PACKAGES = ("keras", "tensorflow", "numpy", "matplotlib", "sklearn", "ipywidgets", "jupyterlab_widgets")


@dataclass
class Item:
    """One line of the report: what was checked, whether it is fine, and what to do if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _version(module_name):
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # an import can fail in many ways; each is reported, none raised
        return None, f"{type(err).__name__}: {err}"
    return getattr(module, "__version__", "installed"), ""


def _package_items():
    items = [Item("Python", sys.version_info >= (3, 10), platform.python_version(), "Use Python 3.10 or newer.")]
    for name in PACKAGES:
        version, problem = _version(name)
        fix = "Run `pip install -r requirements.txt` from the course folder, then restart the kernel."
        items.append(Item(name, version is not None, version or problem, fix))
    return items


def _backend_item():
    import keras

    backend = keras.backend.backend()
    return Item("Keras backend", backend == "tensorflow", backend,
                "Set the environment variable KERAS_BACKEND=tensorflow before starting Jupyter.")


def _data_item():
    from ..vae.data import load_dataset

    try:
        (x_train, _), (x_test, _) = load_dataset("digits")
    except Exception as err:
        return Item("Data set (digits)", False, f"{type(err).__name__}: {err}",
                    "Reinstall scikit-learn: `pip install -r requirements.txt`.")
    return Item("Data set (digits)", True, f"{len(x_train)} training and {len(x_test)} test images, 8x8, offline")


def _widget_item():
    """Widgets need ipywidgets in the kernel and the widget extension in JupyterLab."""
    kernel = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
    except ImportError:
        pass
    lab_ext, _ = _version("jupyterlab_widgets")
    if kernel is None:
        return Item("Widgets", False, "not running in a Jupyter kernel: widgets will show as text, figures still work",
                    "Open the lesson in JupyterLab (`jupyter lab`) to use the sliders.")
    if lab_ext is None:
        return Item("Widgets", False, "the JupyterLab widget extension is missing",
                    "Run `pip install -r requirements.txt`, then restart JupyterLab.")
    return Item("Widgets", True, "ipywidgets and the JupyterLab extension are installed; the slider below should move")


KEEPING_WORK = {
    "Colab": "Colab runs a copy of the lesson and forgets it when the runtime ends: keep your work with "
             "File > Save a copy in Drive (or File > Download).",
    "Binder": "Binder deletes this session, and your changes, after about 10 idle minutes: before a break, "
              "download your notebook (File > Download), and upload it into a new session to go on. Its 2 GB of "
              "memory hold about three lessons' kernels: close a lesson's tab when you finish it (on Binder that "
              "also shuts its kernel down; docs/binder.md explains).",
    "JupyterHub": "Your files stay in your home folder on the hub between sessions; save often (Ctrl+S). Opening "
                  "the course's link again brings new lessons and keeps the ones you changed.",
    "your computer": "Your work is kept in the lessons folder each time you save the notebook (Ctrl+S).",
}


def where_running(environ=os.environ, modules=sys.modules):
    """Colab, Binder, JupyterHub or your computer, from what each of them sets in the kernel."""
    if "google.colab" in modules:
        return "Colab"
    if environ.get("BINDER_REPO_URL"):  # Binder runs on a JupyterHub too, so it is asked first
        return "Binder"
    if environ.get("JUPYTERHUB_USER"):
        return "JupyterHub"
    return "your computer"


def _place_item():
    place = where_running()
    return Item("Where you work", True, f"{place}. {KEEPING_WORK[place]}")


class EnvironmentReport:
    """All items; ``ok`` when every one passed. Renders as a table in Jupyter and as text elsewhere."""

    def __init__(self, items):
        self.items = list(items)

    @property
    def ok(self):
        return all(item.ok for item in self.items)

    @property
    def problems(self):
        return [item for item in self.items if not item.ok]

    def summary(self):
        if self.ok:
            return "Everything works: you are ready for lesson 01."
        names = ", ".join(item.name for item in self.problems)
        return f"Something needs attention: {names}. See the red lines for what to do."

    def __repr__(self):
        lines = [f"{'ok ' if i.ok else 'NO '} {i.name}: {i.detail}" + ("" if i.ok else f"  -> {i.fix}")
                 for i in self.items]
        return "\n".join([self.summary(), *lines])

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td style='color:{'#1a7f37' if i.ok else '#cf222e'}'>{'✔' if i.ok else '✘'}</td>"
            f"<td>{html.escape(i.name)}</td><td>{html.escape(i.detail)}</td>"
            f"<td>{'' if i.ok else html.escape(i.fix)}</td></tr>"
            for i in self.items
        )
        colour = "#1a7f37" if self.ok else "#cf222e"
        return (f"<p style='color:{colour}'><strong>{html.escape(self.summary())}</strong></p>"
                f"<table><tr><th></th><th>what</th><th>found</th><th>what to do</th></tr>{rows}</table>")


def environment_report():
    """Check Python, the packages, the Keras backend, the bundled data and widgets; say how to keep one's work."""
    return EnvironmentReport(_package_items() + [_backend_item(), _data_item(), _widget_item(), _place_item()])
