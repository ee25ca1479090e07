"""``python -m vae_course links [--check] [--hub URL]``: the course's Colab, Binder, nbgitpuller and pip links.

Every such link in README.md and docs/*.md is made to name the repository in pyproject.toml
(vae_course/repository.py), so a fork changes one line and runs this command. docs/colab.md also gets, between
the two marker lines below, a table of Colab links made from the notebooks present in ``lessons/``. ``--check``
writes nothing and exits 1 when a document is out of date; ``--hub URL`` prints nbgitpuller links for a class.
No TensorFlow here.
"""

import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .._paths import REPOSITORY
from ..repository import BRANCH, RepositoryError, colab_link, nbgitpuller_link, repository_slug, slug_of

BEGIN = "<!-- BEGIN LESSON LINKS: written by `python -m vae_course links`; edit pyproject.toml or lessons/ instead -->"
END = "<!-- END LESSON LINKS -->"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
DOCUMENT = Path("docs") / "colab.md"
SLUG = r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*?"
# The part of each kind of link that names the repository: (before)(owner/name)(after).
NAMED = [
    re.compile(rf"(https://colab\.research\.google\.com/github/)({SLUG})(/blob/)"),
    re.compile(rf"(https://mybinder\.org/v2/gh/)({SLUG})(/)"),
    re.compile(rf"(git\+https://github\.com/)({SLUG})((?:\.git)?@)"),
]
PULLER = re.compile(r"(https?://[^\s)\]>\"'`/]+)/hub/user-redirect/git-pull\?([^\s)\]>\"'`]+)")


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


def _retarget_puller(match, slug):
    """An nbgitpuller link made again for ``slug``, if it is one this module writes; else unchanged."""
    query = parse_qs(urlsplit(match.group(0)).query)
    try:
        folder = slug_of(query["repo"][0]).split("/")[1]
    except (KeyError, RepositoryError):
        return match.group(0)
    path = query.get("urlpath", [""])[0]
    if not path.startswith(f"lab/tree/{folder}/"):
        return match.group(0)
    branch = query.get("branch", [BRANCH])[0]
    return nbgitpuller_link(match.group(1), slug, path.removeprefix(f"lab/tree/{folder}/"), branch)


def retarget(text, slug):
    """``text`` with every Colab, Binder, pip-from-GitHub and nbgitpuller link naming the repository ``slug``."""
    for pattern in NAMED:
        text = pattern.sub(lambda match: match.group(1) + slug + match.group(3), text)
    return PULLER.sub(lambda match: _retarget_puller(match, slug), text)


def documents(root):
    """README.md and docs/*.md under ``root``, relative to it."""
    root = Path(root)
    return [path.relative_to(root) for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]
            if path.is_file()]


def expected_documents(root, slug):
    """{document: (its text, the text it should have)} for README.md and every docs/*.md."""
    found = {}
    for name in documents(root):
        text = (Path(root) / name).read_text(encoding="utf-8")
        expected = retarget(text, slug)
        if name == DOCUMENT:
            expected = with_block(expected, colab_table(slug, lesson_paths(root)), str(DOCUMENT))
        found[name] = (text, expected)
    if DOCUMENT not in found:
        raise LinksError(f"{DOCUMENT}: missing; it holds the table of Colab links")
    return found


def hub_links(hub, slug, lessons):
    """One line per lesson: its nbgitpuller link for the JupyterHub at ``hub``."""
    if not hub.startswith(("https://", "http://")):
        raise LinksError(f"--hub {hub!r}: give the hub's address, like https://hub.example.edu")
    return [f"{Path(path).stem}: {nbgitpuller_link(hub, slug, path)}" for path in lessons]


# ----------------------------------------------------------------------------------------------------------------
# Command line


def _repository_root():
    return REPOSITORY if (REPOSITORY / "lessons").is_dir() else Path.cwd()


def add_arguments(parser):
    """The options of ``python -m vae_course links``."""
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a document is out of date")
    parser.add_argument("--hub", metavar="URL", help="print nbgitpuller links for the JupyterHub at URL instead")


def run(args):
    """Write (or check) the documents' links, or print hub links; exit code 0, 1 (out of date) or 2 (error)."""
    root = _repository_root()
    try:
        slug = repository_slug()
        if args.hub:
            print("\n".join(hub_links(args.hub, slug, lesson_paths(root))))
            return 0
        documents_now = expected_documents(root, slug)
        stale = {name: expected for name, (text, expected) in documents_now.items() if text != expected}
    except (LinksError, RepositoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        for name in stale:
            print(f"{name.as_posix()}: out of date")
        if stale:
            print(f"run `python -m vae_course links` to point them at {slug} and list the lessons in lessons/")
            return 1
        print(f"every link names {slug}")
        return 0
    for name, expected in stale.items():
        (root / name).write_text(expected, encoding="utf-8")
        print(f"written   {name.as_posix()}")
    if not stale:
        print(f"every link names {slug}")
    return 0
