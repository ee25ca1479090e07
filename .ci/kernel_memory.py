"""Memory of lesson kernels kept alive together, as JupyterLab keeps earlier lessons' kernels.

Usage: python .ci/kernel_memory.py lessons/06-*.ipynb lessons/07-*.ipynb lessons/08-*.ipynb

Runs each lesson top to bottom in its own kernel with nbclient, leaves every kernel running, then prints
each kernel's memory from /proc/PID/smaps_rollup (RSS; PSS, which splits shared pages fairly; anonymous
memory, which no page reclaim can free) and the totals, then shuts the kernels down. It also prints the usage of
this process's cgroup v1 memory group, which is meaningful only if you started it in a group of its own.
Kernels inherit this process's environment, so CPU_LIMIT=1 or MALLOC_ARENA_MAX=2 can be compared.
A maintainer's measurement, not a test: it takes minutes and its numbers vary by machine.
"""

import sys
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

FIELDS = ("Rss", "Pss", "Anonymous")


def smaps_rollup(pid):
    """{field: MiB} for FIELDS from /proc/PID/smaps_rollup."""
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            found[name] = int(rest.split()[0]) / 1024
    return found


def cgroup_memory():
    """(usage, peak, anonymous) in MiB of this process's cgroup v1 memory group, or None outside one."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            group = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            try:
                usage = int((group / "memory.usage_in_bytes").read_text())
                peak = int((group / "memory.max_usage_in_bytes").read_text())
                stat = dict(line.split() for line in (group / "memory.stat").read_text().splitlines())
            except OSError:
                return None
            return usage / 2**20, peak / 2**20, int(stat["rss"]) / 2**20
    return None


def run_and_keep(path):
    """Run the notebook at path in a new kernel and return that kernel's manager, still running."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(path.parent))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, km=km, timeout=900, resources={"metadata": {"path": str(path.parent)}}).execute()
    return km


def main(paths):
    managers = []
    try:
        for path in map(Path, paths):
            managers.append(run_and_keep(path.resolve()))
            print(f"ran {path.name}", flush=True)
        totals = dict.fromkeys(FIELDS, 0.0)
        for path, km in zip(paths, managers):
            memory = smaps_rollup(km.provisioner.pid)
            for name in FIELDS:
                totals[name] += memory[name]
            print(Path(path).name, "  ".join(f"{name} {memory[name]:.0f} MiB" for name in FIELDS))
        print("all kernels", "  ".join(f"{name} {totals[name]:.0f} MiB" for name in FIELDS))
        group = cgroup_memory()
        if group:
            print("memory cgroup usage {:.0f} MiB, peak {:.0f} MiB, anonymous {:.0f} MiB".format(*group))
    finally:
        for km in managers:
            km.shutdown_kernel(now=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
