"""``python -m vae_course bench``: how fast and how good the course's VAE is next to the textbook's recipe.

Three parts (``--only`` picks some, comma-separated; all by default):

``throughput``
    Training samples per second on Fashion-MNIST-shaped inputs (28x28, random grey levels k / 255) for the
    textbook's VAE (``vae_course.vae.textbook``: dense 784-150-100 SELU, latent 10, RMSprop, batch 128, ``fit``)
    and for ``vae_course.make_vae`` with the same architecture and batch size, plain and with each speed
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
``course``
    Wall time of ``pytest`` (the README's test command) and of each ``solutions/*.ipynb`` run by nbclient in a
    fresh subprocess, with each notebook's peak memory (the kernel's maximum RSS from ``getrusage``, and the
    RSS of the whole process tree sampled every 0.1 s from ``/proc``).

Writes everything to ``--out`` (default ``bench-results.json`` in the current folder) and prints a table.
``--quick`` is a smoke run on tiny settings (seconds, not minutes): the numbers mean nothing.
TensorFlow is imported inside ``run``, never at import time.
"""

import argparse
import importlib.metadata
import json
import platform
from datetime import datetime
from pathlib import Path

from ..arguments import positive_float, positive_int, positive_int_list
from .course import measure_course
from .machine import machine_info
from .quality import QUALITY_SECONDS, measure_quality
from .report import format_table
from .throughput import THROUGHPUT_BATCH, measure_process_levers, measure_throughput

PROG = "python -m vae_course bench"
PARTS = ("throughput", "quality", "course")


# ---------------------------------------------------------------------------- arguments


def _parts(text):
    parts = tuple(p.strip() for p in str(text).split(",") if p.strip())
    bad = [p for p in parts if p not in PARTS]
    if not parts or bad:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(PARTS)} (comma-separated), got {text!r}")
    return parts


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("parts, on 2 cores: throughput (about 4 min), quality (about 5 min), course (pytest and every "
                     "notebook, about 8 min)")
    parser.add_argument("--only", type=_parts, default=PARTS, metavar="PART[,PART]",
                        help="run only these parts: throughput, quality, course (default: all)")
    parser.add_argument("--quick", action="store_true", help="a smoke run on tiny settings; the numbers mean nothing")
    parser.add_argument("--out", metavar="FILE", default="bench-results.json",
                        help="where to write the results as JSON (default: %(default)s)")
    parser.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                        help="throughput rounds per contender (default: 5; 1 with --quick)")
    parser.add_argument("--seconds", type=positive_float, default=None, metavar="S",
                        help=f"quality: training budget per run (default: {QUALITY_SECONDS:g}; 1 with --quick)")
    parser.add_argument("--latent-dims", type=positive_int_list, default=None, metavar="K[,K]",
                        help="quality: latent sizes (default: 2,8; 2 with --quick)")
    parser.add_argument("--no-pytest", action="store_true", help="course: time the notebooks only, not pytest")
    parser.add_argument("--notebooks", default=None, metavar="GLOB",
                        help="course: which solution notebooks (default: solutions/*.ipynb)")



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


def run(args):
    quick = bool(args.quick)
    results = {"created": datetime.now().isoformat(timespec="seconds"), "quick": quick, "parts": list(args.only),
               "machine": machine_info(), "versions": {}}
    out = Path(args.out)
    if "throughput" in args.only:
        print("Measuring training throughput ...", flush=True)
        results["throughput"] = measure_throughput(quick=quick, repeats=args.repeats)
        if not quick:
            print("Measuring thread settings and oneDNN in subprocesses ...", flush=True)
            results["throughput"]["process_levers"] = measure_process_levers(THROUGHPUT_BATCH * 80, 3, rounds=3)
        _write(out, results)  # each part is saved as soon as it is done
    if "quality" in args.only:
        print("Measuring quality per second on the digits ...", flush=True)
        results["quality"] = measure_quality(quick=quick, seconds=args.seconds, latent_dims=args.latent_dims)
        _write(out, results)
    if "course" in args.only:
        print("Timing the course's notebooks" + ("" if args.no_pytest or quick else " and pytest") + " ...",
              flush=True)
        results["course"] = measure_course(quick=quick, run_tests=not args.no_pytest, pattern=args.notebooks)
    _write(out, results)
    print()
    print(format_table(results))
    print(f"\nWrote {out}")
    return 0
