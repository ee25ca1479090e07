"""Binder launches the course with the same pins as requirements.txt, in a consistent environment.

The slow proof (a copy of repo2docker's base environment, `pip check`, postBuild, lesson 00) is .ci/binder-env;
these tests check the files it relies on.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE_PINS = ROOT / "binder" / "repo2docker-base-py311.txt"
# Packages Binder pins that requirements.txt does not: upgrades of repo2docker's base environment.
BINDER_ONLY = {"notebook"}


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
    disagree = {
        name: (main.get(name), version)
        for name, version in binder.items()
        if main.get(name) != version and name not in BINDER_ONLY
    }
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


def test_binder_only_pins_upgrade_the_base_environment():
    """Is every Binder-only pin a package repo2docker already ships (an upgrade, not a new package)?"""
    binder, base = pins(ROOT / "binder" / "requirements.txt"), pins(BASE_PINS)
    extra = set(binder) - set(pins(ROOT / "requirements.txt"))
    assert extra == BINDER_ONLY
    assert extra <= set(base), f"not in repo2docker's base environment: {extra - set(base)}"


def test_notebook_follows_jupyterlab_minor_version():
    """Notebook 7.N requires JupyterLab 4.N: does the Binder environment keep them in step?"""
    effective = {**pins(BASE_PINS), **pins(ROOT / "binder" / "requirements.txt")}
    notebook, lab = effective["notebook"].split("."), effective["jupyterlab"].split(".")
    assert notebook[0] == "7" and lab[0] == "4"
    assert notebook[1] == lab[1], f"notebook {effective['notebook']} with jupyterlab {effective['jupyterlab']}"


def test_base_pins_name_their_source():
    text = BASE_PINS.read_text()
    source = r"jupyterhub/repo2docker at [0-9a-f]{40}, repo2docker/buildpacks/conda/environment\.py-3\.11"
    assert re.search(source, text)
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^\s]+", line) for line in body)
    for needed in ("jupyterlab", "notebook", "jupyter_server", "jupyterhub", "ipykernel", "nbclient", "pip"):
        assert needed in pins(BASE_PINS), f"{needed} missing from {BASE_PINS.name}"


def test_binder_python_and_package_install():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post_build = ROOT / "binder" / "postBuild"
    installs = [line.split() for line in post_build.read_text().splitlines() if "pip install" in line]
    assert len(installs) == 1, "postBuild should install the package exactly once"
    words = installs[0]
    assert words[-1] == "." and "--no-deps" in words
    assert not {"-e", "--editable"} & set(words), "an editable install breaks when a home volume hides the repo"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"


def test_readme_binder_link_opens_lesson_00():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    assert links, "README has no Binder link"
    assert all("urlpath=lab/tree/lessons/00-welcome.ipynb" in link for link in links)


def load_pins_tool():
    spec = importlib.util.spec_from_file_location("repo2docker_pins", ROOT / ".ci" / "repo2docker_pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOCK_SAMPLE = """# Frozen on 2025-10-16 07:17:45 UTC
@EXPLICIT
https://conda.anaconda.org/conda-forge/linux-64/libzlib-1.3.1-hb9d3cd8_2.conda#edb0
https://conda.anaconda.org/conda-forge/linux-64/python-3.11.14-hfe2f287_1_cpython.conda#aa
https://conda.anaconda.org/conda-forge/noarch/nbconvert-core-7.16.6-pyh29332c3_0.conda#bb
https://conda.anaconda.org/conda-forge/noarch/jupyterlab-4.4.9-pyhd8ed1ab_0.conda#cc
https://conda.anaconda.org/conda-forge/noarch/jupyterhub-singleuser-5.4.0-hd843c07_0.conda#dd
https://conda.anaconda.org/conda-forge/noarch/async_generator-1.10-pyhd8ed1ab_2.tar.bz2#ee
"""


def test_pins_tool_renames_and_leaves_out_conda_only_packages():
    text = load_pins_tool().pins_text(LOCK_SAMPLE, "0" * 40)
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == ["async_generator==1.10", "jupyterlab==4.4.9", "nbconvert==7.16.6"]
    for left_out in ("libzlib 1.3.1", "python 3.11.14", "jupyterhub-singleuser 5.4.0"):
        assert left_out in text
    assert "frozen 2025-10-16 07:17:45 UTC" in text


def test_pins_tool_rejects_a_file_that_is_not_a_lock_file():
    with pytest.raises(ValueError, match="no package URLs"):
        load_pins_tool().pins_text("name: env\ndependencies:\n- python=3.11\n", "0" * 40)



SERVER_CONFIG = ROOT / "binder" / "jupyter_server_config.json"


def test_server_config_culls_idle_kernels_even_with_a_tab_open():
    culling = json.loads(SERVER_CONFIG.read_text())["MappingKernelManager"]
    assert culling["cull_idle_timeout"] > 0 and culling["cull_connected"] is True
    assert culling["cull_busy"] is False, "a kernel that is still training must never be culled"
    assert 0 < culling["cull_interval"] < culling["cull_idle_timeout"]


def test_a_jupyter_server_would_use_the_culling_settings(tmp_path):
    """Are the names right? A server reading the file from a config folder must end up with its values."""
    (tmp_path / "config").mkdir()
    (tmp_path / "user").mkdir()
    shutil.copy(SERVER_CONFIG, tmp_path / "config" / "jupyter_server_config.json")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "user"), "JUPYTER_CONFIG_PATH": str(tmp_path / "config")}
    done = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "show_culling.py"), str(SERVER_CONFIG)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == json.loads(SERVER_CONFIG.read_text())["MappingKernelManager"]


def test_post_build_installs_the_server_config_outside_home():
    text = (ROOT / "binder" / "postBuild").read_text()
    assert "binder/jupyter_server_config.json" in text
    assert 'Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.json")' in text


def test_learner_page_states_the_culling_timeout():
    minutes = json.loads(SERVER_CONFIG.read_text())["MappingKernelManager"]["cull_idle_timeout"] // 60
    assert f"{minutes} minutes" in (ROOT / "docs" / "binder.md").read_text()


LAB_OVERRIDES = ROOT / "binder" / "jupyterlab-overrides.json"


def test_lab_overrides_shut_a_kernel_down_with_its_tab():
    overrides = json.loads(LAB_OVERRIDES.read_text())
    assert overrides == {"@jupyterlab/notebook-extension:tracker": {"kernelShutdown": True}}


def test_jupyterlab_would_use_the_overrides(tmp_path, capsys):
    """Placed where postBuild puts it (<app dir>/settings/overrides.d), does JupyterLab's default change?
    (.ci/show_lab_defaults.py's main, run here: it reads the settings the way JupyterLab's server does.)"""
    spec = importlib.util.spec_from_file_location("show_lab_defaults", ROOT / ".ci" / "show_lab_defaults.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    (tmp_path / "overrides.d").mkdir()
    shutil.copy(LAB_OVERRIDES, tmp_path / "overrides.d" / "vae-course.json")
    tool.main(str(LAB_OVERRIDES), str(tmp_path))  # returns: every setting the file names is in force
    (tmp_path / "overrides.d" / "vae-course.json").unlink()
    with pytest.raises(SystemExit, match="not in force"):
        tool.main(str(LAB_OVERRIDES), str(tmp_path))  # JupyterLab's own default does not shut kernels down
    assert capsys.readouterr().out.count("\n") == 2 * len(json.loads(LAB_OVERRIDES.read_text()))


def test_post_build_installs_the_lab_overrides_into_the_app_dir():
    text = (ROOT / "binder" / "postBuild").read_text()
    assert "get_app_dir()" in text and "/settings/overrides.d" in text
    assert "cp binder/jupyterlab-overrides.json" in text
