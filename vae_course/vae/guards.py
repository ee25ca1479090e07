"""Stop training the moment the loss stops being a number, and say why that usually happens."""

import contextlib
import math
import signal
import threading

import keras

from .. import _quiet  # noqa: F401

LIKELY_CAUSES = (
    "Likely causes: (1) a learning rate that is too high: try one ten times smaller; "
    "(2) a log of zero: log(sigma ** 2) is -inf once sigma underflows, so feed log_var to the KL directly "
    "(Equation 17-4); (3) an exp that overflows: exp(log_var) is inf for log_var above about 88 in float32, "
    "so lower the learning rate or clamp log_var."
)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Raise TrainingDiverged at the end of the first epoch whose loss is NaN or infinite."""

    def on_epoch_end(self, epoch, logs=None):
        bad = {name: value for name, value in (logs or {}).items() if not math.isfinite(float(value))}
        if bad:
            found = ", ".join(f"{name} = {float(value)}" for name, value in sorted(bad.items()))
            raise TrainingDiverged(f"Training stopped at epoch {epoch + 1}: {found}. {LIKELY_CAUSES}")


@contextlib.contextmanager
def sigint_deferred():
    """Hold Ctrl-C until the block ends, then raise it: a file being written is never cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore whose end-of-epoch save cannot be interrupted half-way by Ctrl-C."""

    def on_epoch_end(self, epoch, logs=None):
        with sigint_deferred():
            super().on_epoch_end(epoch, logs)
