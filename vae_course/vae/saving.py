"""Load a saved VAE safely.

A ``.keras`` file can carry Python code (a ``Lambda`` layer's function). Keras' safe mode refuses to
run it; we always load in safe mode, and only the course's own registered classes come back.
"""

from pathlib import Path

from .. import _quiet  # noqa: F401


class UnsafeModelError(ValueError):
    """The file asks to run code on loading, and safe mode refused."""


def load_model(path):
    """``keras.saving.load_model(path, safe_mode=True)`` with the course's layers registered, in plain words on
    failure."""
    import keras

    from . import flows, layers, model  # noqa: F401  (registers Sampling, VAE, FlowVAE and IAFStep)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved model at {path}. `python -m vae_course train` writes model.keras into its "
                                f"run folder.")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except ValueError as err:
        if "safe_mode" in str(err) or "unsafe" in str(err).lower():
            raise UnsafeModelError(
                f"{path.name} contains Python code (a Lambda layer) that would run when it is loaded, so it was "
                "refused. Only load such a file if you made it yourself or trust its source, then call "
                "keras.saving.load_model(path, safe_mode=False)."
            ) from None
        raise
