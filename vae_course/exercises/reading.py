"""Lesson 01's exercises: reading the 2016 snippet, a sampler for any batch size, and R's concatenate-then-split.

- ``which_head``: which statements about the two heads are true.
- ``sampling_any_batch``: the 2016 ``sampling(args)`` in Keras 3, with noise shaped like its input.
- ``sample_from_concatenated``: split h = [z_mean | z_log_var] along the last axis and sample.
- ``compare_samplers``: report the largest output AND gradient differences between two samplers.
- ``predict_blocked_gradients``: predict how many encoder weight tensors a stop_gradient on σ changes.
"""

import re

import numpy as np

from ..checks.asserts import (
    close,
    describe,
    diagnose,
    error_text,
    expect_attempted,
    expect_callable,
    to_array,
    try_call,
)
from ..checks.core import Incorrect, LearnerTimeout, NotAttempted, exercise
from ..checks.placeholder import is_placeholder
from ..checks.predict import judge_prediction

# ---- shared helpers -------------------------------------------------------------------------------------------


def _is_the_halves(result, halves):
    """True if ``result`` is the pair of arrays ``halves`` (the inputs a split gives back)."""
    if halves is None or len(result) != 2:
        return False
    try:
        parts = [to_array(part, "part") for part in result]
    except Incorrect:
        return False
    return all(p.shape == h.shape and np.allclose(p, h) for p, h in zip(parts, halves))


def _expect_tensor(result, name, halves=None):
    """One tensor, not a Python list or tuple; ``halves`` are the two inputs a split would give back."""
    if isinstance(result, str):
        raise Incorrect(f"`{name}` returned the string {result!r:.40}; it should return a tensor of numbers, z.")
    if isinstance(result, (list, tuple)):
        if _is_the_halves(result, halves):
            raise Incorrect(
                f"`{name}` returned the two halves [z_mean, z_log_var] as a Python {type(result).__name__}: "
                "you split h but did not sample. Return one tensor, z = z_mean + exp(z_log_var / 2) * eps."
            )
        raise Incorrect(
            f"`{name}` returned a Python {type(result).__name__} of {len(result)} item(s), not a tensor. "
            "Return z itself, one tensor with one row per example (no brackets around it)."
        )
    return to_array(result, name)


def _error(err):
    """The informative line of a learner's exception, without TensorFlow's "[Op:Mul] name:" tail."""
    return re.sub(r"\s*\[Op:\w+\]( name:)?\s*$", "", error_text(err)).rstrip(" .:")


# ---- which_head: a multiple choice on the two heads ------------------------------------------------------------

STATEMENTS = {
    "a": (False, "(a) is false: nothing in the code says log σ = μ. `z_log_sigma` is not computed from `z_mean`; "
                 "the two are separate `Dense` layers on `h`, each with its own weights."),
    "b": (True, "(b) is true: both heads are `Dense(latent_dim)` layers with no activation on the same `h`; "
                "only their weights differ."),
    "c": (False, "(c) is false: a name is only a label. keras-team/keras#2729 renamed `z_log_sigma` to "
                 "`z_log_std` and nothing the network computes changed."),
    "d": (True, "(d) is true (with `epsilon_std = 1`, as the exercise says): the head acts as log σ because the "
                "sampler multiplies the noise by `exp(z_log_sigma)`; the loss must treat it the same way. With the "
                "blog's 0.01 the noise's standard deviation would be 0.01 · exp(z_log_sigma)."),
    "e": (True, "(e) is true: a `Dense` output can be any real number, negatives included, and exp of any real "
                "number is positive, so σ = exp(z_log_sigma) > 0 always (with any positive `epsilon_std`, "
                "the noise's standard deviation stays positive too)."),
}
TRUE_LETTERS = "".join(sorted(k for k, (truth, _) in STATEMENTS.items() if truth))
LETTERS = ", ".join(sorted(STATEMENTS))


def _chosen_letters(answer):
    """The set of letters in a string such as "bde", "b, d, e" or "(b) and (d)", or a list/set of letters."""
    if isinstance(answer, str):
        tokens = [t for t in re.split(r"[^0-9a-zA-Z]+", answer.lower()) if t and t != "and"]
        if len(tokens) == 1 and tokens[0].isalpha():
            return set(tokens[0])
        if tokens and all(len(t) == 1 for t in tokens):
            return set(tokens)
        if not tokens:
            return set()
    elif isinstance(answer, (list, tuple, set, frozenset)) and all(isinstance(t, str) for t in answer):
        return set().union(*(_chosen_letters(t) for t in answer)) if answer else set()
    raise Incorrect(
        f"Give the letters of the true statements as one string, e.g. `\"ab\"` or `\"a, b\"`; "
        f"your answer is {describe(answer)}."
    )


@exercise(
    "which_head",
    hints=[
        "Look at the four lines of the encoder again: which layer is computed from which? Then look at the one "
        "line that uses `z_log_sigma`.",
        "Judge each statement on its own, and for each ask: is this about what the code computes, or about a name "
        "or an equation the code does not contain? Only what the code computes can make a statement true.",
    ],
    solution=f'true_statements = "{TRUE_LETTERS}"',
    explanation="The heads are twin Dense layers; the sampler's exp(z_log_sigma) gives the second one its "
    "meaning. Names and imagined equations give none.",
    success="Two twin heads on one hidden layer; what they mean comes from how the sampler and the loss use "
    "them, not from their names.",
)
def check_which_head(true_statements):
    """true_statements: the letters of the true statements (a string such as "ab", or a list of letters)."""
    expect_attempted(true_statements, "true_statements")
    chosen = _chosen_letters(true_statements)
    unknown = sorted(chosen - set(STATEMENTS))
    if unknown:
        raise Incorrect(f"There is no statement ({', '.join(unknown)}): choose among {LETTERS}.")
    if not chosen:
        raise Incorrect("You chose no statement, but some of them are true. Give their letters, e.g. `\"ab\"`.")
    wrong = [letter for letter, (truth, _) in sorted(STATEMENTS.items()) if (letter in chosen) != truth]
    if wrong:
        reasons = "\n".join(STATEMENTS[letter][1] for letter in wrong)
        raise Incorrect(f"Not quite: you misjudged {len(wrong)} statement(s).\n{reasons}")


# ---- sampling_any_batch: noise shaped like the input ----------------------------------------------------------

N_DRAWS = 20_000
MEANS = np.array([0.0, 2.0, -1.0], dtype=np.float32)
LOG_SIGMAS = np.array([0.0, -1.0, 0.5], dtype=np.float32)
SIGMAS = np.exp(LOG_SIGMAS.astype(np.float64))
SMALL_BATCHES = (7, 1)  # sizes a sampler built for the lesson's batch_size = 100 was never given

FIXED_SHAPE = (
    "The noise has a fixed shape, like the 2016 `K.random_normal(shape=(batch_size, latent_dim))`, so it only "
    "fits batches of that one size (the last batch of an epoch is usually smaller). Draw it with the shape of "
    "the input: `keras.random.normal(ops.shape(z_mean), seed=seed_generator)`."
)
SHARED_NOISE = (
    "Every row got the same noise. Each example needs its own eps: draw it with the full shape "
    "`ops.shape(z_mean)`, not `(1, latent_dim)` or `(latent_dim,)`."
)


def _sampling_error_advice(err):
    """A sentence about the usual causes of an error raised by a learner's sampling function."""
    text = str(err)
    if isinstance(err, TypeError) and "positional argument" in text:
        return (" A `Lambda` layer passes ONE argument, the list [z_mean, z_log_sigma]: define "
                "`def sampling(args):` and unpack it with `z_mean, z_log_sigma = args`.")
    if "'std'" in text:
        return " Keras 3 calls the standard deviation `stddev`, not `std`: `keras.random.normal(shape, stddev=1.0)`."
    if "random_normal" in text:
        return (" `K.random_normal` is gone in Keras 3: use "
                "`keras.random.normal(shape, mean=0.0, stddev=1.0, seed=...)`.")
    if "keras.backend" in text:
        return (" The old `K.` functions are gone from `keras.backend` in Keras 3: use `keras.ops` "
                "(`ops.exp`, `ops.shape`) and `keras.random.normal`.")
    if "Incompatible shapes" in text or "broadcast" in text.lower() or "shape" in text.lower():
        return " " + FIXED_SHAPE
    return ""


def _run_sampling(fn, z_mean, z_log_sigma, what):
    """z for one call of the learner's sampling on [z_mean, z_log_sigma], as a NumPy array."""
    from keras import ops

    args = [ops.convert_to_tensor(z_mean), ops.convert_to_tensor(z_log_sigma)]
    result, err = try_call(fn, (args,), "sampling")
    if err is not None:
        raise Incorrect(
            f"Calling `sampling([z_mean, z_log_sigma])` with {what} raised {type(err).__name__}: "
            f"{_error(err)}.{_sampling_error_advice(err)}"
        )
    return _expect_tensor(result, "sampling")


def _check_sampling_statistics(z, draw_again):
    sample_mean, sample_std = z.mean(axis=0), z.std(axis=0)
    if np.allclose(sample_std, 0, atol=1e-6):
        if not np.allclose(draw_again(), z):
            raise Incorrect(SHARED_NOISE)
        raise Incorrect("Every draw is the same: there is no noise. Multiply standard normal noise "
                        "`keras.random.normal(ops.shape(z_mean), ...)` by exp(z_log_sigma).")
    swapped_tolerance = 5 * np.exp(MEANS) / np.sqrt(len(z)) + 1e-3
    swapped_mean = np.all(np.abs(sample_mean - LOG_SIGMAS) < swapped_tolerance)
    if swapped_mean and np.allclose(sample_std, np.exp(MEANS), rtol=0.05):
        raise Incorrect("You swapped the two inputs: `args` is [z_mean, z_log_sigma], in that order.")
    std_mistakes = [
        (np.exp(LOG_SIGMAS / 2.0), "You used exp(z_log_sigma / 2), the rule for a log-VARIANCE head. Here we "
                                   "translate the 2016 sampler as it is: its head is named log σ, so σ = "
                                   "exp(z_log_sigma). (Whether the rest of the 2016 code keeps that promise is "
                                   "lesson 04's question.)"),
        (0.01 * SIGMAS, "Your noise is 100 times too small: that is the blog's `epsilon_std = 0.01`. The Keras 3 "
                        "translation draws eps ~ N(0, 1): `stddev=1.0` (keras-team/keras#4211)."),
        (np.ones_like(SIGMAS), "Your draws have standard deviation 1 whatever z_log_sigma is: multiply eps by "
                               "exp(z_log_sigma)."),
        (np.exp(-LOG_SIGMAS), "Your standard deviation is exp(−z_log_sigma), the reciprocal of σ: check the sign."),
        (np.exp(2.0 * LOG_SIGMAS), "Your draws spread like exp(2 · z_log_sigma) = σ², the variance; the noise is "
                                   "scaled by σ = exp(z_log_sigma)."),
        (np.abs(LOG_SIGMAS), "You used z_log_sigma itself as the standard deviation; it is a log, so "
                             "exponentiate it: σ = exp(z_log_sigma)."),
    ]
    diagnose(sample_std, SIGMAS, std_mistakes, "sampling", "the spread", rtol=0.04, atol=0.01, mistake_atol=0.005,
             otherwise=f"With z_log_sigma = {LOG_SIGMAS.tolist()} the draws should have standard deviations "
                       f"exp(z_log_sigma) = {np.round(SIGMAS, 3).tolist()}, but yours have "
                       f"{np.round(sample_std, 3).tolist()}.")
    tolerance = 5 * SIGMAS / np.sqrt(len(z)) + 1e-3
    if not np.all(np.abs(sample_mean - MEANS) < tolerance):
        if np.allclose(sample_mean, 0, atol=0.05):
            raise Incorrect("Your draws are centred on 0: add `z_mean` to the scaled noise.")
        raise Incorrect(f"With z_mean = {MEANS.tolist()} the draws should average to it, but they average to "
                        f"{np.round(sample_mean, 3).tolist()}.")


def _check_inside_a_model(fn):
    """The sampler as the 2016 code used it: a Lambda layer in a functional model, batch size unknown (None)."""
    import keras

    z_mean_in, z_log_sigma_in = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    try:
        model = keras.Model([z_mean_in, z_log_sigma_in], keras.layers.Lambda(fn)([z_mean_in, z_log_sigma_in]))
        z = model([np.zeros((5, 3), np.float32), np.zeros((5, 3), np.float32)])
    except LearnerTimeout:
        raise
    except NotAttempted:
        raise
    except Exception as err:
        raise Incorrect(
            "Your sampling works on concrete arrays but fails inside a Keras model, where the batch size is "
            f"unknown (None) while the model is built: {type(err).__name__}: {_error(err)}. Use "
            "`keras.random.normal(ops.shape(z_mean), ...)` and `keras.ops`, not NumPy's random numbers."
        ) from None
    z = _expect_tensor(z, "the model's output")
    if z.shape != (5, 3):
        raise Incorrect(f"Inside a Keras model, a batch of 5 came out with shape {z.shape}, expected (5, 3). "
                        + FIXED_SHAPE)


@exercise(
    "sampling_any_batch",
    hints=[
        "Unpack `z_mean, z_log_sigma = args`, draw standard normal noise with the shape of `z_mean`, and return "
        "z_mean + exp(z_log_sigma) * eps.",
        "The noise comes from `keras.random.normal(shape, mean=..., stddev=..., seed=...)`. Its shape is not a "
        "fixed (batch_size, latent_dim): ask `ops` for the shape of the tensor you have. The exponential is "
        "`ops.exp`.",
    ],
    solution="""
def sampling(args):
    z_mean, z_log_sigma = args
    epsilon = keras.random.normal(ops.shape(z_mean), mean=0.0, stddev=1.0, seed=seed_generator)
    return z_mean + ops.exp(z_log_sigma) * epsilon
""",
    explanation="The noise takes its shape from z_mean, so it fits every batch: full ones, the last short one, "
    "and the unknown (None) batch of a model being built.",
    success="Your sampling fits any batch size, draws fresh noise at each call, and works inside a Keras model.",
)
def check_sampling_any_batch(sampling):
    """sampling([z_mean, z_log_sigma]) -> z_mean + exp(z_log_sigma) * eps for any batch size."""
    expect_callable(sampling, "sampling", "sampling([z_mean, z_log_sigma])")
    for n in SMALL_BATCHES:
        z_mean, z_log_sigma = np.tile(MEANS[:2], (n, 1)), np.tile(LOG_SIGMAS[:2], (n, 1))
        z = _run_sampling(sampling, z_mean, z_log_sigma, f"a batch of {n} row{'s' * (n > 1)}")
        if z.shape != (n, 2):
            raise Incorrect(f"For a batch of {n} row{'s' * (n > 1)} (latent_dim = 2) your sampling returned shape "
                            f"{z.shape}, expected {(n, 2)}. " + FIXED_SHAPE)
    z_mean, z_log_sigma = np.tile(MEANS, (N_DRAWS, 1)), np.tile(LOG_SIGMAS, (N_DRAWS, 1))
    z = _run_sampling(sampling, z_mean, z_log_sigma, f"{N_DRAWS} rows and latent_dim = 3")
    if z.shape != z_mean.shape:
        raise Incorrect(f"For {N_DRAWS} rows and latent_dim = 3 your sampling returned shape {z.shape}, "
                        f"expected {z_mean.shape}. Draw the noise with the full shape `ops.shape(z_mean)`.")
    if not np.all(np.isfinite(z)):
        raise Incorrect("Your sampling returned NaN or infinity for small, finite inputs.")
    _check_sampling_statistics(z, lambda: _run_sampling(sampling, z_mean, z_log_sigma, "a second call"))
    again = _run_sampling(sampling, z_mean[:64], z_log_sigma[:64], "64 rows")
    if np.allclose(again, _run_sampling(sampling, z_mean[:64], z_log_sigma[:64], "64 rows, a second time")):
        raise Incorrect("Two calls gave exactly the same noise. A fixed integer seed in `keras.random.normal` "
                        "repeats the draw: create `seed_generator = keras.random.SeedGenerator(2016)` once and "
                        "pass `seed=seed_generator`.")
    _check_inside_a_model(sampling)


# ---- sample_from_concatenated: R's concatenate-then-split -----------------------------------------------------

_RNG = np.random.default_rng(2017)
H_2 = np.round(_RNG.normal(0.0, 1.0, (4, 4)), 3).astype(np.float32)   # batch 4, latent_dim 2 (the lesson's)
EPS_2 = np.round(_RNG.normal(0.0, 1.0, (4, 2)), 3).astype(np.float32)
H_3 = np.round(_RNG.normal(0.0, 1.0, (5, 6)), 3).astype(np.float32)   # batch 5, latent_dim 3
EPS_3 = np.round(_RNG.normal(0.0, 1.0, (5, 3)), 3).astype(np.float32)
# Probes on which the usual wrong splits still run: eps (1 x 1) broadcasts to anything. The 2 x 2 probe catches a
# split of the rows at ops.shape(h)[-1] // 2 (or ops.split's default axis 0), the 4 x 2 one a split at latent_dim = 2.
PROBES_H = (np.array([[0.3, -0.4], [1.2, 0.8]], dtype=np.float32),
            np.array([[0.3, -0.4], [1.2, 0.8], [-0.5, 0.1], [0.9, -1.1]], dtype=np.float32))
PROBE_EPS = np.array([[0.7]], dtype=np.float32)


def _halves(h):
    h = np.asarray(h, dtype=np.float64)
    k = h.shape[-1] // 2
    return h[:, :k], h[:, k:]


def reference_concatenated(h, eps):
    """z = mean + exp(log_var / 2) * eps with [mean | log_var] = h along the last axis (float64)."""
    mean, log_var = _halves(h)
    return mean + np.exp(log_var / 2) * np.asarray(eps, dtype=np.float64)


def _concat_mistakes(h, eps):
    mean, log_var = _halves(h)
    eps = np.asarray(eps, dtype=np.float64)
    return [
        (log_var + np.exp(mean / 2) * eps,
         "You swapped the halves: the first half of h is z_mean and the second is z_log_var, because "
         "the heads were concatenated as [z_mean, z_log_var]."),
        (mean + np.exp(log_var) * eps,
         "You scaled eps by exp(log_var), which is σ², the variance. The second half is log σ², so "
         "σ = exp(log_var / 2). (exp of the head is the 2016 rule for a head that holds log σ.)"),
        (mean + np.exp(-log_var / 2) * eps,
         "Your scale is exp(−log_var / 2), the reciprocal of σ: check the sign."),
        (mean + log_var * eps,
         "You used log_var itself as the scale; it is a log, so exponentiate: σ = exp(log_var / 2)."),
        (np.exp(log_var / 2) * eps, "You forgot to add the mean: z = mean + exp(log_var / 2) * eps."),
        (mean + np.exp(log_var / 2), "You forgot to multiply by eps: z = mean + exp(log_var / 2) * eps."),
        (mean, "Your z is the mean alone: the noise eps never enters. z = mean + exp(log_var / 2) * eps."),
    ]


def _probe(fn, h):
    """The learner's z for the probe h (and eps 0.7), or None if that fails too."""
    result, err = try_call(fn, (h, PROBE_EPS), "sample_from_concatenated")
    if err is not None or isinstance(result, (list, tuple)):
        return None
    try:
        return to_array(result, "sample_from_concatenated")
    except Incorrect:
        return None


def _diagnose_probe(fn):
    """After an error or a wrong shape: does the function split along axis 0, or not split at all?"""
    e = float(PROBE_EPS[0, 0])
    for probe in PROBES_H:
        z = _probe(fn, probe)
        if z is None:
            continue
        h = probe.astype(np.float64)
        top, bottom = np.split(h, 2, axis=0)
        if close(z, top + np.exp(bottom / 2) * e) or close(z, bottom + np.exp(top / 2) * e):
            return ("You split along axis 0, the batch: the first half of the EXAMPLES became the mean. The two "
                    "heads were joined along the last axis, so split there: `ops.split(h, 2, axis=-1)` "
                    "(`ops.split` and `tf.split` split axis 0 unless told otherwise) or "
                    "`h[:, :latent_dim]` and `h[:, latent_dim:]`.")
        if close(z, h + np.exp(h / 2) * e):
            return ("You forgot to split: the whole concatenation h was used as both the mean and the "
                    "log-variance. Split the last axis in two halves first: "
                    "`z_mean, z_log_var = ops.split(h, 2, axis=-1)`.")
    return None


def _concat_values(fn, h, eps):
    """The learner's z for (h, eps), with a diagnosis for errors, lists and wrong shapes."""
    n, k = eps.shape
    result, err = try_call(fn, (h, eps), "sample_from_concatenated")
    if err is not None:
        diagnosis = _diagnose_probe(fn)
        if diagnosis:
            raise Incorrect(diagnosis)
        raise Incorrect(f"Calling `sample_from_concatenated(h, eps)` with h of shape {h.shape} and eps of shape "
                        f"{eps.shape} raised {type(err).__name__}: {_error(err)}.")
    z = _expect_tensor(result, "sample_from_concatenated", halves=_halves(h))
    if z.shape != (n, k):
        diagnosis = _diagnose_probe(fn)
        if diagnosis:
            raise Incorrect(diagnosis)
        raise Incorrect(f"For h of shape {h.shape} (latent_dim = {k}) your function returned shape {z.shape}, "
                        f"expected {(n, k)}: one z per example and latent dimension.")
    if not np.all(np.isfinite(z)):
        raise Incorrect("Your function returned NaN or infinity for small, finite h and eps.")
    return z


def _check_concat_case(fn, h, eps):
    z = _concat_values(fn, h, eps)
    if close(z, reference_concatenated(h, eps)):
        return
    for wrong, message in _concat_mistakes(h, eps):
        if close(z, wrong):
            raise Incorrect(message)
    again, _ = try_call(fn, (h, eps), "sample_from_concatenated")
    try:
        same_again = close(to_array(again, "sample_from_concatenated"), z)
    except Incorrect:
        same_again = True
    if not same_again:
        raise Incorrect("Your function gives a different z each time for the same h and eps: it must not draw "
                        "noise of its own. Use the `eps` passed in; that is what makes the comparison fair.")
    raise Incorrect(f"For the check's h and eps your z is {np.round(z, 3).tolist()}, expected "
                    f"{np.round(reference_concatenated(h, eps), 3).tolist()}. Split h into [mean | log_var] along "
                    "the last axis, then return mean + exp(log_var / 2) * eps.")


def _check_concat_gradients(fn):
    """Gradients must flow back to both halves of h: d sum(z) / d mean = 1, d sum(z) / d log_var = sigma * eps / 2."""
    import tensorflow as tf

    h = tf.Variable(H_2)
    eps = tf.constant(EPS_2)
    try:
        with tf.GradientTape() as tape:
            z = fn(h, eps)
            total = tf.reduce_sum(z)
        grad = tape.gradient(total, h)
    except LearnerTimeout:
        raise
    except Exception as err:
        raise Incorrect(
            "Your function gives the right numbers for NumPy arrays but fails on TensorFlow tensors "
            f"({type(err).__name__}: {_error(err)}). Write it with `keras.ops` (`ops.split`, `ops.exp`) or "
            "slicing, so it also works inside a model."
        ) from None
    if grad is None:
        raise Incorrect(
            "Your values are right, but no gradient flows back to h: a NumPy function (np.exp, np.split) turns the "
            "tensor into a plain array. Use `keras.ops` (`ops.split`, `ops.exp`), or slicing, so the encoder can "
            "learn through the sampler."
        )
    mean, log_var = _halves(H_2)
    expected = np.concatenate([np.ones_like(mean), 0.5 * np.exp(log_var / 2) * EPS_2], axis=-1)
    if not close(np.asarray(grad), expected):
        raise Incorrect("Your values are right, but the gradients with respect to h are not those of "
                        "mean + exp(log_var / 2) * eps. Is there an `ops.stop_gradient` or a NumPy step inside?")


@exercise(
    "sample_from_concatenated",
    hints=[
        "h holds [z_mean | z_log_var] side by side along the LAST axis. Cut it in two halves there, then sample "
        "exactly as with two inputs.",
        "`ops.split(tensor, number_of_pieces, axis=...)` returns equal pieces of a tensor as a list. Which axis "
        "holds the two halves, and how many pieces do you want?",
    ],
    solution="""
def sample_from_concatenated(h, eps):
    z_mean, z_log_var = ops.split(h, 2, axis=-1)
    return z_mean + ops.exp(z_log_var / 2) * eps
""",
    explanation="Split the last axis in two halves (mean first), then apply the same reparameterization as "
    "the two-input version.",
    success="Your sampler splits [z_mean | z_log_var] along the last axis, samples, and lets gradients flow "
    "to both halves, for any latent_dim.",
)
def check_sample_from_concatenated(sample_from_concatenated):
    """sample_from_concatenated(h, eps) -> mean + exp(log_var / 2) * eps with [mean | log_var] = h (last axis)."""
    fn = sample_from_concatenated
    expect_callable(fn, "sample_from_concatenated", "sample_from_concatenated(h, eps)")
    _check_concat_case(fn, H_2, EPS_2)
    try:
        _check_concat_case(fn, H_3, EPS_3)
    except Incorrect as verdict:
        raise Incorrect(
            "Your function is right when latent_dim is 2 but not when it is 3; did you hard-code the size of a "
            "half? Take it from the input: `ops.split(h, 2, axis=-1)`, or `k = ops.shape(h)[-1] // 2`. "
            f"(For latent_dim = 3: {verdict})"
        ) from None
    _check_concat_gradients(fn)


# ---- compare_samplers: outputs AND gradients ------------------------------------------------------------------

ZERO = 1e-5  # differences below this count as "the same" (float32 arithmetic)
_ENCODER_CACHE = {}


def _comparison_setup():
    """A small encoder (6 inputs, 8 hidden units, latent_dim 2), a batch x and its noise eps, built once."""
    if "setup" not in _ENCODER_CACHE:
        from ..lessons.reading import build_2016_encoder

        rng = np.random.default_rng(7)
        encoder = build_2016_encoder(6, 8, 2, second_head="z_log_var", seed=11, name="check_encoder")
        x = rng.uniform(0.0, 1.0, (5, 6)).astype(np.float32)
        eps = rng.normal(0.0, 1.0, (5, 2)).astype(np.float32)
        _ENCODER_CACHE["setup"] = (encoder, x, eps)
    return _ENCODER_CACHE["setup"]


def _two_inputs(z_mean, z_log_var, eps):
    from keras import ops

    return z_mean + ops.exp(z_log_var / 2) * eps


def _concatenated(z_mean, z_log_var, eps):
    from keras import ops

    z_mean, z_log_var = ops.split(ops.concatenate([z_mean, z_log_var], axis=-1), 2, axis=-1)
    return z_mean + ops.exp(z_log_var / 2) * eps


def _variance_scale(z_mean, z_log_var, eps):
    from keras import ops

    return z_mean + ops.exp(z_log_var) * eps


def _blocked_scale(z_mean, z_log_var, eps):
    from keras import ops

    # "+ 0 * z_log_var" keeps the head connected, so the tape gives zeros rather than None for its weights
    return z_mean + ops.stop_gradient(ops.exp(z_log_var / 2)) * eps + 0.0 * z_log_var


def _blocked_mean(z_mean, z_log_var, eps):
    from keras import ops

    return ops.stop_gradient(z_mean) + 0.0 * z_mean + ops.exp(z_log_var / 2) * eps


def _one_number(value, what):
    if value is None or is_placeholder(value):
        return None
    array = to_array(value, what)
    if array.size != 1:
        raise Incorrect(f"The {what} should be ONE number, the largest absolute difference, but you returned "
                        f"{array.size} numbers. Take the maximum over all of them (over all weights, for the "
                        "gradients).")
    number = float(array.reshape(()))
    if not np.isfinite(number):
        raise Incorrect(f"Your {what} is {number}: look for a NaN or an overflow in the samplers' inputs.")
    if number < 0:
        raise Incorrect(f"Your {what} is negative ({number:.3g}): a size of a difference is ≥ 0. Take the "
                        "absolute value before the maximum.")
    return number


def _as_numbers(value):
    """``value`` as a float array, or an empty array when it is not numeric (the caller then explains)."""
    try:
        return to_array(value, "result")
    except Incorrect:
        return np.zeros(0)


GRADIENTS_HOW = (
    "Equal outputs do not prove equal gradients: also take the gradients of the loss with respect to "
    "`encoder.trainable_weights` for each sampler (a `tf.GradientTape` around the encoder call and the sampler), "
    "and return the largest absolute difference as the second number."
)
GRADIENTS_NOT_COMPARED = "You compared the outputs but not the gradients. " + GRADIENTS_HOW


def _run_compare(fn, pair, pair_text):
    encoder, x, eps = _comparison_setup()
    result, err = try_call(fn, (pair[0], pair[1], encoder, x, eps), "compare_samplers")
    if err is not None:
        advice = ""
        if "NoneType" in str(err):
            advice = (" A gradient is None when the tape did not see the computation: call the encoder AND the "
                      "sampler inside the `with tf.GradientTape() as tape:` block.")
        raise Incorrect(f"Calling `compare_samplers(...)` on {pair_text} raised {type(err).__name__}: "
                        f"{_error(err)}.{advice}")
    if not isinstance(result, (list, tuple)) and result is not None and np.size(_as_numbers(result)) == 2:
        result = tuple(_as_numbers(result).reshape(-1))
    if not isinstance(result, (list, tuple)):
        if _one_number(result, "result") is not None:
            raise Incorrect("Your function returned one number. Return two: (output difference, gradient "
                            "difference). " + GRADIENTS_NOT_COMPARED)
        raise Incorrect("Your function returned None: return the two numbers, "
                        "`return output_difference, gradient_difference`.")
    if len(result) != 2:
        raise Incorrect(f"Your function returned {len(result)} values; return exactly two: "
                        "(output difference, gradient difference).")
    output_difference = _one_number(result[0], "output difference")
    gradient_difference = _one_number(result[1], "gradient difference")
    if output_difference is None:
        raise NotAttempted("The output difference is still `____` (or None): compute the largest absolute "
                           "difference between the two samplers' z first.")
    if gradient_difference is None:
        raise Incorrect(GRADIENTS_NOT_COMPARED)
    return output_difference, gradient_difference


@exercise(
    "compare_samplers",
    hints=[
        "Inside one `with tf.GradientTape(persistent=True) as tape:` block, call the encoder on x, run both "
        "samplers on its two heads with the same eps, and compute a loss for each, e.g. `ops.sum(ops.square(z))`. "
        "Then `tape.gradient(loss, encoder.trainable_weights)` for each loss.",
        "Both differences are a largest absolute difference: of the two z for the first number, and for the "
        "second, of each matching pair of gradients (`zip` pairs the two lists), then the largest over the pairs. "
        "Return them as plain floats.",
    ],
    solution="""
def compare_samplers(sampler_a, sampler_b, encoder, x, eps):
    with tf.GradientTape(persistent=True) as tape:
        z_mean, z_log_var = encoder(x)
        z_a = sampler_a(z_mean, z_log_var, eps)
        z_b = sampler_b(z_mean, z_log_var, eps)
        loss_a = ops.sum(ops.square(z_a))
        loss_b = ops.sum(ops.square(z_b))
    grads_a = tape.gradient(loss_a, encoder.trainable_weights)
    grads_b = tape.gradient(loss_b, encoder.trainable_weights)
    output_difference = float(ops.max(ops.abs(z_a - z_b)))
    gradient_difference = max(float(ops.max(ops.abs(g_a - g_b))) for g_a, g_b in zip(grads_a, grads_b))
    return output_difference, gradient_difference
""",
    explanation="One tape records the encoder and both samplers; the same eps and the same loss make the two "
    "sets of gradients comparable weight by weight.",
    success="Your comparison tells equal samplers from different ones, and it catches samplers whose outputs "
    "agree while their gradients do not.",
)
def check_compare_samplers(compare_samplers):
    """compare_samplers(sampler_a, sampler_b, encoder, x, eps) -> (max |z_a - z_b|, max |grad_a - grad_b|)."""
    from ..lessons.reading import sampler_gradients

    fn = compare_samplers
    expect_callable(fn, "compare_samplers", "compare_samplers(sampler_a, sampler_b, encoder, x, eps)")
    encoder, x, eps = _comparison_setup()

    out, grad = _run_compare(fn, (_two_inputs, _concatenated), "the two-input and the concatenated sampler")
    if out > ZERO:
        raise Incorrect(f"Your function reports an output difference of {out:.3g} for the two-input and the "
                        "concatenated sampler, which give the same z. Did you draw new noise instead of passing "
                        "the same `eps` to both, or call the encoder on different inputs?")
    if grad > ZERO:
        raise Incorrect(f"Your function reports a gradient difference of {grad:.3g} for two samplers whose "
                        "gradients agree. Use the same x, the same eps and the same loss for both, and compare "
                        "each weight's gradient with the gradient of the SAME weight.")

    out, grad = _run_compare(fn, (_two_inputs, _variance_scale), "a correct sampler and one that uses exp(z_log_var)")
    expected_out = float(np.max(np.abs(sampler_gradients(_two_inputs, encoder, x, eps)[0]
                                       - sampler_gradients(_variance_scale, encoder, x, eps)[0])))
    if out <= ZERO or grad <= ZERO:
        raise Incorrect("Your function reports no difference for two samplers that differ (the second scales eps "
                        "by exp(z_log_var) instead of exp(z_log_var / 2)). Are you running the same sampler "
                        "twice? Use `sampler_a` for one side and `sampler_b` for the other.")
    if not np.isclose(out, expected_out, rtol=1e-3, atol=1e-6):
        raise Incorrect(f"Your output difference is {out:.4g}, but the largest absolute difference between the "
                        f"two z is {expected_out:.4g}. Take `ops.max(ops.abs(z_a - z_b))`, over every example "
                        "and latent dimension (not a mean, not a sum).")

    out, grad = _run_compare(fn, (_two_inputs, _blocked_scale), "a sampler and its copy that blocks the gradient "
                             "to z_log_var")
    if out > ZERO:
        raise Incorrect(f"Your function reports an output difference of {out:.3g} for two samplers that give the "
                        "same z (the second only blocks a gradient). Pass the same eps to both samplers.")
    if grad <= ZERO:
        raise Incorrect(
            "Your function reports no gradient difference for two samplers that give the same z but NOT the same "
            "gradients: the second wraps exp(z_log_var / 2) in `ops.stop_gradient`, so no gradient reaches the "
            "z_log_var head. " + GRADIENTS_HOW
        )

    out, grad = _run_compare(fn, (_two_inputs, _blocked_mean), "a sampler and its copy that blocks the gradient "
                             "to z_mean")
    if grad <= ZERO:
        raise Incorrect(
            "Your function misses a gradient difference in the z_mean head: for two samplers that give the same z, "
            "where the second blocks the gradient to z_mean with `ops.stop_gradient`, it reports none. Compare the "
            "gradients of EVERY weight in `encoder.trainable_weights`, not just some of them."
        )


# ---- predict_blocked_gradients: how many weight tensors does a stop_gradient on σ change? ------------------------

WEIGHT_TENSORS = 6  # h, z_mean and z_log_var heads: one kernel and one bias each


def _count_changed_gradients():
    """How many of the lesson's encoder weight tensors get a different gradient when σ is behind stop_gradient."""
    from keras import ops

    from ..lessons.reading import build_2016_encoder, sample_two_inputs, sampler_gradients

    encoder = build_2016_encoder(64, 32, 2, second_head="z_log_var", seed=0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 16.0, size=(20, 64)).astype("float32")
    eps = rng.standard_normal((20, 2)).astype("float32")

    def blocked(z_mean, z_log_var, noise):
        return z_mean + ops.stop_gradient(ops.exp(z_log_var / 2)) * noise

    _, plain = sampler_gradients(sample_two_inputs, encoder, x, eps)
    _, stopped = sampler_gradients(blocked, encoder, x, eps)
    return sum(not np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(plain, stopped))


@exercise(
    "predict_blocked_gradients",
    hints=[
        "List the six tensors: kernel and bias of h, of z_mean and of z_log_var. For each, ask whether any of "
        "its gradient passes through exp(z_log_var / 2).",
        "The z_mean head reaches z without going through σ. The z_log_var head reaches z only through σ. "
        "And h feeds both heads.",
    ],
    solution="changed_gradients_guess = 4  # z_log_var's kernel and bias get nothing; h's two lose a part",
    explanation="The z_log_var head's kernel and bias get no gradient at all; h's kernel and bias lose the part "
    "that came through z_log_var; the z_mean head's gradient does not pass through σ and is unchanged.",
    success="Good prediction.",
)
def check_predict_blocked_gradients(changed_gradients_guess):
    """The count of encoder weight tensors (of 6) whose gradient changes under the blocked sampler."""
    truth = _count_changed_gradients()
    head_only = "Not only the z_log_var head: h feeds both heads, so its gradient loses the part that came through σ."
    return judge_prediction(
        changed_gradients_guess, truth, truth, truth, "changed_gradients_guess",
        "The z_log_var head's kernel and bias get no gradient at all; the shared layer h's kernel and bias lose "
        "the part that came through z_log_var; only the z_mean head's kernel and bias, whose path to z does not "
        "pass through σ, keep exactly the same gradient.",
        mistakes=[
            (lambda v: v == 0, "Equal outputs do not mean equal gradients: stop_gradient changes only the "
                               "backward pass."),
            (lambda v: v == 2, head_only),
            (lambda v: v == 1, head_only),
            (lambda v: v == WEIGHT_TENSORS, "The z_mean head's path to z is z_mean + (something) · eps, with no σ "
                                            "on it, so its gradient is unchanged."),
            (lambda v: v != int(v) or not 0 <= v <= WEIGHT_TENSORS,
             f"Count whole weight tensors: the encoder has {WEIGHT_TENSORS}."),
        ],
    )
