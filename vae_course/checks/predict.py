"""'Predict, then check': the learner commits to a number before a cell shows it, and the check reveals the truth.

A prediction checker computes the true value itself, then calls ``judge_prediction``: the placeholder is "not
attempted yet", a guess inside the accepted range is correct, a guess outside it is "not yet". Every verdict on a
number states the true value and why it is what it is, so the check teaches whichever way the guess went.
"""

import math

import numpy as np

from .core import Incorrect, NotAttempted
from .placeholder import is_placeholder


def as_guess(guess, name):
    """The learner's guess as a finite float; a placeholder is NotAttempted; text, yes/no, several values, NaN and
    infinity are Incorrect, each with a plain sentence."""
    if is_placeholder(guess):
        raise NotAttempted(
            f"`{name}` is still the `____` placeholder. Write your guess, a single number, in its place and run that "
            "cell before the cell that shows the answer. A rough guess is fine: the point is to commit to one."
        )
    if isinstance(guess, str):
        raise Incorrect(f"`{name}` is the text {guess!r}, not a single number. Write the number itself, without "
                        f"quotes: `{name} = 2.5`, not `{name} = \"2.5\"`.")
    if isinstance(guess, (bool, np.bool_)):
        raise Incorrect(f"`{name}` is {guess}, a yes/no value. The question asks for a single number.")
    if isinstance(guess, (list, tuple, dict, set, np.ndarray)):
        size = len(guess) if isinstance(guess, (dict, set)) else np.size(guess)
        raise Incorrect(f"`{name}` holds {size} value{'' if size == 1 else 's'} ({type(guess).__name__}); "
                        "write a single number.")
    if not isinstance(guess, (int, float, np.integer, np.floating)):
        raise Incorrect(f"`{name}` should be a single number (one number, such as 3 or 0.5), but it is "
                        f"{type(guess).__name__} ({guess!r:.40}).")
    value = float(guess)
    if math.isnan(value):
        raise Incorrect(f"`{name}` is NaN (not a number): write a finite number you believe, such as 0 or 3.")
    if math.isinf(value):
        raise Incorrect(f"`{name}` is infinite: every figure in these questions is a finite number.")
    return value


def measured_number(value, name):
    """The lesson's own measurement as a finite float (if it is not, the lesson's cells ran out of order)."""
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise Incorrect(f"The measured `{name}` should be one number; rerun the cells above this check in order.") \
            from None
    if not math.isfinite(number):
        raise Incorrect(f"The measured `{name}` is {number}; rerun the cells above this check in order.")
    return number


def judge_prediction(guess, truth, low, high, name, why, mistakes=(), measured=False):
    """Correct if ``low <= guess <= high``; the message always shows ``truth`` and ``why``.

    ``mistakes`` is a list of (predicate on the guess, sentence) naming a typical wrong line of reasoning; the first
    that matches is added to a "not yet". ``measured``: the truth was measured on this run (two decimals) rather than
    computed exactly (three significant digits).
    """
    value = as_guess(guess, name)
    number = (lambda x: f"{x:.2f}") if measured else (lambda x: f"{x:.3g}")
    kind = "measured value" if measured else "true value"
    reveal = f"You predicted {value:g}; the {kind} is {number(truth)}. {why}"
    if low <= value <= high:
        return reveal
    for matches, sentence in mistakes:
        if matches(value):
            raise Incorrect(f"{reveal} {sentence}")
    if low == high:
        accepted = f"Only {number(low)} counts as right."
    else:
        accepted = f"Guesses from {number(low)} to {number(high)} count as right."
    raise Incorrect(f"{reveal} {accepted} Read the explanation, then look at the next cell.")


def near(target, rtol=0.05):
    """A predicate: is a guess within ``rtol`` of ``target``?"""
    return lambda value: abs(value - target) <= rtol * abs(target)
