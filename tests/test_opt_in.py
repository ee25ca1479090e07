"""A plain `pytest` skips the classroom tests (marker `classroom`: a class graded in kernels, nbgrader's autograder, a
JupyterHub with Unix accounts); `-m` naming one of their markers, or naming their file, runs them.

The rule lives in the root conftest.py (``skip_unless_asked``); these tests give it stand-ins for pytest's config and
items, so they run no pytest of their own.
"""

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest_under_test", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conftest = root_conftest()


class Item:
    """What skip_unless_asked reads and writes of a pytest item."""

    def __init__(self, path, *markers):
        self.path, self.markers = Path(path), [SimpleNamespace(name=name) for name in markers]

    def iter_markers(self):
        return iter(list(self.markers))

    def get_closest_marker(self, name):
        return next((m for m in self.markers if m.name == name), None)

    def add_marker(self, mark):
        self.markers.append(SimpleNamespace(name=mark.name, kwargs=mark.kwargs))

    def skip_reason(self):
        marker = self.get_closest_marker("skip")
        return marker.kwargs["reason"] if marker else None


def config(markexpr="", args=("tests",)):
    return SimpleNamespace(option=SimpleNamespace(markexpr=markexpr),
                           invocation_params=SimpleNamespace(dir=ROOT), args=list(args))


def run(markexpr="", args=("tests",)):
    """(hub, grader, browser, plain) items after the rule, as a run with ``-m markexpr`` and ``args`` sees them."""
    items = (Item(TESTS / "test_hub.py", "hub", "classroom"), Item(TESTS / "test_grade.py", "kernels", "classroom"),
             Item(TESTS / "test_browser.py", "browser"), Item(TESTS / "test_grade.py", "kernels"))
    conftest.skip_unless_asked(config(markexpr, args), list(items))
    return items


def test_a_plain_run_skips_the_classroom_tests_and_says_how_to_run_them():
    hub, grader, browser, plain = run()
    assert hub.skip_reason() == grader.skip_reason()
    assert "Unix accounts" in hub.skip_reason() and "`pytest -m classroom`" in hub.skip_reason()
    assert browser.skip_reason() is None and plain.skip_reason() is None  # the grader file's tests without kernels


@pytest.mark.parametrize(("markexpr", "runs"), [
    ("classroom", {"hub", "grader"}), ("hub", {"hub"}), ("kernels", {"grader"}), ("hub or browser", {"hub"}),
    ("browser or (classroom)", {"hub", "grader"}), ("not browser", set()), ("browser", set()), ("hubris", set()),
])
def test_a_mark_expression_runs_the_classroom_tests_whose_markers_it_names(markexpr, runs):
    hub, grader, _, _ = run(markexpr)
    ran = {name for name, item in (("hub", hub), ("grader", grader)) if item.skip_reason() is None}
    assert ran == runs


@pytest.mark.parametrize("arg", ["tests/test_hub.py", "tests/test_hub.py::test_learners_cannot_reach_each_other",
                                 str(TESTS / "test_hub.py")])
def test_naming_the_file_runs_its_classroom_tests(arg):
    hub, grader, _, plain = run(args=[arg, "tests/test_maths.py"])
    assert hub.skip_reason() is None and plain.skip_reason() is None
    assert grader.skip_reason() is not None  # another file


def test_the_classroom_tests_carry_the_marker_the_rule_reads():
    """If a classroom file lost its marker, a plain run would grade a class (or make Unix accounts) again."""
    assert set(conftest.OPT_IN) == {"classroom"}
    assert "pytestmark = [pytest.mark.hub, pytest.mark.classroom]" in (TESTS / "test_hub.py").read_text()
    for name, fixtures in (("test_grade.py", ("normal", "hostile")), ("test_nbgrader_export.py", ("course",))):
        source = (TESTS / name).read_text(encoding="utf-8")
        uses = re.findall(r"(@classroom\n(?:@.*\n)*)?def test_\w+\(([^)]*)\)", source)
        for decorated, arguments in uses:
            if any(re.search(rf"\b{fixture}\b", arguments) for fixture in fixtures):
                assert decorated, f"{name}: a test of a graded class ({arguments}) lacks @classroom"
