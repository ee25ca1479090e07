"""Grade a class: ``python -m vae_course grade SUBMITTED_DIR --out grades.csv``.

Submissions are laid out as nbgrader collects them: ``SUBMITTED_DIR/<student>/<lesson file name>.ipynb``
(``SUBMITTED_DIR/<student>/<assignment>/<lesson file name>.ipynb`` works too). Every notebook runs top to bottom
in a fresh kernel with a time and a memory limit (see grade_run); the result is one CSV row per student, lesson
and exercise, and a second CSV with the points per student and lesson.
"""

import concurrent.futures
import csv
import multiprocessing
import os
import sys
import time
from dataclasses import astuple
from pathlib import Path

from .generate import _repository_root
from .grade_course import CourseError, read_course
from .grade_run import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, STATUSES, Limits, Row, grade_notebook

COLUMNS = ("student", "lesson", "exercise", "status", "message")
POINT_COLUMNS = ("student", "lesson", "points", "max_points", *STATUSES, "seconds")


# ----------------------------------------------------------------------------------------------------------------
# Finding the submissions


def find_submissions(submitted_dir, course, only=None):
    """``([(student, lesson file name, path or None)], [warning])`` for every student folder in ``submitted_dir``.

    A lesson is graded for every student when at least one student handed it in (or it is named in ``only``);
    a student without that notebook gets a row saying so. Notebooks that are no lesson of the course are warned about.
    """
    submitted_dir = Path(submitted_dir)
    if not submitted_dir.is_dir():
        raise CourseError(f"{submitted_dir}: no such folder of submissions")
    students = sorted(path for path in submitted_dir.iterdir() if path.is_dir() and not path.name.startswith("."))
    found, warnings = {}, []
    for student in students:
        for path in sorted(student.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            if path.name not in course:
                warnings.append(f"ignored {path}: not a lesson of the course")
            elif (student.name, path.name) in found:
                warnings.append(f"ignored {path}: {found[student.name, path.name]} is graded for this lesson")
            else:
                found[student.name, path.name] = path
    lessons = set(only) if only else {lesson for _, lesson in found}
    jobs = [
        (student.name, lesson, found.get((student.name, lesson)))
        for student in students
        for lesson in sorted(lessons)
    ]
    return jobs, warnings


def _missing_rows(student, lesson):
    return [
        Row(student, lesson.name, exercise.name, "not_attempted", "no notebook handed in for this lesson")
        for exercise in lesson.exercises
    ]


# ----------------------------------------------------------------------------------------------------------------
# Tables


def points_table(rows, course, seconds=None):
    """One dict per student and lesson: points (one per correct exercise), the maximum, a count per status and
    the seconds its notebook took to grade (``seconds``: {(student, lesson name): seconds})."""
    seconds = seconds or {}
    points = {spec.name: {ex.name: ex.points for ex in spec.exercises} for spec in course.values()}
    table = {}
    for row in rows:
        entry = table.setdefault(
            (row.student, row.lesson),
            {"student": row.student, "lesson": row.lesson, "points": 0, "max_points": 0,
             **{status: 0 for status in STATUSES}, "seconds": round(seconds.get((row.student, row.lesson), 0.0), 1)},
        )
        worth = points[row.lesson][row.exercise]
        entry["max_points"] += worth
        entry["points"] += worth if row.status == "correct" else 0
        entry[row.status] += 1
    return [table[key] for key in sorted(table)]


def write_csv(path, columns, records):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(records)


def points_path(out):
    """Where the points table goes by default: ``grades.csv`` -> ``grades-points.csv``."""
    out = Path(out)
    return out.with_name(f"{out.stem}-points{out.suffix or '.csv'}")


# ----------------------------------------------------------------------------------------------------------------
# Running the class


class Progress:
    """One line per graded notebook on stderr: count, student, lesson, outcome, time, and the time left."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.start, self.stream = total, 0, time.monotonic(), stream

    def update(self, student, lesson, rows, seconds):
        self.done += 1
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        correct = sum(row.status == "correct" for row in rows)
        print(
            f"[{self.done}/{self.total}] {student} {lesson}: {correct}/{len(rows)} correct in {seconds:.1f} s"
            f" (about {left / 60:.1f} min left)",
            file=self.stream,
            flush=True,
        )


def _grade_one(path, student, lesson, course, limits):
    start = time.monotonic()
    rows = grade_notebook(path, student, course[lesson], course, limits)
    return rows, time.monotonic() - start


def grade_class(jobs, course, limits, workers=1, progress=None):
    """``(rows, seconds)`` for ``jobs`` (from find_submissions), grading ``workers`` notebooks at a time;
    ``seconds`` maps (student, lesson name) to the time its notebook took."""
    results, timings = {}, {}
    todo = []
    for student, lesson, path in jobs:
        if path is None:
            results[student, lesson] = _missing_rows(student, course[lesson])
            if progress:
                progress.update(student, course[lesson].name, results[student, lesson], 0.0)
        else:
            todo.append((student, lesson, path))
    context = multiprocessing.get_context("fork")  # "spawn" would re-run `python -m vae_course` in each worker
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context) as pool:
        futures = {
            pool.submit(_grade_one, path, student, lesson, course, limits): (student, lesson)
            for student, lesson, path in todo
        }
        for future in concurrent.futures.as_completed(futures):
            student, lesson = futures[future]
            try:
                rows, seconds = future.result()
            except Exception as error:  # a grading worker that died: say so for this notebook, go on
                rows, seconds = [
                    Row(student, course[lesson].name, ex.name, "error", f"the grader failed ({error!r})")
                    for ex in course[lesson].exercises
                ], 0.0
            results[student, lesson] = rows
            timings[student, course[lesson].name] = seconds
            if progress:
                progress.update(student, course[lesson].name, rows, seconds)
    return [row for key in sorted(results) for row in results[key]], timings


# ----------------------------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser):
    """The options of ``python -m vae_course grade``."""
    parser.add_argument("submitted", metavar="SUBMITTED_DIR", type=Path,
                        help="one folder per student holding the lesson notebooks (nbgrader's submitted/ works)")
    parser.add_argument("--out", metavar="CSV", type=Path, default=Path("grades.csv"),
                        help="one row per student, lesson and exercise (default: grades.csv)")
    parser.add_argument("--points-out", metavar="CSV", type=Path,
                        help="points per student and lesson (default: next to --out, e.g. grades-points.csv)")
    parser.add_argument("--lesson", metavar="FILE", action="append",
                        help="grade only this lesson (e.g. 00-welcome.ipynb); repeat for more")
    parser.add_argument("--jobs", "-j", metavar="N", type=int, default=1, help="notebooks graded in parallel")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=DEFAULT_TIMEOUT,
                        help=f"time limit for one whole notebook (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--memory", metavar="MIB", type=int, default=DEFAULT_MEMORY_MB,
                        help=f"memory (address space) limit of each kernel (default: {DEFAULT_MEMORY_MB})")
    parser.add_argument("--solutions", metavar="DIR", type=Path,
                        help="the course's solution notebooks, which define the exercises (default: solutions/)")


def _validate(args, course):
    problems = []
    if args.jobs < 1:
        problems.append("--jobs must be at least 1")
    if args.timeout <= 0:
        problems.append("--timeout must be positive")
    if args.memory < 512:
        problems.append("--memory must be at least 512 MiB (TensorFlow alone needs about 2 GiB)")
    for lesson in args.lesson or ():
        if lesson not in course:
            problems.append(f"--lesson {lesson}: not a lesson of the course ({', '.join(course)})")
    return problems


def run(args):
    """Grade the class; exit code 0, or 2 for bad arguments."""
    try:
        course = read_course(args.solutions or _repository_root() / "solutions")
        problems = _validate(args, course)
        if problems:
            raise CourseError("; ".join(problems))
        jobs, warnings = find_submissions(args.submitted, course, args.lesson)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not jobs:
        print(f"error: no lesson notebooks found in {args.submitted}", file=sys.stderr)
        return 2
    cores = os.cpu_count() or 1
    limits = Limits(args.timeout, args.memory, threads=max(1, cores // args.jobs))
    rows, seconds = grade_class(jobs, course, limits, args.jobs, Progress(len(jobs)))
    write_csv(args.out, COLUMNS, [astuple(row) for row in rows])
    points_out = args.points_out or points_path(args.out)
    table = points_table(rows, course, seconds)
    write_csv(points_out, POINT_COLUMNS, [[entry[column] for column in POINT_COLUMNS] for entry in table])
    print(f"wrote {args.out} ({len(rows)} rows) and {points_out} ({len(table)} rows)")
    return 0
