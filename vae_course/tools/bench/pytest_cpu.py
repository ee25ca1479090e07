"""Where the fresh-clone ``pytest`` spends its CPU: a pytest plugin, and the per-file table made from what it logs.

``bench --only pytest`` runs the suite with ``-p vae_course.tools.bench.pytest_cpu`` and ``VAE_COURSE_BENCH_CPU_LOG``
naming a file. Every process that runs tests (each xdist worker, or pytest itself) appends one JSON line per test:
its file and the CPU seconds (user + system) that the test cost its own process plus the processes it started and
waited for (kernels, servers, browsers, subprocesses). What no test accounts for is pytest's start: the workers,
collection and the end of the run.
"""

import json
import os
import resource
from collections import Counter

LOG_VARIABLE = "VAE_COURSE_BENCH_CPU_LOG"
_started = {}


def _cpu_seconds():
    """CPU seconds of this process and of its children that ended and were waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_runtest_logstart(nodeid, location):
    _started[nodeid] = _cpu_seconds()


def pytest_runtest_logfinish(nodeid, location):
    path, start = os.environ.get(LOG_VARIABLE), _started.pop(nodeid, None)
    if not path or start is None:
        return
    with open(path, "a", encoding="utf-8") as log:  # one short line per write: lines from two workers never mix
        log.write(json.dumps({"file": nodeid.split("::")[0], "cpu": round(_cpu_seconds() - start, 3)}) + "\n")


def cpu_by_file(lines, top=12):
    """[(file, CPU seconds)] of the ``top`` files that cost most, and the CPU seconds of all the tests."""
    per_file = Counter()
    for line in lines:
        entry = json.loads(line)
        per_file[entry["file"]] += entry["cpu"]
    return [(name, round(cpu, 1)) for name, cpu in per_file.most_common(top)], round(sum(per_file.values()), 1)
