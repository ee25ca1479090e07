"""Kernel side of grading: run a course check on the learner's objects and report its Result as data.

The grader (``python -m vae_course grade``) and the nbgrader test cells run code like::

    from vae_course.tools.grade_probe import record
    record("welcome_sigma", "<nonce>")(log_var, sigma)

``record`` calls the course's own checker from the exercise registry (never the learner's ``check``, which a
learner may have redefined) and publishes the outcome as a display of type ``MIME_TYPE``: a JSON record with the
exercise, its status, its message and the grader's nonce. The HTML box a learner sees is never read.
"""

MIME_TYPE = "application/vnd.vae-course.grade+json"


def _registry():
    """The course's exercises by name, with every checker module imported."""
    from vae_course.checks import registry

    return registry()


def outcome(name, *args, **kwargs):
    """The Result of the course's check ``name`` on these arguments."""
    registry = _registry()
    if name not in registry:
        raise LookupError(f"the course has no exercise {name!r}")
    return registry[name].check(*args, **kwargs)


def record(name, nonce):
    """A function of the check's arguments that runs check ``name`` and publishes its record (returns None)."""
    from IPython.display import publish_display_data

    def run(*args, **kwargs):
        result = outcome(name, *args, **kwargs)
        publish_display_data({MIME_TYPE: {"nonce": nonce, **result.record()}})

    return run


class Tally:
    """The checks of one nbgrader test cell: full credit when all pass, partial credit, or a failure."""

    def __init__(self):
        self.results = []

    def check(self, name, points):
        """A function of the check's arguments that runs check ``name`` worth ``points``."""

        def run(*args, **kwargs):
            self.results.append((outcome(name, *args, **kwargs), points))

        return run

    def verdict(self):
        """None when every check is correct; the points earned when some are; AssertionError when none is."""
        earned = sum(points for result, points in self.results if result.passed)
        failed = [f"check.{result.exercise}: {result!r}" for result, _ in self.results if not result.passed]
        if not failed:
            return None
        if earned == 0:
            raise AssertionError("\n".join(failed))
        print("\n".join(failed))
        return float(earned)
