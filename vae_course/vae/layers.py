"""The sampling layer: the reparameterization trick as a Keras 3 layer."""

import keras
from keras import ops

from .. import _quiet  # noqa: F401


@keras.saving.register_keras_serializable(package="vae_course")
class Sampling(keras.layers.Layer):
    """z = mean + exp(log_var / 2) * eps with eps ~ N(0, I) (lesson 02; gamma = log_var as in Equation 17-4).

    Call it on ``[mean, log_var]``; eps takes the shape of ``log_var``, so any
    batch size works. ``seed`` makes the draws repeatable; a fresh
    ``SeedGenerator`` state gives new noise at every call.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = _as_pair(inputs)
        eps = keras.random.normal(ops.shape(log_var), dtype=log_var.dtype, seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _as_pair(inputs):
    """Split ``[mean, log_var]``, or say plainly what was passed instead."""
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(
            "Sampling expects a list of two tensors, [mean, log_var]; "
            f"got {type(inputs).__name__}"
            f"{'' if not isinstance(inputs, (list, tuple)) else f' of length {len(inputs)}'}."
        )
    mean, log_var = inputs
    if tuple(mean.shape) != tuple(log_var.shape):
        raise ValueError(
            f"Sampling needs mean and log_var of the same shape; got {tuple(mean.shape)} and {tuple(log_var.shape)}."
        )
    return mean, log_var
