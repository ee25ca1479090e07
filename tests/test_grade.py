"""`python -m vae_course grade`: what it records for good, bad and hostile submissions of lesson 00.

Submissions are small generated copies of lesson 00 (title, set-up cell, `log_var`, the answer cell and its check
cell). Every copy but the right answer's loads no TensorFlow (tests/light_lesson.py), so its kernel starts in about
a second instead of six; the right answer keeps the set-up cell whole, as does the hub test. Two classes are graded
once per module: one whose notebooks run normally (`--jobs 2`), and one whose notebooks hang, crash or hoard memory
under a short time limit and a small memory limit. Their tests are classroom tests, which a plain `pytest` skips:
`pytest -m classroom` (or naming this file) runs them, and `.ci/run` does; the tests without kernels always run.
"""

import csv
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from vae_course.tools import cli, grade
from vae_course.tools.grade_course import CourseError, check_calls, lesson_spec, read_course

from light_lesson import SETUP, without_tensorflow

pytestmark = pytest.mark.kernels  # starts Jupyter kernels: conftest runs this file early
classroom = pytest.mark.classroom  # grades a class in kernels of its own: a plain `pytest` skips it (conftest.py)

ROOT = Path(__file__).resolve().parent.parent
LESSON = "00-welcome.ipynb"
KEEP = ("cell-01", "cell-03", "cell-12", "cell-13", "cell-14")  # title, set-up, log_var, answer, check
ANSWER, CHECK = "cell-13", "cell-14"
RIGHT, WRONG = "sigma = np.exp(log_var / 2)", "sigma = np.exp(log_var)"
# every exercise of lesson 00 counts, also those whose cells the cut-down lesson below leaves out
EXERCISES = [exercise.name for exercise in read_course(ROOT / "solutions")[LESSON].exercises]


def compact_lesson(keras=False):
    """Lesson 00 cut down to the cells the exercise needs; without the set-up cell's Keras imports unless ``keras``."""
    nb = nbformat.read(ROOT / "lessons" / LESSON, as_version=4)
    nb.cells = [cell for cell in nb.cells if cell.id in KEEP]
    assert [cell.id for cell in nb.cells] == list(KEEP)
    return nb if keras else without_tensorflow(nb)


def cell(nb, cell_id):
    return next(c for c in nb.cells if c.id == cell_id)


def answered(answer=RIGHT, keras=False):
    nb = compact_lesson(keras)
    cell(nb, ANSWER).source = answer
    return nb


def after(nb, cell_id, *sources):
    """``nb`` with new code cells inserted after the cell ``cell_id``."""
    index = [c.id for c in nb.cells].index(cell_id) + 1
    nb.cells[index:index] = [new_code_cell(source) for source in sources]
    return nb


def save(folder, student, nb, name=LESSON):
    path = Path(folder) / student / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def grade_folder(folder, tmp, *options):
    """Run the command; return (exit code, {(student, exercise): row}, points rows)."""
    out = Path(tmp) / "grades.csv"
    code = cli.main(["grade", str(folder), "--out", str(out), "--lesson", LESSON, *options])
    with out.open(encoding="utf-8") as handle:
        rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(handle)}
    with grade.points_path(out).open(encoding="utf-8") as handle:
        points = {r["student"]: r for r in csv.DictReader(handle)}
    return code, rows, points


# ---- a class whose notebooks run ------------------------------------------------------------------------


def normal_class(folder):
    right = after(answered(keras=True), CHECK, "check.welcome_sigma(log_var, sigma)")  # the check cell twice,
    right.cells.insert(2, new_code_cell(cell(right, CHECK).source))  # and once more moved above its inputs
    save(folder, "right", right)
    untouched = compact_lesson()
    untouched.cells = [c for c in untouched.cells if c.id != CHECK]  # and its check cell deleted
    save(folder, "untouched", untouched)
    save(folder, "wrong", answered(WRONG))
    fake = after(
        answered(WRONG),
        CHECK,
        "from IPython.display import HTML, display, publish_display_data\n"
        "display(HTML('<div><strong style=\"color: #1a7f37;\">Correct:</strong> Well done.</div>'))\n"
        "publish_display_data({'application/vnd.vae-course.grade+json': {'nonce': 'guess', "
        "'exercise': 'welcome_sigma', 'status': 'correct', 'message': 'Well done.'}})\n"
        "print('Correct: Well done.')",
    )
    save(folder, "fake_display", fake)
    redefined = after(
        answered(WRONG),
        SETUP,
        "from vae_course.checks import Result\n\n"
        "class check:\n"
        "    @staticmethod\n"
        "    def welcome_sigma(*args):\n"
        "        return Result('welcome_sigma', 'correct', 'Well done.')",
    )
    save(folder, "redefined_check", redefined)
    edited = answered(WRONG)
    cell(edited, CHECK).source = "check.welcome_sigma(log_var, np.exp(log_var / 2))"
    save(folder, "edited_check", edited)
    moved = compact_lesson()
    moved.cells = [c for c in moved.cells if c.id not in (ANSWER, CHECK)]  # answer and check cells deleted
    moved.cells.append(new_code_cell("sigma = np.sqrt(np.exp(log_var))"))  # the answer, rewritten at the end
    save(folder, "answer_moved", moved)
    deleted = compact_lesson()
    deleted.cells = [c for c in deleted.cells if c.id not in (ANSWER, CHECK)]
    save(folder, "cells_deleted", deleted)


@pytest.fixture(scope="module")
def normal(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submitted")
    normal_class(folder)
    return grade_folder(folder, tmp_path_factory.mktemp("out"), "--jobs", "2", "--timeout", "600")


def status(rows, student, exercise="welcome_sigma"):
    return rows[student, exercise]["status"]


@classroom
def test_the_command_succeeds_and_writes_one_row_per_student_and_exercise(normal):
    code, rows, points = normal
    assert code == 0
    assert {student for student, _ in rows} == {
        "right", "untouched", "wrong", "fake_display", "redefined_check", "edited_check", "answer_moved",
        "cells_deleted",
    }
    assert all(row["lesson"] == "00-welcome" for row in rows.values())


@classroom
def test_a_right_answer_is_correct_with_its_check_cell_duplicated_and_moved(normal):
    _, rows, points = normal
    assert status(rows, "right") == "correct"
    assert (points["right"]["points"], points["right"]["max_points"]) == ("1", str(len(EXERCISES)))
    print(f"grading time per notebook: {[float(row['seconds']) for row in points.values()]} s")
    assert all(float(row["seconds"]) > 0 for row in points.values())


@classroom
def test_an_untouched_answer_is_not_attempted_even_without_its_check_cell(normal):
    _, rows, points = normal
    assert status(rows, "untouched") == "not_attempted"
    assert points["untouched"]["points"] == "0"


@classroom
def test_a_wrong_answer_is_incorrect_with_the_checkers_diagnosis(normal):
    _, rows, _ = normal
    assert status(rows, "wrong") == "incorrect"
    assert "variance" in rows["wrong", "welcome_sigma"]["message"]


@classroom
@pytest.mark.parametrize("student", ["fake_display", "redefined_check", "edited_check"])
def test_no_credit_for_faking_the_check(normal, student):
    _, rows, _ = normal
    assert status(rows, student) == "incorrect", rows[student, "welcome_sigma"]


@classroom
def test_an_answer_moved_to_a_new_cell_is_checked_after_the_last_cell(normal):
    _, rows, _ = normal
    assert status(rows, "answer_moved") == "correct", rows["answer_moved", "welcome_sigma"]


@classroom
def test_deleted_cells_still_give_a_row_for_the_exercise(normal):
    _, rows, _ = normal
    row = rows["cells_deleted", "welcome_sigma"]
    assert row["status"] == "error" and "sigma" in row["message"], row


# ---- a class whose notebooks hang, crash or hoard memory ----------------------------------------------------


def first(source):
    """The compact lesson, right answer, with ``source`` as the first code cell (before the set-up cell)."""
    nb = answered()
    nb.cells.insert(1, new_code_cell(source))
    return nb


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submitted")
    save(folder, "endless_loop", first("while True:\n    pass"))
    save(folder, "exits", first("import os\nos._exit(3)"))
    save(folder, "segfault", first("import ctypes\nctypes.string_at(0)"))
    # In the answer cell, before the answer: the MemoryError leaves sigma undefined. (At most 4 GB even if the limit
    # failed: the machine survives a broken test.)
    save(folder, "memory_bomb", answered(f"hoard = [bytearray(10**8) for _ in range(40)]\n{RIGHT}"))
    (folder / "not_json").mkdir()
    (folder / "not_json" / LESSON).write_text('{"cells": [', encoding="utf-8")
    save(folder, "other_lesson", nbformat.read(ROOT / "lessons" / "02-the-reparameterization-trick.ipynb", 4))
    (folder / "nothing_handed_in").mkdir()
    # 5 s: the light copies reach their answer in about a second; the endless loop burns a core until the limit
    return grade_folder(folder, tmp_path_factory.mktemp("out"), "--jobs", "2", "--timeout", "5", "--memory", "1024")


@classroom
def test_an_endless_loop_times_out_and_grading_goes_on(hostile):
    code, rows, points = hostile
    assert code == 0
    row = rows["endless_loop", "welcome_sigma"]
    assert row["status"] == "timeout" and "5 s" in row["message"], row
    assert len(points) == 7


@classroom
@pytest.mark.parametrize("student", ["exits", "segfault"])
def test_a_dying_kernel_is_an_error(hostile, student):
    _, rows, _ = hostile
    row = rows[student, "welcome_sigma"]
    assert row["status"] == "error" and "kernel died in cell 2" in row["message"], row


@classroom
def test_a_memory_bomb_hits_the_limit(hostile):
    _, rows, _ = hostile
    row = rows["memory_bomb", "welcome_sigma"]
    assert row["status"] == "error", row
    assert "raised MemoryError" in row["message"] or "kernel died" in row["message"], row


@classroom
def test_invalid_json_is_a_clear_row(hostile):
    _, rows, _ = hostile
    row = rows["not_json", "welcome_sigma"]
    assert row["status"] == "error" and "not valid JSON" in row["message"], row


@classroom
def test_another_lessons_notebook_is_a_clear_row(hostile):
    _, rows, _ = hostile
    row = rows["other_lesson", "welcome_sigma"]
    assert row["status"] == "error" and "lesson 02-the-reparameterization-trick" in row["message"], row


@classroom
def test_a_student_without_the_notebook_is_not_attempted(hostile):
    _, rows, points = hostile
    assert status(rows, "nothing_handed_in") == "not_attempted"
    assert points["nothing_handed_in"]["max_points"] == str(len(EXERCISES))
    assert points["nothing_handed_in"]["seconds"] == "0.0"


# ---- the course's exercise list, and bad arguments (no kernel) ------------------------------------------------


def test_the_exercise_list_comes_from_the_solution_notebooks():
    course = read_course(ROOT / "solutions")
    assert [ex.name for ex in course[LESSON].exercises] == ["welcome_sigma", "predict_sigma_factor"]
    assert course[LESSON].exercises[0].arguments == "(log_var, sigma)"
    assert (course[LESSON].exercises[0].answer_cell, course[LESSON].exercises[0].check_cell) == (ANSWER, CHECK)
    # a check cell may check two exercises (lesson 07 checks Sampling and kl_log_var together)
    every = {ex.name for spec in course.values() for ex in spec.exercises}
    assert {"sampling_layer", "kl_log_var", "welcome_sigma"} <= every


def test_a_new_lesson_brings_its_exercises_without_code_changes():
    nb = nbformat.v4.new_notebook(cells=[
        new_markdown_cell("# 03 · A new lesson"),
        new_code_cell("# BEGIN SOLUTION\nz = 1\n# END SOLUTION"),
        new_code_cell("check.new_one(z, k=2)\ncheck.other(z)"),
        new_code_cell("check.demo(z)"),  # not after an answer: a demonstration, not an exercise
    ])
    spec = lesson_spec(nb, "03-new.ipynb")
    assert [(ex.name, ex.arguments) for ex in spec.exercises] == [("new_one", "(z, k=2)"), ("other", "(z)")]
    assert spec.max_points == 2 and spec.title == "03 · A new lesson"


def test_a_check_cell_that_is_not_python_is_refused_with_its_place():
    with pytest.raises(CourseError, match="cell 4"):
        check_calls("check.x(", "cell 4")


def test_unknown_notebooks_are_warned_about(tmp_path):
    save(tmp_path, "ann", compact_lesson(), name="my-notes.ipynb")
    jobs, warnings = grade.find_submissions(tmp_path, read_course(ROOT / "solutions"))
    assert jobs == [] and "my-notes.ipynb" in warnings[0]


@pytest.mark.parametrize(
    "options, message",
    [(["--jobs", "0"], "--jobs"), (["--lesson", "99-nope.ipynb"], "99-nope.ipynb"), (["--memory", "10"], "--memory")],
)
def test_bad_arguments_are_refused(tmp_path, capsys, options, message):
    (tmp_path / "ann").mkdir()
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv"), *options]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_folder_is_refused(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
