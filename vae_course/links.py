"""``python -m vae_course links [--check] [--hub URL]``: the course's Colab, Binder and nbgitpuller links.

The list of Colab links in docs/colab.md is generated from the notebooks present in ``lessons/`` and the repository
named in pyproject.toml (vae_course/repository.py), between the two marker lines below; ``--check`` exits 1 when it
is out of date. ``--hub URL`` prints an instructor's nbgitpuller links for that JupyterHub instead.
No TensorFlow here.
"""

import sys
from pathlib import Path

from .repository import RepositoryError, colab_link, nbgitpuller_link, repository_slug

BEGIN = "<!-- BEGIN LESSON LINKS: written by `python -m vae_course links`; edit pyproject.toml or lessons/ instead -->"
END = "<!-- END LESSON LINKS -->"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
DOCUMENT = Path("docs") / "colab.md"


class LinksError(ValueError):
    """A document without its markers, or a repository address that cannot be used."""


def lesson_paths(root):
    """The lesson notebooks in ``root/lessons``, relative to ``root`` (posix), in order."""
    return [f"lessons/{path.name}" for path in sorted(Path(root, "lessons").glob("*.ipynb"))]


def colab_table(slug, lessons):
    """A Markdown table with one Open-in-Colab badge per lesson path."""
    rows = ["| # | lesson | |", "|---|---|---|"]
    for path in lessons:
        name = Path(path).stem
        number = name.split("-", 1)[0]
        rows.append(f"| {number} | `{name}` | [![Open In Colab]({COLAB_BADGE})]({colab_link(slug, path)}) |")
    return "\n".join(rows)


def with_block(text, block, where="the document"):
    """``text`` with what lies between the BEGIN and END lines replaced by ``block``."""
    lines = text.split("\n")
    if lines.count(BEGIN) != 1 or lines.count(END) != 1 or lines.index(BEGIN) > lines.index(END):
        raise LinksError(f"{where}: needs one line `{BEGIN}` and, after it, one line `{END}`")
    start, stop = lines.index(BEGIN), lines.index(END)
    return "\n".join(lines[: start + 1] + block.split("\n") + lines[stop:])


def expected_document(root, slug):
    """docs/colab.md as it should be: its own prose, and the table made from ``root/lessons``."""
    path = Path(root) / DOCUMENT
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LinksError(f"{DOCUMENT}: cannot read it ({error})") from None
    return text, with_block(text, colab_table(slug, lesson_paths(root)), str(DOCUMENT))


def hub_links(hub, slug, lessons):
    """One line per lesson: its nbgitpuller link for the JupyterHub at ``hub``."""
    if not hub.startswith(("https://", "http://")):
        raise LinksError(f"--hub {hub!r}: give the hub's address, like https://hub.example.edu")
    return [f"{Path(path).stem}: {nbgitpuller_link(hub, slug, path)}" for path in lessons]


# ----------------------------------------------------------------------------------------------------------------
# Command line


def _repository_root():
    root = Path(__file__).resolve().parent.parent
    return root if (root / "lessons").is_dir() else Path.cwd()


def add_arguments(parser):
    """The options of ``python -m vae_course links``."""
    parser.add_argument("--check", action="store_true", help=f"write nothing; exit 1 if {DOCUMENT} is out of date")
    parser.add_argument("--hub", metavar="URL", help="print nbgitpuller links for the JupyterHub at URL instead")


def run(args):
    """Write (or check) docs/colab.md's links, or print hub links; exit code 0, 1 (out of date) or 2 (error)."""
    root = _repository_root()
    try:
        slug = repository_slug()
        if args.hub:
            print("\n".join(hub_links(args.hub, slug, lesson_paths(root))))
            return 0
        current, expected = expected_document(root, slug)
        if current == expected:
            print(f"{DOCUMENT} is up to date")
            return 0
        if args.check:
            print(f"{DOCUMENT} is out of date: run `python -m vae_course links` to rewrite its list of lessons")
            return 1
        (root / DOCUMENT).write_text(expected, encoding="utf-8")
        print(f"written   {DOCUMENT}")
        return 0
    except (LinksError, RepositoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
