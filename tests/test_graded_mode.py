"""Graded mode: VAE_COURSE_MODE=graded turns solutions and the reference fallbacks off; hints stay unless told."""

import io
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

from vae_course.checks import ____, hint, solution
from vae_course.checks.mode import HINTS_VARIABLE, MODE_VARIABLE, ModeError, graded
from vae_course.checks.results import Notice, SolutionText
from vae_course.exercises.fallback import yours_if_correct
from vae_course.tools import cli
from vae_course.tools.graded_lessons import MODE_CELL_ID, mode_cell_source

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def learning(monkeypatch):
    # setenv (not delenv) so that monkeypatch restores the variables even when a test's code sets them itself
    monkeypatch.setenv(MODE_VARIABLE, "learning")
    monkeypatch.setenv(HINTS_VARIABLE, "on")
    return monkeypatch


@pytest.fixture
def graded_mode(learning):
    learning.setenv(MODE_VARIABLE, "graded")
    return learning


def test_solutions_show_in_the_default_learning_mode(learning):
    assert isinstance(solution.welcome_sigma(), SolutionText)
    assert "np.exp(log_var / 2)" in repr(solution.welcome_sigma())


def test_graded_mode_turns_solutions_off_with_a_plain_message(graded_mode):
    shown = solution.welcome_sigma()
    assert isinstance(shown, Notice)
    assert "Solutions are turned off in this course" in repr(shown)
    assert "np.exp" not in repr(shown) + shown._repr_html_()


def test_hints_stay_on_in_graded_mode_unless_turned_off(graded_mode):
    assert "exp" in repr(hint.welcome_sigma())
    graded_mode.setenv(HINTS_VARIABLE, "off")
    assert isinstance(hint.welcome_sigma(), Notice)
    assert "Hints are turned off" in repr(hint.welcome_sigma(2))


def test_the_fallback_uses_the_reference_while_learning(learning):
    def reference(z_a, z_b, n):
        return None

    out = io.StringIO()
    with redirect_stdout(out):
        chosen = yours_if_correct("interpolate", ____, reference, "`the reference`")
    assert chosen is reference and "the cells below use `the reference` instead" in out.getvalue()


def test_graded_mode_keeps_the_learners_answer_and_says_why(graded_mode):
    def reference(z_a, z_b, n):
        raise AssertionError("the reference must not be used in graded mode")

    out = io.StringIO()
    with redirect_stdout(out):
        chosen = yours_if_correct("interpolate", ____, reference, "`the reference`")
    assert chosen is ____
    assert "Solutions are off in this course" in out.getvalue() and "the reference" not in out.getvalue()


def test_a_misspelt_mode_is_refused_by_name(learning):
    learning.setenv(MODE_VARIABLE, "grade")
    with pytest.raises(ModeError, match="VAE_COURSE_MODE='grade'.*learning, graded"):
        graded()


def test_the_mode_cell_switches_graded_mode_on_when_run(learning):
    exec(mode_cell_source(hints=False), {})  # what the first added cell of a graded lesson does in the kernel
    assert graded() and isinstance(solution.welcome_sigma(), Notice) and isinstance(hint.welcome_sigma(), Notice)


@pytest.mark.parametrize("hints", [True, False])
def test_graded_lessons_are_the_lessons_plus_one_mode_cell(tmp_path, hints):
    options = [] if hints else ["--no-hints"]
    assert cli.main(["lessons", "--graded", str(tmp_path), *options]) == 0
    names = sorted(path.name for path in (ROOT / "solutions").glob("*.ipynb"))
    assert sorted(path.name for path in tmp_path.glob("*.ipynb")) == names
    for name in names:
        graded_nb = nbformat.read(tmp_path / name, as_version=4)
        lesson = nbformat.read(ROOT / "lessons" / name, as_version=4)
        added = [cell for cell in graded_nb.cells if cell.id == MODE_CELL_ID]
        assert len(added) == 1 and added[0].source == mode_cell_source(hints)
        first_code = next(cell for cell in graded_nb.cells if cell.cell_type == "code")
        assert first_code.id == MODE_CELL_ID, name
        assert [c for c in graded_nb.cells if c.id != MODE_CELL_ID] == lesson.cells, name
        assert ('"VAE_COURSE_HINTS"] = "off"' in added[0].source) is not hints


def test_graded_lessons_never_overwrite_the_course(capsys):
    assert cli.main(["lessons", "--graded", str(ROOT / "lessons")]) == 2
    assert "choose another folder" in capsys.readouterr().err


def test_no_hints_needs_graded(tmp_path, capsys):
    assert cli.main(["lessons", "--no-hints", "--out", str(tmp_path)]) == 2
    assert "--no-hints only goes with --graded" in capsys.readouterr().err
