"""The course itself: every solution notebook in a fresh subprocess (time, peak memory), and pytest."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..._paths import REPOSITORY

_NOTEBOOK_RUNNER = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
path, cwd = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
error = None
try:
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": cwd}},
                   extra_arguments=["--IPKernelApp.capture_fd_output=False"]).execute()
except Exception as err:  # report, do not crash: the benchmark goes on with the next notebook
    error = f"{type(err).__name__}: {str(err)[-500:]}"
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("NOTEBOOK " + json.dumps({"execute_seconds": seconds, "kernel_peak_mb": peak_kb / 1024, "error": error}))
"""


def _children(pid):
    """Every descendant pid of ``pid`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total / 1024


def run_notebook(path, timeout=1200, interval=0.1):
    """Execute one notebook in a fresh subprocess (in a temporary folder); wall time and peak memory."""
    with tempfile.TemporaryDirectory(prefix="vae-bench-") as cwd:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _NOTEBOOK_RUNNER, str(path), cwd], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        tree_peak = 0.0
        while proc.poll() is None and time.perf_counter() - start < timeout:
            tree_peak = max(tree_peak, _rss_mb({proc.pid} | _children(proc.pid)))
            time.sleep(interval)
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
        wall = time.perf_counter() - start
    line = [ln for ln in out.splitlines() if ln.startswith("NOTEBOOK ")]
    result = json.loads(line[-1][9:]) if line else {"error": (err or "no result")[-500:]}
    return {"notebook": Path(path).name, "wall_seconds": round(wall, 2),
            "execute_seconds": round(result.get("execute_seconds", float("nan")), 2),
            "kernel_peak_mb": round(result["kernel_peak_mb"], 1) if "kernel_peak_mb" in result else None,
            "tree_peak_mb": round(tree_peak, 1), "error": result.get("error"), "ok": not result.get("error")}


def run_pytest(timeout=3600):
    """The README's test command, ``pytest``, in the repository; wall time and its summary line."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = next((ln.strip("= ") for ln in reversed(lines) if re.search(r"\d+ (passed|failed|error)", ln)), "")
    return {"command": "pytest", "seconds": round(seconds, 1), "returncode": proc.returncode, "summary": summary}


def measure_course(quick=False, run_tests=True, pattern=None):
    notebooks = sorted((REPOSITORY / "solutions").glob(pattern or "*.ipynb"))
    if quick:
        notebooks = notebooks[:1]
    result = {"notebooks": [run_notebook(nb) for nb in notebooks]}
    result["pytest"] = run_pytest() if run_tests and not quick else None
    return result
