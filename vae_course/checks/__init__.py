"""Checks, hints and solutions for every exercise of the course.

In a lesson::

    from vae_course.checks import check, hint, solution, ____
    check.kl_sigma(kl_sigma)      # Correct / Not yet / Not attempted yet
    hint.kl_sigma()               # first hint; hint.kl_sigma(2) for the next
    solution.kl_sigma()           # the worked answer

Each checker is also a module-level function: ``vae_course.checks.kl_sigma(fn)``.
Exercises live in ``vae_course/checks/exercises/``, one module per topic, and
register themselves with ``@exercise``.
"""

import importlib
import pkgutil

from . import exercises as _exercises_package
from .core import REGISTRY, Exercise, Incorrect, NotAttempted, Uncheckable, exercise
from .placeholder import ____, Placeholder, is_placeholder
from .results import Hint, Result, SolutionText

for _module in pkgutil.iter_modules(_exercises_package.__path__):
    importlib.import_module(f"{_exercises_package.__name__}.{_module.name}")


class _Namespace:
    """Attribute access by exercise name, with a helpful error for a typo."""

    def __init__(self, kind, make):
        self._kind, self._make = kind, make

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in REGISTRY:
            known = ", ".join(sorted(REGISTRY))
            raise AttributeError(f"There is no exercise called {name!r}. Exercises: {known}.")
        return self._make(REGISTRY[name])

    def __dir__(self):
        return sorted(REGISTRY)

    def __repr__(self):
        return f"<{self._kind} for {len(REGISTRY)} exercises: {', '.join(sorted(REGISTRY))}>"


check = _Namespace("checks", lambda ex: ex.check)
hint = _Namespace("hints", lambda ex: ex.hint)
solution = _Namespace("solutions", lambda ex: ex.show_solution)

globals().update({name: ex.check for name, ex in REGISTRY.items()})


def __getattr__(name):
    return getattr(check, name)


__all__ = [
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
    "solution",
    *sorted(REGISTRY),
]
