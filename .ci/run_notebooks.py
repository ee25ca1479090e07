"""Run notebooks top to bottom with nbclient and report only errors (no output comparison).

    python .ci/run_notebooks.py --kernel NAME [--jobs N] [--timeout SECONDS] NOTEBOOK...

Each notebook runs in a new empty folder, so it cannot import the course from the repository and what it writes
is thrown away. ``--jobs`` notebooks run at once, each in its own process and kernel. Prints one line per notebook
(wall time and the kernel's CPU time, which does not depend on the load) and a closing `N passed, N failed`;
exits 1 if any failed.
"""

import argparse
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def last_lines(text, count=15):
    return "\n".join(text.strip().splitlines()[-count:])


def kernels_cpu_seconds():
    """CPU time used so far by the kernels this process started and has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_one(path, kernel, timeout):
    """``(error or None, wall seconds, kernel CPU seconds)`` for the notebook at ``path``.

    The error is its last lines and the kernel's own log (TensorFlow's C++ messages), which is shown only then.
    """
    nb = nbformat.read(path, as_version=4)
    began, cpu_before, error = time.perf_counter(), kernels_cpu_seconds(), None
    with tempfile.TemporaryDirectory(prefix="notebook-") as folder:
        log_path = Path(folder) / "kernel.log"
        client = NotebookClient(nb, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": folder}})
        with open(log_path, "w") as log:
            try:
                client.execute(stderr=log)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as caught:
                log.flush()
                error = f"{last_lines(str(caught))}\n--- kernel log ---\n{last_lines(log_path.read_text(), 10)}"
    return error, time.perf_counter() - began, kernels_cpu_seconds() - cpu_before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", required=True, help="the kernelspec to run the notebooks in")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default 1)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may take (default 600)")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed, cpu_total, start = [], 0.0, time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = {pool.submit(run_one, path, args.kernel, args.timeout): path for path in args.notebooks}
        for run in as_completed(runs):
            path, (error, seconds, cpu) = runs[run], run.result()
            cpu_total += cpu
            status = "ok  " if error is None else "FAIL"
            print(f"{status} {path} ({seconds:.0f} s, kernel CPU {cpu:.0f} s)", flush=True)
            if error is not None:
                failed.append(path)
                print("     " + error.replace("\n", "\n     "), flush=True)
    elapsed = time.perf_counter() - start
    print(f"notebooks: {elapsed:.0f} s in all with {args.jobs} at once, kernel CPU {cpu_total:.0f} s")
    print(f"notebooks: {len(args.notebooks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
