"""`python -m vae_course lessons --nbgrader OUT`, run through real nbgrader.

One temporary nbgrader course: `generate_assignment` for every lesson (its release must be lessons/ plus
nbgrader's metadata), then `autograde` of lesson 00 for three students -- the full solution, the untouched
lesson, and a wrong answer the checker names -- with their scores read from the gradebook. The full solution is
the released lesson as a learner gets it; the other two load no TensorFlow (tests/light_lesson.py: the set-up cell
and the environment report carry no nbgrader metadata, so autograde runs them as handed in). The tests of that
course are classroom tests, which a plain `pytest` skips: `pytest -m classroom` (or naming this file) runs them, and
`.ci/run` does.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from vae_course.tools import cli
from vae_course.tools.generate import _read_notebook
from vae_course.tools.grade_course import read_course
from vae_course.tools.nbgrader_export import source_notebook

from light_lesson import without_tensorflow

pytestmark = pytest.mark.kernels  # starts Jupyter kernels: conftest runs this file early
classroom = pytest.mark.classroom  # autogrades a class in kernels: a plain `pytest` skips it (conftest.py)

ROOT = Path(__file__).resolve().parent.parent
LESSON = "00-welcome"
NBGRADER_KEYS = ("nbgrader", "deletable", "editable")  # what nbgrader adds to a cell's metadata
COURSE = read_course(ROOT / "solutions")  # each lesson's exercises, one point each


def points(lesson):
    return float(len(COURSE[f"{lesson}.ipynb"].exercises))


def nbgrader(course, *arguments):
    """Run the nbgrader command line in ``course``, with this checkout's vae_course importable."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *arguments], cwd=course, env=env, capture_output=True, text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def without_nbgrader(cell):
    metadata = {key: value for key, value in cell.metadata.items() if key not in NBGRADER_KEYS}
    return cell.cell_type, cell.id, cell.source, metadata, cell.get("outputs"), cell.get("execution_count")


def submit(course, student, nb):
    path = course / "submitted" / student / LESSON / f"{LESSON}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """An nbgrader course with every lesson released and lesson 00 autograded for three students."""
    root = tmp_path_factory.mktemp("nbgrader-course")
    assert cli.main(["lessons", "--nbgrader", str(root)]) == 0
    lessons = sorted(path.stem for path in (ROOT / "solutions").glob("*.ipynb"))
    nbgrader(root, "generate_assignment", "*", "--force")  # every lesson, in one run
    released = nbformat.read(root / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4)
    full = nbformat.from_dict(released)
    answers = {cell.id: cell.source for cell in solution.cells}
    for cell in full.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.id]
    wrong = without_tensorflow(nbformat.from_dict(released))
    for cell in wrong.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "sigma = np.exp(log_var)"  # the variance: the checker says so
    submit(root, "full", full)
    submit(root, "untouched", without_tensorflow(nbformat.from_dict(released)))
    submit(root, "wrong", wrong)
    nbgrader(root, "autograde", LESSON, "--force")
    return root, lessons


def scores(root):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        students = ("full", "untouched", "wrong")
        submissions = {student: gradebook.find_submission(LESSON, student) for student in students}
        return {student: (found.score, found.max_score) for student, found in submissions.items()}


@classroom
def test_every_released_assignment_is_the_lesson_plus_nbgrader_metadata(course):
    root, lessons = course
    for lesson in lessons:
        released = nbformat.read(root / "release" / lesson / f"{lesson}.ipynb", as_version=4)
        expected = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
        assert [without_nbgrader(c) for c in released.cells] == [without_nbgrader(c) for c in expected.cells], lesson
        assert released.metadata == expected.metadata, lesson


@classroom
def test_scores_full_solution_untouched_and_wrong(course):
    root, _ = course
    most = points(LESSON)
    assert most >= 1
    assert scores(root) == {"full": (most, most), "untouched": (0.0, most), "wrong": (0.0, most)}


@classroom
def test_the_wrong_answer_fails_with_the_checkers_diagnosis(course):
    root, _ = course
    graded = nbformat.read(root / "autograded" / "wrong" / LESSON / f"{LESSON}.ipynb", as_version=4)
    check = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade"))
    errors = [output for output in check.outputs if output.output_type == "error"]
    assert errors and "variance" in errors[0].evalue


def test_answer_cells_are_autograded_answers_and_check_cells_tests():
    path = ROOT / "solutions" / "07-the-complete-vae.ipynb"
    nb = source_notebook(_read_notebook(path), path)
    marks = [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
    answers = [m for m in marks if m["solution"]]
    tests = [m for m in marks if m["grade"]]
    assert all(not m["grade"] and not m["locked"] for m in answers)
    assert all(m["locked"] and not m["solution"] for m in tests)
    # one check cell checks both Sampling and kl_log_var: two points, partial credit possible
    assert {m["grade_id"]: m["points"] for m in tests}["check-sampling_layer-kl_log_var"] == 2
    assert sum(m["points"] for m in tests) == points("07-the-complete-vae")
    assert len({m["grade_id"] for m in marks}) == len(marks)


def test_the_export_refuses_to_write_over_the_lessons(tmp_path, capsys):
    assert cli.main(["lessons", "--nbgrader", str(ROOT / "lessons")]) == 2
    assert "choose another folder" in capsys.readouterr().err


def test_a_test_cell_gives_full_partial_or_no_credit():
    import numpy as np

    from vae_course.tools.grade_probe import Tally

    log_var = np.array([-2.0, 0.0, 2.0])

    def tally(*answers):
        cell = Tally()
        for answer in answers:
            cell.check("welcome_sigma", 1)(log_var, answer)
        return cell

    right, wrong = np.exp(log_var / 2), np.exp(log_var)
    assert tally(right, right).verdict() is None  # no output: nbgrader gives every point
    assert tally(right, wrong).verdict() == 1.0  # a number: nbgrader's partial credit
    with pytest.raises(AssertionError, match="variance"):
        tally(wrong, wrong).verdict()
