"""Exercises of lesson 09: a stable log-mean-exp, the KL of each latent dimension, and counting active units."""

import math
import warnings

import numpy as np

from ..checks.asserts import (
    call_learner,
    describe,
    diagnose,
    expect_callable,
    expect_finite,
    to_array,
)
from ..checks.core import Incorrect, NotAttempted, exercise
from ..checks.placeholder import is_placeholder

# ---- shared helpers ------------------------------------------------------------------------------------------


DTYPE_ADVICE = (" The check passes NumPy arrays, as the lesson does; TensorFlow refuses to mix their dtype with "
                "float32 tensors or constants. Convert once at the start (`x = tf.constant(x, tf.float32)`), cast "
                "constants with `tf.cast(..., x.dtype)`, or use NumPy or `keras.ops`.")


SIGNATURES = {
    "log_mean_exp": "def log_mean_exp(log_w, axis=0)",
    "per_dimension_kl": "def per_dimension_kl(z_mean, z_log_var)",
    "active_units": "def active_units(z_mean, threshold=0.01)",
}


def _quietly(fn, args, name, call_text):
    """call_learner with NumPy's overflow and divide-by-zero warnings silenced: the check reports them in words."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return call_learner(fn, args, name, call_text)
        except Incorrect as err:
            message = str(err)
            if "double tensor" in message or ("float" in message and "dtype" in message.lower()):
                raise Incorrect(message + DTYPE_ADVICE) from None
            if "TypeError" in message and "argument" in message and name in SIGNATURES:
                raise Incorrect(f"{message} Keep the parameters of the lesson's definition, "
                                f"`{SIGNATURES[name]}`: the check calls it with them.") from None
            raise


def _result(fn, args, name, call_text):
    return to_array(_quietly(fn, args, name, call_text), name)


def _fmt(values):
    return np.array2string(np.asarray(values, dtype=np.float64), precision=4, separator=", ", threshold=8)


# ---- 1. log_mean_exp -----------------------------------------------------------------------------------------

K_SAMPLES, N_EXAMPLES = 5, 3
_RNG = np.random.default_rng(8)
# Moderate log-weights, like the lesson's digits: k = 5 draws (rows) for 3 examples (columns).
LOG_W = (-22.0 + 2.0 * _RNG.standard_normal((K_SAMPLES, N_EXAMPLES))).round(3)
SHIFT = 1000.0  # exp(-1000) is 0 and exp(1000) is inf, even in float64


def reference_log_mean_exp(log_w, axis=0):
    """m + log mean exp(a - m), m the maximum along ``axis`` (float64)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    peak = np.max(log_w, axis=axis, keepdims=True)
    return np.squeeze(peak, axis=axis) + np.log(np.mean(np.exp(log_w - peak), axis=axis))


def _log_mean_exp_shape(values, expected_shape, call_text):
    if values.shape == tuple(expected_shape):
        return
    k, n = LOG_W.shape
    if values.shape == (k,):
        advice = ("You reduced over the examples (axis 1) instead of over the k samples: use the `axis` argument, "
                  "e.g. `np.max(log_w, axis=axis)` and `np.mean(..., axis=axis)`.")
    elif values.shape == ():
        advice = ("You returned a single number, so you reduced over the whole array: pass `axis=axis` to every "
                  "max, mean and sum, so that each example (column) keeps its own value.")
    elif values.shape in ((1, n), (n, 1)):
        advice = ("The reduced axis is still there, with length 1 (`keepdims=True`): keep it for the subtraction, "
                  "then remove it from the result (`np.squeeze(peak, axis=axis)`, or compute the maximum twice).")
    else:
        advice = "Expected one value per example."
    raise Incorrect(f"`{call_text}` has shape {values.shape}, expected {tuple(expected_shape)}. {advice}")


def _log_mean_exp_mistakes(log_w):
    k = log_w.shape[0]
    ref = reference_log_mean_exp(log_w)
    peak = log_w.max(axis=0)
    return [
        (ref + math.log(k),
         "You used a sum where the estimator needs a mean: your values are log k too large (here log 5 ≈ 1.61). "
         "The importance-sampling estimate is (1/k) Σ wᵢ; subtract log k, or use a mean."),
        (peak,
         "You returned only the maximum m. The correction term is missing: add log((1/k) Σ exp(aᵢ − m)), "
         "which is between −log k and 0."),
        (ref - peak,
         "You subtracted the maximum inside the exponential but did not add it back: the answer is "
         "m + log mean exp(a − m)."),
        (log_w.mean(axis=0),
         "You averaged the log-weights themselves. The mean of the logs is the ELBO estimate; the bound needs "
         "the log of the mean (exponentiate, average, then take the log). By Jensen's inequality the two differ."),
        (ref + math.log(k) - math.log(log_w.shape[1]),
         "You divided by the number of examples instead of by k: the mean runs over the `axis` being reduced, "
         "so divide by `log_w.shape[axis]`."),
        (ref + math.log(k) - math.log(log_w.size),
         "You divided by the size of the whole array instead of by k, the length of the reduced axis "
         "(`log_w.shape[axis]`)."),
    ]


def _check_extreme(fn, log_w, expected, what, naive_symptom):
    call_text = "log_mean_exp(log_w)"
    values = _result(fn, (log_w,), "log_mean_exp", call_text)
    _log_mean_exp_shape(values, expected.shape, call_text)
    if not np.all(np.isfinite(values)):
        found = ", ".join(sorted({"−inf" if v == -np.inf else "inf" if v == np.inf else "NaN"
                                  for v in values[~np.isfinite(values)]}))
        raise Incorrect(f"For {what} your function returns {found}; the right answer is finite "
                        f"({_fmt(expected)}). {naive_symptom}")
    if not np.allclose(values, expected, rtol=1e-6, atol=1e-3):
        raise Incorrect(f"For {what} your function gives {_fmt(values)}; expected {_fmt(expected)}. "
                        "Shifting every log-weight by a constant c must shift the result by exactly c.")


NAIVE = ("Taking exp of such numbers overflows (exp(1000) = inf) or underflows (exp(−1000) = 0, and log 0 = −inf), "
         "even "
         "in float64. Subtract the maximum m first: log mean exp(a) = m + log mean exp(a − m).")


@exercise(
    "log_mean_exp",
    hints=[
        "For any constant m, log((1/k) Σ exp(aᵢ)) = m + log((1/k) Σ exp(aᵢ − m)). Choose m = the maximum along `axis`: "
        "then the largest term is exp(0) = 1 and nothing overflows or underflows to log 0.",
        "With NumPy, `m = np.max(log_w, axis=axis, keepdims=True)` keeps the axis so that `log_w - m` "
        "broadcasts. Exponentiate the difference, average along `axis`, take the log, and add m back without its "
        "kept axis (`np.squeeze`).",
    ],
    solution="""
def log_mean_exp(log_w, axis=0):
    log_w = np.asarray(log_w, dtype=np.float64)
    peak = np.max(log_w, axis=axis, keepdims=True)
    return np.squeeze(peak, axis=axis) + np.log(np.mean(np.exp(log_w - peak), axis=axis))
""",
    explanation="Subtract the maximum along the axis before exponentiating, average, take the log, add the maximum "
    "back. The mean (not the sum) makes it the k-sample importance-sampling estimate.",
    success="Your log-mean-exp is right, along any axis, and stays finite for log-weights of ±1000.",
)
def check_log_mean_exp(fn):
    """fn(log_w, axis=0) -> log((1/k) sum_i exp(log_w_i)) along axis, computed stably."""
    name, call_text = "log_mean_exp", "log_mean_exp(log_w)"
    expect_callable(fn, name, "log_mean_exp(log_w, axis=0)")
    values = _result(fn, (LOG_W,), name, call_text)
    expected = reference_log_mean_exp(LOG_W)
    _log_mean_exp_shape(values, expected.shape, call_text)
    expect_finite(values, name, inputs="moderate log-weights (about −22)")
    diagnose(values, expected, _log_mean_exp_mistakes(LOG_W), name, "moderate log-weights of shape (5, 3)")

    transposed = _result(fn, (LOG_W.T, 1), name, "log_mean_exp(log_w.T, axis=1)")
    if transposed.shape != expected.shape or not np.allclose(transposed, expected, rtol=1e-4, atol=1e-5):
        raise Incorrect(
            "Right for `axis=0`, but `log_mean_exp(log_w.T, axis=1)` gives "
            f"{_fmt(transposed)} of shape {transposed.shape}, expected {_fmt(expected)}. "
            "Your function ignores its `axis` argument: pass `axis=axis` to every max, mean or sum inside it."
        )

    _check_extreme(fn, LOG_W - SHIFT, expected - SHIFT, "log-weights near −1000 (a 28x28 image can have such values)",
                   NAIVE)
    _check_extreme(fn, LOG_W + SHIFT, expected + SHIFT, "log-weights near +1000", NAIVE)
    mixed = np.stack([LOG_W[:, 0] - SHIFT, LOG_W[:, 1] + SHIFT, LOG_W[:, 2]], axis=1)
    expected_mixed = expected + np.array([-SHIFT, SHIFT, 0.0])
    _check_extreme(fn, mixed, expected_mixed,
                   "three examples whose log-weights are near −1000, +1000 and −22",
                   "One maximum for the whole array is not enough when examples differ by hundreds of nats: take "
                   "the maximum along `axis` (one per example, `keepdims=True`) and subtract that.")


# ---- 2. per_dimension_kl -------------------------------------------------------------------------------------

# 6 examples, 4 latent dimensions; the last dimension is almost at the prior (a collapsed one).
Z_MEAN = np.array([[0.8, -1.2, 0.3, 0.010], [-0.5, 0.9, 1.1, -0.020], [1.6, 0.1, -0.4, 0.000],
                   [0.2, -0.7, 0.6, 0.015], [-1.1, 1.4, -0.9, -0.010], [0.4, 0.3, 0.2, 0.005]], dtype=np.float32)
Z_LOG_VAR = np.array([[-1.5, -0.4, -2.2, 0.01], [-0.9, -1.1, -1.7, -0.02], [-2.0, -0.6, -0.8, 0.00],
                      [-1.2, -0.3, -2.5, 0.02], [-0.7, -1.4, -1.1, -0.01], [-1.8, -0.2, -1.9, 0.01]],
                     dtype=np.float32)
# A second batch of another shape (3 examples, 5 dimensions), so hard-coded sizes are caught.
Z_MEAN_2 = np.array([[0.3, -0.6, 1.0, 0.0, -1.5], [1.2, 0.4, -0.2, 0.7, 0.1], [-0.8, 0.9, 0.5, -0.3, 0.6]],
                    dtype=np.float32)
Z_LOG_VAR_2 = np.array([[-0.5, -1.0, -2.0, 0.3, -0.1], [-1.5, 0.2, -0.7, -0.4, -2.2], [-0.3, -0.9, -1.2, 0.1, -0.6]],
                       dtype=np.float32)


def kl_terms(z_mean, z_log_var):
    """Each example's KL in each dimension, float64: 1/2 (exp(gamma) - 1 - gamma + mu^2), shape (n, K)."""
    mu, gamma = np.float64(z_mean), np.float64(z_log_var)
    return 0.5 * (np.expm1(gamma) - gamma + np.square(mu))


def reference_per_dimension_kl(z_mean, z_log_var):
    return kl_terms(z_mean, z_log_var).mean(axis=0)


def _per_dimension_shape(values, n, k, call_text, terms):
    if values.shape == (k,):
        return
    if values.shape == ():
        if np.isclose(values, terms.sum(axis=1).mean(), rtol=1e-4, atol=1e-5):
            advice = ("That is the total KL term of lesson 07 (summed over the latent dimensions, averaged over the "
                      "batch). Here each dimension keeps its own value: average over the batch only (`axis=0`).")
        else:
            advice = ("A single number: you reduced over both axes. Average over the batch only (`axis=0`) and "
                      "keep one value per latent dimension.")
    elif values.shape == (n,):
        advice = ("One value per example: you reduced over the latent dimensions (the last axis). Average over the "
                  "batch axis instead (`axis=0`), so that each latent dimension keeps its own value.")
    elif values.shape == (n, k):
        advice = ("One value per example and dimension: the KL is not averaged over the batch yet. "
                  "Take the mean over `axis=0`.")
    else:
        advice = "Expected one value per latent dimension."
    raise Incorrect(f"`{call_text}` has shape {values.shape}, expected {(k,)} for a batch of {n} examples with "
                    f"{k} latent dimensions. {advice}")


def _per_dimension_mistakes(z_mean, z_log_var, n):
    mu, g = np.float64(z_mean), np.float64(z_log_var)
    ref = kl_terms(mu, g).mean(axis=0)
    bracket = (1 + g - np.exp(g) - mu**2).mean(axis=0)
    return [
        (n * ref, f"Your values are {n} times too large, one factor per example: you summed over the batch. "
                  "Average instead (`mean` over `axis=0`), so the number does not grow with the batch size."),
        (bracket, "The factor −1/2 is missing: the bracket (1 + γ − exp(γ) − μ²) is never positive, so your "
                  "values are −2 times the KL. Multiply by `-0.5`."),
        (-ref, "Your KL has the wrong sign: it is −1/2 · (1 + γ − exp(γ) − μ²), with the minus. "
               "A KL divergence is never negative."),
        (-bracket, "You kept the minus sign but dropped the 1/2: multiply by `-0.5`, not `-1`."),
        ((-0.5 * (1 + 2 * g - np.exp(2 * g) - mu**2)).mean(axis=0),
         "You treated `z_log_var` as log σ (writing 2γ and exp(2γ)). It is log σ², so use γ and exp(γ) as they are "
         "(Equation 17-4)."),
        ((-0.5 * (1 + g - np.exp(g / 2) - mu**2)).mean(axis=0),
         "You used exp(γ/2), which is σ, where the formula needs the variance σ² = exp(γ)."),
        ((-0.5 * (1 + np.log(np.exp(g / 2)) - np.exp(g) - mu**2)).mean(axis=0),
         "You used log σ = γ/2 where the formula has log σ² = γ: `z_log_var` already is log σ²."),
        ((-0.5 * (1 + g - np.exp(g) + mu**2)).mean(axis=0),
         "Check the sign of μ²: it is subtracted inside the bracket, −μ². A mean far from 0 must cost more, not less."),
        ((-0.5 * (g - np.exp(g) - mu**2)).mean(axis=0),
         "The bracket starts with 1: (1 + γ − exp(γ) − μ²). Without it a dimension at the prior "
         "(μ = 0, γ = 0) would cost 1/2 nat instead of 0."),
    ]


@exercise(
    "per_dimension_kl",
    hints=[
        "Compute the KL of every example in every dimension, −1/2 (1 + γ − exp(γ) − μ²) elementwise (shape (n, K)), "
        "then average over the batch, `axis=0`. Do not sum over the latent dimensions.",
        "Keep the elementwise (n, K) array, with `ops.exp` and `ops.square` (or NumPy); the only reduction is a mean "
        "over the examples.",
    ],
    solution="""
def per_dimension_kl(z_mean, z_log_var):
    kl = -0.5 * (1 + z_log_var - ops.exp(z_log_var) - ops.square(z_mean))
    return ops.mean(kl, axis=0)
""",
    explanation="Equation 17-4 without its sum: one KL per example and dimension, averaged over the examples. "
    "The K values add up to the KL term of the loss.",
    success="Your function gives the KL of each latent dimension, averaged over the batch; summed, it is the KL term.",
)
def check_per_dimension_kl(fn):
    """fn(z_mean, z_log_var) -> KL per latent dimension averaged over the batch, shape (latent_dim,)."""
    name, call_text = "per_dimension_kl", "per_dimension_kl(z_mean, z_log_var)"
    expect_callable(fn, name, call_text)
    n, k = Z_MEAN.shape
    values = _result(fn, (Z_MEAN, Z_LOG_VAR), name, call_text)
    _per_dimension_shape(values, n, k, call_text, kl_terms(Z_MEAN, Z_LOG_VAR))
    expect_finite(values, name, inputs="the check's z_mean and z_log_var")
    diagnose(values, reference_per_dimension_kl(Z_MEAN, Z_LOG_VAR), _per_dimension_mistakes(Z_MEAN, Z_LOG_VAR, n),
             name, f"a batch of {n} examples with {k} latent dimensions")

    n2, k2 = Z_MEAN_2.shape
    other = _result(fn, (Z_MEAN_2, Z_LOG_VAR_2), name, call_text)
    expected = reference_per_dimension_kl(Z_MEAN_2, Z_LOG_VAR_2)
    if other.shape != expected.shape or not np.allclose(other, expected, rtol=1e-4, atol=1e-5):
        raise Incorrect(
            f"Right for a batch of {n} examples with {k} dimensions, but for {n2} examples with {k2} dimensions your "
            f"function gives {_fmt(other)} (shape {other.shape}); expected {_fmt(expected)}. Did you hard-code the "
            "batch size or the number of latent dimensions? Use `axis=0` and let the shapes come from the inputs."
        )


# ---- 3. active_units (optional) ------------------------------------------------------------------------------

N_ROWS = 40
_SIGNS = np.where(np.arange(N_ROWS) % 2 == 0, 1.0, -1.0)  # mean exactly 0, so the variance of a * signs is a^2
# Columns: variance 1 (active), std 0.05 = variance 0.0025 (inactive), constant (inactive even at threshold 0),
# variance 0.09 (active), std 0.001 (inactive at 0.01, active at 0), random with std about 2 (active).
ACTIVITY_Z_MEAN = np.stack([
    1.0 * _SIGNS,
    0.05 * _SIGNS,
    np.full(N_ROWS, 0.5),
    0.3 * _SIGNS,
    0.001 * _SIGNS,
    2.0 * np.random.default_rng(3).standard_normal(N_ROWS),
], axis=1).astype(np.float32)
DEFAULT_THRESHOLD = 0.01


def reference_active_units(z_mean, threshold=DEFAULT_THRESHOLD):
    return int(np.sum(np.var(np.asarray(z_mean, dtype=np.float64), axis=0) > threshold))


def _as_count(value, call_text):
    """The learner's result as a number; a per-dimension array gets its own message."""
    values = to_array(value, "active_units")
    if values.shape != ():
        if values.size == 1:
            return float(values.reshape(()))
        per_dimension = values.shape == (ACTIVITY_Z_MEAN.shape[1],)
        advice = ("That looks like one value per latent dimension (a mask or the variances): count the dimensions "
                  "above the threshold, e.g. `int(np.sum(variance > threshold))`."
                  if per_dimension else "Return one number: how many dimensions are active.")
        raise Incorrect(f"`{call_text}` returned {describe(values)}. {advice}")
    if not np.isfinite(values):
        raise Incorrect(f"`{call_text}` returned {float(values)}; expected a count (a whole number).")
    return float(values)


def _count(fn, args, call_text):
    return _as_count(_quietly(fn, args, "active_units", call_text), call_text)


def _check_counts(counts, codes):
    """The learner's counts for the lesson's models, from z_mean (not z_log_var)."""
    if is_placeholder(counts):
        raise NotAttempted("Your function is right. Now replace the `____` after `n_active =` with the counts for "
                           "the lesson's models, run that cell, then run this check again.")
    if not isinstance(counts, dict):
        raise Incorrect(f"`n_active` should be a dict {{beta: count}} like `codes`, but it is {describe(counts)}.")
    if set(counts) != set(codes):
        raise Incorrect(f"`n_active` has the keys {sorted(counts)}; expected one count per model, keys "
                        f"{sorted(codes)} (the keys of `codes`).")
    for key in codes:
        if is_placeholder(counts[key]):
            raise NotAttempted(f"`n_active[{key!r}]` is still the `____` placeholder.")
    found = {key: _as_count(counts[key], f"n_active[{key!r}]") for key in codes}
    from_mean = {key: reference_active_units(z_mean) for key, (z_mean, _) in codes.items()}
    from_log_var = {key: reference_active_units(z_log_var) for key, (_, z_log_var) in codes.items()}
    if found == from_mean:
        return
    if found == from_log_var:
        raise Incorrect("Your counts come from `z_log_var`. The activity of a dimension is how much its posterior "
                        "*mean* moves across the data, Var_x(E_q[z_j]): pass `z_mean`, the first array of each "
                        "pair in `codes`.")
    wrong = [key for key in codes if found[key] != from_mean[key]]
    key = wrong[0]
    raise Incorrect(f"For the model {key!r} you counted {found[key]:g} active units; the criterion on its z_mean "
                    f"gives {from_mean[key]}. Call your function on `codes[{key!r}][0]` (z_mean) with the default "
                    "threshold.")


@exercise(
    "active_units",
    hints=[
        "A dimension's activity is the variance, over the examples (axis 0), of its column of `z_mean`. "
        "Count the dimensions whose activity is strictly greater than `threshold`.",
        "`np.var(..., axis=0)` gives one activity per dimension; compare it with `threshold` and count the True "
        "values. For `n_active`, go through `codes.items()`: each value is a pair (z_mean, z_log_var).",
    ],
    solution="""
def active_units(z_mean, threshold=0.01):
    variance = np.var(np.asarray(z_mean), axis=0)
    return int(np.sum(variance > threshold))


n_active = {beta: active_units(z_mean) for beta, (z_mean, z_log_var) in codes.items()}
""",
    explanation="Burda et al.'s activity statistic is Var_x(E_q[z_j]): the variance over the data of each column of "
    "z_mean. A unit is active when it exceeds 0.01.",
    success="Your function counts active units with Burda et al.'s criterion.",
)
def check_active_units(fn, counts=None, codes=None):
    """fn(z_mean, threshold=0.01) -> number of dimensions with Var_x(z_mean[:, j]) > threshold; then the counts."""
    name = "active_units"
    expect_callable(fn, name, "active_units(z_mean, threshold=0.01)")
    z = ACTIVITY_Z_MEAN
    variance = np.var(z.astype(np.float64), axis=0)
    std = np.sqrt(variance)
    count = _count(fn, (z,), "active_units(z_mean)")
    expected = reference_active_units(z)
    if count != expected:
        by_row = int(np.sum(np.var(z.astype(np.float64), axis=1) > DEFAULT_THRESHOLD))
        if count == by_row:
            raise Incorrect(f"You got {count:g}, which is the number of *examples* whose values vary: you took the "
                            "variance over the wrong axis. Each latent dimension is a column, so take the variance "
                            "over the examples, `axis=0`.")
        if count == int(np.sum(std > DEFAULT_THRESHOLD)):
            raise Incorrect(f"You got {count:g}: you compared the standard deviation with the threshold. The "
                            "criterion is on the variance: a dimension whose z_mean has standard deviation 0.05 "
                            "has variance 0.0025, below 0.01, so it is inactive.")
        raise Incorrect(f"`active_units(z_mean)` gave {count:g} for the check's z_mean with {z.shape[1]} dimensions; "
                        f"expected {expected}. Compute the variance of each column (axis 0) and count the ones "
                        "above 0.01.")
    at_zero = _count(fn, (z, 0.0), "active_units(z_mean, threshold=0.0)")
    expected_zero = reference_active_units(z, 0.0)
    if at_zero != expected_zero:
        if at_zero == int(np.sum(variance >= 0.0)):
            raise Incorrect(f"With `threshold=0.0` you counted {at_zero:g}, including a dimension whose z_mean never "
                            "moves (variance exactly 0). Use a strict `>`: a unit is active when its activity "
                            "*exceeds* the threshold, and a constant dimension carries no information at any "
                            "threshold.")
        if count == expected and at_zero == expected:
            raise Incorrect("Your function ignores its `threshold` argument (it gives the same count for 0.0 as for "
                            "0.01): compare with `threshold`, not with a fixed 0.01.")
        raise Incorrect(f"`active_units(z_mean, threshold=0.0)` gave {at_zero:g}; expected {expected_zero} "
                        "(every dimension whose variance is above 0).")
    if codes is not None or counts is not None:
        if not isinstance(codes, dict):
            raise Incorrect("Pass the lesson's `codes` as the third argument: `check.active_units(active_units, "
                            "n_active, codes)`.")
        _check_counts(counts, codes)


# ---- predict, then check ---------------------------------------------------------------------------------------


@exercise(
    "predicted_gap",
    solution="predicted_gap = 5.0  # a few nats: more than 0 (q is not the posterior), far less than the bound itself",
    hints=[
        "The k-sample bound can only get tighter as k grows (Burda et al.), so the difference is at least 0. It is at "
        "most the whole negative ELBO, and it is 0 only if q(z | x) were the exact posterior for every digit.",
    ],
    explanation="−𝓛₁ − (−𝓛₁₀₀₀) measures part of the average KL(q(z | x) ‖ p(z | x)): the price of a Gaussian q "
    "and of one encoder for all x.",
    success="Good prediction.",
)
def check_predicted_gap(guess, negative_elbo, tightest_bound):
    """``guess``: nats by which the learner expects -L_1000 to fall below the negative ELBO, made before seeing it."""
    from ..checks.predict import judge_prediction, measured_number

    elbo = measured_number(negative_elbo, "negative ELBO")
    tight = measured_number(tightest_bound, "k = 1000 bound")
    truth = elbo - tight
    why = (f"The negative ELBO is {elbo:.2f} nats per test digit and the k = 1000 bound {tight:.2f}: importance "
           "sampling removed that much of the gap KL(q(z | x) ‖ p(z | x)) without training anything.")
    mistakes = [
        (lambda v: v < 0, "𝓛ₖ never falls below the ELBO on average, so −𝓛ₖ is never above the negative ELBO: the "
                          "difference is at least 0."),
        (lambda v: v == 0, "Only an encoder that returns the exact posterior for every digit leaves no gap."),
        (lambda v: v >= elbo, "The gap is a part of the negative ELBO, not more than all of it."),
    ]
    return judge_prediction(guess, truth, 0.5 * truth, 2.0 * truth, "predicted_gap", why, mistakes, measured=True)
