"""Exercise: the Sampling layer, z = mean + exp(log_var / 2) * eps (lessons 02 and 06)."""

import inspect
import re
import tempfile
from pathlib import Path

import numpy as np

from ..checks.asserts import describe, diagnose, error_text, expect_attempted, to_array
from ..checks.core import Incorrect, LearnerTimeout, NotAttempted, exercise
from ..checks.placeholder import is_placeholder

N_DRAWS = 20_000
MEANS = np.array([0.0, 2.0, -1.0], dtype=np.float32)
LOG_VARS = np.array([0.0, -2.0, 1.5], dtype=np.float32)
STDS = np.exp(LOG_VARS / 2)


def _make_layer(layer_class):
    """An instance of the learner's layer (a class or an instance is accepted)."""
    import keras

    expect_attempted(layer_class, "Sampling")
    if isinstance(layer_class, keras.layers.Layer):
        return layer_class
    if not inspect.isclass(layer_class) or not issubclass(layer_class, keras.layers.Layer):
        raise Incorrect(
            f"Pass your layer class, e.g. `check.sampling_layer(Sampling)`; it should subclass "
            f"`keras.layers.Layer`, but this is {describe(layer_class)}."
        )
    try:
        return layer_class()
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(f"`{layer_class.__name__}()` raised {type(err).__name__}: {err}. "
                        "The layer should be creatable with no arguments.") from None


def _draw(layer, mean, log_var, what):
    """Call the layer on [mean, log_var]; name the call and its input shapes on failure."""
    from keras import ops

    shapes = f"mean and log_var of shape {tuple(mean.shape)}"
    try:
        direct = layer.call([ops.convert_to_tensor(mean), ops.convert_to_tensor(log_var)])
    except Exception:
        direct = None
    if is_placeholder(direct):
        raise NotAttempted("Your layer's `call` still returns the `____` placeholder. Write the sampling code, "
                           "run that cell, then run this check again.")
    try:
        out = layer([ops.convert_to_tensor(mean), ops.convert_to_tensor(log_var)])
    except LearnerTimeout:
        raise
    except Exception as err:
        advice = ""
        if "shape" in str(err).lower():
            advice = (" Draw eps with the shape of the input, `ops.shape(log_var)`, rather than a fixed shape "
                      "such as `(batch_size, latent_dim)`.")
        raise Incorrect(f"Calling your layer on [mean, log_var] ({shapes}, {what}) raised "
                        f"{type(err).__name__}: {error_text(err)}.{advice}") from None
    return to_array(out, "the layer's output")


SHARED_NOISE = ("Every row of the batch got the same noise. Each example needs its own eps: draw it "
                "with the full shape `ops.shape(log_var)`.")


def _check_statistics(z, draw_again):
    sample_mean, sample_std = z.mean(axis=0), z.std(axis=0)
    # Six standard errors of each column's sample mean: a wrong-answer diagnosis never hinges on luck.
    mean_tolerance = 6 * sample_std / np.sqrt(len(z)) + 1e-3
    if np.allclose(sample_std, 0, atol=1e-6):
        if not np.allclose(draw_again(), z):
            raise Incorrect(SHARED_NOISE)
        raise Incorrect("Every draw is the same: there is no noise. Multiply a standard normal `eps` "
                        "(e.g. `keras.random.normal(ops.shape(log_var))`) by the standard deviation.")
    if np.all(np.abs(sample_mean - LOG_VARS) < mean_tolerance) and np.allclose(sample_std, np.exp(MEANS / 2), rtol=0.05):
        raise Incorrect("You swapped the two inputs: the layer receives `[mean, log_var]`, in that order.")
    std_mistakes = [
        (np.exp(LOG_VARS), "Your draws spread like exp(log_var), which is the variance σ². "
                           "The standard deviation is exp(log_var / 2) (or sqrt(exp(log_var)))."),
        (0.01 * STDS, "Your noise is 100 times too small: that is the 2016 snippet's `epsilon_std = 0.01`. "
                      "The reparameterization needs eps ~ N(0, 1)."),
        (np.ones_like(STDS), "Your draws have standard deviation 1 whatever log_var is: scale eps by "
                             "exp(log_var / 2)."),
        (np.exp(-LOG_VARS / 2), "Your standard deviation is exp(−log_var / 2), the reciprocal of σ: check the sign."),
        (np.abs(LOG_VARS), "You used log_var itself as the standard deviation; it is a log, so exponentiate: "
                           "σ = exp(log_var / 2)."),
    ]
    diagnose(sample_std, STDS, std_mistakes, "Sampling", "the spread", rtol=0.04, atol=0.01, mistake_atol=0.005,
             otherwise=f"With log_var = {LOG_VARS.tolist()} the draws should have standard deviations "
                       f"{np.round(STDS, 3).tolist()}, but yours have {np.round(sample_std, 3).tolist()}.")
    if not np.all(np.abs(sample_mean - MEANS) < 6 * STDS / np.sqrt(len(z)) + 1e-3):
        if np.all(np.abs(sample_mean) < mean_tolerance):
            raise Incorrect("Your draws are centred on 0: add `mean` to the scaled noise.")
        raise Incorrect(f"With mean = {MEANS.tolist()} the draws should average to it, but they average to "
                        f"{np.round(sample_mean, 3).tolist()}.")


def _check_batch_sizes(layer):
    for n in (1, 7):
        mean, log_var = np.zeros((n, 3), np.float32), np.zeros((n, 3), np.float32)
        z = _draw(layer, mean, log_var, f"batch size {n}")
        if z.shape != (n, 3):
            raise Incorrect(f"For a batch of {n} your layer returned shape {z.shape}, expected {(n, 3)}. Draw eps "
                            "with the shape of the input, `ops.shape(log_var)`, not a fixed batch size.")
    mean = np.zeros((64, 3), np.float32)
    z = _draw(layer, mean, mean, "batch size 64")
    if np.allclose(z, z[:1]):
        raise Incorrect(SHARED_NOISE)
    again = _draw(layer, mean, mean, "a second call")
    if np.allclose(z, again):
        raise Incorrect("Two calls gave exactly the same noise. A fixed integer seed in `keras.random.normal` "
                        "repeats the draw; create a `keras.random.SeedGenerator` in `__init__` and pass it as "
                        "`seed=self.seed_generator`.")


def _check_gradients(layer):
    import tensorflow as tf

    mean = tf.Variable(np.tile(MEANS, (16, 1)))
    log_var = tf.Variable(np.tile(LOG_VARS, (16, 1)))
    try:
        with tf.GradientTape() as tape:
            z = layer([mean, log_var])
            total = tf.reduce_sum(z)
        grads = tape.gradient(total, [mean, log_var])
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(f"Taking gradients through your layer failed ({type(err).__name__}: {err}).") from None
    missing = [name for name, g in zip(("mean", "log_var"), grads) if g is None]
    if missing:
        raise Incorrect(
            f"No gradient reaches {' or '.join(missing)}. Sampling N(μ, σ²) directly (or through NumPy) cuts the "
            "graph; write z = mean + exp(log_var / 2) * eps with keras.ops so both inputs stay differentiable."
        )


COMPILED_BATCH = 64


def _compiled_error_text(err):
    """The learner's error inside a tf.function: the text after TensorFlow's "in user code" traceback."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    match = re.search(r"Exception encountered when calling [^\n]*\n\s*(\S[^\n]*)", text)
    if match:
        return match.group(1).strip()
    errors = re.findall(r"^\s*(\w+(?:Error|Exception): .+)$", text, re.M)
    return errors[-1].strip() if errors else error_text(err)


def _check_compiled(layer):
    """Call the layer twice inside one tf.function with an unknown batch size, as `fit` and `predict` do."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, len(MEANS)), tf.float32)

    @tf.function(input_signature=[spec, spec])
    def step(mean, log_var):
        return layer([mean, log_var])

    mean = tf.constant(np.tile(MEANS, (COMPILED_BATCH, 1)))
    log_var = tf.constant(np.tile(LOG_VARS, (COMPILED_BATCH, 1)))
    try:
        first = to_array(step(mean, log_var), "the compiled output")
        second = to_array(step(mean, log_var), "the compiled output")
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(
            "Your layer works when called directly but fails inside a compiled step (a `tf.function` with an "
            f"unknown batch size, which is how `fit` runs it in lesson 07): {type(err).__name__}: "
            f"{_compiled_error_text(err)}. "
            "Inside a compiled step a tensor has no value yet, so `.numpy()`, `float(...)` and NumPy functions on "
            "tensors fail: keep `call` to `keras.ops` and `keras.random`."
        ) from None
    if np.allclose(first, second):
        raise Incorrect(
            "Called twice inside one compiled step (a `tf.function`, as in `fit`), your layer drew the same noise "
            "both times: the randomness was fixed once, when the step was traced (a seed or noise computed in "
            "Python or NumPy becomes a constant). Draw eps with `keras.random.normal(..., "
            "seed=self.seed_generator)`, using a `keras.random.SeedGenerator` created in `__init__`."
        )


def _check_saving(layer_class):
    import keras

    if not inspect.isclass(layer_class):
        return
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    try:
        model = keras.Model([a, b], layer_class()([a, b]))
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(
            f"Your layer works on concrete arrays but fails inside a Keras model, where the batch size is "
            f"unknown (None): {type(err).__name__}: {error_text(err)}. Use `keras.random.normal(ops.shape(log_var), ...)` "
            "and `keras.ops` rather than NumPy, so the layer also works on symbolic tensors."
        ) from None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            reloaded = keras.saving.load_model(path, custom_objects={layer_class.__name__: layer_class})
        z = to_array(reloaded([np.zeros((5, 3), np.float32), np.zeros((5, 3), np.float32)]), "reloaded output")
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(
            f"A model containing your layer could not be saved and reloaded "
            f"({type(err).__name__}: {error_text(err)}). If `__init__` takes arguments, return them from `get_config`."
        ) from None
    if z.shape != (5, 3):
        raise Incorrect(f"After saving and reloading, the model returned shape {z.shape}, expected (5, 3).")


@exercise(
    "sampling_layer",
    hints=[
        "In `call`, unpack `mean, log_var = inputs`, draw `eps` with the shape of `log_var`, and return "
        "mean + σ · eps with σ = exp(log_var / 2).",
        "The seed generator is made once, in `__init__`, from `seed`; in `call`, `keras.random.normal` takes a "
        "shape (ask `ops` for the input's) and the generator as its `seed`. The exponential is `ops.exp`.",
    ],
    solution="""
class Sampling(keras.layers.Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(log_var), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
""",
    explanation="The reparameterization trick: an affine map of standard normal noise, fresh at every call.",
    success="Your layer draws z ~ N(mean, exp(log_var)) for any batch size, lets gradients through, "
    "and survives saving.",
    time_limit=60,
)
def check_sampling_layer(layer_class):
    """layer_class()([mean, log_var]) -> mean + exp(log_var / 2) * eps."""
    layer = _make_layer(layer_class)
    mean = np.tile(MEANS, (N_DRAWS, 1))
    log_var = np.tile(LOG_VARS, (N_DRAWS, 1))
    z = _draw(layer, mean, log_var, f"{N_DRAWS} draws")
    if z.shape != mean.shape:
        raise Incorrect(f"Your layer returned shape {z.shape} for inputs of shape {mean.shape}; "
                        "z must have the shape of mean.")
    if not np.all(np.isfinite(z)):
        raise Incorrect("Your layer returned NaN or infinity for finite inputs.")
    _check_statistics(z, lambda: _draw(layer, mean, log_var, "a second call"))
    _check_batch_sizes(layer)
    _check_gradients(layer)
    _check_compiled(layer)
    _check_saving(layer_class)
