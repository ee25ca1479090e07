"""``python -m vae_course bench``: how fast and how good the course's VAE is next to the textbook's recipe.

Five parts (``--only`` picks some, comma-separated; by default all but ``taught``, which ``throughput`` holds):

``throughput``
    Training samples per second on Fashion-MNIST-shaped inputs (28x28, random grey levels k / 255) for the
    textbook's VAE (``vae_course.vae.textbook``: dense 784-150-100 SELU, latent 10, RMSprop, batch 128, ``fit``)
    and for ``vae_course.make_vae`` with the same architecture and batch size, plain (the taught path:
    ``make_vae(...)``, ``compile(optimizer)``, ``fit(x, epochs, batch_size)``, nothing else) and with each speed
    lever (``steps_per_execution``, a ``tf.data`` pipeline, XLA, BCE from logits, the in-graph
    ``recipes.FastTrainer``), all in one process, measured in alternating rounds; the figure is the median.
    Thread settings and oneDNN are process-wide, so they are measured in fresh subprocesses. Also reports
    GFLOP/s of the dense layers (3 x 2 x sum(in x out) per sample) against the CPU's peak from ``lscpu``.
``quality``
    On the 8x8 digits, for a 2-D and an 8-D latent space: seconds of training until the test negative ELBO
    (under the digits' Binomial(16, p) likelihood, ``vae_course.likelihood_for``) reaches 220 nats, and the best
    test negative ELBO within the time budget (60 s), for the textbook
    recipe scaled to 8x8 (dense 64-48-32 SELU, RMSprop, batch 128, the same loss) and for
    ``vae_course.vae.recipes.train_best``. Evaluation time is not counted as training time.
``lessons``
    Each lesson's Run All time over the floor, as a learner first meets it (``lessons.py``): the floor is a
    notebook that only imports ``vae_course`` and ``keras``, run ``--floor-runs`` times spread between the other
    notebooks in the same measurement (its median is the unit; the runs in order show drift). Every notebook of
    ``lessons/`` (as generated: blanks left, so the reference fallbacks run) and of ``solutions/`` runs top to
    bottom in a fresh kernel (nbclient in a subprocess, with its kernel's peak memory), then ``lessons/`` again
    with the trained-model cache the first pass filled (``VAE_COURSE_CACHE``; each pass starts from an empty
    folder). All of it for each core count of ``--cores`` (default: all this process may use, then 1): the child
    is pinned to that many CPUs and gets ``CPU_LIMIT``, as on a one-core Binder pod. The course total is the
    sum of a pass's times over the floor; issue 16 asks for every lesson within 3x the floor (5x on one core) and
    the course within 18x.
``pytest``
    The first ``pytest`` on a fresh clone (``clone.py``): the committed HEAD cloned into a temporary folder and
    tested there (no ``__pycache__`` yet, so bytecode compilation counts), with the clone first on
    ``PYTHONPATH`` so the tests, their subprocesses and the notebook kernels import the clone's package; wall
    time, CPU seconds and pytest's summary line (target: under 3 minutes on 2 cores), and the CPU seconds of the
    costliest test files (``pytest_cpu.py``, a plugin the run loads).
``taught``
    Only the headline of ``throughput``: the textbook against ``make_vae`` + ``compile`` + ``fit`` (a minute).

The summary comes first, in the order issue 16 names its targets: the taught path's ratio (``make_vae(...)`` +
``compile(optimizer)`` + ``fit(x, ...)`` with no extra arguments, against the textbook port, side by side in
one process), each core count's course totals and worst lessons, the fresh-clone pytest. These are benchmarks:
they print measurements against the targets and never fail because a number is slow.

Writes everything to ``--out`` (default ``bench-results.json`` in the current folder) and prints a table.
``--quick`` is a smoke run on tiny settings (seconds, not minutes; ``lessons`` runs a floor without Keras once and
one tiny notebook on the first core count, ``pytest`` is skipped): the numbers mean nothing.
TensorFlow is imported inside ``run``, never at import time.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from ..arguments import positive_float, positive_int, positive_int_list
from .clone import fresh_clone_pytest
from .lessons import PASSES, QUICK_FLOOR_CELLS, cpus_for, measure_lessons, pass_plan, write_notebook
from .machine import machine_info
from .quality import QUALITY_SECONDS, measure_quality
from .report import format_table
from .throughput import TAUGHT_PATH, THROUGHPUT_BATCH, measure_process_levers, measure_throughput

PROG = "python -m vae_course bench"
PARTS = ("throughput", "quality", "lessons", "pytest", "taught")
DEFAULT_PARTS = ("throughput", "quality", "lessons", "pytest")  # taught is a part of throughput
FLOOR_RUNS = 5


# ---------------------------------------------------------------------------- arguments


def _choices(allowed, text):
    """Comma-separated names, each one of ``allowed``; an argparse error naming them otherwise."""
    names = tuple(dict.fromkeys(p.strip() for p in str(text).split(",") if p.strip()))
    bad = [p for p in names if p not in allowed]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(allowed)} (comma-separated), got {text!r}")
    return names


def _parts(text):
    return _choices(PARTS, text)


def _passes(text):
    return _choices(PASSES, text)


def _core_counts(text):
    """Core counts such as ``2,1``, each at most the CPUs this process may run on."""
    counts = positive_int_list(text)
    try:
        for n in counts:
            cpus_for(n)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return tuple(dict.fromkeys(counts))


def default_core_counts():
    """All the cores this process may use, then one (as on Binder); just one on a one-core machine."""
    return tuple(dict.fromkeys((len(os.sched_getaffinity(0)), 1)))


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("parts, on 2 busy cores: throughput (about 4 min), quality (about 5 min), lessons (every lesson "
                     "and solution on 2 cores and on 1: about 50 min), pytest (a fresh clone: about 6 min), taught "
                     "(a minute)")
    parser.add_argument("--only", type=_parts, default=DEFAULT_PARTS, metavar="PART[,PART]",
                        help=f"run only these parts: {', '.join(PARTS)} (default: all but taught, which throughput "
                             "includes)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on tiny settings; the numbers mean nothing")
    parser.add_argument("--out", metavar="FILE", default="bench-results.json",
                        help="where to write the results as JSON (default: %(default)s)")
    parser.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                        help="throughput rounds per contender (default: 5; 1 with --quick)")
    parser.add_argument("--seconds", type=positive_float, default=None, metavar="S",
                        help=f"quality: training budget per run (default: {QUALITY_SECONDS:g}; 1 with --quick)")
    parser.add_argument("--latent-dims", type=positive_int_list, default=None, metavar="K[,K]",
                        help="quality: latent sizes (default: 2,8; 2 with --quick)")
    parser.add_argument("--cores", type=_core_counts, default=None, metavar="N[,N]",
                        help="lessons: core counts to pin the notebooks to, in turn (default: all this process may "
                             "use, then 1)")
    parser.add_argument("--passes", type=_passes, default=PASSES, metavar="PASS[,PASS]",
                        help=f"lessons: which passes, of {', '.join(PASSES)} (default: all; cache-full needs lessons)")
    parser.add_argument("--floor-runs", type=positive_int, default=None, metavar="N",
                        help=f"lessons: runs of the floor notebook per core count (default: {FLOOR_RUNS}; 1 with "
                             "--quick)")
    parser.add_argument("--notebooks", default="*.ipynb", metavar="GLOB",
                        help="lessons: which notebooks of lessons/ and solutions/ (default: %(default)s)")


# ---------------------------------------------------------------------------- running the parts

def _versions():
    versions = {"python": platform.python_version()}
    for name in ("keras", "tensorflow", "numpy"):
        try:  # installed versions, whether or not this run imported the package (``--only course`` does not)
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _write(out, results):
    results["versions"] = _versions()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def _lessons(args, quick, done):
    """The lessons part: the plan (or one tiny notebook with ``--quick``) on each core count."""
    cores = args.cores or default_core_counts()
    floor_runs = args.floor_runs or (1 if quick else FLOOR_RUNS)
    if not quick:
        return measure_lessons(cores, pass_plan(args.passes, args.notebooks), floor_runs, done=done)
    with tempfile.TemporaryDirectory(prefix="vae-bench-quick-") as folder:
        # It writes 100 MB (a bare kernel is about 80), so that the memory columns show they measure the kernel.
        tiny = write_notebook(Path(folder) / "tiny.ipynb", ["x = b'x' * (100 * 2**20)", "print(len(x))"])
        return measure_lessons(cores[:1], [("quick", [tiny], "quick")], floor_runs, floor_cells=QUICK_FLOOR_CELLS,
                               done=done)


def _usage_error(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def run(args):
    quick = bool(args.quick)
    if "lessons" in args.only and not quick:
        try:
            pass_plan(args.passes, args.notebooks)  # a bad selection fails now, not after the other parts
        except ValueError as err:
            return _usage_error(err)
    results = {"created": datetime.now().isoformat(timespec="seconds"), "quick": quick, "parts": list(args.only),
               "machine": machine_info(), "versions": {}}
    out = Path(args.out)
    if "throughput" in args.only or "taught" in args.only:
        print("Measuring training throughput ...", flush=True)
        only = None if "throughput" in args.only else (lambda name: name in ("textbook", TAUGHT_PATH))
        results["throughput"] = measure_throughput(quick=quick, repeats=args.repeats, only=only)
        if not quick and "throughput" in args.only:
            print("Measuring thread settings and oneDNN in subprocesses ...", flush=True)
            results["throughput"]["process_levers"] = measure_process_levers(THROUGHPUT_BATCH * 80, 3, rounds=3)
        _write(out, results)  # each part is saved as soon as it is done
    if "quality" in args.only:
        print("Measuring quality per second on the digits ...", flush=True)
        results["quality"] = measure_quality(quick=quick, seconds=args.seconds, latent_dims=args.latent_dims)
        _write(out, results)
    if "lessons" in args.only:
        print("Timing Run All of every notebook in a fresh kernel, against the import-only floor ...", flush=True)
        def save(lessons):  # after each core count: a long run keeps what it measured
            results["lessons"] = lessons
            _write(out, results)

        _lessons(args, quick, save)
    if "pytest" in args.only:
        if quick:
            print("Skipping the fresh-clone pytest (--quick).", flush=True)
        else:
            print("Timing the first pytest on a fresh clone ...", flush=True)
            results["pytest"] = fresh_clone_pytest()
    _write(out, results)
    print()
    print(format_table(results))
    print(f"\nWrote {out}")
    return 0
