"""'Predict, then check' for lessons 07-09: read the learner's guess as one number and judge it against a measurement.

A lesson asks for a guess before the cell that shows the answer, then passes guess and measured value to a checker.
The verdict always states the measured value, so the check teaches whichever way the guess went. (A shared engine
for predictions was being written on another branch; this module needs nothing from it.)
"""

import math

import numpy as np

from ..checks.core import Incorrect, NotAttempted
from ..checks.placeholder import is_placeholder


def as_number(guess, name):
    """The guess as a finite float; the placeholder is NotAttempted, text, lists, NaN and infinity are Incorrect."""
    if is_placeholder(guess):
        raise NotAttempted(f"`{name}` is still the `____` placeholder. Write your guess, one number, in its place and "
                           "run that cell before the cell that shows the answer. A rough guess is fine.")
    if isinstance(guess, str):
        raise Incorrect(f"`{name}` is the text {guess!r}. Write the number itself, without quotes: "
                        f"`{name} = 2.5`, not `{name} = \"2.5\"`.")
    if isinstance(guess, (bool, np.bool_)):
        raise Incorrect(f"`{name}` is {guess}, a yes/no value. The question asks for a number.")
    if isinstance(guess, (list, tuple, dict, set, np.ndarray)):
        size = np.size(guess) if not isinstance(guess, (dict, set)) else len(guess)
        plural = "" if size == 1 else "s"
        raise Incorrect(f"`{name}` holds {size} value{plural} ({type(guess).__name__}); write one number.")
    if not isinstance(guess, (int, float, np.integer, np.floating)):
        raise Incorrect(f"`{name}` should be one number, but it is a {type(guess).__name__}.")
    value = float(guess)
    if math.isnan(value):
        raise Incorrect(f"`{name}` is NaN (not a number). Write a number you believe, such as 0 or 3.")
    if math.isinf(value):
        raise Incorrect(f"`{name}` is infinite. Every figure in this question is finite: write a number.")
    return value


def measured_number(value, name):
    """The lesson's measurement as a finite float (a fault of the lesson, not of the learner, if it is not)."""
    try:
        number = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise Incorrect(f"The measured `{name}` should be one number; rerun the cells above this check in order.") \
            from None
    if not math.isfinite(number):
        raise Incorrect(f"The measured `{name}` is {number}; rerun the cells above this check in order.")
    return number


def judge(value, truth, low, high, why, mistakes=()):
    """Return the reveal if ``low <= value <= high``; else raise Incorrect with the first matching mistake's note."""
    reveal = f"You predicted {value:g}; the measured value is {truth:.2f}. {why}"
    if low <= value <= high:
        return reveal
    for matches, sentence in mistakes:
        if matches(value):
            raise Incorrect(f"{reveal} {sentence}")
    raise Incorrect(f"{reveal} Guesses from {low:.2f} to {high:.2f} count as right this time.")
