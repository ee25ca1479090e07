"""A quiet training progress report: one short line every few epochs.

Keras' own progress bar writes a line per epoch (or redraws one), which floods
a notebook and changes from run to run. ``EpochProgress`` prints at most about
20 lines per ``fit``, rounded to 2 decimals, and can leave out the time
estimate so notebook outputs stay comparable::

    vae.fit(x_train, epochs=120, verbose=0, callbacks=[EpochProgress(120, show_eta=False)])

prints lines such as ``epoch  10/120  loss 27.31  reconstruction 25.02  kl 2.29``.
"""

import math
import sys
import time

import keras

from .. import _quiet  # noqa: F401  (sets the TensorFlow log level first)

MAX_LINES = 20

# The metrics reported, in order, with the short name printed for each.
REPORTED = (
    ("loss", "loss"),
    ("reconstruction_loss", "reconstruction"),
    ("kl_loss", "kl"),
    ("val_loss", "val_loss"),
    ("val_reconstruction_loss", "val_reconstruction"),
    ("val_kl_loss", "val_kl"),
)


def default_every(total_epochs, max_lines=MAX_LINES):
    """Report interval so that the first epoch, every ``every``-th and the last make at most ``max_lines`` lines."""
    total_epochs = max(int(total_epochs), 1)
    return max(1, math.ceil(total_epochs / max(max_lines - 2, 1)))


def format_seconds(seconds):
    """<1 s, 12 s, 3.5 min or 1.2 h: short and readable."""
    if seconds < 0.5:
        return "<1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class EpochProgress(keras.callbacks.Callback):
    """Print one line on the first epoch, every ``every`` epochs, and the last epoch.

    Args:
        total_epochs: the ``epochs`` passed to ``fit`` (used for "k/N" and the time estimate).
        every: report interval in epochs; by default chosen so a run prints at most about 20 lines.
        stream: where to write; ``None`` (the default) means ``sys.stdout`` at the time of printing,
            which is what a notebook captures.
        show_eta: add the estimated time left (or the total time on the last line). Turn it off
            in notebooks whose stored outputs are compared, since timings change every run.
    """

    def __init__(self, total_epochs, every=None, stream=None, show_eta=True):
        super().__init__()
        total_epochs = int(total_epochs)
        if total_epochs < 1:
            raise ValueError(f"total_epochs must be at least 1, got {total_epochs}")
        if every is not None and int(every) < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.total_epochs = total_epochs
        self.every = int(every) if every is not None else default_every(total_epochs)
        self.stream = stream
        self.show_eta = bool(show_eta)
        self._start = None
        self._first_end = None  # (time, epochs done) when the first epoch of this fit ended

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._first_end = None

    def should_report(self, epoch_number):
        """True for epoch 1, every multiple of ``every``, and the last epoch (numbers count from 1)."""
        return epoch_number == 1 or epoch_number % self.every == 0 or epoch_number >= self.total_epochs

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if self._start is None:  # used outside fit's on_train_begin
            self._start = time.perf_counter()
        if self._first_end is None:
            self._first_end = (time.perf_counter(), done)
        if not self.should_report(done):
            return
        self.write(self.format_line(done, logs or {}))

    def format_line(self, done, logs):
        """The text of one report line for ``done`` epochs finished with these logs."""
        width = len(str(self.total_epochs))
        parts = [f"epoch {done:>{width}}/{self.total_epochs}"]
        for key, label in REPORTED:
            if key in logs:
                parts.append(f"{label} {float(logs[key]):.2f}")
        if self.show_eta and self._start is not None:
            now = time.perf_counter()
            if done >= self.total_epochs:
                parts.append(f"{format_seconds(now - self._start)} in all")
            elif self._first_end is not None and done > self._first_end[1]:
                # The first epoch also builds the training function, so the rate is measured after it.
                first_time, first_done = self._first_end
                left = (now - first_time) / (done - first_done) * (self.total_epochs - done)
                text = format_seconds(left)
                parts.append(f"{text} left" if text.startswith("<") else f"~{text} left")
        return "  ".join(parts)

    def write(self, line):
        stream = self.stream if self.stream is not None else sys.stdout
        print(line, file=stream, flush=True)
