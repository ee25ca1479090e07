"""The course's mode, read in one place: ``VAE_COURSE_MODE`` (``learning``, the default, or ``graded``) and
``VAE_COURSE_HINTS`` (``on``, the default, or ``off``).

In graded mode ``solution.<exercise>()`` shows a notice instead of the answer, and ``yours_if_correct`` keeps the
learner's own answer instead of falling back to the course's reference. Hints stay on unless turned off too.
Both variables are read at every call, so a lesson may set them in its first cell (``lessons --graded`` does).
"""

import os

MODE_VARIABLE = "VAE_COURSE_MODE"
HINTS_VARIABLE = "VAE_COURSE_HINTS"
MODES = ("learning", "graded")
SWITCHES = {"on": True, "off": False}

SOLUTIONS_OFF = (
    "Solutions are turned off in this course: your instructor grades the exercises. "
    "Hints still help where they are on."
)
HINTS_OFF = "Hints are turned off in this course by your instructor."


class ModeError(ValueError):
    """A mode variable set to a value the course does not know."""


def _read(variable, allowed, default):
    value = os.environ.get(variable, "").strip().lower() or default
    if value not in allowed:
        raise ModeError(f"{variable}={os.environ[variable]!r} is not one of: {', '.join(allowed)}")
    return value


def graded():
    """True when solutions and the reference fallbacks are off."""
    return _read(MODE_VARIABLE, MODES, "learning") == "graded"


def hints_on():
    """True unless the instructor turned hints off."""
    return SWITCHES[_read(HINTS_VARIABLE, tuple(SWITCHES), "on")]
