"""Binder launches the course with the same pins as requirements.txt."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(path):
    """{package: version} for every `name==version` line of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_binder_pins_agree_with_requirements():
    main, binder = pins(ROOT / "requirements.txt"), pins(ROOT / "binder" / "requirements.txt")
    assert binder, "binder/requirements.txt pins nothing"
    disagree = {name: (main.get(name), version) for name, version in binder.items() if main.get(name) != version}
    assert not disagree, f"binder pins differ from requirements.txt (requirements, binder): {disagree}"


def test_binder_has_what_the_lessons_import():
    binder = pins(ROOT / "binder" / "requirements.txt")
    for needed in ("tensorflow", "keras", "numpy", "matplotlib", "scikit-learn", "ipywidgets", "jupyterlab"):
        assert needed in binder, f"{needed} missing from binder/requirements.txt"
    for test_only in ("pytest", "nbval", "pytest-xdist", "hypothesis"):
        assert test_only not in binder, f"{test_only} is only for tests; keep the Binder image small"


def test_every_requirement_is_pinned():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-e"):
            assert "==" in line, f"unpinned requirement: {line}"


def test_binder_python_and_package_install():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = ROOT / "binder" / "postBuild"
    assert "pip install --no-deps -e ." in post_build.read_text()
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"


def test_readme_binder_link_opens_lesson_00():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    assert links, "README has no Binder link"
    assert all("urlpath=lab/tree/lessons/00-welcome.ipynb" in link for link in links)
