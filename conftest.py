"""Repository-wide pytest set-up.

- Finds nbval's sanitize file from any folder.
- Runs the suite on min(2, CPU cores) pytest-xdist workers, one file at a time per worker (a notebook's cells
  must share one kernel), the longest files first so both workers finish together. See CONTRIBUTING.md.
- Runs the notebooks with the model cache (``vae_course.fit_cached``) in a temporary folder: empty for every
  notebook but lesson 08, whose cache holds lesson 07's model before its kernel starts, so nbval proves both.
  Lesson 07's nbval run fills that folder; lesson 08 trains the model itself only when lesson 07 did not.
- Measures each solution notebook's peak memory during its nbval run (the kernel's VmHWM) and fails the
  notebook's last cell above the limit: Binder gives a course 2 GB, so we keep every notebook under 1.5 GB.
- Skips the classroom tests (marker ``classroom``: the grader's and nbgrader's classes of kernels, the JupyterHub
  with Unix accounts) unless ``-m`` names one of their markers or the command line names their file: they test
  running a class, not the course, and the hub makes Unix accounts, which nobody should get unasked. ``.ci/run``
  runs ``pytest -m classroom`` after ``pytest``.
"""

import fcntl
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NOTEBOOK_PEAK_LIMIT_MB = float(os.environ.get("VAE_COURSE_NOTEBOOK_LIMIT_MB", 1536))
_PEAKS = {}
_SUMMARIES = {}


def pytest_configure(config):
    opt = config.option
    path = getattr(opt, "nbval_sanitize_with", None)
    if path and not Path(path).is_absolute():
        opt.nbval_sanitize_with = str(config.rootpath / path)
    if not hasattr(config, "workerinput") and "VAE_COURSE_TEST_CACHES" not in os.environ:
        os.environ["VAE_COURSE_TEST_CACHES"] = tempfile.mkdtemp(prefix="vae-course-caches-")  # workers inherit it
        config._vae_course_caches = os.environ["VAE_COURSE_TEST_CACHES"]
        # Unit tests that train through fit_cached (further.train_vae, ...) use a cache of this run, never the
        # user's ~/.cache: a model stored by one run would otherwise be loaded, not trained, by the next.
        config._vae_course_cache_before = os.environ.get("VAE_COURSE_CACHE")
        os.environ["VAE_COURSE_CACHE"] = str(Path(os.environ["VAE_COURSE_TEST_CACHES"], "unit-tests"))


def pytest_unconfigure(config):
    folder = getattr(config, "_vae_course_caches", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("VAE_COURSE_TEST_CACHES", None)
        before = config._vae_course_cache_before
        if before is None:
            os.environ.pop("VAE_COURSE_CACHE", None)
        else:
            os.environ["VAE_COURSE_CACHE"] = before


# ---- the model cache under nbval ---------------------------------------------------------------------------

FULL_CACHE_NOTEBOOKS = ("08-exploring-the-latent-space.ipynb",)  # lesson 07's model is in the cache already
FILLING_NOTEBOOK = "07-the-complete-vae.ipynb"  # trains and caches that model (cache=True) from an empty cache


def _full_cache(root):
    return Path(root, "full")


def _filled_marker(folder):
    """The file whose presence says ``folder`` holds lesson 07's model and nothing writes to it any more."""
    return Path(folder, "filled")


def _locked(folder):
    """An open lock file of ``folder``, held (blocking) until it is closed: one notebook or worker fills it."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(Path(folder, "lock"), "w")  # noqa: SIM115  (closed by the caller, which releases the lock)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _fill_with_lesson_07_model(folder):
    """Train lesson 07's make_vae into ``folder`` as lesson 07 does (``cache --fill``'s part), unless lesson 07's
    notebook or another worker did. Waits while lesson 07's notebook is filling it on the other worker."""
    with _locked(folder):
        marker = _filled_marker(folder)
        if marker.exists():
            return
        os.environ["VAE_COURSE_CACHE"] = str(folder)
        import vae_course
        from vae_course.tools.cache_command import fill_lesson_07

        (x_train, _), _ = vae_course.load_dataset()
        fill_lesson_07(x_train)
        marker.touch()


def _cache_of_lesson_07(notebook, root):
    """Lesson 07 runs on the empty full-cache folder, holding its lock until its last cell (``_end_of_lesson_07``),
    so its own training fills the cache for lesson 08; if the folder is filled already, on an empty one of its own."""
    lock = _locked(_full_cache(root))
    if _filled_marker(_full_cache(root)).exists():
        lock.close()
        return Path(root, f"{notebook.path.parent.name}-{notebook.path.stem}")
    notebook._vae_course_filling = lock
    return _full_cache(root)


def _end_of_lesson_07(notebook):
    """After lesson 07's last cell: the folder counts as filled if its model is there; the lock is released."""
    lock = getattr(notebook, "_vae_course_filling", None)
    if lock is None:
        return
    folder = Path(lock.name).parent
    if any(Path(folder, "models").glob("*.weights.h5")):  # fit_cached's entry (cache_store): the model is there
        _filled_marker(folder).touch()
    lock.close()
    notebook._vae_course_filling = None


@pytest.fixture
def lesson_07_cache():
    """This run's cache folder holding lesson 07's model once lesson 07's notebook (or ``_fill_with_lesson_07_model``)
    has stored it, else None: for a test that opens lesson 08 as a learner who has done lesson 07 (the browser test).
    Nothing writes to the folder once it counts as filled."""
    root = os.environ.get("VAE_COURSE_TEST_CACHES")
    if root and _filled_marker(_full_cache(root)).exists():
        return _full_cache(root)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """While a notebook's kernel starts (with its first cell), VAE_COURSE_CACHE names its cache; then it is restored."""
    notebook = getattr(item, "parent", None)
    root = os.environ.get("VAE_COURSE_TEST_CACHES")
    if type(notebook).__name__ != "IPyNbFile" or not root or getattr(notebook, "kernel", None) is not None:
        yield
        return
    before = os.environ.get("VAE_COURSE_CACHE")
    try:
        if notebook.path.name in FULL_CACHE_NOTEBOOKS:
            folder = _full_cache(root)
            _fill_with_lesson_07_model(folder)
        elif notebook.path.name == FILLING_NOTEBOOK:
            folder = _cache_of_lesson_07(notebook, root)
        else:
            folder = Path(root, f"{notebook.path.parent.name}-{notebook.path.stem}")
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["VAE_COURSE_CACHE"] = str(folder)
        yield
    finally:
        if before is None:
            os.environ.pop("VAE_COURSE_CACHE", None)
        else:
            os.environ["VAE_COURSE_CACHE"] = before


# ---- opt-in tests ------------------------------------------------------------------------------------------

OPT_IN = {  # marker: why a plain `pytest` skips the tests that carry it
    "classroom": "a classroom test (a class graded in kernels of its own, nbgrader's autograder, or a JupyterHub "
                 "with Unix accounts) runs only when asked for: `pytest -m classroom` (or -m hub, -m kernels, or "
                 "name its file); .ci/run runs them after `pytest`",
}


def named_in_selection(markexpr, marker):
    """True when the ``-m`` expression mentions ``marker`` (``-m hub``, ``-m "hub or browser"``; ``-m "not hub"``
    deselects the tests anyway)."""
    return marker in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", markexpr or "")


def named_files(config):
    """The files named on the command line (``pytest tests/test_hub.py``, ``...::test_x``), resolved."""
    return {Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args}


def skip_unless_asked(config, items):
    """Skip the tests of each OPT_IN marker unless ``-m`` names one of their markers or the command line names
    their file, saying why and how to run them."""
    files = named_files(config)
    for marker, why in OPT_IN.items():
        skip = pytest.mark.skip(reason=why)
        for item in items:
            if not item.get_closest_marker(marker) or item.path.resolve() in files:
                continue
            if not any(named_in_selection(config.option.markexpr, mark.name) for mark in item.iter_markers()):
                item.add_marker(skip)


# ---- parallel runs (pytest-xdist) -------------------------------------------------------------------------

MAX_WORKERS = 2  # TensorFlow already spreads one process over every core: more workers only add memory


def default_workers():
    """Workers for a plain `pytest` (and for `-n auto`): min(2, usable cores); PYTEST_XDIST_AUTO_NUM_WORKERS wins."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").isdigit():
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(MAX_WORKERS, cores)


def _worth_distributing(config):
    """False for debugging runs (--pdb, --trace, -s, --collect-only) and for a selection inside one file."""
    opt = config.option
    if opt.collectonly or opt.usepdb or getattr(opt, "trace", False) or opt.capture == "no":
        return False
    files = named_files(config)
    return len(files) != 1 or not next(iter(files)).is_file()


@pytest.hookimpl(tryfirst=True)  # before xdist's own pytest_cmdline_main reads the options
def pytest_cmdline_main(config):
    opt = config.option
    if not hasattr(opt, "numprocesses") or hasattr(config, "workerinput"):  # -p no:xdist, or inside a worker
        return
    if opt.numprocesses is None and _worth_distributing(config):
        workers = default_workers()
        if workers > 1:
            opt.numprocesses = workers
    if opt.numprocesses and opt.dist == "no":  # no --dist given: never "load", which splits a notebook
        opt.dist = "loadfile"
        opt.loadscopereorder = False  # keep our order (below) instead of "most tests first"


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: unknown under -p no:xdist
def pytest_xdist_auto_num_workers(config):
    return default_workers()


# Wall seconds of the longest unit-test files in the first pytest on a fresh clone (2026-12-06, docs/benchmark.md,
# "Fifth round"). They run first of the unit tests, longest first, so that the many short files even out the two
# workers' ends. A file missing here runs after them; a stale number costs only balance.
UNIT_FILE_SECONDS = {"test_bench.py": 20, "test_fast_path.py": 19, "test_cli.py": 13, "test_resume.py": 10,
                     "test_cache.py": 8, "test_flows.py": 7, "test_properties.py": 7, "test_threads.py": 6}


def _recorded_seconds(item):
    """How long a notebook cell took when its outputs were stored (nbclient records it), 0 if unknown."""
    times = getattr(getattr(item, "cell", None), "metadata", {}).get("execution", {})
    try:
        start, end = (datetime.fromisoformat(times[key].replace("Z", "+00:00"))
                      for key in ("iopub.execute_input", "shell.execute_reply"))
    except (KeyError, ValueError, AttributeError):
        return 0.0
    return max(0.0, (end - start).total_seconds())


def pytest_collection_modifyitems(config, items):
    """On xdist workers, order the files longest first, as the workers take them: the browser test and the hub
    test (one to two minutes each; each worker takes one of them first), then the files marked `kernels`
    (the grader's and nbgrader's tests start their own kernels), then the notebooks: lesson 07 first (its model is
    in the cache by the time the browser test opens lesson 08), the others by the run time recorded when their
    outputs were stored, lesson 08 last (by then lesson 07 has filled its cache), then the unit test files, the
    longest (``UNIT_FILE_SECONDS``) first, so that the many short ones even out the end. The order inside a file
    is kept.
    Everywhere (workers or not): the opt-in tests are skipped unless asked for (``skip_unless_asked``)."""
    skip_unless_asked(config, items)
    if not hasattr(config, "workerinput"):
        return
    browser = {item.path for item in items  # the hub test only when asked for (else it is skipped: nothing to run)
               if item.get_closest_marker("browser") or (item.get_closest_marker("hub")
                                                         and not item.get_closest_marker("skip"))}
    notebook_seconds = {}
    for item in items:
        if item.path.suffix == ".ipynb":
            notebook_seconds[item.path] = notebook_seconds.get(item.path, 0.0) + _recorded_seconds(item)

    def rank(item):
        if item.path in browser:
            return (0, False, False, 0.0)
        if item.get_closest_marker("kernels"):
            return (1, False, False, 0.0)
        if item.path in notebook_seconds:
            name = item.path.name
            return (2, name in FULL_CACHE_NOTEBOOKS, name != FILLING_NOTEBOOK, -notebook_seconds[item.path])
        return (3, False, False, -UNIT_FILE_SECONDS.get(item.path.name, 0))

    items.sort(key=rank)  # stable: every worker computes the same order, as xdist requires


def kernel_peak_mb(kernel):
    """Peak resident memory (VmHWM) of an nbval kernel's process in MB, or None where /proc cannot tell."""
    provisioner = getattr(getattr(kernel, "km", None), "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, TypeError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def pytest_runtest_teardown(item, nextitem):
    notebook = getattr(item, "parent", None)
    if type(notebook).__name__ != "IPyNbFile" or getattr(nextitem, "parent", None) is notebook:
        return
    _end_of_lesson_07(notebook)
    peak = kernel_peak_mb(getattr(notebook, "kernel", None))
    if peak is None:
        return
    item.user_properties.append(("notebook_peak_mb", (notebook.path.name, peak)))  # reaches the report, xdist too
    if peak > NOTEBOOK_PEAK_LIMIT_MB:
        pytest.fail(f"{notebook.path.name} peaked at {peak:.0f} MB, over the {NOTEBOOK_PEAK_LIMIT_MB:.0f} MB kept "
                    "for Binder's 2 GB limit", pytrace=False)


def pytest_runtest_logreport(report):
    """Collect what tests leave for the end of the run in ``user_properties`` (xdist sends those to the controller):
    ("notebook_peak_mb", (name, MB)) and ("summary", (section title, [lines]))."""
    if report.when == "teardown":
        for key, value in report.user_properties:
            if key == "notebook_peak_mb":
                name, peak = value
                _PEAKS[name] = peak
            elif key == "summary":
                section, lines = value
                _SUMMARIES.setdefault(section, []).extend(lines)


def pytest_terminal_summary(terminalreporter):
    for section, lines in _SUMMARIES.items():
        terminalreporter.section(section)
        for line in lines:
            terminalreporter.write_line(line)
    if _PEAKS:
        terminalreporter.section("notebook peak memory (kernel VmHWM)")
        for name, peak in sorted(_PEAKS.items()):
            terminalreporter.write_line(f"{peak:7.0f} MB  {name}")
