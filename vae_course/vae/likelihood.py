"""The decoder's distribution p(x | z), one per data set, normalised over the pixel values the data can take.

Both data sets store counts. scikit-learn's digits are 32x32 binary bitmaps cut into 4x4 blocks: each 8x8 pixel
counts the "on" pixels of its block, an integer 0-16, and ``load_dataset`` divides it by 16. If the 16 small pixels
are independent with probability p, the count is Binomial(16, p). Fashion-MNIST stores 0-255 grey levels, divided
by 255; we read a level as Binomial(255, p). The decoder's logit per pixel gives p = sigmoid(logit) in both cases.

Why Binomial(255, p) for Fashion-MNIST: it is a proper distribution over the 256 stored levels that needs one
logit per pixel, like the digits' decoder, so every model (one trained with the textbook's grey-level BCE
included) is scored by the same rule. Its cost: its variance, 255 p (1 - p) levels squared, is fixed by its mean
(a standard deviation of at most 8 of the 255 levels), so it is sure of itself on textured pixels; a
discretised logistic or a 256-way categorical would fit grey levels better but needs more outputs per pixel.

The identity that links it to the textbook's loss, for n trials and k = n x:

    -log Binomial(k; n, p) = n * BCE(x, p) - log C(n, k),

so summed grey-level BCE + KL is (1 / n) * (the Binomial negative log-likelihood + n * KL) plus a constant:
training on BCE with beta = 1 is beta = n against the real likelihood (16 for the digits).
"""

import math
import os

import numpy as np
from keras import ops

from .. import _quiet  # noqa: F401

LEVEL_TOLERANCE = 1e-3  # how far (in counts) x * n may sit from a whole number: float32 rounding of k / 255


class NotOnSupport(ValueError):
    """Data that the likelihood gives no probability to (off its grid of values, outside [0, 1], or NaN)."""


class Binomial:
    """Pixel = k / ``trials`` with k ~ Binomial(``trials``, sigmoid(logit)), independently per pixel."""

    def __init__(self, trials, dataset):
        self.trials = int(trials)
        self.dataset = str(dataset)
        self.name = f"binomial({self.trials})"
        self.support = (np.arange(self.trials + 1) / self.trials).astype(np.float32)
        k = np.arange(self.trials + 1)
        log_choose = [math.lgamma(self.trials + 1) - math.lgamma(j + 1) - math.lgamma(self.trials - j + 1) for j in k]
        self._log_choose = np.asarray(log_choose, dtype=np.float32)

    def __repr__(self):
        return f"<likelihood {self.name} for {self.dataset!r}: pixel values k / {self.trials}, k = 0..{self.trials}>"

    def counts(self, x):
        """k = x * trials as a whole number; checks x first when it is concrete (NumPy or an eager tensor)."""
        values = _concrete(x)
        if values is not None:
            self.check(values)
        return ops.round(ops.cast(x, "float32") * float(self.trials))

    def check(self, x):
        """Raise ``NotOnSupport`` unless every value of ``x`` is some k / trials with k in 0..trials."""
        if _on_grid(np.asarray(x), self.trials):
            return
        x = np.asarray(x, dtype=np.float64)
        if np.isnan(x).any():
            raise NotOnSupport(f"The images contain NaN ({int(np.isnan(x).sum())} values); {self.name} needs pixel "
                               f"values k / {self.trials}.")
        level = x * self.trials
        off = (x < 0) | (x > 1) | (np.abs(level - np.round(level)) > LEVEL_TOLERANCE)
        if off.any():
            example = x[off].flat[0]
            raise NotOnSupport(
                f"{int(off.sum())} pixel values are not on the support of {self.name} for {self.dataset!r} "
                f"(k / {self.trials}, k = 0..{self.trials}), e.g. {example:g}. Pass the images as load_dataset"
                f"({self.dataset!r}) returns them, not rescaled, noisy or averaged."
            )

    def log_prob(self, x, logits):
        """log p(x | logits) in nats per image: the sum over pixels of log Binomial(k; trials, sigmoid(logit))."""
        k = self.counts(x)
        logits = ops.cast(logits, "float32")
        n = float(self.trials)
        log_choose = ops.take(ops.convert_to_tensor(self._log_choose), ops.cast(k, "int32"))
        # k log sigmoid(l) + (n - k) log sigmoid(-l) = k l - n softplus(l): one transcendental per pixel, not two
        per_pixel = log_choose + k * logits - n * ops.softplus(logits)
        return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)

    def mean(self, logits):
        """E[x | logits] in the units of the data: sigmoid(logits)."""
        return ops.sigmoid(logits)

    def sample(self, logits, seed=0):
        """A NumPy draw of images from p(x | logits), on the support."""
        p = 1.0 / (1.0 + np.exp(-np.asarray(ops.convert_to_numpy(logits), dtype=np.float64)))
        k = np.random.default_rng(seed).binomial(self.trials, p)
        return (k / self.trials).astype(np.float32)


CHECK_CHUNK = 1 << 16  # values per pass of the quick scan: small temporaries, checked at memory speed


def _on_grid(x, trials):
    """True when every value is k / trials (0 <= k <= trials, within LEVEL_TOLERANCE), scanned in chunks in the
    array's own float precision; False on the first chunk with a value off the grid, out of range or NaN."""
    if x.dtype == object:
        return False  # the full check says what is wrong
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    flat = x.reshape(-1)
    for start in range(0, flat.size, CHECK_CHUNK):
        part = flat[start:start + CHECK_CHUNK].astype(dtype, copy=False)
        level = part * dtype.type(trials)
        if not (np.abs(level - np.rint(level)).max(initial=0) <= LEVEL_TOLERANCE
                and part.min(initial=0) >= 0 and part.max(initial=0) <= 1):
            return False  # NaN fails every comparison
    return True


def _concrete(x):
    """``x`` as a NumPy array if its values are known now (NumPy, Python numbers, an eager tensor), else None."""
    if isinstance(x, (np.ndarray, np.generic, list, tuple, float, int)):
        return np.asarray(x)
    try:
        import tensorflow as tf

        if tf.executing_eagerly() and hasattr(x, "numpy"):
            return x.numpy()
    except ImportError:
        pass
    return None


def textbook_bce(x, logits):
    """The textbook's reconstruction loss per image: binary cross-entropy on grey levels, summed over pixels.

    A training loss, not a log-probability: for grey levels between 0 and 1 the Bernoulli it comes from gives
    no normalised probability to them. It equals (-log Binomial(k; n, p) - log C(n, k)) / n (module docstring).
    """
    bce = ops.binary_crossentropy(x, logits, from_logits=True)
    return ops.sum(ops.reshape(bce, (ops.shape(bce)[0], -1)), axis=-1)


RECONSTRUCTIONS = ("likelihood", "textbook_bce")  # what a VAE can train on (model.make_vae's ``reconstruction``)

LIKELIHOODS = {
    "digits": lambda: Binomial(16, "digits"),
    "fashion_mnist": lambda: Binomial(255, "fashion_mnist"),
}


def likelihood_for(dataset=None):
    """The decoder's distribution for a data set (``None``: ``$VAE_COURSE_DATASET``, else "digits")."""
    if isinstance(dataset, Binomial):
        return dataset
    name = dataset or os.environ.get("VAE_COURSE_DATASET") or "digits"
    if name not in LIKELIHOODS:
        raise ValueError(f"No likelihood for the data set {name!r}. Valid names: {', '.join(sorted(LIKELIHOODS))}.")
    return LIKELIHOODS[name]()
