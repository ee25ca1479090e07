"""The lesson generator: solutions/ -> lessons/ (vae_course.tools.generate), one small test per behaviour."""

import hashlib
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from vae_course.tools import cli
from vae_course.tools.generate import (
    LessonError,
    SolutionMarkerError,
    check,
    generate,
    lesson_bytes,
    make_lesson,
    strip_solutions,
)

import test_generate_in_sync as sync

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
NAME = "solutions/01-demo.ipynb"


def notebook(*cells):
    """A notebook with deterministic cell ids ``cell-01``, ``cell-02``, ..."""
    nb = new_notebook(cells=list(cells), metadata={"kernelspec": dict(KERNELSPEC)})
    for number, cell in enumerate(nb.cells, start=1):
        cell.id = f"cell-{number:02d}"
    return nb


def exercise(answer="x = 1", check_call="check.x(x)"):
    """A title, a solution cell and its check cell."""
    return [
        new_markdown_cell("# 01 · Demo"),
        new_code_cell(f"# BEGIN SOLUTION\n{answer}\n# END SOLUTION"),
        new_code_cell(check_call),
    ]


def write_solution(folder, name="01-demo.ipynb", text="The end."):
    """Write a solution notebook ending in a Markdown cell ``text`` (which its lesson keeps)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(notebook(*exercise(), new_markdown_cell(text)), path)
    return path


@pytest.fixture
def course(tmp_path):
    """A solutions folder with two notebooks and an empty lessons folder path."""
    solutions, lessons = tmp_path / "solutions", tmp_path / "lessons"
    write_solution(solutions, "01-demo.ipynb", "One.")
    write_solution(solutions, "02-demo.ipynb", "Two.")
    return solutions, lessons


@pytest.fixture
def lessons_cli(monkeypatch):
    """``python -m vae_course lessons ...`` through cli.main, without loading the other subcommands."""
    monkeypatch.setattr(cli, "SUBCOMMANDS", {"lessons": cli.SUBCOMMANDS["lessons"]})
    return lambda *argv: cli.main(["lessons", *map(str, argv)])


# ---------------------------------------------------------------------------------------------------------------
# One cell


def test_region_becomes_the_default_stub_at_the_begin_indentation():
    """Is a region without STUB lines replaced by `____  # YOUR CODE HERE` at the BEGIN line's indentation?"""
    source = "def f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\n"
    assert strip_solutions(source, NAME) == "def f(x):\n    ____  # YOUR CODE HERE\n"


def test_stub_lines_replace_the_region():
    """Are the `# STUB: ` lines, prefix removed and indentation kept, the lesson's code?"""
    source = (
        "def kl_sigma(mu, sigma):\n"
        "    # BEGIN SOLUTION\n"
        "    # STUB: var = ____\n"
        "    var = sigma ** 2\n"
        "    for row in var:\n"
        "        # STUB:     pass\n"
        "        pass\n"
        "    # STUB: return ____  # YOUR CODE HERE\n"
        "    return -0.5 * np.sum(1 + np.log(var) - var - mu ** 2, axis=-1)\n"
        "    # END SOLUTION"
    )
    expected = "def kl_sigma(mu, sigma):\n    var = ____\n            pass\n    return ____  # YOUR CODE HERE"
    assert strip_solutions(source, NAME) == expected


def test_several_regions_in_one_cell():
    """Is each of several regions in one cell replaced, and the code between them kept?"""
    source = (
        "a = 1\n# BEGIN SOLUTION\nb = 2\n# END SOLUTION\nc = 3\n"
        "if c:\n  # BEGIN SOLUTION\n  # STUB: d = ____\n  d = 4\n  # END SOLUTION\ne = 5"
    )
    expected = "a = 1\n____  # YOUR CODE HERE\nc = 3\nif c:\n  d = ____\ne = 5"
    assert strip_solutions(source, NAME) == expected


def test_a_marker_inside_a_longer_line_is_not_a_marker():
    """Is `# BEGIN SOLUTION` inside another line (a comment, a string) left alone?"""
    source = "x = 1  # BEGIN SOLUTION here\nprint('# END SOLUTION')\n# BEGIN SOLUTIONS\ny = 2\n"
    assert strip_solutions(source, NAME) == source
    nb = notebook(new_code_cell(source))
    assert make_lesson(nb, NAME).cells[0].source == source


def test_markdown_region_becomes_a_prompt():
    """Is a Markdown answer between <!-- BEGIN/END SOLUTION --> replaced by *Write your answer here.*?"""
    question = "Why is σ positive?\n\n<!-- BEGIN SOLUTION -->\nσ = exp(γ / 2).\n<!-- END SOLUTION -->\n\nNext."
    lesson = make_lesson(notebook(new_markdown_cell(question)), NAME)
    assert lesson.cells[0].source == "Why is σ positive?\n\n*Write your answer here.*\n\nNext."


def test_code_markers_do_nothing_in_markdown():
    """Is `# BEGIN SOLUTION` in a Markdown cell (a heading or code sample) left alone?"""
    text = "# BEGIN SOLUTION\nwritten as a heading\n# END SOLUTION"
    assert make_lesson(notebook(new_markdown_cell(text)), NAME).cells[0].source == text


# ---------------------------------------------------------------------------------------------------------------
# One notebook


def test_hidden_cell_is_removed():
    """Is a code cell whose first line is `# HIDDEN` left out of the lesson, and only such a cell?"""
    nb = notebook(
        new_code_cell("x = 1"),
        new_code_cell("  # HIDDEN  \nassert x == 1"),
        new_code_cell("y = 2\n# HIDDEN"),
    )
    lesson = make_lesson(nb, NAME)
    assert [cell.id for cell in lesson.cells] == ["cell-01", "cell-03"]


def test_outputs_and_execution_counts_are_cleared():
    """Are outputs and execution counts cleared, leaving the solution notebook itself unchanged?"""
    cell = new_code_cell("print('hi')", execution_count=3, outputs=[new_output("stream", name="stdout", text="hi\n")])
    nb = notebook(cell)
    lesson = make_lesson(nb, NAME)
    assert lesson.cells[0].outputs == []
    assert lesson.cells[0].execution_count is None
    assert nb.cells[0].execution_count == 3 and len(nb.cells[0].outputs) == 1


def test_metadata_and_ids_are_kept():
    """Are notebook metadata, cell metadata and cell ids kept (only nbclient's run timings dropped)?"""
    cell = new_code_cell("x = 1", metadata={"tags": ["demo"], "execution": {"iopub.status.idle": "2026-01-01"}})
    nb = notebook(new_markdown_cell("# Title", metadata={"custom": 1}), cell)
    nb.metadata["language_info"] = {"name": "python"}
    lesson = make_lesson(nb, NAME)
    assert lesson.metadata == nb.metadata
    assert lesson.cells[0].metadata == {"custom": 1}
    assert lesson.cells[1].metadata == {"tags": ["demo"]}
    assert [cell.id for cell in lesson.cells] == ["cell-01", "cell-02"]


def test_saved_widget_state_is_dropped():
    """Is the solution's saved widget state (an output of running it) left out of the lesson?"""
    nb = notebook(new_markdown_cell("# Title"))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["kernelspec"] = {"name": "python3"}
    lesson = make_lesson(nb, NAME)
    assert "widgets" not in lesson.metadata and lesson.metadata["kernelspec"] == {"name": "python3"}
    assert "widgets" in nb.metadata


def test_unterminated_begin_names_notebook_cell_and_line():
    """Is an error raised naming the notebook, cell and line when END SOLUTION is missing?"""
    nb = notebook(new_markdown_cell("# Title"), new_code_cell("x = 1\n# BEGIN SOLUTION\ny = 2"))
    with pytest.raises(SolutionMarkerError, match=r"01-demo\.ipynb, cell 2, line 2: .*never closed"):
        make_lesson(nb, NAME)


def test_nested_begin_names_notebook_cell_and_line():
    """Is an error raised naming the notebook, cell and line when a BEGIN SOLUTION opens inside a region?"""
    source = "# BEGIN SOLUTION\nx = 1\n    # BEGIN SOLUTION\n# END SOLUTION\n# END SOLUTION"
    nb = notebook(new_code_cell("x = 0"), new_code_cell(source), new_code_cell("check.x(x)"))
    with pytest.raises(SolutionMarkerError, match=r"01-demo\.ipynb, cell 2, line 3: nested"):
        make_lesson(nb, NAME)


def test_stray_end_names_notebook_cell_and_line():
    """Is an error raised naming the notebook, cell and line when END SOLUTION has no BEGIN?"""
    nb = notebook(new_code_cell("x = 0"), new_code_cell("x = 1\n\n  # END SOLUTION\n"))
    with pytest.raises(SolutionMarkerError, match=r"01-demo\.ipynb, cell 2, line 3: .*without"):
        make_lesson(nb, NAME)


def test_markdown_marker_errors_are_reported_too():
    """Is an unterminated Markdown answer region an error naming notebook, cell and line?"""
    nb = notebook(new_markdown_cell("# Title\n\n<!-- BEGIN SOLUTION -->\nAnswer."))
    with pytest.raises(SolutionMarkerError, match=r"01-demo\.ipynb, cell 1, line 3"):
        make_lesson(nb, NAME)


def test_marker_errors_are_lesson_errors_and_value_errors():
    """Can callers catch every generator error as LessonError, and as ValueError?"""
    assert issubclass(SolutionMarkerError, LessonError)
    assert issubclass(LessonError, ValueError)


def test_solution_cell_without_a_check_is_refused():
    """Is a solution cell with no check cell after it refused, naming the notebook and cell?"""
    nb = notebook(new_markdown_cell("# Title"), new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION"))
    with pytest.raises(LessonError, match=r"01-demo\.ipynb, cell 2: .*check"):
        make_lesson(nb, NAME)


def test_check_must_come_before_the_next_solution_cell():
    """Is a solution cell refused when the next check comes only after another solution cell?"""
    region = "# BEGIN SOLUTION\nx = 1\n# END SOLUTION"
    nb = notebook(new_code_cell(region), new_code_cell("y = x"), new_code_cell(region), new_code_cell("check.x(x)"))
    with pytest.raises(LessonError, match=r"01-demo\.ipynb, cell 1: .*cell 3"):
        make_lesson(nb, NAME)


def test_a_check_in_a_hidden_cell_does_not_count():
    """Is a check only in a hidden cell (which learners never see) not enough?"""
    region = "# BEGIN SOLUTION\nx = 1\n# END SOLUTION"
    nb = notebook(new_code_cell(region), new_code_cell("# HIDDEN\ncheck.x(x)"))
    with pytest.raises(LessonError, match=r"cell 1: .*check"):
        make_lesson(nb, NAME)


def test_a_solution_cell_followed_by_its_check_is_accepted():
    """Is a solution cell accepted when a later code cell calls check.<name>(...)?"""
    nb = notebook(*exercise(), new_markdown_cell("Done."))
    assert [cell.source for cell in make_lesson(nb, NAME).cells][1:3] == ["____  # YOUR CODE HERE", "check.x(x)"]


def test_cells_without_ids_are_refused():
    """Is a solution whose cells lack ids refused, naming the notebook and cell, instead of getting random ids?"""
    nb = notebook(new_markdown_cell("# Title"), new_code_cell("x = 1"))
    del nb.cells[1]["id"]
    with pytest.raises(LessonError, match=r"01-demo\.ipynb, cell 2: .*id"):
        make_lesson(nb, NAME)


def test_invalid_json_is_refused_naming_the_file(tmp_path):
    """Is a solution file that is not JSON refused with a LessonError naming the file?"""
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(LessonError, match=r"broken\.ipynb: not valid JSON"):
        lesson_bytes(path)


def test_json_that_is_not_a_notebook_is_refused(tmp_path):
    """Is valid JSON that is not a notebook refused with a LessonError naming the file?"""
    path = tmp_path / "list.ipynb"
    path.write_text("[1, 2, 3]\n", encoding="utf-8")
    with pytest.raises(LessonError, match=r"list\.ipynb: not a Jupyter notebook"):
        lesson_bytes(path)


def test_lesson_bytes_are_deterministic(tmp_path):
    """Do the same solution bytes always give the same lesson bytes, in nbformat's JSON layout?"""
    path = write_solution(tmp_path)
    first, second = lesson_bytes(path), lesson_bytes(path)
    assert first == second
    assert first.endswith(b"}\n")
    assert first.decode("utf-8") == nbformat.writes(nbformat.reads(first.decode("utf-8"), 4)) + "\n"


def test_re_executing_a_solution_does_not_change_its_lesson(tmp_path):
    """Are the lesson bytes independent of the solution's outputs, execution counts and run timings?"""
    executed = notebook(*exercise())
    executed.cells[1].execution_count = 7
    executed.cells[1].metadata["execution"] = {"shell.execute_reply": "2026-11-26T23:40:10.101332Z"}
    executed.cells[2].outputs = [new_output("stream", name="stdout", text="Correct\n")]
    nbformat.write(notebook(*exercise()), tmp_path / "a.ipynb")
    nbformat.write(executed, tmp_path / "b.ipynb")
    assert lesson_bytes(tmp_path / "a.ipynb") == lesson_bytes(tmp_path / "b.ipynb")


# ---------------------------------------------------------------------------------------------------------------
# Folders


def manifest(lessons):
    return json.loads((lessons / ".generated.json").read_text(encoding="utf-8"))


def test_generate_writes_every_lesson_and_the_manifest(course):
    """Does generate write each lesson and record the SHA-256 of what it wrote, sorted, with a final newline?"""
    solutions, lessons = course
    assert generate(solutions, lessons) == [("01-demo.ipynb", "written"), ("02-demo.ipynb", "written")]
    for name in ("01-demo.ipynb", "02-demo.ipynb"):
        assert (lessons / name).read_bytes() == lesson_bytes(solutions / name)
        assert manifest(lessons)[name] == hashlib.sha256((lessons / name).read_bytes()).hexdigest()
    text = (lessons / ".generated.json").read_text(encoding="utf-8")
    assert text == json.dumps(manifest(lessons), indent=1, sort_keys=True) + "\n"


def test_an_unchanged_lesson_is_reported_unchanged(course):
    """Is a lesson that already matches its solution reported unchanged and left as it is?"""
    solutions, lessons = course
    generate(solutions, lessons)
    before = (lessons / "01-demo.ipynb").stat().st_mtime_ns
    assert generate(solutions, lessons) == [("01-demo.ipynb", "unchanged"), ("02-demo.ipynb", "unchanged")]
    assert (lessons / "01-demo.ipynb").stat().st_mtime_ns == before


def test_an_untouched_lesson_follows_its_solution(course):
    """Is a lesson nobody edited rewritten when its solution changes?"""
    solutions, lessons = course
    generate(solutions, lessons)
    write_solution(solutions, "01-demo.ipynb", "Changed.")
    assert generate(solutions, lessons) == [("01-demo.ipynb", "written"), ("02-demo.ipynb", "unchanged")]
    assert b"Changed." in (lessons / "01-demo.ipynb").read_bytes()
    assert (lessons / "01-demo.ipynb").read_bytes() == lesson_bytes(solutions / "01-demo.ipynb")


def test_an_edited_lesson_is_not_overwritten_and_nothing_is_written(course):
    """Is a learner's edited lesson protected: an error naming it, --force and --out, and no file written at all?"""
    solutions, lessons = course
    generate(solutions, lessons)
    edited = (lessons / "01-demo.ipynb").read_bytes().replace(b"____  # YOUR CODE HERE", b"x = 1  # mine")
    (lessons / "01-demo.ipynb").write_bytes(edited)
    write_solution(solutions, "01-demo.ipynb", "Changed.")
    write_solution(solutions, "02-demo.ipynb", "Changed too.")
    old_second, old_manifest = (lessons / "02-demo.ipynb").read_bytes(), manifest(lessons)
    with pytest.raises(LessonError, match=r"01-demo\.ipynb.*--force.*--out") as raised:
        generate(solutions, lessons)
    assert "02-demo.ipynb" not in str(raised.value)
    assert (lessons / "01-demo.ipynb").read_bytes() == edited
    assert (lessons / "02-demo.ipynb").read_bytes() == old_second
    assert manifest(lessons) == old_manifest


def test_a_lesson_made_by_hand_is_not_overwritten(course):
    """Is a lesson the manifest does not know (written by someone else) protected too?"""
    solutions, lessons = course
    lessons.mkdir()
    (lessons / "01-demo.ipynb").write_text("my notes\n", encoding="utf-8")
    with pytest.raises(LessonError, match=r"01-demo\.ipynb"):
        generate(solutions, lessons)
    assert (lessons / "01-demo.ipynb").read_text(encoding="utf-8") == "my notes\n"
    assert not (lessons / "02-demo.ipynb").exists()


def test_force_overwrites_an_edited_lesson(course):
    """Does force=True overwrite an edited lesson and record the new digest?"""
    solutions, lessons = course
    generate(solutions, lessons)
    (lessons / "01-demo.ipynb").write_text("edited\n", encoding="utf-8")
    assert generate(solutions, lessons, force=True)[0] == ("01-demo.ipynb", "written")
    assert (lessons / "01-demo.ipynb").read_bytes() == lesson_bytes(solutions / "01-demo.ipynb")
    assert manifest(lessons)["01-demo.ipynb"] == hashlib.sha256(lesson_bytes(solutions / "01-demo.ipynb")).hexdigest()


def test_generate_deletes_nothing_else(course):
    """Are other files in the lessons folder left alone?"""
    solutions, lessons = course
    lessons.mkdir()
    (lessons / "notes.txt").write_text("keep me\n", encoding="utf-8")
    (lessons / "99-old.ipynb").write_text("{}\n", encoding="utf-8")
    generate(solutions, lessons)
    assert (lessons / "notes.txt").read_text(encoding="utf-8") == "keep me\n"
    assert (lessons / "99-old.ipynb").read_text(encoding="utf-8") == "{}\n"


def test_a_broken_solution_writes_nothing(course):
    """Does one broken solution stop generate before any lesson is written?"""
    solutions, lessons = course
    (solutions / "03-broken.ipynb").write_text("not json", encoding="utf-8")
    with pytest.raises(LessonError, match=r"03-broken\.ipynb"):
        generate(solutions, lessons)
    assert not lessons.exists()


def test_check_finds_nothing_when_in_sync(course):
    """Does check report no problem right after generate?"""
    solutions, lessons = course
    generate(solutions, lessons)
    assert check(solutions, lessons) == []


def test_check_lists_missing_different_and_orphan_lessons(course):
    """Does check name a missing lesson, a different lesson and a lesson without a solution, writing nothing?"""
    solutions, lessons = course
    generate(solutions, lessons)
    (lessons / "01-demo.ipynb").unlink()
    (lessons / "02-demo.ipynb").write_text("edited\n", encoding="utf-8")
    (lessons / "99-orphan.ipynb").write_text("{}\n", encoding="utf-8")
    problems = check(solutions, lessons)
    assert len(problems) == 3
    assert "01-demo.ipynb" in problems[0] and "missing" in problems[0]
    assert "02-demo.ipynb" in problems[1] and "differs" in problems[1]
    assert "99-orphan.ipynb" in problems[2] and "no solution" in problems[2]
    assert not (lessons / "01-demo.ipynb").exists()


# ---------------------------------------------------------------------------------------------------------------
# The repository sync test's helpers (tests/test_generate_in_sync.py) on small folders


def test_sync_check_passes_in_sync_and_on_empty_folders(course, tmp_path):
    """Does the sync test pass on generated lessons and on empty folders?"""
    solutions, lessons = course
    generate(solutions, lessons)
    assert sync.sync_problems(solutions, lessons) == []
    assert sync.sync_problems(tmp_path / "none", tmp_path / "nothing") == []
    assert sync.stored_output_problems(lessons) == []
    assert sync.kernelspec_problems(solutions, lessons) == []


def test_sync_check_fails_when_lessons_diverge(course):
    """Does the sync test fail for a lesson that differs, is missing, or has no solution?"""
    solutions, lessons = course
    generate(solutions, lessons)
    write_solution(solutions, "01-demo.ipynb", "Changed.")
    (lessons / "02-demo.ipynb").unlink()
    (lessons / "99-orphan.ipynb").write_text("{}\n", encoding="utf-8")
    problems = sync.sync_problems(solutions, lessons)
    assert [problem.split(":")[0] for problem in problems] == ["01-demo.ipynb", "02-demo.ipynb", "99-orphan.ipynb"]


def test_sync_check_needs_a_title_first(tmp_path):
    """Does the title check fail for a solution that does not start with a `# ` Markdown title?"""
    nbformat.write(notebook(new_markdown_cell("# 01 · Demo")), tmp_path / "01-good.ipynb")
    nbformat.write(notebook(new_markdown_cell("## Not a title")), tmp_path / "02-subtitle.ipynb")
    nbformat.write(notebook(new_code_cell("x = 1")), tmp_path / "03-code.ipynb")
    assert [p.split(":")[0] for p in sync.title_problems(tmp_path)] == ["02-subtitle.ipynb", "03-code.ipynb"]


def test_sync_check_finds_outputs_in_lessons(tmp_path):
    """Does the outputs check fail for a lesson storing an output or an execution count?"""
    nb = notebook(new_code_cell("x = 1", execution_count=1), new_code_cell("x", outputs=[new_output("stream")]))
    nbformat.write(nb, tmp_path / "01-demo.ipynb")
    assert len(sync.stored_output_problems(tmp_path)) == 2


def test_guard_finds_unexecuted_cells(tmp_path):
    """Does the guard fail for a solution code cell stored without an execution count, unless # NBVAL_SKIP?"""
    nb = notebook(
        new_code_cell("x = 1", execution_count=1),
        new_code_cell("y = 2"),
        new_code_cell("# NBVAL_SKIP\nslow()"),
    )
    nbformat.write(nb, tmp_path / "01-demo.ipynb")
    problems = sync.unexecuted_cell_problems(tmp_path)
    assert len(problems) == 1 and "cell 2" in problems[0]


def test_guard_finds_tensorflow_log_in_stderr(tmp_path):
    """Does the guard fail for stored stderr holding TensorFlow's C++ log, and only for that?"""
    absl = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    cpp = "x\nI0000 00:00:1795736696.910996   27350 port.cc:153] oneDNN custom operations are on.\n"
    nb = notebook(
        new_code_cell("a", execution_count=1, outputs=[new_output("stream", name="stderr", text=absl)]),
        new_code_cell("b", execution_count=2, outputs=[new_output("stream", name="stderr", text=cpp)]),
        new_code_cell("c", execution_count=3, outputs=[new_output("stream", name="stderr", text="UserWarning: x\n")]),
        new_code_cell("d", execution_count=4, outputs=[new_output("stream", name="stdout", text=absl)]),
    )
    nbformat.write(nb, tmp_path / "01-demo.ipynb")
    problems = sync.tensorflow_log_problems(tmp_path)
    assert [problem.split(":")[0] for problem in problems] == ["01-demo.ipynb, cell 1", "01-demo.ipynb, cell 2"]


def test_guard_finds_nbval_markers_with_extra_text(tmp_path):
    """Does the guard fail for `# NBVAL_IGNORE_OUTPUT` with anything else on its line, and accept the exact one?"""
    nb = notebook(
        new_code_cell("# NBVAL_IGNORE_OUTPUT\nx = 1", execution_count=1),
        new_code_cell("# NBVAL_IGNORE_OUTPUT: timings vary\nx = 1", execution_count=2),
        new_code_cell("x = 1  # NBVAL_IGNORE_OUTPUT", execution_count=3),
    )
    nbformat.write(nb, tmp_path / "01-demo.ipynb")
    problems = sync.nbval_marker_problems(tmp_path)
    assert [problem.split(",")[1].strip() for problem in problems] == ["cell 2", "cell 3"]


def test_guard_finds_another_kernelspec(tmp_path):
    """Does the kernelspec check fail for a notebook with a different or missing kernelspec?"""
    nbformat.write(notebook(new_markdown_cell("# A")), tmp_path / "01-good.ipynb")
    other = notebook(new_markdown_cell("# B"))
    other.metadata.kernelspec["name"] = "python3.11"
    nbformat.write(other, tmp_path / "02-other.ipynb")
    missing = notebook(new_markdown_cell("# C"))
    del missing.metadata["kernelspec"]
    nbformat.write(missing, tmp_path / "03-missing.ipynb")
    problems = sync.kernelspec_problems(tmp_path)
    assert [problem.split(":")[0].split("/")[1] for problem in problems] == ["02-other.ipynb", "03-missing.ipynb"]


# ---------------------------------------------------------------------------------------------------------------
# The command line


def test_cli_generates_then_checks(course, lessons_cli, capsys):
    """Does `lessons` exit 0 printing one line per notebook, and `lessons --check` exit 0 when in sync?"""
    solutions, lessons = course
    assert lessons_cli("--solutions", solutions, "--out", lessons) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("written") and lines[0].endswith("01-demo.ipynb")
    assert lessons_cli("--solutions", solutions, "--out", lessons) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("unchanged")
    assert lessons_cli("--solutions", solutions, "--out", lessons, "--check") == 0


def test_cli_check_exits_1_listing_differences(course, lessons_cli, capsys):
    """Does `lessons --check` exit 1 naming the lesson that differs, without writing anything?"""
    solutions, lessons = course
    generate(solutions, lessons)
    write_solution(solutions, "02-demo.ipynb", "Changed.")
    before = (lessons / "02-demo.ipynb").read_bytes()
    assert lessons_cli("--solutions", solutions, "--out", lessons, "--check") == 1
    out = capsys.readouterr().out
    assert "02-demo.ipynb" in out and "01-demo.ipynb" not in out
    assert (lessons / "02-demo.ipynb").read_bytes() == before


def test_cli_errors_exit_2_without_traceback(course, lessons_cli, capsys):
    """Does a broken solution make `lessons` exit 2 with the message on stderr and no traceback?"""
    solutions, lessons = course
    (solutions / "01-demo.ipynb").write_text("{", encoding="utf-8")
    assert lessons_cli("--solutions", solutions, "--out", lessons) == 2
    captured = capsys.readouterr()
    assert "01-demo.ipynb" in captured.err and "Traceback" not in captured.err + captured.out
    assert lessons_cli("--solutions", solutions, "--out", lessons, "--check") == 2


def test_cli_protects_edited_lessons_unless_forced(course, lessons_cli, capsys):
    """Does `lessons` exit 2 on an edited lesson, and `lessons --force` overwrite it?"""
    solutions, lessons = course
    generate(solutions, lessons)
    (lessons / "01-demo.ipynb").write_text("edited\n", encoding="utf-8")
    assert lessons_cli("--solutions", solutions, "--out", lessons) == 2
    assert "--force" in capsys.readouterr().err
    assert (lessons / "01-demo.ipynb").read_text(encoding="utf-8") == "edited\n"
    assert lessons_cli("--solutions", solutions, "--out", lessons, "--force") == 0
    assert (lessons / "01-demo.ipynb").read_bytes() == lesson_bytes(solutions / "01-demo.ipynb")


def test_cli_out_writes_elsewhere(course, lessons_cli, tmp_path):
    """Does `--out DIR` write the lessons into DIR, leaving an edited lessons folder alone?"""
    solutions, lessons = course
    generate(solutions, lessons)
    (lessons / "01-demo.ipynb").write_text("edited\n", encoding="utf-8")
    assert lessons_cli("--solutions", solutions, "--out", tmp_path / "fresh") == 0
    assert (tmp_path / "fresh" / "01-demo.ipynb").read_bytes() == lesson_bytes(solutions / "01-demo.ipynb")
    assert (lessons / "01-demo.ipynb").read_text(encoding="utf-8") == "edited\n"


def test_cli_defaults_to_the_repository_folders(lessons_cli, capsys, monkeypatch, tmp_path):
    """Without --solutions and --out, does `lessons --check` compare the repository's folders, from any directory?"""
    monkeypatch.chdir(tmp_path)
    problems = check(sync.SOLUTIONS, sync.LESSONS)
    assert lessons_cli("--check") == (1 if problems else 0)
    out = capsys.readouterr().out
    assert all(problem in out for problem in problems)
