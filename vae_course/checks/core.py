"""Exercises, their registry, and turning a checker's verdict into a Result.

A checker is a plain function that inspects the learner's objects and raises
``Incorrect``, ``NotAttempted`` or ``Uncheckable`` with a message in plain
words; returning normally means correct (an optional return string is shown).
"""

import contextlib
import signal
import threading
import traceback
from dataclasses import dataclass, field

from . import mode
from .results import Hint, Notice, Result, SolutionText

DEFAULT_TIME_LIMIT = 30.0  # seconds a learner's code may run inside one check


class CheckOutcome(Exception):
    """Base of the verdicts a checker raises."""


class Incorrect(CheckOutcome):
    """The answer is wrong; the message says how."""


class NotAttempted(CheckOutcome):
    """The placeholder is still there."""


class Uncheckable(CheckOutcome):
    """The answer cannot be judged (for example, the environment lacks something)."""


class LearnerTimeout(Exception):
    """The learner's code ran longer than the time limit."""


@dataclass
class Exercise:
    """One graded exercise: a checker plus the help a learner can ask for."""

    name: str
    checker: object
    hints: list = field(default_factory=list)
    solution: str = ""
    explanation: str = ""
    success: str = "Well done."
    time_limit: float = DEFAULT_TIME_LIMIT

    def check(self, *args, **kwargs):
        """Run the checker on the learner's objects; always returns a Result, never raises."""
        try:
            with time_limit(self.time_limit):
                extra = self.checker(*args, **kwargs)
        except NotAttempted as verdict:
            return Result(self.name, "not_attempted", _or_default(verdict, _not_attempted_text(self.name)))
        except Incorrect as verdict:
            return Result(self.name, "incorrect", str(verdict))
        except Uncheckable as verdict:
            return Result(self.name, "uncheckable", str(verdict))
        except LearnerTimeout:
            return Result(
                self.name,
                "incorrect",
                f"Your code was still running after {self.time_limit:g} s, so the check stopped it. "
                "Look for a loop that never ends or work that grows with the data set.",
            )
        except TypeError as err:
            if _is_call_mismatch(err, self.checker):
                return Result(
                    self.name,
                    "uncheckable",
                    f"`check.{self.name}` was called with the wrong arguments ({err}). "
                    f"Call it as shown in the lesson, e.g. `check.{self.name}(...)` with your answer inside.",
                )
            return _internal_error(self.name, err)
        except Exception as err:  # a fault in the checker itself: report it, do not crash the notebook
            return _internal_error(self.name, err)
        message = self.success if not extra else f"{self.success} {extra}"
        return Result(self.name, "correct", message)

    def hint(self, number=1):
        """Hint ``number`` (1-based); a notice when the instructor turned hints off."""
        if not mode.hints_on():
            return Notice("Hints off", mode.HINTS_OFF)
        if not self.hints:
            return Hint(self.name, 1, 1, "There is no hint for this exercise; re-read the cell above it.")
        number = min(max(int(number), 1), len(self.hints))
        return Hint(self.name, number, len(self.hints), self.hints[number - 1])

    def show_solution(self):
        """The worked answer; a notice in graded mode."""
        if mode.graded():
            return Notice("Solutions off", mode.SOLUTIONS_OFF)
        return SolutionText(self.name, self.solution, self.explanation)


def _or_default(verdict, default):
    return str(verdict) or default


def _not_attempted_text(name):
    return (
        "Replace the `____` placeholder with your code, run that cell, then run this check again. "
        f"Stuck? `hint.{name}()` gives a hint."
    )


def _is_call_mismatch(err, checker):
    """A TypeError raised by calling the checker itself (wrong number of arguments)."""
    tb = traceback.extract_tb(err.__traceback__)
    return len(tb) == 1 and tb[0].name == "check"


def _internal_error(name, err):
    return Result(
        name,
        "uncheckable",
        f"The checker itself failed ({type(err).__name__}: {err}). This is a bug in the course, "
        "not in your answer; please report it.",
    )


@contextlib.contextmanager
def time_limit(seconds):
    """Raise LearnerTimeout in the main thread after ``seconds`` (no limit elsewhere or when None)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def _expired(signum, frame):
        raise LearnerTimeout()

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


REGISTRY = {}


def exercise(name, hints=(), solution="", explanation="", success="Well done.", time_limit=DEFAULT_TIME_LIMIT):
    """Register the decorated checker as exercise ``name``."""

    def register(checker):
        if name in REGISTRY:
            raise ValueError(f"exercise {name!r} is registered twice")
        REGISTRY[name] = Exercise(name, checker, list(hints), solution, explanation, success, time_limit)
        return checker

    return register
