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
    """The learner's guess as a finite float; a placeholder is NotAttempted, anything else not a number is Incorrect."""
    if is_placeholder(guess):
        raise NotAttempted(
            f"`{name}` is still the `____` placeholder. Write your guess, a single number, in its place and run that "
            "cell before the cell that shows the answer. A rough guess is fine: the point is to commit to one."
        )
    if isinstance(guess, (bool, np.bool_)) or not isinstance(guess, (int, float, np.integer, np.floating)):
        raise Incorrect(f"`{name}` should be a single number, such as 3 or 0.5, but it is {type(guess).__name__} "
                        f"({guess!r:.40}).")
    value = float(guess)
    if not math.isfinite(value):
        raise Incorrect(f"`{name}` should be a finite number, but it is {value}.")
    return value


def judge_prediction(guess, truth, low, high, name, why, mistakes=()):
    """Correct if ``low <= guess <= high``; the message always shows ``truth`` and ``why``.

    ``mistakes`` is a list of (predicate on the guess, sentence) naming a typical wrong line of reasoning; the first
    that matches is added to a "not yet".
    """
    value = as_guess(guess, name)
    reveal = f"You predicted {value:g}; the true value is {truth:.3g}. {why}"
    if low <= value <= high:
        return reveal
    for matches, sentence in mistakes:
        if matches(value):
            raise Incorrect(f"{reveal} {sentence}")
    if low == high:
        accepted = f"Only {low:.3g} counts as right."
    else:
        accepted = f"Guesses from {low:.3g} to {high:.3g} count as right."
    raise Incorrect(f"{reveal} {accepted} Read the explanation, then look at the next cell.")


def near(target, rtol=0.05):
    """A predicate: is a guess within ``rtol`` of ``target``?"""
    return lambda value: abs(value - target) <= rtol * abs(target)
