"""Exercises of lesson 06: Equation 17-4 (kl_log_var), the first gamma at which Equation 17-3 breaks in float32,
the Sampling layer, z = mean + exp(log_var / 2) * eps, and a prediction of Equation 17-4 for a very confident
dimension."""

import inspect
import re
import tempfile
from pathlib import Path

import numpy as np

from ..checks.asserts import (
    call_learner,
    describe,
    diagnose,
    error_text,
    expect_attempted,
    expect_callable,
    to_array,
)
from ..checks.core import Incorrect, LearnerTimeout, NotAttempted, exercise
from ..checks.placeholder import is_placeholder
from ..checks.predict import judge_prediction, near
from .derivation import (
    LOG_VAR,
    LOG_VAR_TINY,
    MU,
    MU_5,
    MU_TINY,
    SIGMA_5,
    _check_kl,
    _check_other_latent_size,
    _kl_terms,
    _sign_and_factor_mistakes,
    reference_kl,
)

NAME = "first_gamma_where_17_3_breaks"
CALL_AS = f"{NAME}(gammas)"

# Grids the learner's function is called on, all float32 and walking from 0 downwards.
LESSON_GRID = np.linspace(0.0, -120.0, 1201).astype(np.float32)  # step 0.1, as in the lesson
COARSE_GRID = np.arange(0.0, -130.0, -10.0).astype(np.float32)  # step 10: catches a hard-coded answer
SAFE_GRID = np.linspace(0.0, -80.0, 41).astype(np.float32)  # 17-3 is finite everywhere here
LONG_GRID = np.linspace(0.0, -800.0, 81).astype(np.float32)  # float64 breaks only near -745
# About -745: sigma^2 rounds to 0 in float64 (-708 if subnormals are flushed).
FLOAT64_BREAK = float(-1075 * np.log(2.0))


def _answer(fn, gammas):
    """Call the learner's function on a copy of ``gammas``; return a float, or None for None."""
    with np.errstate(all="ignore"):
        value = call_learner(fn, (gammas.copy(),), NAME, CALL_AS)
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise Incorrect(f"`{NAME}` returned {value}, a yes/no answer. Return the γ itself: the first value in "
                        "`gammas` where the KL is not finite (or None if there is none).")
    if isinstance(value, (str, bytes, dict, set)):
        raise Incorrect(f"`{NAME}` should return one number (a γ from the grid) or None, "
                        f"but it returned {describe(value)}.")
    array = to_array(value, NAME)
    if array.ndim != 0 and array.size != 1:
        if array.shape == gammas.shape:
            raise Incorrect(f"`{NAME}` returned an array with one entry per γ (shape {array.shape}). "
                            "Return just the first γ where the KL is not finite, as one number.")
        raise Incorrect(f"`{NAME}` returned {array.size} values (shape {array.shape}). If those are all the broken "
                        "γ, the exercise asks for the first one only: take element `[0]`.")
    number = float(array.reshape(()))
    if np.isnan(number):
        raise Incorrect(f"`{NAME}` returned NaN. Return the γ itself (a number from `gammas`), "
                        "or None when every KL value is finite.")
    return number


def _matches(value, expected):
    if value is None or expected is None:
        return value is None and expected is None
    return bool(np.isclose(value, expected, rtol=0, atol=1e-4))


def _diagnose_lesson_grid(value, fn):
    grid = LESSON_GRID
    expected = _references(grid)
    if any(_matches(value, e) for e in expected):
        return value
    if value is None:
        long_answer = _answer(fn, LONG_GRID)
        if long_answer is not None and FLOAT64_BREAK - 15 < long_answer < FLOAT64_BREAK + 45:
            raise Incorrect(
                f"Your function finds no breakdown between 0 and −120 but one at γ = {long_answer:g}: that is where "
                "float64 underflows. Keep every step in float32, as a model does: `gammas` is float32, so do not "
                "convert it with `np.float64`, `astype(float)` or Python's `math` module."
            )
        raise Incorrect(
            "Your function says Equation 17-3 never breaks between γ = 0 and −120, but in float32 it does. "
            "The usual reasons: (1) you used γ directly, which is Equation 17-4 (it never breaks on this side); "
            "go through σ = exp(γ / 2) and log(σ²) instead; (2) you tested only for NaN, but log(0) = −inf makes "
            "the KL +inf, not NaN: use `~np.isfinite(kl)`."
        )
    index_of = {float(grid[i]): i for i in range(len(grid))}
    for e in expected:
        i = index_of.get(e)
        if i is None:
            continue
        if float(value).is_integer() and int(value) == i:
            raise Incorrect(f"`{NAME}` returned {int(value)}, which is the position of the first broken γ in the "
                            f"grid, not the γ itself. Return `gammas[{int(value)}]` (= {e:g}).")
        if i > 0 and _matches(value, float(grid[i - 1])):
            raise Incorrect(f"Off by one step: γ = {value:g} is the last value where Equation 17-3 still works. "
                            f"Return the first γ where the KL is not finite, the next one, {e:g}.")
    if _matches(value, float(grid[0])):
        raise Incorrect("You returned the first γ of the grid, 0, where the KL is perfectly finite. Your mask is "
                        "probably the wrong way round (finite instead of not finite), or nothing in it was True "
                        "and `np.argmax` fell back to position 0.")
    if _matches(value, float(grid[-1])):
        raise Incorrect(f"You returned the last γ of the grid, {grid[-1]:g}. The KL is broken there, but it broke "
                        "much earlier: walking down from 0, return the *first* γ where it is not finite "
                        "(e.g. `gammas[np.argmax(broken)]`, not `gammas[broken][-1]` or `min`).")
    wanted = " or ".join(f"{e:g}" for e in sorted(e for e in expected if e is not None))
    raise Incorrect(f"On the lesson's grid (0 down to −120 in steps of 0.1) your function returned {value:g}; "
                    f"the first γ where Equation 17-3 computed from σ in float32 is not finite is {wanted}. "
                    "Compute σ = exp(γ / 2), then KL = −½(1 + log σ² − σ²), and look for the first non-finite value.")


@exercise(
    NAME,
    hints=[
        "Follow the fragile path on purpose: with the σ the cell computes, write Equation 17-3 for one dimension "
        "with μ = 0, taking the log of σ² itself. Then find where that KL is not finite.",
        "`np.isfinite` on the KL (as a NumPy array) marks the good values; its negation marks the broken ones. "
        "Decide first whether anything is broken at all (`None` if not); `np.argmax` on a boolean array gives the "
        "position of the first True.",
    ],
    solution="""
def first_gamma_where_17_3_breaks(gammas):
    sigma = ops.exp(gammas / 2)
    kl = ops.convert_to_numpy(-0.5 * (1 + ops.log(sigma ** 2) - sigma ** 2))
    broken = ~np.isfinite(kl)
    if not broken.any():
        return None
    return float(gammas[np.argmax(broken)])
""",
    explanation="Compute the KL the fragile way, mark the values that are not finite, and return the first γ marked.",
    success="You found where computing log σ² from σ stops working in float32.",
)
def check_first_gamma_where_17_3_breaks(fn):
    """fn(gammas) -> first gamma (walking down from 0) where Equation 17-3 via sigma is not finite, or None."""
    expect_callable(fn, NAME, CALL_AS)
    value = _diagnose_lesson_grid(_answer(fn, LESSON_GRID), fn)
    coarse = _answer(fn, COARSE_GRID)
    if not any(_matches(coarse, e) for e in _references(COARSE_GRID)):
        raise Incorrect(
            f"Right on the lesson's grid, but on a coarser one (0, −10, …, −120) your function returned {coarse} "
            f"instead of {' or '.join(f'{e:g}' for e in sorted(_references(COARSE_GRID)))}. Did you hard-code the "
            "answer, or the step 0.1? Compute the KL for the γ you are given."
        )
    safe = _answer(fn, SAFE_GRID)
    if safe is not None:
        raise Incorrect(
            f"For a grid from 0 to −80, where Equation 17-3 works everywhere, your function returned {safe:g} "
            "instead of None. `np.argmax` returns 0 when nothing is True: test `broken.any()` first."
        )
    answers = _references_by_backend(LESSON_GRID)
    if answers["tensorflow"] == answers["numpy"]:
        return f"It breaks at γ = {value:g}: below it σ² is 0 in float32, so log σ² = −inf."
    if _matches(value, answers["tensorflow"]):
        return (f"It breaks at γ = {value:g}: there σ² falls below the smallest normal float32 (1.2e-38) and "
                "TensorFlow flushes it to 0, so log σ² = −inf.")
    return (f"It breaks at γ = {value:g}: there σ² rounds to 0 even as a subnormal number, so log σ² = −inf. "
            f"(TensorFlow flushes subnormals to 0 and breaks earlier, at {answers['tensorflow']:g}.)")


def _references_by_backend(gammas):
    """The right answers on this grid, by library: TensorFlow flushes subnormal σ² to 0, NumPy keeps it (both
    float32)."""
    from ..lessons.stability import first_gamma_where_17_3_breaks

    return {backend: first_gamma_where_17_3_breaks(gammas, backend) for backend in ("tensorflow", "numpy")}


def _references(gammas):
    return set(_references_by_backend(gammas).values())


# ---- Equation 17-4: kl_log_var


@exercise(
    "kl_log_var",
    hints=[
        "Equation 17-4 replaces log σ² by γ and σ² by exp(γ): KL = −1/2 · Σᵢ (1 + γᵢ − exp(γᵢ) − μᵢ²).",
        "Do not go back to sigma: γ already is the log of the variance, and one exp turns it into the variance. "
        "Sum over the last axis only.",
    ],
    solution="""
def kl_log_var(mu, log_var):
    return -0.5 * ops.sum(1 + log_var - ops.exp(log_var) - ops.square(mu), axis=-1)
""",
    explanation="Use gamma directly: it is log sigma^2, and exp(gamma) is sigma^2.",
    success="Your function computes Equation 17-4, and stays finite even where σ² underflows float32.",
)
def check_kl_log_var(fn):
    """fn(mu, log_var) -> KL per example (Equation 17-4)."""
    name, call_as = "kl_log_var", "kl_log_var(mu, log_var)"
    gamma = LOG_VAR.astype(np.float64)
    terms = _kl_terms(MU, gamma)
    values = _check_kl(fn, MU, LOG_VAR, name, call_as, None, "the lesson's test values of mu and log_var")
    mu = MU.astype(np.float64)
    mistakes = _sign_and_factor_mistakes(terms) + [
        (-0.5 * (1 + gamma - np.exp(gamma) + mu**2).sum(-1),
         "Check the sign of μ²: it is subtracted, −μᵢ². Moving the mean away from 0 must increase the KL."),
        (-0.5 * (1 + gamma - np.exp(gamma / 2) - mu**2).sum(-1),
         "You used exp(γ/2), which is σ, where Equation 17-4 needs exp(γ) = σ²."),
        (-0.5 * (1 + gamma - gamma**2 - mu**2).sum(-1),
         "You squared γ. γ is log σ², so σ² is exp(γ), not γ²."),
        (-0.5 * (1 + 2 * gamma - np.exp(2 * gamma) - mu**2).sum(-1),
         "You treated γ as log σ (writing 2γ and exp(2γ)). In Equation 17-4, γ = log σ², so use γ and exp(γ) as they "
         "are."),
        (-0.5 * (gamma - np.exp(gamma) - mu**2).sum(-1),
         "The bracket starts with 1: (1 + γ − exp(γ) − μ²). Without it the KL is not zero at the prior."),
    ]
    diagnose(values, reference_kl(MU, gamma), mistakes, name, "the lesson's test values")
    _check_other_latent_size(fn, MU_5, np.log(np.square(SIGMA_5)), np.log(np.square(SIGMA_5.astype(np.float64))),
                             name, call_as)
    tiny = to_array(call_learner(fn, (MU_TINY, LOG_VAR_TINY), name, call_as), name)
    if not np.all(np.isfinite(tiny)) or not np.allclose(tiny, reference_kl(MU_TINY, LOG_VAR_TINY), rtol=1e-4):
        raise Incorrect(
            "Your function is right for ordinary values but not for very confident dimensions "
            f"(γ = −120 gave {np.round(tiny, 3).tolist()}, "
            f"expected {np.round(reference_kl(MU_TINY, LOG_VAR_TINY), 3).tolist()}). "
            "Computing σ² = exp(γ) and then log(σ²) underflows to log(0) = −inf in float32: use γ directly in the "
            "log term."
        )


# ---- the Sampling layer, z = mean + exp(log_var / 2) * eps

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
    swapped = np.all(np.abs(sample_mean - LOG_VARS) < mean_tolerance)
    if swapped and np.allclose(sample_std, np.exp(MEANS / 2), rtol=0.05):
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
            f"unknown (None): {type(err).__name__}: {error_text(err)}. Use `keras.random.normal(ops.shape(log_var), "
            f"...)` "
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
    \"\"\"Draws z = mean + exp(log_var / 2) * eps, eps ~ N(0, I), from the inputs [mean, log_var].\"\"\"

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(log_var), seed=self.seed_generator)
        return eps * ops.exp(log_var / 2) + mean

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


# ---- predict_kl_at_minus_120: Equation 17-4 for a very confident dimension -----------------------------------------

GAMMA_CONFIDENT = -120.0


@exercise(
    "predict_kl_at_minus_120",
    hints=[
        "Put μ = 0 and γ = −120 into −½(1 + γ − e^γ − μ²). How big is e⁻¹²⁰?",
        "e⁻¹²⁰ is about 10⁻⁵², nothing next to the other terms: what is left is −½(1 + γ).",
    ],
    solution="kl_at_minus_120_guess = 59.5  # −½(1 − 120 − e⁻¹²⁰) ≈ −½(1 − 120)",
    explanation="e⁻¹²⁰ is negligible, so the KL is −½(1 + γ) = −½(1 − 120) = 59.5 nats: large, but finite.",
    success="Good prediction.",
)
def check_predict_kl_at_minus_120(kl_at_minus_120_guess):
    """A guess of Equation 17-4 at mu = 0, gamma = -120, within 1 nat."""
    truth = float(-0.5 * (1.0 + GAMMA_CONFIDENT - np.exp(GAMMA_CONFIDENT)))
    if isinstance(kl_at_minus_120_guess, (float, np.floating)) and np.isinf(kl_at_minus_120_guess):
        raise Incorrect(f"You predicted infinity; the true value is {truth:g}. Infinity is what Equation 17-3 gives "
                        "when σ² is computed from σ and rounds to 0, because log 0 = −∞. Equation 17-4 takes no "
                        "logarithm: γ is already log σ².")
    return judge_prediction(
        kl_at_minus_120_guess, truth, truth - 1.0, truth + 1.0, "kl_at_minus_120_guess",
        "Equation 17-4 takes no logarithm: e^γ = e⁻¹²⁰ ≈ 10⁻⁵² vanishes next to the other terms, and "
        "−½(1 + γ) = −½(1 − 120) = 59.5 is left. A confident dimension costs a lot, but a finite amount.",
        mistakes=[
            (near(-truth, 0.03), "Check the sign: a KL divergence is never negative; the −½ in front makes it "
                                 "positive."),
            (near(2 * truth, 0.03), "Remember the ½ in front of the bracket."),
            (lambda v: abs(v) < 1, "A tiny σ² does not make the KL vanish: the γ term itself is −120."),
        ],
    )
