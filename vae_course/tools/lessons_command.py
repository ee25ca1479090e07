"""``python -m vae_course lessons``: generate or check lessons/, or write a graded or nbgrader copy for an instructor.

Kept apart from ``generate`` (which makes one lesson from one solution) so that the exports, which build on
``generate``, are imported only here.
"""

import sys
from pathlib import Path

from .generate import LessonError, _repository_root, _show, check, generate
from .graded_lessons import write_graded_lessons
from .nbgrader_export import write_nbgrader_course


def add_arguments(parser):
    """The options of ``python -m vae_course lessons``."""
    parser.add_argument("--solutions", metavar="DIR", type=Path, help="solution notebooks (default: solutions/)")
    parser.add_argument("--out", metavar="DIR", type=Path, help="where the lessons go (default: lessons/)")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a lesson is missing or out of date"
    )
    parser.add_argument("--force", action="store_true", help="overwrite lessons even if they were edited")
    exports = parser.add_mutually_exclusive_group()
    exports.add_argument("--graded", metavar="DIR", type=Path,
                         help="write the lessons with solutions (and the reference fallbacks) off into DIR")
    exports.add_argument("--nbgrader", metavar="DIR", type=Path,
                         help="write an nbgrader course (nbgrader_config.py and source/, one assignment per lesson)")
    parser.add_argument("--no-hints", action="store_true", help="with --graded: turn hints off too")


def _export(args, solutions_dir, lessons_dir):
    """``--graded`` or ``--nbgrader``: write the course for an instructor elsewhere; exit code 0."""
    if args.graded:
        paths = write_graded_lessons(solutions_dir, args.graded, (lessons_dir,), hints=not args.no_hints)
    else:
        paths = write_nbgrader_course(solutions_dir, args.nbgrader, (lessons_dir,))
    for path in paths:
        print(f"written   {_show(path)}")
    return 0


def run(args):
    """Generate or check the lessons; exit code 0 (fine), 1 (``--check`` found differences) or 2 (error)."""
    root = _repository_root()
    solutions_dir = args.solutions or root / "solutions"
    lessons_dir = args.out or root / "lessons"
    try:
        if args.no_hints and not args.graded:
            raise LessonError("--no-hints only goes with --graded DIR")
        if args.graded or args.nbgrader:
            return _export(args, solutions_dir, lessons_dir)
        if args.check:
            problems = check(solutions_dir, lessons_dir)
            for problem in problems:
                print(problem)
            if problems:
                print(f"{len(problems)} lesson(s) out of date: run `python -m vae_course lessons` to regenerate")
                return 1
            print(f"{_show(lessons_dir)} matches {_show(solutions_dir)}")
            return 0
        for name, status in generate(solutions_dir, lessons_dir, force=args.force):
            print(f"{status:<9} {_show(lessons_dir / name)}")
        return 0
    except LessonError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
