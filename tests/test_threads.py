"""TensorFlow's thread pools follow the container's CPU limit (vae_course/_threads.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vae_course import _threads

ROOT = Path(__file__).resolve().parents[1]
BAD_LIMITS = ["abc", "0", "-1", "max", "", "nan", "inf"]


@pytest.mark.parametrize(("text", "cpus"), [("1", 1.0), ("0.5", 0.5), ("2.0", 2.0)])
def test_cpu_limit_values(text, cpus):
    assert _threads.parse_cpu_limit(text) == cpus


@pytest.mark.parametrize("text", [*BAD_LIMITS, None])
def test_bad_cpu_limit_is_ignored(text):
    assert _threads.parse_cpu_limit(text) is None


@pytest.mark.parametrize(("text", "cpus"), [("100000 100000\n", 1.0), ("50000 100000", 0.5), ("250000 100000", 2.5)])
def test_cpu_max_values(text, cpus):
    assert _threads.parse_cpu_max(text) == cpus


@pytest.mark.parametrize("text", ["max 100000", "abc", "0 100000", "100000 0", "-5 100000", "", "1 2 3"])
def test_cpu_max_without_a_quota_is_ignored(text):
    assert _threads.parse_cpu_max(text) is None


def test_missing_or_binary_cpu_max_file_is_ignored(tmp_path):
    assert _threads.read_cpu_max(tmp_path / "absent") is None
    (tmp_path / "cpu.max").write_bytes(b"\xff\xfe")
    assert _threads.read_cpu_max(tmp_path / "cpu.max") is None


def test_cpu_limit_wins_over_cpu_max(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("300000 100000\n")
    assert _threads.cpu_limit({"CPU_LIMIT": "1"}, cpu_max) == 1.0
    assert _threads.cpu_limit({"CPU_LIMIT": "abc"}, cpu_max) == 3.0
    assert _threads.cpu_limit({}, tmp_path / "absent") is None


@pytest.mark.parametrize(("limit", "cores", "threads"), [(1.0, 2, 1), (0.5, 8, 1), (1.5, 4, 2), (2.0, 2, None),
                                                         (16.0, 4, None), (None, 4, None)])
def test_thread_count(limit, cores, threads):
    assert _threads.thread_count(limit, cores) == threads


def test_size_tensorflow_threads_keeps_what_the_user_set(tmp_path):
    environ = {"CPU_LIMIT": "1", "TF_NUM_INTRAOP_THREADS": "3"}
    assert _threads.size_tensorflow_threads(environ, tmp_path / "absent", cores=4) == 1
    assert environ["TF_NUM_INTRAOP_THREADS"] == "3"
    assert environ["TF_NUM_INTEROP_THREADS"] == "1"


def run_python(code, tmp_path, **variables):
    """Run code in a fresh Python that imports this checkout, with variables set and no real cgroup read."""
    env = {k: v for k, v in os.environ.items() if k not in ("CPU_LIMIT", *_threads.THREAD_VARIABLES)}
    env.update(PYTHONPATH=str(ROOT), VAE_COURSE_CPU_MAX=str(tmp_path / "absent"), TF_CPP_MIN_LOG_LEVEL="3")
    env.update(variables)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


IMPORT_AND_SHOW = (
    "import json, os, vae_course; "
    "print(json.dumps([os.environ.get(name) for name in vae_course._threads.THREAD_VARIABLES]))"
)

needs_two_cores = pytest.mark.skipif(_threads.available_cores() < 2, reason="a 1-CPU limit binds only on 2+ cores")


@needs_two_cores
def test_importing_the_package_sizes_threads_from_cpu_limit(tmp_path):
    assert json.loads(run_python(IMPORT_AND_SHOW, tmp_path, CPU_LIMIT="1")) == ["1", "1"]


@needs_two_cores
def test_importing_the_package_sizes_threads_from_a_cpu_max_file(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    shown = run_python(IMPORT_AND_SHOW, tmp_path, VAE_COURSE_CPU_MAX=str(tmp_path / "cpu.max"))
    assert json.loads(shown) == ["1", "1"]


@pytest.mark.parametrize("bad", BAD_LIMITS)
def test_bad_limits_leave_tensorflow_alone(tmp_path, bad):
    (tmp_path / "cpu.max").write_text(f"{bad} 100000\n")
    shown = run_python(IMPORT_AND_SHOW, tmp_path, CPU_LIMIT=bad, VAE_COURSE_CPU_MAX=str(tmp_path / "cpu.max"))
    assert json.loads(shown) == [None, None]


@needs_two_cores
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads through Linux's /proc")
def test_tensorflow_starts_one_inter_op_thread_under_a_1_cpu_limit(tmp_path):
    """TensorFlow names its inter-op pool's threads tf_Compute; by default it starts one per core."""
    code = (
        "import os, vae_course, tensorflow as tf; "
        "tf.matmul(tf.ones((64, 64)), tf.ones((64, 64))).numpy(); "
        "names = [open(f'/proc/self/task/{t}/comm').read().strip() for t in os.listdir('/proc/self/task')]; "
        "print(names.count('tf_Compute'))"
    )
    assert run_python(code, tmp_path, CPU_LIMIT="1").split()[-1] == "1"
