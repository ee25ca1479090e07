"""One notebook run top to bottom by nbclient in a fresh subprocess: its time and peak memory."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _pinned(cpus):
    """A ``preexec_fn`` that pins the child (and so its kernel) to ``cpus``; None to leave it alone."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, set(cpus))


def run_notebook(path, timeout=1200, interval=0.1, env=None, cpus=None):
    """Execute one notebook in a fresh subprocess (in a temporary folder); wall time and peak memory.

    ``env`` adds variables to the child's environment (its kernel inherits them); ``cpus`` pins the child and
    its kernel to those CPU numbers, as ``taskset -c`` would.
    """
    with tempfile.TemporaryDirectory(prefix="vae-bench-") as cwd:
        env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _NOTEBOOK_RUNNER, str(path), cwd], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_pinned(cpus))
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
