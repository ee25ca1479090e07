"""What the grader knows about the course: each lesson's exercises, read from the solution notebooks.

The exercise list is never taken from a submission. In ``solutions/NN-name.ipynb``, every code cell with a
``# BEGIN SOLUTION`` region (an *answer cell*) is followed by a *check cell* calling ``check.<exercise>(...)``
(the lesson generator refuses a notebook where it is not). Each such call is one graded exercise; the grader
later evaluates the same call, with the course's arguments, in the learner's kernel.
"""

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .generate import BEGIN_CODE, CHECK_CALL, HIDDEN

POINTS_PER_EXERCISE = 1


class CourseError(ValueError):
    """The solution notebooks cannot be read as a graded course."""


@dataclass(frozen=True)
class ExerciseSpec:
    """One graded exercise of a lesson.

    ``arguments`` is the source text of the call's parentheses, e.g. ``"(log_var, sigma)"``; ``answer_cell``
    is the id of the cell the learner answers in, after which the grader runs the check.
    """

    lesson: str
    name: str
    arguments: str
    answer_cell: str
    check_cell: str
    points: int = POINTS_PER_EXERCISE


@dataclass(frozen=True)
class LessonSpec:
    """A lesson's file name, its title line and its exercises, in the order the notebook checks them."""

    file_name: str
    title: str
    exercises: tuple

    @property
    def name(self):
        return Path(self.file_name).stem

    @property
    def max_points(self):
        return sum(exercise.points for exercise in self.exercises)


def _is_hidden(cell):
    return cell.cell_type == "code" and cell.source.split("\n", 1)[0].strip() == HIDDEN


def _has_answer(cell):
    return cell.cell_type == "code" and any(line.strip() == BEGIN_CODE for line in cell.source.split("\n"))


def check_calls(source, where="this cell"):
    """``[(exercise, arguments)]`` for every ``check.<exercise>(...)`` call in ``source``, in order of appearance."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise CourseError(f"{where}: the check cell is not valid Python ({error.msg}, line {error.lineno})") from None
    calls = []
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        if (
            isinstance(node, ast.Call)
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "check"
        ):
            call_text = ast.get_source_segment(source, node)
            func_text = ast.get_source_segment(source, func)
            calls.append((node.lineno, node.col_offset, func.attr, call_text[len(func_text):].strip()))
    return [(name, arguments) for _, _, name, arguments in sorted(calls)]


def title_of(nb):
    """The first line of the notebook's first Markdown cell, stripped of ``#`` marks ("" if none)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.strip():
            return cell.source.strip().split("\n", 1)[0].lstrip("#").strip()
    return ""


def lesson_spec(solution_nb, file_name):
    """The LessonSpec of one solution notebook (already read with nbformat)."""
    exercises, answer = [], None
    cells = [cell for cell in solution_nb.cells if not _is_hidden(cell)]
    for number, cell in enumerate(cells, start=1):
        if _has_answer(cell):
            answer = cell
        elif answer is not None and cell.cell_type == "code" and CHECK_CALL.search(cell.source):
            for name, arguments in check_calls(cell.source, f"{file_name}, cell {number}"):
                if name not in {exercise.name for exercise in exercises}:
                    exercises.append(ExerciseSpec(Path(file_name).stem, name, arguments, answer.id, cell.id))
            answer = None
    return LessonSpec(file_name, title_of(solution_nb), tuple(exercises))


def read_course(solutions_dir):
    """``{lesson file name: LessonSpec}`` for every ``solutions_dir/*.ipynb``."""
    solutions_dir = Path(solutions_dir)
    paths = sorted(solutions_dir.glob("*.ipynb"))
    if not paths:
        raise CourseError(f"{solutions_dir}: no solution notebooks (*.ipynb) there; pass --solutions DIR")
    course = {}
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, json.JSONDecodeError, nbformat.reader.NotJSONError) as error:
            raise CourseError(f"{path}: cannot read the solution notebook ({error})") from None
        course[path.name] = lesson_spec(nb, path.name)
    return course
