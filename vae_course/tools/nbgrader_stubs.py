"""nbgrader's ClearSolutions with the course's own stubs, for the course written by ``lessons --nbgrader``.

nbgrader replaces every solution region with one fixed stub per language; the course's regions carry their own
``# STUB:`` lines. This preprocessor uses the lesson generator instead, so the assignment nbgrader releases is the
lesson in ``lessons/`` (plus nbgrader's metadata). The generated ``nbgrader_config.py`` puts it in place of
ClearSolutions. Importing this module imports nbgrader.
"""

from nbgrader.preprocessors import ClearSolutions

from .generate import _strip_markdown_solutions, strip_solutions


class CourseStubs(ClearSolutions):
    """Replace ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` regions exactly as ``python -m vae_course lessons`` does."""

    def _replace_solution_region(self, cell, language):
        where = f"cell {cell.get('id', '?')}"
        if cell.cell_type == "code":
            stubbed = strip_solutions(cell.source, where)
        else:
            stubbed = _strip_markdown_solutions(cell.source, where)
        replaced = stubbed != cell.source
        cell.source = stubbed
        return replaced
