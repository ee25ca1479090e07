"""Checks, hints and solutions for every exercise of the course.

In a lesson::

    from vae_course.checks import check, hint, solution, ____
    check.kl_sigma(kl_sigma)      # Correct / Not yet / Not attempted yet
    hint.kl_sigma()               # first hint; hint.kl_sigma(2) for the next
    solution.kl_sigma()           # the worked answer

Each checker is also a module-level function: ``vae_course.checks.kl_sigma(fn)``.
This package is the engine only; the exercises live in ``vae_course/exercises/``,
one module per lesson, and register themselves with ``@exercise``. They are loaded
on the first look-up of an exercise, so importing the placeholder (or this package)
does not import every checker.
"""

import importlib

from .core import REGISTRY as _REGISTRY
from .core import Exercise, Incorrect, NotAttempted, Uncheckable, exercise  # noqa: F401  (re-exported)
from .placeholder import Placeholder, ____, is_placeholder  # noqa: F401  (re-exported)
from .results import Hint, Result, SolutionText  # noqa: F401  (re-exported)

EXERCISES_PACKAGE = "vae_course.exercises"  # found by name: the engine does not import the exercises' layer


def registry():
    """Every exercise by name, importing the exercise modules on first use."""
    importlib.import_module(EXERCISES_PACKAGE)
    return _REGISTRY


class _Namespace:
    """Attribute access by exercise name, with a helpful error for a typo."""

    def __init__(self, kind, make):
        self._kind, self._make = kind, make

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        exercises = registry()
        if name not in exercises:
            known = ", ".join(sorted(exercises))
            raise AttributeError(f"There is no exercise called {name!r}. Exercises: {known}.")
        return self._make(exercises[name])

    def __dir__(self):
        return sorted(registry())

    def __repr__(self):
        exercises = registry()
        return f"<{self._kind} for {len(exercises)} exercises: {', '.join(sorted(exercises))}>"


check = _Namespace("checks", lambda ex: ex.check)
hint = _Namespace("hints", lambda ex: ex.hint)
solution = _Namespace("solutions", lambda ex: ex.show_solution)

_ENGINE = [
    "Exercise",
    "Hint",
    "Incorrect",
    "NotAttempted",
    "Placeholder",
    "REGISTRY",
    "Result",
    "SolutionText",
    "Uncheckable",
    "____",
    "check",
    "exercise",
    "hint",
    "is_placeholder",
    "registry",
    "solution",
]


def __getattr__(name):
    """``REGISTRY`` (filled), ``__all__`` and ``vae_course.checks.<exercise>`` load the exercises first."""
    if name == "REGISTRY":
        return registry()
    if name == "__all__":
        return _ENGINE + sorted(registry())
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(check, name)


def __dir__():
    return sorted(set(globals()) | set(_ENGINE) | set(registry()))
