"""``python -m vae_course lessons --graded OUT [--no-hints]``: the lessons with solutions turned off.

Each lesson is the generated one (vae_course.tools.generate) with one code cell added before its first code cell,
which sets ``VAE_COURSE_MODE=graded`` (and ``VAE_COURSE_HINTS=off`` with ``--no-hints``) in the kernel; see
vae_course.checks.mode for what that turns off. Setting the same variables in the environment of the course's
Jupyter server does it for every notebook without a cell a learner could delete.
"""

import copy
from pathlib import Path

import nbformat

from .generate import LessonError, _show, _solution_paths, _write_bytes, lesson_bytes

MODE_CELL_ID = "vae-course-graded-mode"


def mode_cell_source(hints=True):
    lines = [
        "# Graded course: your instructor turned solutions off" + ("." if hints else ", and hints too."),
        "import os",
        "",
        'os.environ["VAE_COURSE_MODE"] = "graded"',
    ]
    if not hints:
        lines.append('os.environ["VAE_COURSE_HINTS"] = "off"')
    return "\n".join(lines)


def graded_lesson(lesson, hints=True):
    """A copy of ``lesson`` (a generated lesson notebook) that switches graded mode on before anything runs."""
    graded = copy.deepcopy(lesson)
    cell = nbformat.v4.new_code_cell(mode_cell_source(hints))
    cell.id = MODE_CELL_ID
    first_code = next((i for i, c in enumerate(graded.cells) if c.cell_type == "code"), len(graded.cells))
    graded.cells.insert(first_code, cell)
    return graded


def refuse_course_folders(out_dir, folders):
    """LessonError if ``out_dir`` is one of the course's own ``folders`` (solutions/, lessons/)."""
    for folder in folders:
        if Path(out_dir).resolve() == Path(folder).resolve():
            raise LessonError(f"{_show(out_dir)}: this is one of the course's folders; choose another folder")


def write_notebook(path, nb):
    """Write ``nb`` to ``path`` as the lesson generator does (one trailing newline, through a temporary file)."""
    text = nbformat.writes(nb, version=4)
    _write_bytes(Path(path), (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    return Path(path)


def write_graded_lessons(solutions_dir, out_dir, protected=(), hints=True):
    """Write the graded lesson of every ``solutions_dir/*.ipynb`` into ``out_dir``; return the paths written."""
    refuse_course_folders(out_dir, (solutions_dir, *protected))
    written = []
    for path in _solution_paths(solutions_dir):
        lesson = nbformat.reads(lesson_bytes(path).decode("utf-8"), as_version=4)
        written.append(write_notebook(Path(out_dir) / path.name, graded_lesson(lesson, hints)))
    return written
