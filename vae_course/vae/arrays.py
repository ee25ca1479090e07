"""Turn tensors, arrays, numbers and lists into NumPy arrays: one helper for the library, lessons and checks."""

import numpy as np

_PLAIN = (np.ndarray, np.generic, int, float)


def to_numpy(value, dtype=None):
    """A NumPy array of ``value``: a tensor, a Keras variable, an array, a number or a (nested) list of them."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    elif isinstance(value, (list, tuple)):
        value = [to_numpy(item) for item in value]
    elif not isinstance(value, _PLAIN):
        from keras import ops

        value = ops.convert_to_numpy(value)
    return np.asarray(value, dtype=dtype)


def as_images(values):
    """(n, height, width) float32 images from (n, h, w), (n, h, w, 1) or a tensor of either."""
    images = to_numpy(values, np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n, height, width), got shape {images.shape}")
    return images


def encode_means(encoder, x, batch_size=2048):
    """z_mean for every row of x, from a few large batches of ``encoder`` (which returns z_mean, z_log_var)."""
    x = to_numpy(x, np.float32)
    batch_size = int(batch_size)
    parts = [to_numpy(encoder(x[i : i + batch_size], training=False)[0]) for i in range(0, len(x), batch_size)]
    if not parts:
        return np.zeros((0, int(encoder.outputs[0].shape[-1])), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32)
