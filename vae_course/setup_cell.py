"""The code cell the lesson generator puts right after each lesson's title.

On Colab, once per runtime, it installs the course package from the course's repository (``pip install "vae-course @ git+..."``, which
keeps Colab's preinstalled TensorFlow when it is in the package's ranges); everywhere it checks that the installed
package is at least the version the lessons were generated with (the package's ``__version__``).
"""

import nbformat

from . import __version__
from .repository import pip_requirement, repository_slug

CELL_ID = "course-setup"


def setup_source(slug, minimum):
    """The setup cell's code for the repository ``slug`` (``"owner/name"``) and the lesson's minimum version."""
    return (
        "# Course setup: on Colab, install the course package first; then check it is recent enough for this lesson.\n"
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


def setup_cell(slug=None, minimum=__version__):
    """The setup cell for this course: the repository named in pyproject.toml, this package's version."""
    return nbformat.v4.new_code_cell(setup_source(slug or repository_slug(), minimum), id=CELL_ID)


def insert_setup_cell(nb, cell):
    """Put ``cell`` after ``nb``'s Markdown title (or first, without one); refuse a notebook already using its id."""
    for number, existing in enumerate(nb.cells, start=1):
        if existing.get("id") == cell.id:
            raise ValueError(f"cell {number} already has the id {cell.id!r}, which the generated setup cell uses")
    titled = bool(nb.cells) and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    nb.cells.insert(1 if titled else 0, cell)
