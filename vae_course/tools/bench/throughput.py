"""Training samples per second: the textbook's VAE, make_vae with each speed lever, and FastTrainer."""

import json
import math
import os
import statistics
import subprocess
import sys
import time

from .machine import dense_flops_per_sample, machine_info

THROUGHPUT_SHAPE = (28, 28)
THROUGHPUT_HIDDEN = (150, 100)
THROUGHPUT_LATENT = 10
THROUGHPUT_BATCH = 128
TAUGHT_PATH = "make_vae"  # make_vae(...) + compile(optimizer) + fit(x, ...) with no extra arguments
TAUGHT_PATH_TARGET = 2.0  # issue 16: the taught path at least 2x the textbook port's samples/s

def random_grey_levels(samples, seed=0):
    """Fashion-MNIST-shaped random images on its likelihood's support: grey levels k / 255, k uniform."""
    import numpy as np

    levels = np.random.default_rng(seed).integers(0, 256, (samples,) + THROUGHPUT_SHAPE)
    return (levels / 255.0).astype(np.float32)


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


QUICK_CONTENDERS = ("textbook", TAUGHT_PATH, "FastTrainer (in-graph loop, fused Adam)")


def _in_probe(name):
    """The contenders measured under each thread setting: the baseline, fit's fastest setting, FastTrainer."""
    return name == "textbook" or name == QUICK_CONTENDERS[2] or (
        name.startswith("make_vae + steps_per_execution=") and name.endswith(" + XLA"))


def long_run_epochs(samples, quick=False):
    """Epochs per measured call of the textbook and the taught path: enough steps for ``fit`` to make its own
    choices for a long run (``fast_path.XLA_MIN_STEPS``, as in the textbook's 25 Fashion-MNIST epochs); 1 when
    ``quick``. The other rows train one epoch per call."""
    from ...vae.fast_path import XLA_MIN_STEPS

    return 1 if quick else max(1, math.ceil(XLA_MIN_STEPS / math.ceil(samples / THROUGHPUT_BATCH)))


def _throughput_contenders(x, quick, only=None):
    """name -> {"run": trains "epochs" epochs of len(x) samples, "lever": what changed, "models": for FLOP
    counting}.

    ``quick`` keeps the three of ``QUICK_CONTENDERS``; ``only(name)`` keeps those it accepts. The textbook and the
    taught path train ``long_run_epochs`` epochs per call, the other rows one.
    """
    import keras
    import tensorflow as tf

    from ...vae.model import make_vae
    from ...vae.recipes import FastTrainer
    from ...vae.textbook import make_textbook_vae

    batch = THROUGHPUT_BATCH
    steps = len(x) // batch
    spe = min(32, steps)
    long_epochs = long_run_epochs(len(x), quick)
    contenders = {}
    wanted = only or ((lambda name: name in QUICK_CONTENDERS) if quick else (lambda name: True))

    def textbook(name, lever, **options):
        if not wanted(name):
            return
        from_logits = options.pop("from_logits", False)
        tb = make_textbook_vae(THROUGHPUT_SHAPE, THROUGHPUT_LATENT, THROUGHPUT_HIDDEN, seed=0, from_logits=from_logits)
        tb.compile(**options)
        epochs = long_epochs if name == "textbook" else 1
        contenders[name] = {"run": lambda: tb.fit(x, epochs=epochs, batch_size=batch, shuffle=True),
                            "lever": lever, "models": (tb.encoder, tb.decoder), "epochs": epochs}

    def course(name, lever, optimizer="adam", data="numpy", **options):
        if not wanted(name):
            return
        vae = make_vae(THROUGHPUT_SHAPE, THROUGHPUT_LATENT, THROUGHPUT_HIDDEN, activation="selu", seed=0,
                       likelihood="fashion_mnist")
        opt = keras.optimizers.RMSprop() if optimizer == "rmsprop" else keras.optimizers.Adam(1e-3)
        vae.compile(optimizer=opt, **options)
        epochs = long_epochs if name == TAUGHT_PATH else 1
        if data == "tf.data":
            dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).batch(batch)
            dataset = dataset.prefetch(tf.data.AUTOTUNE)
            run = lambda: vae.fit(dataset, epochs=1, shuffle=False, verbose=0)  # noqa: E731  (shuffled by the dataset)
        else:
            run = lambda: vae.fit(x, epochs=epochs, batch_size=batch, shuffle=True, verbose=0)  # noqa: E731
        contenders[name] = {"run": run, "lever": lever, "models": (vae.encoder, vae.decoder),
                            "epochs": epochs}

    def fast(name, lever, jit_compile):
        if not wanted(name):
            return
        vae = make_vae(THROUGHPUT_SHAPE, THROUGHPUT_LATENT, THROUGHPUT_HIDDEN, activation="selu", seed=0,
                       likelihood="fashion_mnist")
        trainer = FastTrainer(vae, x, batch_size=batch, learning_rate=1e-3, total_steps=10**9,
                              jit_compile=jit_compile)
        contenders[name] = {"run": lambda: trainer.run(1), "lever": lever, "models": (vae.encoder, vae.decoder),
                            "epochs": 1}

    textbook("textbook", "baseline: the book's recipe ported to Keras 3 (RMSprop, fit, mean BCE from probabilities)")
    course(TAUGHT_PATH, "the taught path: make_vae(...), compile(Adam), fit(x, epochs, batch_size) on NumPy arrays, "
           "nothing else")
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


def taught_path(rows):
    """The taught path's row, as the headline: its samples/s and the textbook's, their ratio, the target."""
    row = next(r for r in rows if r["name"] == TAUGHT_PATH)
    textbook = next(r for r in rows if r["name"] == "textbook")
    return {"name": TAUGHT_PATH, "what": row["lever"], "samples_per_second": row["samples_per_second"],
            "textbook_samples_per_second": textbook["samples_per_second"],
            "ratio_vs_textbook": row["ratio_vs_textbook"], "target": TAUGHT_PATH_TARGET,
            "epochs_per_call": row.get("epochs_per_call", 1), "first_call_ratio": _first_call_ratio(textbook, row)}


def _first_call_ratio(textbook, row):
    """The textbook's first call over the row's (both build, trace and compile in it), if both were timed."""
    if not (textbook.get("first_call_seconds") and row.get("first_call_seconds")):
        return None
    return round(textbook["first_call_seconds"] / row["first_call_seconds"], 3)


def measure_throughput(quick=False, repeats=None, samples=None, seed=0, only=None):
    """Samples/s of every contender (or those ``only(name)`` keeps), medians over alternating rounds, ratios to
    the textbook's."""
    repeats = repeats or (1 if quick else 5)
    samples = samples or (THROUGHPUT_BATCH * (4 if quick else 160))
    x = random_grey_levels(samples, seed)
    contenders = _throughput_contenders(x, quick, only)
    build_seconds = {}
    for name, c in contenders.items():  # first call builds the graph; not measured
        start = time.perf_counter()
        c["run"]()
        build_seconds[name] = time.perf_counter() - start
    seconds = _rounds(contenders, repeats)
    machine = machine_info()
    flops = dense_flops_per_sample(*contenders["textbook"]["models"])
    rates = {name: [samples * c["epochs"] / s for s in seconds[name]] for name, c in contenders.items()}
    rows = []
    for name, c in contenders.items():
        sps = _median(rates[name])
        gflops = sps * flops / 1e9
        rows.append({
            "name": name,
            "lever": c["lever"],
            "epochs_per_call": c["epochs"],
            "samples_per_second": round(sps, 1),
            "ratio_vs_textbook": round(_median([r / b for r, b in zip(rates[name], rates["textbook"])]), 3),
            "ratio_vs_make_vae": round(_median([r / m for r, m in zip(rates[name], rates[TAUGHT_PATH])]), 3),
            "gflops": round(gflops, 2),
            "fraction_of_peak": round(gflops / machine["peak_gflops"], 4) if machine["peak_gflops"] else None,
            "first_call_seconds": round(build_seconds[name], 3),
            "runs_samples_per_second": [round(r, 1) for r in rates[name]],
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
        "taught_path": taught_path(rows),
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
    import tensorflow as tf

    intra = int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))
    inter = int(os.environ.get("TF_NUM_INTEROP_THREADS", "0"))
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    x = random_grey_levels(samples, 0)
    contenders = _throughput_contenders(x, quick=False, only=_in_probe)
    for c in contenders.values():
        c["run"]()
    seconds = _rounds(contenders, repeats)
    return {name: _median([samples / s for s in times]) for name, times in seconds.items()}


def measure_process_levers(samples, repeats, rounds=2):
    """Each process-wide setting in its own subprocess, alternating settings over ``rounds``; medians."""
    code = ("import json, sys; from vae_course.tools.bench.throughput import probe; "
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
