"""The course setup the generator puts in every lesson: where it goes, and what it does on Colab and elsewhere."""

import importlib.util
import sys
import types

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import vae_course
from vae_course.tools.generate import LessonError, lesson_bytes, make_lesson
from vae_course.tools.setup_cell import CELL_ID, FIRST_LINE, setup_source
from vae_course.version_check import CourseTooOld


def notebook(*cells):
    nb = new_notebook(cells=list(cells))
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"
    return nb


class FakeShell:
    """Records the line magics the cell runs, as IPython's get_ipython() would run them."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line, *args):
        self.magics.append((name, line))


def run_setup(source):
    """Run a setup cell's code as IPython would (magics included); return the magics it ran."""
    shell = FakeShell()
    code = TransformerManager().transform_cell(source)
    exec(compile(code, "<setup cell>", "exec"), {"get_ipython": lambda: shell})
    return shell.magics


def test_setup_goes_at_the_top_of_the_set_up_cell():
    """Does the setup open the first code cell, keeping its id and code, and leave later cells alone?"""
    nb = notebook(new_markdown_cell("# Lesson"), new_code_cell("import keras"), new_code_cell("x = 1"))
    lesson = make_lesson(nb, "lesson.ipynb", setup=setup_source("o/r", "1.2.3"))
    assert [cell.id for cell in lesson.cells] == ["cell-0", "cell-1", "cell-2"]
    assert lesson.cells[1].source == setup_source("o/r", "1.2.3") + "\n\nimport keras"
    assert lesson.cells[2].source == "x = 1" and nb.cells[1].source == "import keras"


def test_without_code_the_setup_gets_a_cell_after_the_title():
    nb = notebook(new_markdown_cell("# Lesson"), new_markdown_cell("Text."))
    lesson = make_lesson(nb, "lesson.ipynb", setup=setup_source("o/r", "1.2.3"))
    assert [cell.id for cell in lesson.cells] == ["cell-0", CELL_ID, "cell-1"]


def test_a_solution_using_the_setup_cell_id_is_refused():
    nb = notebook(new_markdown_cell("# Lesson"))
    nb.cells[0].id = CELL_ID
    with pytest.raises(LessonError, match=f"lesson.ipynb: cell 1 already has the id '{CELL_ID}'"):
        make_lesson(nb, "lesson.ipynb", setup=setup_source("o/r", "1.2.3"))


def test_generated_lessons_need_this_package_version(tmp_path):
    """Does lesson_bytes() open the set-up cell with the setup, this package's version as the minimum?"""
    path = tmp_path / "00-x.ipynb"
    nbformat.write(notebook(new_markdown_cell("# X"), new_code_cell("y = 2")), path)
    lesson = nbformat.reads(lesson_bytes(path).decode(), as_version=4)
    assert lesson.cells[1].source.startswith(FIRST_LINE)
    assert lesson.cells[1].source.endswith(f'require("{vae_course.__version__}")\n\ny = 2')


def test_on_colab_the_cell_installs_the_package_then_checks(monkeypatch):
    """On Colab without the package, does the cell pip-install it from the repository (ranges, not pins)?"""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "vae_course" else find_spec(name))
    magics = run_setup(setup_source("o/r", vae_course.__version__))
    assert magics == [("pip", 'install --quiet "vae-course @ git+https://github.com/o/r@main"')]


def test_on_colab_a_second_run_does_not_install_again(monkeypatch):
    """Once the package is there (a re-run, or after Runtime > Restart session), is pip left alone?"""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert run_setup(setup_source("o/r", vae_course.__version__)) == []


def test_elsewhere_the_cell_installs_nothing_and_checks(monkeypatch):
    """Without Colab, does the cell leave pip alone, pass for this version and stop for a newer minimum?"""
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert run_setup(setup_source("o/r", vae_course.__version__)) == []
    with pytest.raises(CourseTooOld, match="needs vae-course 999.0.0 or newer"):
        run_setup(setup_source("o/r", "999.0.0"))
