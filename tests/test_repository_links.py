"""One address: every Binder, Colab, nbgitpuller and pip link agrees with pyproject.toml's [project.urls] Repository.

The checks are functions of text, so the last tests show that each one does catch a wrong link.
"""

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from vae_course.repository import (
    RepositoryError,
    binder_link,
    colab_link,
    nbgitpuller_link,
    pip_requirement,
    repository_slug,
    slug_of,
    url_in_pyproject,
)
from vae_course.tools import links
from vae_course.tools.setup_cell import FIRST_LINE

ROOT = Path(__file__).resolve().parents[1]
SLUG = r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*"
END = r"[^\s)\]>\"'`]"  # a link ends at white space, a closing bracket or a quote
COLAB = re.compile(rf"https://colab\.research\.google\.com/github/({SLUG})/blob/[\w.-]+/({END}+)")
BINDER = re.compile(rf"https://mybinder\.org/v2/gh/({SLUG})/[\w.-]+(?:\?urlpath=lab/tree/({END}+))?")
PULLER = re.compile(rf"{END}*/git-pull\?{END}+")
PIP = re.compile(rf"git\+https://github\.com/({SLUG}?)(?:\.git)?@")


def documents():
    """README.md and every docs/*.md, as {name: text}."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in paths}


def setup_sources():
    """{lesson: source of its first code cell if it opens with the course setup, else None} for every lesson."""
    found = {}
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"][:1]
        found[f"lessons/{path.name}"] = sources[0] if sources and sources[0].startswith(FIRST_LINE) else None
    return found


def link_problems(text, where, slug, root):
    """Links in ``text`` that name another repository than ``slug`` or a file missing from ``root``."""
    problems = []

    def check(kind, found_slug, path):
        if found_slug != slug:
            problems.append(f"{where}: {kind} link to {found_slug}, but pyproject.toml names {slug}")
        if path and not (Path(root) / path).exists():
            problems.append(f"{where}: {kind} link to {path}, which is not in the repository")

    for found_slug, path in COLAB.findall(text):
        check("Colab", found_slug, path)
    for found_slug, path in BINDER.findall(text):
        check("Binder", found_slug, path)
    for found_slug in PIP.findall(text):
        check("pip install", found_slug, None)
    for link in PULLER.findall(text):
        query = parse_qs(urlsplit(link).query)
        repo, urlpath = query.get("repo", [""])[0], query.get("urlpath", [""])[0]
        try:
            found_slug = slug_of(repo)
        except RepositoryError:
            problems.append(f"{where}: nbgitpuller link whose repo= is not a GitHub repository: {link}")
            continue
        folder = found_slug.split("/")[1]
        path = urlpath.removeprefix(f"lab/tree/{folder}/") if urlpath.startswith(f"lab/tree/{folder}/") else ""
        check("nbgitpuller", found_slug, path)
    return problems


def lessons_without_colab_link(text, lessons):
    """The lesson paths that ``text`` gives no Colab link for."""
    linked = {path for _, path in COLAB.findall(text)}
    return [path for path in lessons if path not in linked]


# ----------------------------------------------------------------------------------------------------------------
# The repository


def test_pyproject_names_a_github_repository():
    """Is [project.urls] Repository a https://github.com/OWNER/NAME address?"""
    assert re.fullmatch(SLUG, repository_slug()), url_in_pyproject()


def test_every_link_in_the_docs_agrees_with_pyproject():
    """Do all Binder, Colab, nbgitpuller and pip links in README.md and docs/*.md name the repository and files?"""
    slug = repository_slug()
    problems = [p for name, text in documents().items() for p in link_problems(text, name, slug, ROOT)]
    assert not problems, "\n".join(problems)


def test_the_docs_link_to_the_course_at_all():
    """Are there Binder and Colab links to check (a test of nothing would pass too)?"""
    text = "\n".join(documents().values())
    assert BINDER.search(text) and COLAB.search(text) and PIP.search(text)


def test_every_lesson_has_a_colab_link_in_the_readme_and_docs():
    """Does README.md and docs/colab.md each link every lesson in lessons/ to Colab?"""
    lessons = links.lesson_paths(ROOT)
    assert lessons, "no lessons found"
    docs = documents()
    for name in ("README.md", "docs/colab.md"):
        missing = lessons_without_colab_link(docs[name], lessons)
        assert not missing, f"{name} has no Colab link for {missing}"


def test_docs_are_what_the_links_command_writes():
    """Are README.md and docs/*.md (docs/colab.md's list of lessons too) what `python -m vae_course links` writes?"""
    found = links.expected_documents(ROOT, repository_slug())
    stale = [name.as_posix() for name, (text, expected) in found.items() if text != expected]
    assert Path("docs/colab.md") in found and not stale, f"out of date (run `python -m vae_course links`): {stale}"


def test_every_lesson_setup_cell_installs_from_the_repository():
    """Does every lesson's set-up cell open with the course setup, installing from the repository pyproject names?"""
    slug = repository_slug()
    sources = setup_sources()
    missing = [lesson for lesson, source in sources.items() if not source]
    assert sources and not missing, f"lessons without a setup cell: {missing}"
    for lesson, source in sources.items():
        assert f'"{pip_requirement(slug)}"' in source, lesson
        assert not link_problems(source, lesson, slug, ROOT)


# ----------------------------------------------------------------------------------------------------------------
# The checks catch what they should


def test_link_check_catches_another_repository_and_a_missing_lesson(tmp_path):
    """Are a Colab link to a fork, a Binder link to a missing file and a pip install from elsewhere all reported?"""
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "00-a.ipynb").write_text("{}")
    good = f"[c]({colab_link('o/r', 'lessons/00-a.ipynb')}) [b]({binder_link('o/r', 'lessons/00-a.ipynb')})"
    assert link_problems(good, "doc", "o/r", tmp_path) == []
    bad = (f"[c]({colab_link('fork/r', 'lessons/00-a.ipynb')}) [b]({binder_link('o/r', 'lessons/99-gone.ipynb')})\n"
           f'pip install "{pip_requirement("other/r")}"')
    problems = link_problems(bad, "doc", "o/r", tmp_path)
    assert len(problems) == 3, problems
    assert "Colab link to fork/r" in problems[0] and "99-gone" in problems[1] and "other/r" in problems[2]


def test_link_check_reads_nbgitpuller_links(tmp_path):
    """Is an nbgitpuller link checked for its repo= and for the file in its urlpath=?"""
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "00-a.ipynb").write_text("{}")
    good = nbgitpuller_link("https://hub.example.edu", "o/r", "lessons/00-a.ipynb")
    assert link_problems(f"<{good}>", "doc", "o/r", tmp_path) == []
    elsewhere = nbgitpuller_link("https://hub.example.edu", "x/r", "lessons/00-a.ipynb")
    missing = nbgitpuller_link("https://hub.example.edu", "o/r", "lessons/01-b.ipynb")
    problems = link_problems(f"{elsewhere}\n{missing}", "doc", "o/r", tmp_path)
    assert len(problems) == 2 and "x/r" in problems[0] and "01-b" in problems[1], problems


def test_a_lesson_without_colab_link_is_found():
    text = f"[open]({colab_link('o/r', 'lessons/00-a.ipynb')})"
    assert lessons_without_colab_link(text, ["lessons/00-a.ipynb", "lessons/01-b.ipynb"]) == ["lessons/01-b.ipynb"]


@pytest.mark.parametrize("url", ["https://gitlab.com/o/r", "github.com/o/r", "https://github.com/o", "", None])
def test_only_github_repository_urls_are_accepted(url):
    with pytest.raises(RepositoryError, match="not a GitHub repository URL"):
        slug_of(url)


def test_repository_url_forms():
    assert slug_of("https://github.com/o/r.git") == slug_of("https://github.com/o/r/") == "o/r"


def test_pyproject_without_repository_is_refused(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    with pytest.raises(RepositoryError, match=r"no `Repository = .*` under \[project.urls\]"):
        url_in_pyproject(path)


def test_links_block_is_rewritten_between_its_markers_only(tmp_path):
    """Does the links command replace only the lines between its markers, from the lessons present?"""
    (tmp_path / "lessons").mkdir()
    for name in ("01-b.ipynb", "00-a.ipynb"):
        (tmp_path / "lessons" / name).write_text("{}")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "colab.md").write_text(f"# Title\n{links.BEGIN}\nold table\n{links.END}\nAfter.\n")
    current, expected = links.expected_documents(tmp_path, "o/r")[Path("docs/colab.md")]
    assert current != expected and expected.startswith(f"# Title\n{links.BEGIN}\n| # |")
    assert expected.endswith(f"{links.END}\nAfter.\n") and "old table" not in expected
    assert lessons_without_colab_link(expected, links.lesson_paths(tmp_path)) == []
    assert expected.index("00-a") < expected.index("01-b")


@pytest.mark.parametrize(
    "text", ["no markers", f"{links.END}\n{links.BEGIN}", f"{links.BEGIN}\n{links.BEGIN}\n{links.END}"]
)
def test_links_block_needs_its_two_markers(text):
    with pytest.raises(links.LinksError, match="needs one line"):
        links.with_block(text, "table", "docs/colab.md")


def test_hub_links_need_a_hub_address():
    assert links.hub_links("https://hub.example.edu/", "o/r", ["lessons/00-a.ipynb"]) == [
        "00-a: " + nbgitpuller_link("https://hub.example.edu", "o/r", "lessons/00-a.ipynb")
    ]
    with pytest.raises(links.LinksError, match="give the hub's address"):
        links.hub_links("hub.example.edu", "o/r", [])


def test_a_fork_changes_one_line(tmp_path):
    """After retarget() to a fork, does every kind of link name the fork, with paths, branch and hub kept?"""
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "00-a.ipynb").write_text("{}")
    path = "lessons/00-a.ipynb"
    text = (f"[b]({binder_link('o/r', path)}) [c]({colab_link('o/r', path)})\n"
            f'pip install "{pip_requirement("o/r")}" or git+https://github.com/o/r.git@main\n'
            f"<{nbgitpuller_link('https://hub.example.edu', 'o/r', path, 'course')}>\n"
            "[keras-io](https://github.com/keras-team/keras-io) stays")
    moved = links.retarget(text, "fork/vae")
    assert link_problems(text, "doc", "o/r", tmp_path) == []
    assert link_problems(moved, "doc", "fork/vae", tmp_path) == []
    assert moved.count("fork/vae") == 4 and "git+https://github.com/fork/vae.git@main" in moved
    assert nbgitpuller_link("https://hub.example.edu", "fork/vae", path, "course") in moved
    assert moved.endswith("(https://github.com/keras-team/keras-io) stays")
    assert links.retarget(moved, "o/r") == text


def test_links_command_checks_and_prints_hub_links(capsys):
    """Does `python -m vae_course links --check` pass on this repository, and --hub print one link per lesson?"""
    from vae_course.tools import cli

    assert cli.main(["links", "--check"]) == 0
    assert f"every link names {repository_slug()}" in capsys.readouterr().out
    assert cli.main(["links", "--hub", "https://hub.example.edu"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(links.lesson_paths(ROOT)) and all("/hub/user-redirect/git-pull?" in p for p in printed)
    assert cli.main(["links", "--hub", "hub.example.edu"]) == 2
    assert "give the hub's address" in capsys.readouterr().err
