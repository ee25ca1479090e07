"""Size TensorFlow's thread pools from the container's CPU limit, before TensorFlow starts them.

A Binder pod may use 1 CPU, yet TensorFlow starts one thread per core of the whole node, and the threads
then queue for that one CPU. The limit comes from ``CPU_LIMIT`` (JupyterHub's spawners export it), else from
the cgroup v2 file ``cpu.max`` (quota and period). With neither, or a value that makes no sense, TensorFlow is
left alone; so are thread counts the user already set in ``TF_NUM_INTRAOP_THREADS`` or
``TF_NUM_INTEROP_THREADS``. ``VAE_COURSE_CPU_MAX`` names another ``cpu.max`` file (another mount, or tests).
"""

import math
import os

CPU_MAX = "/sys/fs/cgroup/cpu.max"
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def parse_cpu_limit(text):
    """CPUs as a positive finite float from a CPU_LIMIT value such as "1" or "0.5", else None."""
    try:
        cpus = float(text)
    except (TypeError, ValueError):
        return None
    return cpus if math.isfinite(cpus) and cpus > 0 else None


def parse_cpu_max(text):
    """CPUs from a cgroup v2 cpu.max line "QUOTA PERIOD" (e.g. "100000 100000"); None for "max" or junk."""
    parts = text.split()
    if len(parts) != 2:
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None  # "max 100000": no quota
    return quota / period if quota > 0 and period > 0 else None


def read_cpu_max(path):
    """CPUs from the cpu.max file at path, or None if it is missing, unreadable or says no limit."""
    try:
        with open(path, encoding="ascii") as f:
            return parse_cpu_max(f.read())
    except (OSError, UnicodeDecodeError):
        return None


def cpu_limit(environ, cpu_max=None):
    """The CPU limit from CPU_LIMIT, else from the cpu.max file, else None."""
    from_env = parse_cpu_limit(environ.get("CPU_LIMIT"))
    if from_env is not None:
        return from_env
    return read_cpu_max(cpu_max or environ.get("VAE_COURSE_CPU_MAX") or CPU_MAX)


def available_cores():
    """Cores this process may run on (its affinity mask, which a CPU quota does not shrink)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_count(limit, cores):
    """Threads per pool for a CPU limit: the limit rounded up, or None if the limit does not bind."""
    if limit is None:
        return None
    threads = max(1, math.ceil(limit))
    return threads if threads < cores else None


def size_tensorflow_threads(environ=os.environ, cpu_max=None, cores=None):
    """Set TensorFlow's thread-count variables in environ from the CPU limit; return the count or None."""
    threads = thread_count(cpu_limit(environ, cpu_max), cores or available_cores())
    if threads is not None:
        for name in THREAD_VARIABLES:
            environ.setdefault(name, str(threads))
    return threads
