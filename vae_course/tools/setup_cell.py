"""The course setup the lesson generator puts at the top of each lesson's set-up cell (its first code cell).

On Colab, once per runtime, it installs the course package from the course's repository (``pip install
"vae-course @ git+..."``, which keeps Colab's preinstalled TensorFlow when it is in the package's ranges); everywhere
it checks that the installed package is at least the version the lessons were generated with (``__version__``).
It goes into the existing set-up cell, not a new one, so "run the set-up cell" and "every lesson starts with the
same cell" stay true in the lessons' text.
"""

import nbformat

from .. import __version__
from ..repository import pip_requirement, repository_slug

CELL_ID = "course-setup"  # only for a notebook without any code cell, which gets the setup as a cell of its own
FIRST_LINE = "# Course setup, the same in every lesson: on Colab, install the course package; then check its version."


def setup_source(slug, minimum):
    """The setup code for the repository ``slug`` (``"owner/name"``) and the lesson's minimum package version."""
    return (
        f"{FIRST_LINE}\n"
        "import importlib.util\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules and importlib.util.find_spec("vae_course") is None:\n'
        f'    %pip install --quiet "{pip_requirement(slug)}"\n'
        "\n"
        "from vae_course.version_check import require\n"
        "\n"
        f'require("{minimum}")'
    )


def course_setup(slug=None, minimum=__version__):
    """The setup code for this course: the repository named in pyproject.toml, this package's version."""
    return setup_source(slug or repository_slug(), minimum)


def add_setup(nb, source):
    """Put ``source`` at the top of ``nb``'s first code cell (or, without one, in a new cell after the title)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = f"{source}\n\n{cell.source}" if cell.source else source
            return
    for number, existing in enumerate(nb.cells, start=1):
        if existing.get("id") == CELL_ID:
            raise ValueError(f"cell {number} already has the id {CELL_ID!r}, which the generated setup cell uses")
    titled = bool(nb.cells) and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    nb.cells.insert(1 if titled else 0, nbformat.v4.new_code_cell(source, id=CELL_ID))
