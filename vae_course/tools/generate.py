"""Generate ``lessons/`` from ``solutions/``: ``python -m vae_course lessons [--check] [--force]``.

``solutions/NN-name.ipynb`` is the single source, stored with outputs. The lesson is the same notebook with

- every code region between a line ``# BEGIN SOLUTION`` and a line ``# END SOLUTION`` replaced by its
  ``# STUB: `` lines (prefix removed), or by ``____  # YOUR CODE HERE`` at the BEGIN line's indentation;
- every Markdown region between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` replaced by
  ``*Write your answer here.*``;
- every code cell whose first line is ``# HIDDEN`` removed;
- the course setup (vae_course.setup_cell: Colab install, version check) put at the top of the first code cell;
- outputs, execution counts, the run timings nbclient records (cell metadata ``execution``) and saved
  widget state (notebook metadata ``widgets``) cleared.

Learners edit ``lessons/``, so a lesson is only overwritten when it is unchanged since the generator wrote it: the
SHA-256 of what was written is kept in ``lessons/.generated.json``.

No TensorFlow here: this module only needs nbformat and the standard library.
"""

import contextlib
import copy
import hashlib
import json
import os
import re
from pathlib import Path

import nbformat

from .._paths import REPOSITORY
from ..repository import RepositoryError
from .setup_cell import add_setup, course_setup

BEGIN_CODE, END_CODE = "# BEGIN SOLUTION", "# END SOLUTION"
BEGIN_MARKDOWN, END_MARKDOWN = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
STUB_PREFIX = "# STUB: "
DEFAULT_STUB = "____  # YOUR CODE HERE"
MARKDOWN_STUB = "*Write your answer here.*"
HIDDEN = "# HIDDEN"
MANIFEST = ".generated.json"
CHECK_CALL = re.compile(r"(?<![\w.])check\.[A-Za-z_]\w*\s*\(")


class LessonError(ValueError):
    """A solution notebook or a lessons folder the generator refuses to work with."""


class SolutionMarkerError(LessonError):
    """A BEGIN/END SOLUTION marker out of place: unterminated, nested or stray."""


# ----------------------------------------------------------------------------------------------------------------
# One cell


def _lines(source):
    """The lines of ``source``, each with its line ending; only ``\\n`` ends a line (as in Jupyter)."""
    return re.findall(r"[^\n]*\n|[^\n]+", source)


def _indent(text):
    return text[: len(text) - len(text.lstrip())]


def _replace_regions(source, where, begin, end, make_stub):
    """``source`` with every region from a ``begin`` line to an ``end`` line replaced by ``make_stub``'s lines."""
    result, region, opened = [], [], None
    for number, line in enumerate(_lines(source), start=1):
        text = line.rstrip("\r\n")
        marker = text.strip()
        if marker == begin:
            if opened is not None:
                raise SolutionMarkerError(
                    f"{where}, line {number}: nested `{begin}` (the region opened on line {opened[0]} is not closed "
                    f"yet; close it with `{end}` first)"
                )
            opened, region = (number, _indent(text), line[len(text):]), []
        elif marker == end:
            if opened is None:
                raise SolutionMarkerError(f"{where}, line {number}: `{end}` without a `{begin}` before it")
            _, indent, newline = opened
            stub = make_stub(indent, region)
            result.extend(stub_line + newline for stub_line in stub[:-1])
            result.append(stub[-1] + line[len(text):])
            opened = None
        elif opened is not None:
            region.append(text)
        else:
            result.append(line)
    if opened is not None:
        raise SolutionMarkerError(f"{where}, line {opened[0]}: `{begin}` is never closed by a line `{end}`")
    return "".join(result)


def _code_stub(indent, region):
    stubs = [text for text in region if text.lstrip().startswith(STUB_PREFIX)]
    if not stubs:
        return [indent + DEFAULT_STUB]
    return [_indent(text) + text.lstrip()[len(STUB_PREFIX):] for text in stubs]


def strip_solutions(source, where="this cell"):
    """The lesson version of one code cell's source: each ``# BEGIN SOLUTION`` region replaced by its stub.

    ``where`` (e.g. ``"solutions/01-x.ipynb, cell 5"``) starts the message of a SolutionMarkerError.
    """
    return _replace_regions(source, where, BEGIN_CODE, END_CODE, _code_stub)


def _markdown_stub(indent, region):
    return [indent + MARKDOWN_STUB]


def _strip_markdown_solutions(source, where):
    """The lesson version of one Markdown cell's source: each answer region replaced by a prompt."""
    return _replace_regions(source, where, BEGIN_MARKDOWN, END_MARKDOWN, _markdown_stub)


def _is_hidden(cell):
    return cell.cell_type == "code" and cell.source.split("\n", 1)[0].strip() == HIDDEN


def _has_region(source):
    return any(line.strip() == BEGIN_CODE for line in source.split("\n"))


# ----------------------------------------------------------------------------------------------------------------
# One notebook


def _show(path):
    """``path`` relative to the current directory when it is below it, for messages."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(path)


def _check_cell_ids(nb, name):
    """Refuse cells without an id or with an id used twice (nbformat would invent random ones)."""
    seen = {}
    for number, cell in enumerate(nb.get("cells", []), start=1):
        cell_id = cell.get("id") if isinstance(cell, dict) else None
        if not isinstance(cell_id, str) or not cell_id:
            raise LessonError(
                f"{name}, cell {number}: the cell has no id; nbformat 4.5 notebooks need one per cell "
                f"(save the notebook with JupyterLab 3+ or Notebook 7 to add them)"
            )
        if cell_id in seen:
            raise LessonError(f"{name}, cell {number}: cell id {cell_id!r} is already used by cell {seen[cell_id]}")
        seen[cell_id] = number


def _check_exercises_are_checked(cells, name):
    """Every solution cell is followed by a code cell calling ``check.<name>(...)`` before the next solution cell."""
    waiting = None
    for number, cell in enumerate(cells, start=1):
        if cell.cell_type != "code" or _is_hidden(cell):
            continue
        if _has_region(cell.source):
            if waiting is not None:
                _refuse_unchecked(name, waiting, f"the next solution cell (cell {number})")
            waiting = number
        elif waiting is not None and CHECK_CALL.search(cell.source):
            waiting = None
    if waiting is not None:
        _refuse_unchecked(name, waiting, "the end of the notebook")


def _refuse_unchecked(name, number, before):
    raise LessonError(
        f"{name}, cell {number}: this solution cell is not followed by a check cell (a code cell calling "
        f"check.<exercise>(...)) before {before}; learners would get no feedback"
    )


def make_lesson(solution_nb, path=None, setup=None):
    """The lesson notebook made from ``solution_nb`` (which is not modified); ``path`` only names it in messages.

    ``setup``, code (see vae_course.setup_cell), is put at the top of the first code cell.
    """
    name = _show(path) if path is not None else "notebook"
    _check_cell_ids(solution_nb, name)
    lesson = copy.deepcopy(solution_nb)
    cells = []
    for number, cell in enumerate(lesson.cells, start=1):
        where = f"{name}, cell {number}"
        if cell.cell_type == "code":
            if _is_hidden(cell):
                continue
            cell.source = strip_solutions(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        elif cell.cell_type == "markdown":
            cell.source = _strip_markdown_solutions(cell.source, where)
        cells.append(cell)
    _check_exercises_are_checked(solution_nb.cells, name)
    lesson.cells = cells
    if setup is not None:
        try:
            add_setup(lesson, setup)
        except ValueError as error:
            raise LessonError(f"{name}: {error}") from None
    lesson.metadata.pop("widgets", None)  # saved widget state is output too: lessons start blank
    return lesson


def _read_notebook(path):
    """The notebook at ``path``, refusing anything that is not a valid nbformat 4 notebook with cell ids."""
    name = _show(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LessonError(f"{name}: cannot read the notebook ({error})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LessonError(f"{name}: not valid JSON, so not a notebook ({error})") from None
    data = data if isinstance(data, dict) else {}
    cells = data.get("cells")
    if not (data.get("nbformat") == 4 and isinstance(cells, list) and all(isinstance(c, dict) for c in cells)):
        raise LessonError(f"{name}: not a Jupyter notebook in format 4 (it needs 'nbformat': 4 and a list of cells)")
    _check_cell_ids(data, name)
    nb = nbformat.reads(text, as_version=4)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        raise LessonError(f"{name}: not a valid notebook: {error.message}") from None
    return nb


def lesson_bytes(solution_path):
    """The exact bytes of the lesson generated from the solution notebook at ``solution_path``."""
    try:
        setup = course_setup()
    except RepositoryError as error:
        raise LessonError(f"cannot write the lessons' setup cell: {error}") from None
    lesson = make_lesson(_read_notebook(solution_path), path=solution_path, setup=setup)
    text = nbformat.writes(lesson, version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


# ----------------------------------------------------------------------------------------------------------------
# Folders


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _solution_paths(solutions_dir):
    solutions_dir = Path(solutions_dir)
    if not solutions_dir.is_dir():
        raise LessonError(f"{_show(solutions_dir)}: no such folder of solution notebooks")
    return sorted(solutions_dir.glob("*.ipynb"))


def _read_manifest(lessons_dir):
    path = Path(lessons_dir) / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LessonError(f"{_show(path)}: cannot read the manifest of generated lessons ({error})") from None
    if not (isinstance(manifest, dict) and all(isinstance(v, str) for v in manifest.values())):
        raise LessonError(f"{_show(path)}: the manifest should map lesson file names to SHA-256 digests")
    return manifest


def _write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file, so an interrupted run never leaves half a notebook."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise LessonError(f"{_show(path)}: cannot write ({error})") from None


def generate(solutions_dir, lessons_dir, force=False):
    """Write the lesson of every ``solutions_dir/*.ipynb`` into ``lessons_dir``; return ``[(name, status)]``.

    ``status`` is ``"written"`` or ``"unchanged"``. A lesson changed since it was generated (a learner's work) is
    only overwritten with ``force``; otherwise LessonError is raised and nothing is written.
    """
    solutions_dir, lessons_dir = Path(solutions_dir), Path(lessons_dir)
    if lessons_dir.resolve() == solutions_dir.resolve():
        raise LessonError(f"{_show(lessons_dir)}: the lessons folder cannot be the solutions folder")
    lessons = {path.name: lesson_bytes(path) for path in _solution_paths(solutions_dir)}
    manifest = _read_manifest(lessons_dir)
    current = {name: (lessons_dir / name).read_bytes() for name in lessons if (lessons_dir / name).is_file()}
    edited = [
        name
        for name, old in current.items()
        if old != lessons[name] and _sha256(old) != manifest.get(name)
    ]
    if edited and not force:
        raise LessonError(
            "these lessons were changed since they were generated (a learner's work?): "
            + ", ".join(_show(lessons_dir / name) for name in edited)
            + ". Nothing was written. Use --force to overwrite them, or --out DIR to write the lessons elsewhere."
        )
    report = []
    for name, new in lessons.items():
        if current.get(name) == new:
            report.append((name, "unchanged"))
        else:
            _write_bytes(lessons_dir / name, new)
            report.append((name, "written"))
        manifest[name] = _sha256(new)
    manifest = {name: digest for name, digest in manifest.items() if (lessons_dir / name).is_file()}
    manifest_bytes = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
    manifest_path = lessons_dir / MANIFEST
    if not manifest_path.is_file() or manifest_path.read_bytes() != manifest_bytes:
        _write_bytes(manifest_path, manifest_bytes)
    return report


def check(solutions_dir, lessons_dir):
    """What is out of date in ``lessons_dir``: one message per lesson missing, different or without a solution."""
    solutions_dir, lessons_dir = Path(solutions_dir), Path(lessons_dir)
    problems = []
    solutions = _solution_paths(solutions_dir)
    for path in solutions:
        lesson, expected = lessons_dir / path.name, lesson_bytes(path)
        if not lesson.is_file():
            problems.append(f"{_show(lesson)}: missing (the lesson of {_show(path)})")
        elif lesson.read_bytes() != expected:
            problems.append(f"{_show(lesson)}: differs from what {_show(path)} generates")
    names = {path.name for path in solutions}
    for lesson in sorted(lessons_dir.glob("*.ipynb")):
        if lesson.name not in names:
            problems.append(f"{_show(lesson)}: has no solution {_show(solutions_dir / lesson.name)}")
    return problems


# ----------------------------------------------------------------------------------------------------------------
# Command line


def _repository_root():
    """The folder holding ``solutions/``: the parent of this package if it has one, else the current directory."""
    return REPOSITORY if (REPOSITORY / "solutions").is_dir() else Path.cwd()
