"""The nbval run measures each notebook's peak memory and fails a notebook above the Binder margin."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 150  # a bare kernel peaks near 70 MB; one holding 200 MB more is well over


def write_notebook(path, source):
    nb = new_notebook(cells=[new_code_cell(source, execution_count=1)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)


def test_a_notebook_over_the_limit_fails_one_within_passes_and_both_peaks_are_reported(tmp_path):
    # Outside the repository, so the root conftest is loaded as a plugin (-p conftest). One pytest run for both
    # notebooks (each start of pytest and a kernel costs seconds), in order: small first, then big.
    write_notebook(tmp_path / "a_small.ipynb", "x = 1")
    write_notebook(tmp_path / "b_big.ipynb", "x = bytearray(200 * 2**20)  # zero-filled, so resident")
    env = {**os.environ, "VAE_COURSE_NOTEBOOK_LIMIT_MB": str(LIMIT_MB)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "a_small.ipynb"), str(tmp_path / "b_big.ipynb"), "-q",
         "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "conftest", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    out = run.stdout
    assert run.returncode == 1, out
    assert "b_big.ipynb peaked at" in out and f"over the {LIMIT_MB} MB" in out
    assert "a_small.ipynb peaked at" not in out, out  # the limit is per notebook, not for the whole run
    assert "2 passed, 1 error" in out, out  # the big notebook's cell ran; its teardown reports the peak
    assert "notebook peak memory" in out and "MB  a_small.ipynb" in out and "MB  b_big.ipynb" in out
