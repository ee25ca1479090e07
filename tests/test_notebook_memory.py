"""The nbval run measures each notebook's peak memory and fails a notebook above the Binder margin."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def run_pytest_on_tiny_notebook(tmp_path, limit_mb):
    nb = new_notebook(cells=[new_code_cell("x = bytearray(50 * 2**20)", execution_count=1)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)  # outside the repository: the root conftest is loaded as a plugin (-p conftest)
    env = {**os.environ, "VAE_COURSE_NOTEBOOK_LIMIT_MB": str(limit_mb)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider", "-p", "conftest", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )


def test_a_notebook_over_the_limit_fails_and_peaks_are_reported(tmp_path):
    over = run_pytest_on_tiny_notebook(tmp_path, limit_mb=10)
    assert over.returncode == 1, over.stdout
    assert "tiny.ipynb peaked at" in over.stdout and "over the 10 MB" in over.stdout
    within = run_pytest_on_tiny_notebook(tmp_path, limit_mb=1536)
    assert within.returncode == 0, within.stdout
    assert "notebook peak memory" in within.stdout and "MB  tiny.ipynb" in within.stdout
