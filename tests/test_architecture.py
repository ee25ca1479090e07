"""The package's layers, read from its imports with `ast`: no import circle, and every import goes down the layers.

vae (the library) <- checks (the engine) <- lessons (helpers; the placeholder only) <- exercises <- tools.
See CONTRIBUTING.md, "The package's layers".
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vae_course"

INFRASTRUCTURE = {
    "vae_course._quiet", "vae_course._paths", "vae_course._threads",  # set-up before TensorFlow loads, paths
    "vae_course.repository", "vae_course.version_check",  # the course's address and version, no TensorFlow
}
# What each layer may import, besides itself and the infrastructure modules above.
ALLOWED = {
    "vae": set(),
    "checks": {"vae"},
    "lessons": {"vae", "vae_course.checks.placeholder"},
    "exercises": {"vae", "checks", "lessons", "vae_course"},
    "tools": {"vae", "checks", "lessons", "exercises", "vae_course"},
    "facade": set(),
    "main": {"tools"},
}


def module_name(path, root):
    """``vae_course.vae.model`` for ``<root>/vae/model.py``; a package's ``__init__`` is the package."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module):
    """The layer a ``vae_course`` module belongs to."""
    parts = module.split(".")
    if module == parts[0]:
        return "facade"
    if module in INFRASTRUCTURE:
        return "infrastructure"
    if parts[1] == "__main__":
        return "main"
    return parts[1]


def imports_of(path, root):
    """Every ``vae_course`` module ``path`` imports (at any depth in the file, deferred imports included)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:  # `from pkg import module` imports the module, else the package
                candidate = f"{source}.{alias.name}"
                is_module = (root.parent / Path(*candidate.split("."))).with_suffix(".py").is_file() or (
                    root.parent / Path(*candidate.split(".")) / "__init__.py").is_file()
                modules.add(candidate if is_module else source)
    return {m for m in modules if m.split(".")[0] == root.name and m != name}


def import_graph(root):
    """``{module: set of vae_course modules it imports}`` for every module under ``root``."""
    return {module_name(path, root): imports_of(path, root) for path in sorted(root.rglob("*.py"))}


def layer_violations(graph):
    """``"a imports b (layer x may not import layer y)"`` for every import against the layer direction."""
    found = []
    for module, imported in sorted(graph.items()):
        source = layer_of(module)
        if source == "infrastructure":
            allowed_for = lambda target: layer_of(target) == "infrastructure"  # noqa: E731
        else:
            allowed = ALLOWED[source]
            allowed_for = lambda target: (  # noqa: E731
                layer_of(target) in {source, "infrastructure"} | allowed or target in allowed
            )
        for target in sorted(imported):
            if not allowed_for(target):
                found.append(f"{module} imports {target} (layer {source} may not import layer {layer_of(target)})")
    return found


def import_circles(graph):
    """Every import circle, each as ``[a, b, ..., a]`` (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                circles.append(sorted(component) + [sorted(component)[0]])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_package_has_no_import_circle():
    assert import_circles(import_graph(PACKAGE)) == []


def test_every_import_follows_the_layer_direction():
    assert layer_violations(import_graph(PACKAGE)) == []


def test_the_placeholder_does_not_load_the_exercises():
    import subprocess
    import sys

    code = ("import sys, vae_course.checks.placeholder; "
            "print(sorted(m for m in sys.modules if m.startswith(('vae_course.exercises', 'vae_course.tools'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- the checks above can fail: a small fake package with one circle and one import upwards


@pytest.fixture
def fake_package(tmp_path):
    root = tmp_path / "vae_course"
    files = {
        "__init__.py": "",
        "_quiet.py": "",
        "vae/__init__.py": "",
        "vae/model.py": "from .. import _quiet\nfrom .plots import draw\n",
        "vae/plots.py": "def draw():\n    from ..lessons import latent\n",
        "lessons/__init__.py": "",
        "lessons/latent.py": "from ..vae import plots\nfrom ..checks.placeholder import ____\n",
        "checks/__init__.py": "",
        "checks/placeholder.py": "____ = object()\n",
        "tools/__init__.py": "",
        "tools/cli.py": "import vae_course.lessons.latent\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_library_module_importing_a_lesson_is_reported(fake_package):
    graph = import_graph(fake_package)
    assert graph["vae_course.vae.model"] == {"vae_course._quiet", "vae_course.vae.plots"}
    assert layer_violations(graph) == [
        "vae_course.vae.plots imports vae_course.lessons.latent (layer vae may not import layer lessons)"
    ]


def test_a_circle_through_a_deferred_import_is_reported(fake_package):
    assert import_circles(import_graph(fake_package)) == [
        ["vae_course.lessons.latent", "vae_course.vae.plots", "vae_course.lessons.latent"]
    ]


def test_importing_tools_from_outside_tools_is_reported(fake_package):
    (fake_package / "lessons" / "latent.py").write_text("from ..tools import cli\n")
    assert "vae_course.lessons.latent imports vae_course.tools.cli (layer lessons may not import layer tools)" in (
        layer_violations(import_graph(fake_package)))


# ---- what users import keeps working


def test_every_public_name_and_lesson_alias_resolves():
    import importlib

    import vae_course

    assert all(getattr(vae_course, name) is not None for name in vae_course.__all__)
    for alias, target in vae_course.MODULE_ALIASES.items():
        assert getattr(vae_course, alias) is importlib.import_module(f"vae_course.{target}"), alias
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = vae_course.nothing_here


def test_every_folder_of_the_package_is_a_regular_package():
    """Without an __init__.py, setuptools' find_packages leaves a folder out of a (non-editable) install."""
    folders = {path.parent for path in PACKAGE.rglob("*.py")}
    assert sorted(str(f.relative_to(PACKAGE)) for f in folders if not (f / "__init__.py").is_file()) == []
