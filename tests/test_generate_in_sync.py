"""The repository's lessons/ is exactly what the generator makes from solutions/, and the stored notebooks are sane.

Each test collects every problem in every notebook, so an empty folder passes and one message lists all that is
wrong. The helpers below take folders, so tests/test_generate.py checks that they do catch each problem.
"""

import json
import re
from pathlib import Path

from vae_course.tools.generate import lesson_bytes

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
LESSONS = ROOT / "lessons"

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# TensorFlow's C++ log goes to the kernel's stderr file descriptor: nbval under pytest never sees it again.
TENSORFLOW_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWEF]\d{4} )", re.MULTILINE)
NBVAL_MARKER = re.compile(r"NBVAL_\w+")
NBVAL_SKIP = "# NBVAL_SKIP"


def notebooks(folder):
    """The notebooks directly in ``folder`` (none if it does not exist)."""
    return sorted(Path(folder).glob("*.ipynb"))


def load(path):
    """A notebook as plain JSON, so these checks do not depend on the generator's own reading."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def text(value):
    """A notebook string, stored either as one string or as a list of lines."""
    return value if isinstance(value, str) else "".join(value)


def code_cells(nb):
    """``(cell number, cell)`` for every code cell, numbered among all cells from 1."""
    return [(number, cell) for number, cell in enumerate(nb["cells"], start=1) if cell["cell_type"] == "code"]


def sync_problems(solutions_dir, lessons_dir):
    """Lessons missing, different from what the generator makes, or without a solution."""
    problems = []
    for solution in notebooks(solutions_dir):
        lesson = Path(lessons_dir) / solution.name
        if not lesson.is_file():
            problems.append(f"{lesson.name}: no lesson for this solution")
        elif lesson.read_bytes() != lesson_bytes(solution):
            problems.append(f"{lesson.name}: the lesson differs from what the generator makes of its solution")
    solution_names = {solution.name for solution in notebooks(solutions_dir)}
    for lesson in notebooks(lessons_dir):
        if lesson.name not in solution_names:
            problems.append(f"{lesson.name}: a lesson without a solution")
    return problems


def title_problems(folder):
    """Notebooks whose first cell is not a Markdown title (``# ...``)."""
    problems = []
    for path in notebooks(folder):
        cells = load(path)["cells"]
        first = cells[0] if cells else {"cell_type": "none", "source": ""}
        if first["cell_type"] != "markdown" or not text(first["source"]).startswith("# "):
            problems.append(f"{path.name}: the first cell is not a Markdown title starting with '# '")
    return problems


def stored_output_problems(folder):
    """Code cells of lessons that carry outputs or execution counts."""
    problems = []
    for path in notebooks(folder):
        for number, cell in code_cells(load(path)):
            if cell.get("outputs") or cell.get("execution_count") is not None:
                problems.append(f"{path.name}, cell {number}: stores outputs or an execution count")
    return problems


def unexecuted_cell_problems(folder):
    """Code cells of solutions stored without an execution count (except cells marked ``# NBVAL_SKIP``)."""
    problems = []
    for path in notebooks(folder):
        for number, cell in code_cells(load(path)):
            lines = [line.strip() for line in text(cell["source"]).split("\n")]
            if NBVAL_SKIP not in lines and cell.get("execution_count") is None:
                problems.append(f"{path.name}, cell {number}: no execution count; store the notebook executed")
    return problems


def tensorflow_log_problems(folder):
    """Stored stderr outputs holding TensorFlow's C++ log, which nbval would then miss and report as a mismatch."""
    problems = []
    for path in notebooks(folder):
        for number, cell in code_cells(load(path)):
            for output in cell.get("outputs", []):
                if output.get("name") == "stderr" and TENSORFLOW_LOG.search(text(output.get("text", ""))):
                    problems.append(
                        f"{path.name}, cell {number}: stores TensorFlow's C++ log; re-execute with "
                        "--ExecutePreprocessor.extra_arguments=--IPKernelApp.capture_fd_output=False"
                    )
    return problems


def nbval_marker_problems(folder):
    """nbval markers with anything else on their line, which nbval silently ignores."""
    problems = []
    for path in notebooks(folder):
        for number, cell in code_cells(load(path)):
            for line_number, line in enumerate(text(cell["source"]).split("\n"), start=1):
                for marker in NBVAL_MARKER.findall(line):
                    if line.strip() != f"# {marker}":
                        problems.append(
                            f"{path.name}, cell {number}, line {line_number}: {line.strip()!r} is not a marker "
                            f"nbval understands; write exactly '# {marker}' on its own line"
                        )
    return problems


def kernelspec_problems(*folders):
    """Notebooks whose kernelspec is not the course's Python 3 (ipykernel) one."""
    problems = []
    for folder in folders:
        for path in notebooks(folder):
            found = load(path).get("metadata", {}).get("kernelspec")
            if found != KERNELSPEC:
                problems.append(f"{Path(folder).name}/{path.name}: kernelspec {found!r}, expected {KERNELSPEC!r}")
    return problems


def report(problems):
    return "\n".join(problems) + "\n(regenerate lessons with `python -m vae_course lessons`)"


def test_lessons_are_exactly_what_the_generator_makes():
    """Does every solution have a lesson equal byte for byte to its generated lesson, and every lesson a solution?"""
    problems = sync_problems(SOLUTIONS, LESSONS)
    assert not problems, report(problems)


def test_every_solution_starts_with_a_title():
    """Does every solution notebook start with a Markdown title cell?"""
    problems = title_problems(SOLUTIONS)
    assert not problems, "\n".join(problems)


def test_lessons_carry_no_outputs():
    """Are the lessons stored without outputs and execution counts?"""
    problems = stored_output_problems(LESSONS)
    assert not problems, "\n".join(problems)


def test_solutions_are_stored_executed():
    """Is every code cell of every solution stored executed (unless marked # NBVAL_SKIP)?"""
    problems = unexecuted_cell_problems(SOLUTIONS)
    assert not problems, "\n".join(problems)


def test_solutions_store_no_tensorflow_log():
    """Are the solutions stored without TensorFlow's C++ log lines in stderr outputs?"""
    problems = tensorflow_log_problems(SOLUTIONS)
    assert not problems, "\n".join(problems)


def test_nbval_markers_are_exact():
    """Is every nbval marker in the solutions exactly `# NBVAL_...` alone on its line?"""
    problems = nbval_marker_problems(SOLUTIONS)
    assert not problems, "\n".join(problems)


def test_notebooks_use_the_course_kernel():
    """Do all solutions and lessons use the Python 3 (ipykernel) kernelspec?"""
    problems = kernelspec_problems(SOLUTIONS, LESSONS)
    assert not problems, "\n".join(problems)
