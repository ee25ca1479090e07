"""Grade one submitted notebook: run it top to bottom in a fresh, limited kernel and check every exercise.

The learner's cells run in order (errors do not stop the run, as in nbgrader). Right after the learner's answer
cell of an exercise (found by its cell id) the grader runs the course's check call itself, through
``grade_probe.record``, and reads back the structured record; exercises whose answer cell is gone are checked
after the last cell. The learner's own check cells and whatever they print are never read.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .grade_course import title_of
from .grade_probe import MIME_TYPE

STATUSES = ("correct", "incorrect", "not_attempted", "uncheckable", "error", "timeout")
DEFAULT_TIMEOUT = 600.0  # seconds for a whole notebook
DEFAULT_MEMORY_MB = 6144  # address space per kernel (TensorFlow alone maps about 2 GiB)
STARTUP_TIMEOUT = 120.0  # seconds for a kernel to start


@dataclass
class Row:
    """One line of the grades table."""

    student: str
    lesson: str
    exercise: str
    status: str
    message: str


@dataclass
class Limits:
    """What one notebook may use: wall-clock seconds for the whole run, MiB of memory, CPU threads."""

    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    threads: int = 0  # 0: leave the libraries' defaults


class LimitedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel through grade_kernel, under a memory limit."""

    memory_mb = DEFAULT_MEMORY_MB

    def format_kernel_cmd(self, extra_arguments=None):
        command = super().format_kernel_cmd(extra_arguments)
        return [sys.executable, "-m", "vae_course.tools.grade_kernel", str(self.memory_mb), "--", *command]


def _manager_class(memory_mb):
    return type("KernelManagerWithLimit", (LimitedKernelManager,), {"memory_mb": int(memory_mb)})


def kernel_environment(threads):
    """The environment of a grading kernel: this one, a non-interactive plotting backend, and thread caps."""
    env = dict(os.environ, MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    package_root = str(Path(__file__).resolve().parents[2])  # the kernel grades with this copy of the course
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if threads:
        for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    return env


# ----------------------------------------------------------------------------------------------------------------
# Reading a submission


class SubmissionError(Exception):
    """A submission that cannot be run; the message says why, in words for the instructor."""


def read_submission(path, lesson, course):
    """The notebook at ``path`` handed in for ``lesson``; SubmissionError if not JSON, a notebook or this lesson."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SubmissionError(f"cannot read the file ({error})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionError(f"not a notebook: the file is not valid JSON ({error})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several types for malformed notebooks
        raise SubmissionError(f"not a valid Jupyter notebook ({type(error).__name__}: {error})") from None
    title = title_of(nb)
    others = [spec.name for spec in course.values() if spec.title == title and spec.name != lesson.name]
    if title != lesson.title and others:
        raise SubmissionError(
            f"this is the notebook of lesson {others[0]} (its title is {title!r}), not of lesson {lesson.name}"
        )
    return nb


# ----------------------------------------------------------------------------------------------------------------
# Running it


def _probe_source(exercise, nonce):
    return (
        "from vae_course.tools.grade_probe import record as _vae_course_grade_record\n"
        f"_vae_course_grade_record({exercise.name!r}, {nonce!r}){exercise.arguments}\n"
    )


def _first_line(text, limit=300):
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _read_probe(cell, exercise, nonce):
    """(status, message) from the outputs of the grader's own probe cell."""
    for output in cell.outputs:
        record = output.get("data", {}).get(MIME_TYPE) if output.output_type == "display_data" else None
        if isinstance(record, dict) and record.get("nonce") == nonce and record.get("exercise") == exercise.name:
            status = record.get("status")
            if status in STATUSES:
                return status, str(record.get("message", ""))
    for output in cell.outputs:
        if output.output_type == "error":
            return "error", _first_line(
                f"the check could not run on this notebook's objects: {output.ename}: {output.evalue}"
            )
    return "error", "the check ran but reported nothing (was the checker tampered with?)"


class _Run:
    """The state of one notebook's run: its client, deadline and the results so far."""

    def __init__(self, nb, lesson, limits, workdir):
        self.lesson, self.limits = lesson, limits
        self.nb = nbformat.v4.new_notebook(cells=[], metadata=nb.metadata)
        self.cells = list(nb.cells)
        self.client = NotebookClient(
            self.nb,
            timeout=limits.timeout,
            startup_timeout=STARTUP_TIMEOUT,
            kernel_name="python3",
            allow_errors=True,
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(workdir)}},
            kernel_manager_class=_manager_class(limits.memory_mb),
        )
        self.nonce = secrets.token_hex(16)
        self.results = {}
        self.first_error = None
        self.deadline = None
        self.position = 0

    def _execute(self, cell):
        """Run ``cell`` in the kernel within what is left of the notebook's time; raise CellTimeoutError past it."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CellTimeoutError("no time left")
        self.client.timeout = max(1, int(left + 0.999))
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)

    def _probe(self, exercise):
        cell = nbformat.v4.new_code_cell(_probe_source(exercise, self.nonce))
        self._execute(cell)
        self.results[exercise.name] = _read_probe(cell, exercise, self.nonce)

    def _note_error(self, number, cell):
        if self.first_error is None:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    self.first_error = f"cell {number} raised {output.ename}: {_first_line(output.evalue, 120)}"

    def run(self):
        """Execute every cell, checking each exercise after its answer cell; fill ``results``."""
        anchors = {}
        for number, cell in enumerate(self.cells, start=1):
            anchors[cell.get("id")] = number  # the last cell with an id wins (a duplicated answer cell)
        due = {}
        for exercise in self.lesson.exercises:
            due.setdefault(anchors.get(exercise.answer_cell, len(self.cells) + 1), []).append(exercise)
        self.client.reset_execution_trackers()
        with self.client.setup_kernel(env=kernel_environment(self.limits.threads), stderr=subprocess.DEVNULL):
            self.deadline = time.monotonic() + self.limits.timeout
            self.position = 0
            for number, cell in enumerate(self.cells, start=1):
                self.position = number
                if cell.cell_type == "code":
                    self._execute(cell)
                    self._note_error(number, cell)
                for exercise in due.get(number, []):
                    self._probe(exercise)
            self.position = len(self.cells) + 1
            for exercise in due.get(len(self.cells) + 1, []):
                self._probe(exercise)


def _where(run):
    if run.position > len(run.cells):
        return "while checking after the last cell"
    return f"in cell {run.position}"


def grade_notebook(path, student, lesson, course, limits=None):
    """The rows of one submission: a status and a message for every exercise of ``lesson``, whatever happens."""
    limits = limits or Limits()
    try:
        nb = read_submission(path, lesson, course)
    except SubmissionError as error:
        return [Row(student, lesson.name, ex.name, "error", str(error)) for ex in lesson.exercises]
    workdir = Path(tempfile.mkdtemp(prefix="vae-course-grade-"))
    run = _Run(nb, lesson, limits, workdir)
    missing_status, missing_message = "error", "not reached"
    try:
        run.run()
    except CellTimeoutError:
        missing_status = "timeout"
        missing_message = (
            f"not reached: the notebook was still running {_where(run)} when its time limit "
            f"({limits.timeout:g} s) ran out"
        )
    except DeadKernelError:
        missing_message = (
            f"not reached: the kernel died {_where(run)} (the process exited or crashed, or passed the memory "
            f"limit of {limits.memory_mb} MiB)"
        )
    except Exception as error:  # a kernel that would not start, a broken connection: never stop the class
        missing_message = f"not reached: the run failed {_where(run)} ({type(error).__name__}: {_first_line(error)})"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = []
    for exercise in lesson.exercises:
        status, message = run.results.get(exercise.name, (missing_status, missing_message))
        if status == "error" and run.first_error and exercise.name in run.results:
            message = f"{message} (first error in the notebook: {run.first_error})"
        rows.append(Row(student, lesson.name, exercise.name, status, message))
    return rows
