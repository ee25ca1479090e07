"""``python -m vae_course lessons --nbgrader OUT``: the course as an nbgrader course folder.

``OUT/source/<lesson>/<lesson>.ipynb`` holds one assignment per lesson: the solution notebook without its
``# HIDDEN`` cells and outputs, where

- every answer cell (a ``# BEGIN SOLUTION`` region) is an *autograded answer*;
- every check cell that follows one is an *autograder test* worth one point per exercise it checks. Its visible
  source is the lesson's; a hidden test (nbgrader's ``### BEGIN HIDDEN TESTS``, restored at autograding) runs the
  course's checks through vae_course.tools.grade_probe and fails unless every check is correct (partial credit
  when a cell checks several exercises and only some pass).

``OUT/nbgrader_config.py`` replaces nbgrader's ClearSolutions by vae_course.tools.nbgrader_stubs.CourseStubs, so
``nbgrader generate_assignment`` releases exactly the lessons of ``lessons/`` plus nbgrader's metadata.
"""

import copy
from pathlib import Path

from .generate import LessonError, _show, _solution_paths, _write_bytes, make_lesson
from .generate import _read_notebook as read_solution
from .grade_course import lesson_spec
from .graded_lessons import refuse_course_folders, write_notebook
from .setup_cell import add_setup, course_setup

SCHEMA_VERSION = 3
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

CONFIG = '''"""nbgrader settings for the vae-course lessons (written by `python -m vae_course lessons --nbgrader`)."""

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions

from vae_course.tools.nbgrader_stubs import CourseStubs

c = get_config()  # noqa: F821  (nbgrader provides it)
c.CourseDirectory.root = {root!r}
# Release the course's own stubs (the lessons of lessons/), not nbgrader's `raise NotImplementedError()`.
c.GenerateAssignment.preprocessors = [
    CourseStubs if step is ClearSolutions else step for step in GenerateAssignment.preprocessors.default()
]
# Lessons train small models: give a cell up to 10 minutes, as the course's own notebook tests do.
c.Execute.timeout = 600
'''


def _meta(**fields):
    return {"schema_version": SCHEMA_VERSION, "grade": False, "solution": False, "locked": False, **fields}


def hidden_test(exercises):
    """The hidden part of a check cell: the course's checks, failing unless all are correct."""
    lines = [
        BEGIN_HIDDEN,
        "from vae_course.tools.grade_probe import Tally as _VaeCourseTally",
        "_vae_course_tally = _VaeCourseTally()",
    ]
    lines += [f"_vae_course_tally.check({ex.name!r}, {ex.points}){ex.arguments}" for ex in exercises]
    lines += ["_vae_course_tally.verdict()", END_HIDDEN]
    return "\n".join(lines)


def source_notebook(solution_nb, path):
    """The nbgrader source version of one solution notebook."""
    lesson = make_lesson(solution_nb, path)  # validates the markers, drops hidden cells, clears outputs
    spec = lesson_spec(solution_nb, Path(path).name)
    solutions = {cell.id: cell for cell in solution_nb.cells}
    checked = {}
    for exercise in spec.exercises:
        checked.setdefault(exercise.check_cell, []).append(exercise)
    answers = {exercise.answer_cell for exercise in spec.exercises}
    source = copy.deepcopy(lesson)
    for cell in source.cells:
        original = solutions[cell.id]
        if cell.source != original.source:  # a solution region: the answer
            cell.source = original.source
            if cell.cell_type == "markdown":  # a written answer: graded by hand, worth what the instructor sets
                cell.metadata["nbgrader"] = _meta(solution=True, grade=True, points=0, grade_id=f"written-{cell.id}")
            else:
                cell.metadata["nbgrader"] = _meta(solution=True, grade_id=f"answer-{cell.id}")
        elif cell.id in checked:
            exercises = checked[cell.id]
            cell.source = f"{cell.source}\n{hidden_test(exercises)}"
            names = "-".join(exercise.name for exercise in exercises)
            points = sum(exercise.points for exercise in exercises)
            cell.metadata["nbgrader"] = _meta(grade=True, locked=True, points=points, grade_id=f"check-{names}")
    missing = answers - {cell.id for cell in source.cells if "nbgrader" in cell.metadata}
    if missing:
        raise LessonError(f"{_show(path)}: answer cells {sorted(missing)} have no solution region")
    add_setup(source, course_setup())  # last, so the lessons' setup lines are never taken for an answer
    return source


def write_nbgrader_course(solutions_dir, out_dir, protected=()):
    """Write ``nbgrader_config.py`` and ``source/<lesson>/<lesson>.ipynb`` into ``out_dir``; return the paths."""
    out_dir = Path(out_dir)
    refuse_course_folders(out_dir, (solutions_dir, *protected))
    written = []
    for path in _solution_paths(solutions_dir):
        nb = source_notebook(read_solution(path), path)
        written.append(write_notebook(out_dir / "source" / path.stem / path.name, nb))
    config = out_dir / "nbgrader_config.py"
    _write_bytes(config, CONFIG.format(root=str(out_dir.resolve())).encode("utf-8"))
    return [config, *written]
