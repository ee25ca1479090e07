"""Run notebooks top to bottom with nbclient and report only errors (no output comparison).

    python .ci/run_notebooks.py --kernel NAME [--timeout SECONDS] NOTEBOOK...

Each notebook runs in a new empty folder, so it cannot import the course from the repository and what it writes
is thrown away. Prints one line per notebook and a closing `N passed, N failed`; exits 1 if any failed.
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def last_lines(text, count=15):
    return "\n".join(text.strip().splitlines()[-count:])


def run_one(path, kernel, timeout):
    """None if the notebook at ``path`` ran without an error, else the error's last lines (and the kernel's log)."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="notebook-") as folder:
        log_path = Path(folder) / "kernel.log"
        client = NotebookClient(nb, kernel_name=kernel, timeout=timeout, resources={"metadata": {"path": folder}})
        with open(log_path, "w") as log:  # the kernel's own stderr (TensorFlow's C++ log): shown on failure only
            try:
                client.execute(stderr=log)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
                log.flush()
                return f"{last_lines(str(error))}\n--- kernel log ---\n{last_lines(log_path.read_text(), 10)}"
    return None


def kernels_cpu_seconds():
    """CPU time used so far by the kernels this process started and has waited for (load-independent)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", required=True, help="the kernelspec to run the notebooks in")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may take (default 600)")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed, start = [], time.perf_counter()
    for path in args.notebooks:
        began, cpu_before = time.perf_counter(), kernels_cpu_seconds()
        error = run_one(path, args.kernel, args.timeout)
        seconds, cpu = time.perf_counter() - began, kernels_cpu_seconds() - cpu_before
        print(f"{'ok  ' if error is None else 'FAIL'} {path} ({seconds:.0f} s, kernel CPU {cpu:.0f} s)", flush=True)
        if error is not None:
            failed.append(path)
            print("     " + error.replace("\n", "\n     "), flush=True)
    print(f"notebooks: {time.perf_counter() - start:.0f} s in all, kernel CPU {kernels_cpu_seconds():.0f} s")
    print(f"notebooks: {len(args.notebooks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
