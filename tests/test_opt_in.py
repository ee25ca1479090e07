"""A plain `pytest` skips the JupyterHub classroom test (it makes Unix accounts); `-m hub`, or naming its file, runs it.

The rule lives in the root conftest.py (``skip_unless_asked``); these tests give it stand-ins for pytest's config and
items, so they run no pytest of their own.
"""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
HUB_FILE = ROOT / "tests" / "test_hub.py"
OTHER_FILE = ROOT / "tests" / "test_maths.py"


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
    hub, browser, plain = Item(HUB_FILE, "hub"), Item(ROOT / "tests" / "test_browser.py", "browser"), Item(OTHER_FILE)
    conftest.skip_unless_asked(config(markexpr, args), [hub, browser, plain])
    return hub, browser, plain


def test_a_plain_run_skips_the_hub_test_and_says_how_to_run_it():
    hub, browser, plain = run()
    assert "Unix accounts" in hub.skip_reason() and "`pytest -m hub`" in hub.skip_reason()
    assert browser.skip_reason() is None and plain.skip_reason() is None


@pytest.mark.parametrize("markexpr", ["hub", "hub or browser", "browser or hub", "(hub)"])
def test_a_mark_expression_naming_hub_runs_it(markexpr):
    hub, _, _ = run(markexpr)
    assert hub.skip_reason() is None


@pytest.mark.parametrize("markexpr", ["not browser", "browser", "kernels", "hubris"])
def test_other_mark_expressions_still_skip_it(markexpr):
    hub, _, _ = run(markexpr)
    assert hub.skip_reason() is not None


@pytest.mark.parametrize("arg", ["tests/test_hub.py", "tests/test_hub.py::test_learners_cannot_reach_each_other",
                                 str(HUB_FILE)])
def test_naming_the_hub_file_runs_it(arg):
    hub, _, plain = run(args=[arg, "tests/test_maths.py"])
    assert hub.skip_reason() is None and plain.skip_reason() is None


def test_the_hub_tests_carry_the_marker_the_rule_reads():
    """If test_hub.py lost its marker, a plain run would make Unix accounts again."""
    source = HUB_FILE.read_text(encoding="utf-8")
    assert "pytestmark = pytest.mark.hub" in source
    assert set(conftest.OPT_IN) == {"hub"}
