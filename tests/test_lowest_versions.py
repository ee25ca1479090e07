"""The lowest-versions CI job installs exactly pyproject.toml's lower bounds, and .ci/run runs it after pytest."""

import re
import tomllib
from pathlib import Path

import pytest

from vae_course.version_check import release

ROOT = Path(__file__).resolve().parents[1]
LOWEST = ROOT / ".ci" / "lowest-versions.txt"
REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*)\s*>=\s*([0-9][0-9.]*)")
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*)==([^\s;#]+)")


def canonical(name):
    """A distribution name as pip compares them: case and ``-_.`` runs do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lower_bounds(pyproject_text):
    """{name: lower bound} of [project] dependencies; ValueError for one without a plain ``>=`` bound."""
    bounds = {}
    for dependency in tomllib.loads(pyproject_text)["project"]["dependencies"]:
        match = REQUIREMENT.fullmatch(dependency.strip())
        if match is None:
            raise ValueError(f"{dependency!r}: write it as name>=version, so the lowest-versions job can test it")
        bounds[canonical(match.group(1))] = match.group(2)
    return bounds


def pins(text):
    """{name: version} of a file of ``name==version`` lines; ValueError for any other requirement line."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.fullmatch(line)
        if match is None:
            raise ValueError(f"{line!r}: .ci/lowest-versions.txt pins every package exactly (name==version)")
        found[canonical(match.group(1))] = match.group(2)
    return found


def disagreements(bounds, pinned):
    """The dependencies whose pin is missing or is not their lower bound."""
    return {
        name: (bound, pinned.get(name))
        for name, bound in bounds.items()
        if name not in pinned or release(pinned[name]) != release(bound)
    }


def test_every_dependency_is_pinned_at_its_lower_bound():
    """Does .ci/lowest-versions.txt install each pyproject dependency at exactly its lower bound?"""
    bounds = lower_bounds((ROOT / "pyproject.toml").read_text())
    assert {"keras", "tensorflow", "numpy", "ipywidgets"} <= set(bounds)
    problems = disagreements(bounds, pins(LOWEST.read_text()))
    assert not problems, f"(pyproject lower bound, lowest-versions pin) differ: {problems}"


def test_the_notebook_runner_is_installed_too():
    pinned = pins(LOWEST.read_text())
    assert "ipykernel" in pinned and "nbclient" in pinned
    assert "vae-course" not in pinned, "the package itself is installed from the checkout, not from the file"


def test_ci_runs_the_lowest_versions_after_the_readme_tests():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "pytest" in lines and "bash .ci/lowest-versions" in lines
    assert lines.index("pytest") < lines.index("bash .ci/lowest-versions")


def test_a_pin_off_its_bound_is_caught():
    """Do the helpers report a pin above its bound, a missing pin, and refuse a range or an unbounded dependency?"""
    bounds = lower_bounds('[project]\ndependencies = ["Keras>=3.10", "numpy >= 2.0"]\n')
    assert bounds == {"keras": "3.10", "numpy": "2.0"}
    assert disagreements(bounds, {"keras": "3.10.0", "numpy": "2.0.0"}) == {}
    assert disagreements(bounds, {"keras": "3.11.0"}) == {"keras": ("3.10", "3.11.0"), "numpy": ("2.0", None)}
    with pytest.raises(ValueError, match="write it as name>=version"):
        lower_bounds('[project]\ndependencies = ["numpy"]\n')
    with pytest.raises(ValueError, match="pins every package exactly"):
        pins("numpy>=2.0\n")
