"""Lesson 06's exercises on float32: find the first gamma at which Equation 17-3, computed from sigma, breaks; and
predict what Equation 17-4 gives for a very confident dimension."""

import numpy as np

from ..checks.asserts import call_learner, describe, expect_callable, to_array
from ..checks.core import Incorrect, exercise
from ..checks.predict import judge_prediction, near

NAME = "first_gamma_where_17_3_breaks"
CALL_AS = f"{NAME}(gammas)"

# Grids the learner's function is called on, all float32 and walking from 0 downwards.
LESSON_GRID = np.linspace(0.0, -120.0, 1201).astype(np.float32)  # step 0.1, as in the lesson
COARSE_GRID = np.arange(0.0, -130.0, -10.0).astype(np.float32)  # step 10: catches a hard-coded answer
SAFE_GRID = np.linspace(0.0, -80.0, 41).astype(np.float32)  # 17-3 is finite everywhere here
LONG_GRID = np.linspace(0.0, -800.0, 81).astype(np.float32)  # float64 breaks only near -745
FLOAT64_BREAK = float(-1075 * np.log(2.0))  # about -745: sigma^2 rounds to 0 in float64 (-708 if subnormals are flushed)


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
    """The right answers on this grid, by library: TensorFlow flushes subnormal σ² to 0, NumPy keeps it (both float32)."""
    from ..lessons.stability import first_gamma_where_17_3_breaks

    return {backend: first_gamma_where_17_3_breaks(gammas, backend) for backend in ("tensorflow", "numpy")}


def _references(gammas):
    return set(_references_by_backend(gammas).values())


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
