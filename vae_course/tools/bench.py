"""``python -m vae_course bench``: how fast and how good the course's VAE is next to the textbook's recipe.

Three parts (``--only`` picks some, comma-separated; all by default):

``throughput``
    Training samples per second on Fashion-MNIST-shaped inputs (28x28, random pixels in [0, 1]) for the
    textbook's VAE (``vae_course.textbook``: dense 784-150-100 SELU, latent 10, RMSprop, batch 128, ``fit``)
    and for ``vae_course.make_vae`` with the same architecture and batch size, plain and with each speed
    lever (``steps_per_execution``, a ``tf.data`` pipeline, XLA, BCE from logits, the in-graph
    ``recipes.FastTrainer``), all in one process, measured in alternating rounds; the figure is the median.
    Thread settings and oneDNN are process-wide, so they are measured in fresh subprocesses. Also reports
    GFLOP/s of the dense layers (3 x 2 x sum(in x out) per sample) against the CPU's peak from ``lscpu``.
``quality``
    On the 8x8 digits, for a 2-D and an 8-D latent space: seconds of training until the test negative ELBO
    reaches 25.7 nats, and the best test negative ELBO within the time budget (60 s), for the textbook
    recipe scaled to 8x8 (dense 64-48-32 SELU, RMSprop, batch 128, the same loss) and for
    ``vae_course.recipes.train_best``. Evaluation time is not counted as training time.
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
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from .._paths import REPOSITORY
from .arguments import positive_float, positive_int, positive_int_list

PROG = "python -m vae_course bench"
PARTS = ("throughput", "quality", "course")

THROUGHPUT_SHAPE = (28, 28)
THROUGHPUT_HIDDEN = (150, 100)
THROUGHPUT_LATENT = 10
THROUGHPUT_BATCH = 128
TARGET_NATS = 25.7
QUALITY_SECONDS = 60.0
QUALITY_LATENT_DIMS = (2, 8)
FMA_UNITS_ASSUMED = 2  # per core; true for Xeon Scalable Gold/Platinum since Skylake-SP (2 x 512-bit FMA)


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


# ---------------------------------------------------------------------------- the machine


def lscpu():
    """``lscpu``'s fields as a dict (empty where it is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _cpuinfo_mhz():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except (OSError, ValueError):
        pass
    return None


def machine_info(fields=None):
    """Model name, cores, clock and the float32 peak: cores x GHz x FLOPs per cycle per core.

    FLOPs per cycle per core = FMA units x float32 lanes x 2; the lanes come from the flags (AVX-512: 16,
    AVX2: 8, else SSE: 4) and the FMA units are *assumed* to be 2 (``FMA_UNITS_ASSUMED``), which is what
    server Xeons since Skylake-SP have; ``lscpu`` cannot tell.
    """
    fields = lscpu() if fields is None else fields
    flags = set(fields.get("Flags", "").split())
    cores = int(fields.get("CPU(s)") or os.cpu_count() or 1)
    mhz = None
    for key in ("CPU max MHz", "CPU MHz"):
        try:
            mhz = float(fields[key])
            break
        except (KeyError, ValueError):
            pass
    if mhz is None:
        mhz = _cpuinfo_mhz()
    if "avx512f" in flags:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flags:
        lanes, isa = 8, "AVX2"
    else:
        lanes, isa = 4, "SSE"
    fma = FMA_UNITS_ASSUMED if "fma" in flags or "avx512f" in flags else 1
    per_cycle = fma * lanes * 2
    peak = cores * (mhz or 0) / 1000 * per_cycle if mhz else None
    return {
        "model_name": fields.get("Model name") or platform.processor() or "unknown",
        "cores": cores,
        "threads_per_core": int(fields.get("Thread(s) per core") or 1),
        "mhz": mhz,
        "isa": isa,
        "flops_per_cycle_per_core": per_cycle,
        "peak_gflops": round(peak, 1) if peak else None,
        "peak_assumption": (f"{cores} cores x {mhz / 1000 if mhz else float('nan'):.2f} GHz x {per_cycle} FLOP/cycle "
                            f"({fma} FMA units assumed x {lanes} float32 lanes ({isa}) x 2 FLOPs per FMA)"),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def dense_flops_per_sample(*models):
    """Training FLOPs per example of the dense layers: 3 (forward + backward) x 2 (multiply + add) x sum(in x out).

    Each ``Dense`` kernel counts once, even if several of ``models`` share it; biases, activations and the
    loss are left out (they are small next to the matrix products).
    """
    seen, macs = set(), 0

    def walk(layer):
        nonlocal macs
        kernel = getattr(layer, "kernel", None)
        if type(layer).__name__ == "Dense" and kernel is not None:
            if id(layer) not in seen:
                seen.add(id(layer))
                macs += math.prod(int(d) for d in kernel.shape)
            return
        for sub in getattr(layer, "layers", []) or []:
            walk(sub)

    for model in models:
        walk(model)
    return 6 * macs


# ---------------------------------------------------------------------------- throughput


def _median(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else None


def _rounds(contenders, repeats):
    """Time each contender's ``run()`` once per round, rotating the order; returns seconds per contender."""
    names = list(contenders)
    seconds = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            contenders[name]["run"]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


QUICK_CONTENDERS = ("textbook", "make_vae", "FastTrainer (in-graph loop, fused Adam)")


def _in_probe(name):
    """The contenders measured under each thread setting: the baseline, fit's fastest setting, FastTrainer."""
    return name == "textbook" or name == QUICK_CONTENDERS[2] or (
        name.startswith("make_vae + steps_per_execution=") and name.endswith(" + XLA"))


def _throughput_contenders(x, quick, only=None):
    """name -> {"run": trains len(x) samples, "lever": what changed, "models": for FLOP counting}.

    ``quick`` keeps the three of ``QUICK_CONTENDERS``; ``only(name)`` keeps those it accepts.
    """
    import keras
    import tensorflow as tf

    from ..vae.model import make_vae
    from ..vae.recipes import FastTrainer
    from ..vae.textbook import make_textbook_vae

    batch = THROUGHPUT_BATCH
    steps = len(x) // batch
    spe = min(32, steps)
    contenders = {}
    wanted = only or ((lambda name: name in QUICK_CONTENDERS) if quick else (lambda name: True))

    def textbook(name, lever, **options):
        if not wanted(name):
            return
        from_logits = options.pop("from_logits", False)
        tb = make_textbook_vae(THROUGHPUT_SHAPE, THROUGHPUT_LATENT, THROUGHPUT_HIDDEN, seed=0, from_logits=from_logits)
        tb.compile(**options)
        contenders[name] = {"run": lambda: tb.fit(x, epochs=1, batch_size=batch, shuffle=True),
                            "lever": lever, "models": (tb.encoder, tb.decoder)}

    def course(name, lever, optimizer="adam", data="numpy", **options):
        if not wanted(name):
            return
        vae = make_vae(THROUGHPUT_SHAPE, THROUGHPUT_LATENT, THROUGHPUT_HIDDEN, activation="selu", seed=0)
        opt = keras.optimizers.RMSprop() if optimizer == "rmsprop" else keras.optimizers.Adam(1e-3)
        vae.compile(optimizer=opt, **options)
        if data == "tf.data":
            dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).batch(batch)
            dataset = dataset.prefetch(tf.data.AUTOTUNE)
            run = lambda: vae.fit(dataset, epochs=1, shuffle=False, verbose=0)  # noqa: E731  (shuffled by the dataset)
        else:
            run = lambda: vae.fit(x, epochs=1, batch_size=batch, shuffle=True, verbose=0)  # noqa: E731
        contenders[name] = {"run": run, "lever": lever, "models": (vae.encoder, vae.decoder)}

    def fast(name, lever, jit_compile):
        if not wanted(name):
            return
        vae = make_vae(THROUGHPUT_SHAPE, THROUGHPUT_LATENT, THROUGHPUT_HIDDEN, activation="selu", seed=0)
        trainer = FastTrainer(vae, x, batch_size=batch, learning_rate=1e-3, total_steps=10**9,
                              jit_compile=jit_compile)
        contenders[name] = {"run": lambda: trainer.run(1), "lever": lever, "models": (vae.encoder, vae.decoder)}

    textbook("textbook", "baseline: the book's recipe ported to Keras 3 (RMSprop, fit, mean BCE from probabilities)")
    course("make_vae", "the course's VAE as documented: compile(Adam), fit on NumPy arrays")
    course(f"make_vae + steps_per_execution={spe} + XLA", "the two levers together", steps_per_execution=spe,
           jit_compile=True)
    fast("FastTrainer (in-graph loop, fused Adam)", "recipes.FastTrainer: epochs and batches inside one graph",
         jit_compile=False)
    textbook("textbook, BCE from logits", "loss lever: the same mean BCE computed from logits (no clipping)",
             from_logits=True)
    textbook(f"textbook + steps_per_execution={spe}", "the baseline with several steps per execution",
             steps_per_execution=spe)
    course("make_vae, RMSprop", "optimizer: the baseline's RMSprop instead of Adam", optimizer="rmsprop")
    for n in sorted({4, spe}):
        course(f"make_vae + steps_per_execution={n}", f"{n} training steps per call into the graph",
               steps_per_execution=n)
    course("make_vae + tf.data", "input pipeline: shuffled, batched, prefetched tf.data.Dataset", data="tf.data")
    course(f"make_vae + steps_per_execution={spe} + tf.data", "tf.data with several steps per execution",
           data="tf.data", steps_per_execution=spe)
    course("make_vae + XLA", "jit_compile=True (XLA fuses the ops of a step)", jit_compile=True)
    course(f"make_vae, RMSprop + steps_per_execution={spe} + XLA", "both levers, with the baseline's optimizer",
           optimizer="rmsprop", steps_per_execution=spe, jit_compile=True)
    fast("FastTrainer + XLA", "recipes.FastTrainer compiled with XLA", jit_compile=True)
    return contenders


def measure_throughput(quick=False, repeats=None, samples=None, seed=0):
    """Samples/s of every contender, medians over alternating rounds, ratios to the textbook's."""
    import numpy as np

    repeats = repeats or (1 if quick else 5)
    samples = samples or (THROUGHPUT_BATCH * (4 if quick else 160))
    x = np.random.default_rng(seed).random((samples,) + THROUGHPUT_SHAPE, dtype=np.float32)
    contenders = _throughput_contenders(x, quick)
    build_seconds = {}
    for name, c in contenders.items():  # first call builds the graph; not measured
        start = time.perf_counter()
        c["run"]()
        build_seconds[name] = time.perf_counter() - start
    seconds = _rounds(contenders, repeats)
    machine = machine_info()
    flops = dense_flops_per_sample(*contenders["textbook"]["models"])
    base = seconds["textbook"]
    reference = seconds["make_vae"]
    rows = []
    for name, c in contenders.items():
        rates = [samples / s for s in seconds[name]]
        sps = _median(rates)
        gflops = sps * flops / 1e9
        rows.append({
            "name": name,
            "lever": c["lever"],
            "samples_per_second": round(sps, 1),
            "ratio_vs_textbook": round(_median([b / s for b, s in zip(base, seconds[name])]), 3),
            "ratio_vs_make_vae": round(_median([r / s for r, s in zip(reference, seconds[name])]), 3),
            "gflops": round(gflops, 2),
            "fraction_of_peak": round(gflops / machine["peak_gflops"], 4) if machine["peak_gflops"] else None,
            "first_call_seconds": round(build_seconds[name], 3),
            "runs_samples_per_second": [round(r, 1) for r in rates],
            "flops_per_sample": dense_flops_per_sample(*c["models"]),
        })
    best = max((r for r in rows if r["name"] != "textbook"), key=lambda r: r["ratio_vs_textbook"])
    return {
        "input_shape": list(THROUGHPUT_SHAPE),
        "hidden": list(THROUGHPUT_HIDDEN),
        "latent_dim": THROUGHPUT_LATENT,
        "batch_size": THROUGHPUT_BATCH,
        "samples_per_measurement": samples,
        "repeats": repeats,
        "flops_per_sample": flops,
        "flop_count": ("3 x 2 x sum(in x out) over the Dense kernels (forward + backward); biases and activations "
                       "left out"),
        "peak_gflops": machine["peak_gflops"],
        "rows": rows,
        "best": best["name"],
        "best_ratio_vs_textbook": best["ratio_vs_textbook"],
    }


# -- process-wide levers, one fresh subprocess per setting

THREAD_SETTINGS = (
    ("default", {}),
    ("intra 1, inter 1", {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}),
    ("intra 2, inter 1", {"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1"}),
    ("intra 1, inter 2", {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "2"}),
    ("oneDNN off", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
)


def probe(samples, repeats):
    """In a fresh process (thread settings are process-wide): samples/s of the contenders ``_in_probe`` keeps."""
    import numpy as np
    import tensorflow as tf

    intra = int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))
    inter = int(os.environ.get("TF_NUM_INTEROP_THREADS", "0"))
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    x = np.random.default_rng(0).random((samples,) + THROUGHPUT_SHAPE, dtype=np.float32)
    contenders = _throughput_contenders(x, quick=False, only=_in_probe)
    for c in contenders.values():
        c["run"]()
    seconds = _rounds(contenders, repeats)
    return {name: _median([samples / s for s in times]) for name, times in seconds.items()}


def measure_process_levers(samples, repeats, rounds=2):
    """Each process-wide setting in its own subprocess, alternating settings over ``rounds``; medians."""
    code = ("import json, sys; from vae_course.tools.bench import probe; "
            "print('PROBE ' + json.dumps(probe(int(sys.argv[1]), int(sys.argv[2]))))")
    results = {name: [] for name, _ in THREAD_SETTINGS}
    for _ in range(rounds):
        for name, env in THREAD_SETTINGS:
            proc = subprocess.run([sys.executable, "-c", code, str(samples), str(repeats)],
                                  env={**os.environ, **env}, capture_output=True, text=True, timeout=900)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE ")]
            if proc.returncode == 0 and line:
                results[name].append(json.loads(line[-1][6:]))
    rows = []
    default = results["default"]
    for name, env in THREAD_SETTINGS:
        runs = results[name]
        if not runs:
            rows.append({"setting": name, "env": env, "error": "the probe failed"})
            continue
        contenders = sorted(runs[0])
        row = {"setting": name, "env": env}
        for c in contenders:
            sps = _median([r[c] for r in runs])
            ref = _median([r[c] for r in default]) if default else None
            row[c] = {"samples_per_second": round(sps, 1), "ratio_vs_default": round(sps / ref, 3) if ref else None}
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------- quality


def _evaluation_due(epoch):
    """Epochs after which the textbook run is evaluated: each of the first 100, then every 10th."""
    return epoch <= 100 or epoch % 10 == 0


def _summarise(curve, target, budget):
    """Seconds to reach ``target`` and the best test value within ``budget`` from a [(seconds, epoch, nats)] curve."""
    within = curve  # the run stops at the first checkpoint past the budget: it overshoots by one chunk at most
    reached = next((p for p in curve if p[2] <= target), None)
    best = min(within, key=lambda p: p[2]) if within else None
    return {
        "seconds_to_target": round(reached[0], 3) if reached else None,
        "epochs_to_target": reached[1] if reached else None,
        "best_nats": round(best[2], 3) if best else None,
        "best_at_seconds": round(best[0], 3) if best else None,
        "best_at_epoch": best[1] if best else None,
    }


def run_textbook_quality(x_train, x_test, latent_dim, seconds, seed=0):
    """Fit the digits-scaled textbook recipe for ``seconds`` of training; test negative ELBO along the way."""
    import keras

    from ..vae.elbo import negative_elbo
    from ..vae.recipes import _Clock
    from ..vae.textbook import BATCH_SIZE, make_digits_textbook_vae

    keras.utils.set_random_seed(seed)
    tb = make_digits_textbook_vae(latent_dim, seed=seed).compile()
    clock, curve = _Clock(), []

    class Checkpoints(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            clock.stop()
            done = epoch + 1
            out_of_time = clock.seconds >= seconds
            if _evaluation_due(done) or out_of_time:
                curve.append((clock.seconds, done, negative_elbo(tb, x_test)))
            if out_of_time:
                self.model.stop_training = True
            clock.start()

    clock.start()
    tb.fit(x_train, epochs=10**6, batch_size=BATCH_SIZE, shuffle=True, callbacks=[Checkpoints()])
    clock.stop()
    return curve, {"train_seconds": clock.seconds, "epochs": curve[-1][1] if curve else 0,
                   "final_nats": round(curve[-1][2], 3) if curve else None,
                   "recipe": "dense 64-48-32 SELU, RMSprop (Keras defaults), batch 128, mean BCE + KL / 64, fit"}


def run_course_quality(x_train, x_test, latent_dim, seconds, seed=0):
    """``recipes.train_best`` for ``seconds``; test negative ELBO at its checkpoints (not counted as training)."""
    from ..vae.elbo import negative_elbo
    from ..vae.recipes import train_best

    curve = []
    vae, info = train_best(x_train, latent_dim, seconds=seconds, seed=seed,
                           callback=lambda model, t, epoch: curve.append((t, epoch, negative_elbo(model, x_test))))
    info = dict(info)
    info["final_nats"] = round(negative_elbo(vae, x_test), 3)
    return curve, info


def measure_quality(quick=False, seconds=None, latent_dims=None, seed=0):
    from ..vae.data import load_dataset

    seconds = seconds or (1.0 if quick else QUALITY_SECONDS)
    latent_dims = latent_dims or ((2,) if quick else QUALITY_LATENT_DIMS)
    (x_train, _), (x_test, _) = load_dataset("digits")
    result = {"dataset": "digits", "target_nats": TARGET_NATS, "budget_seconds": seconds, "seed": seed,
              "units": "test negative ELBO, nats per image (summed BCE + KL, 10 z samples)", "latent": {}}
    for k in latent_dims:
        entry = {}
        for name, runner in (("textbook", run_textbook_quality), ("vae_course", run_course_quality)):
            curve, info = runner(x_train, x_test, k, seconds, seed)
            entry[name] = {**_summarise(curve, TARGET_NATS, seconds), **info,
                           "curve": [[round(t, 3), e, round(v, 3)] for t, e, v in curve]}
        a, b = entry["textbook"]["seconds_to_target"], entry["vae_course"]["seconds_to_target"]
        entry["speedup_to_target"] = round(a / b, 2) if a and b else None
        result["latent"][str(k)] = entry
    return result


# ---------------------------------------------------------------------------- course

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


def run_notebook(path, timeout=1200, interval=0.1):
    """Execute one notebook in a fresh subprocess (in a temporary folder); wall time and peak memory."""
    with tempfile.TemporaryDirectory(prefix="vae-bench-") as cwd:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _NOTEBOOK_RUNNER, str(path), cwd], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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


def run_pytest(timeout=3600):
    """The README's test command, ``pytest``, in the repository; wall time and its summary line."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = next((ln.strip("= ") for ln in reversed(lines) if re.search(r"\d+ (passed|failed|error)", ln)), "")
    return {"command": "pytest", "seconds": round(seconds, 1), "returncode": proc.returncode, "summary": summary}


def measure_course(quick=False, run_tests=True, pattern=None):
    notebooks = sorted((REPOSITORY / "solutions").glob(pattern or "*.ipynb"))
    if quick:
        notebooks = notebooks[:1]
    result = {"notebooks": [run_notebook(nb) for nb in notebooks]}
    result["pytest"] = run_pytest() if run_tests and not quick else None
    return result


# ---------------------------------------------------------------------------- report


def _fmt(value, spec=".2f", missing="-"):
    return missing if value is None else format(value, spec)


def format_table(results):
    lines = []
    m = results["machine"]
    lines.append(f"vae-course benchmark, {results['created']}: {m['model_name']}, {m['cores']} cores at "
                 f"{_fmt(m['mhz'] and m['mhz'] / 1000)} GHz, peak {_fmt(m['peak_gflops'], '.1f')} GFLOP/s float32 "
                 f"({m['peak_assumption']}); Keras {results['versions'].get('keras')}, "
                 f"TensorFlow {results['versions'].get('tensorflow')}" + (" [--quick]" if results["quick"] else ""))
    t = results.get("throughput")
    if t:
        lines += ["", f"Training throughput, {t['input_shape'][0]}x{t['input_shape'][1]} inputs, dense "
                      f"{'-'.join(map(str, [math.prod(t['input_shape'])] + t['hidden']))}, latent {t['latent_dim']}, "
                      f"batch {t['batch_size']}; median of {t['repeats']} alternating rounds of "
                      f"{t['samples_per_measurement']} samples; {t['flops_per_sample'] / 1e6:.2f} MFLOP per sample",
                  "",
                  "| contender | samples/s | × textbook | × make_vae | GFLOP/s | % of peak |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in t["rows"]:
            lines.append(f"| {r['name']} | {r['samples_per_second']:,.0f} | {r['ratio_vs_textbook']:.2f} | "
                         f"{r['ratio_vs_make_vae']:.2f} | {r['gflops']:.1f} | "
                         f"{_fmt(r['fraction_of_peak'] and 100 * r['fraction_of_peak'], '.1f')} |")
        if t.get("process_levers"):
            lines += ["", "| process-wide setting (fresh subprocess each) | " +
                      " | ".join(k for k in t["process_levers"][0] if k not in ("setting", "env")) + " |"]
            keys = [k for k in t["process_levers"][0] if k not in ("setting", "env")]
            lines.append("|---|" + "---:|" * len(keys))
            for row in t["process_levers"]:
                cells = [f"{row[k]['samples_per_second']:,.0f} ({row[k]['ratio_vs_default']:.2f}×)" if k in row
                         else "-" for k in keys]
                lines.append(f"| {row['setting']} | " + " | ".join(cells) + " |")
    q = results.get("quality")
    if q:
        lines += ["", f"Quality per second on the digits (test negative ELBO, nats per image; training budget "
                      f"{q['budget_seconds']:g} s, evaluation not counted)", "",
                  f"| latent | recipe | s to {q['target_nats']} nats | epochs to it | best in budget | at s | "
                  "final model | epochs run |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for k, entry in q["latent"].items():
            for name in ("textbook", "vae_course"):
                e = entry[name]
                lines.append(f"| {k} | {name} | {_fmt(e['seconds_to_target'])} | {_fmt(e['epochs_to_target'], 'd')} | "
                             f"{_fmt(e['best_nats'])} | {_fmt(e['best_at_seconds'], '.1f')} | "
                             f"{_fmt(e.get('final_nats'))} | {e['epochs']} |")
            lines.append(f"| {k} | speed-up to {q['target_nats']} | {_fmt(entry['speedup_to_target'])}× | | | | | |")
    c = results.get("course")
    if c:
        lines += ["", "The course: each solution notebook in a fresh subprocess (nbclient)", "",
                  "| notebook | wall s | execute s | kernel peak MB | process tree peak MB | ok |",
                  "|---|---:|---:|---:|---:|---|"]
        for nb in c["notebooks"]:
            lines.append(f"| {nb['notebook']} | {nb['wall_seconds']:.1f} | {_fmt(nb['execute_seconds'], '.1f')} | "
                         f"{_fmt(nb['kernel_peak_mb'], '.0f')} | {nb['tree_peak_mb']:.0f} | "
                         f"{'yes' if nb['ok'] else 'NO: ' + str(nb['error'])[:80]} |")
        if c.get("pytest"):
            p = c["pytest"]
            lines += ["", f"pytest: {p['seconds']:.0f} s (exit {p['returncode']}; {p['summary']})"]
    return "\n".join(lines)


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
