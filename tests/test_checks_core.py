"""The check engine: verdicts become results, results render safely, help is available."""

import subprocess
import sys
import time

import pytest

from vae_course import checks
from vae_course.checks import REGISTRY, Incorrect, NotAttempted, Uncheckable, ____, check, hint, solution
from vae_course.checks.core import Exercise, LearnerTimeout, exercise, time_limit
from vae_course.checks.placeholder import Placeholder, is_placeholder
from vae_course.checks.results import Result, to_html

from checker_helpers import assert_fails, assert_passes


def make(checker, **kw):
    return Exercise("demo", checker, hints=kw.pop("hints", ["first", "second"]), solution="x = 1", **kw)


def test_placeholder_equals_only_itself_and_shows_as_blank():
    """Does the placeholder equal nothing but itself, and is it a single object?"""
    assert ____ == ____ and Placeholder() is ____
    assert not (____ == 0) and not (____ == None) and not (____ == "")  # noqa: E711
    assert repr(____) == "____" and not bool(____)
    assert is_placeholder(____) and is_placeholder((____, ____)) and not is_placeholder((1, ____))
    assert not is_placeholder([])


def test_verdicts_map_to_statuses():
    """Does each verdict a checker raises become the matching status, with its message?"""

    def raises(exc):
        def checker(value):
            raise exc("because")
        return checker

    assert make(raises(Incorrect)).check(1).status == "incorrect"
    assert make(raises(NotAttempted)).check(1).status == "not_attempted"
    assert make(raises(Uncheckable)).check(1).status == "uncheckable"
    assert make(raises(Incorrect)).check(1).message == "because"
    assert_passes(make(lambda value: None).check(1))


def test_success_message_can_carry_extra_text():
    """Is a string returned by a passing checker appended to the success message?"""
    result = make(lambda v: "KL = 1.5 nats.", success="Right.").check(0)
    assert result.message == "Right. KL = 1.5 nats."


def test_a_crashing_checker_reports_a_course_bug_not_a_traceback():
    """Does a fault inside the checker itself become 'could not check', naming it a course bug?"""
    result = make(lambda v: {}["missing"]).check(1)
    assert_fails(result, r"bug in the course", status="uncheckable")


def test_wrong_number_of_arguments_is_explained():
    """Is calling a check with the wrong arguments explained rather than raised?"""
    result = make(lambda v: None).check()
    assert_fails(result, r"wrong arguments.*check\.demo", status="uncheckable")


def test_learner_code_that_hangs_is_stopped():
    """Is a learner's endless loop stopped by the time limit with a message that says so?"""

    def checker(fn):
        fn()

    def endless():
        while True:
            pass

    start = time.perf_counter()
    result = make(checker, time_limit=0.5).check(endless)
    assert time.perf_counter() - start < 5
    assert_fails(result, r"still running after 0\.5 s")


def test_time_limit_is_removed_afterwards():
    """Does the alarm stay off after a check finishes, so later code is not interrupted?"""
    with time_limit(0.2):
        pass
    time.sleep(0.4)  # would raise LearnerTimeout if the timer were still armed
    with pytest.raises(LearnerTimeout):
        with time_limit(0.1):
            time.sleep(1)


def test_result_renders_as_html_and_text_with_escaping():
    """Does a result escape HTML, show `code` spans and render plain text too?"""
    result = Result("demo", "incorrect", "got <class 'str'> from `f(x)`")
    html = result._repr_html_()
    assert "&lt;class &#x27;str&#x27;&gt;" in html and "<code>f(x)</code>" in html
    assert "#cf222e" in html  # red for a wrong answer
    assert repr(result) == "Not yet: got <class 'str'> from `f(x)`"
    assert "#1a7f37" in Result("demo", "correct", "ok")._repr_html_()
    assert "#6e7781" in Result("demo", "not_attempted", "later")._repr_html_()
    assert to_html("a\nb") == "a<br>b"
    with pytest.raises(ValueError):
        Result("demo", "maybe", "?")


def test_hints_count_and_point_to_the_next_one():
    """Do hints number themselves, point to the next one, and stay in range?"""
    ex = make(lambda v: None)
    first = ex.hint()
    assert "Hint 1/2" in repr(first) and "hint.demo(2)" in repr(first)
    last = ex.hint(2)
    assert "Hint 2/2" in repr(last) and "hint.demo(3)" not in repr(last)
    assert "Hint 2/2" in repr(ex.hint(99)) and "Hint 1/2" in repr(ex.hint(-3))
    assert "no hint" in repr(Exercise("bare", lambda v: None).hint())


def test_solution_shows_code():
    """Does the solution show its code as text and HTML?"""
    text = make(lambda v: None).show_solution()
    assert "x = 1" in repr(text) and "<pre>x = 1</pre>" in text._repr_html_()


def test_namespaces_reach_every_registered_exercise():
    """Do check., hint. and solution. reach the registered exercises, with a helpful error for a typo?"""
    for name in ("kl_sigma", "kl_log_var", "sampling_layer"):
        assert name in REGISTRY
        assert callable(getattr(check, name)) and callable(getattr(hint, name))
        assert getattr(checks, name) is not None  # module-level access: checks.kl_sigma(fn)
        assert repr(getattr(solution, name)()).startswith("Solution")
    with pytest.raises(AttributeError, match="no exercise called 'kl_sigmaa'"):
        check.kl_sigmaa


def test_registering_a_name_twice_is_refused():
    """Is a duplicate exercise name an error at import time?"""
    with pytest.raises(ValueError, match="registered twice"):
        exercise("kl_sigma")(lambda fn: None)


def test_every_checker_loads_without_tensorflow():
    """Importing every exercise and checking lesson 00 leave TensorFlow unloaded: the grader's test class relies on it
    (tests/test_grade.py), so a checker module must import Keras inside its functions, not at the top."""
    code = ("import sys, numpy as np; from vae_course.checks import check, registry; registry(); "
            "check.welcome_sigma(np.zeros(2), np.ones(2)); print(len(registry()), 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    exercises, loaded = out.stdout.split()
    assert int(exercises) >= 28 and loaded == "False"
