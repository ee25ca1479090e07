"""``python -m vae_course train``: train a complete VAE and write the model, its metrics and figures.

With no arguments it trains on the default data set (8x8 digits, or
``$VAE_COURSE_DATASET``), needs no network and writes into ``runs/<timestamp>/``:

    model.keras          the trained VAE (``keras.saving.load_model`` after ``import vae_course``)
    metrics.json         test negative ELBO, reconstruction and KL in nats per image, timings, the config
    loss_curves.png      total, reconstruction and KL terms per epoch
    reconstructions.png  test images above their reconstructions
    samples.png          images decoded from z ~ N(0, I)
    latent_space.png     test z_mean coloured by label
    manifold.png         a decoded grid of the latent plane (2-D latent spaces only)
    config.json          the settings, so ``--resume`` can rebuild the same run
    history.csv          the loss terms per epoch (kept across an interruption)

While it trains, ``checkpoint/`` holds the last finished epoch (weights, optimizer state and epoch
number, via Keras' BackupAndRestore); Ctrl-C leaves it there and ``--resume DIR`` continues from it,
losing at most the epoch that was running. It is deleted when the run finishes.

TensorFlow, Keras and matplotlib are imported inside ``run``: building the parser must not load them.
"""

import argparse
import json
import math
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from .arguments import non_negative_float, non_negative_int, positive_float, positive_int, positive_int_list

from ..vae.recipes import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BETA,
    DEFAULT_EPOCHS,
    DEFAULT_HIDDEN,
    DEFAULT_LATENT_DIM,
    DEFAULT_LEARNING_RATE,
    DEFAULT_SEED,
)

PROG = "python -m vae_course train"
CHECKPOINT = "checkpoint"
SETTINGS = ("dataset", "epochs", "batch_size", "latent_dim", "hidden", "learning_rate", "beta", "seed", "flow_steps")
OPTIONAL_SETTINGS = {"flow_steps": 0}  # missing from config.json files written before the option existed


# ---------------------------------------------------------------------------- argument types


def dataset_name(text):
    """A non-empty data set name; whether it exists is checked by ``load_dataset``."""
    text = str(text).strip()
    if not text:
        raise argparse.ArgumentTypeError("the data set name is empty (try digits)")
    return text


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "writes model.keras, metrics.json, loss_curves.png, reconstructions.png, samples.png,\n"
        "latent_space.png (and manifold.png for a 2-D latent space) into the output folder"
    )
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: runs/<timestamp> in the current folder)")
    parser.add_argument("--dataset", type=dataset_name, default=None, metavar="NAME",
                        help="digits or fashion_mnist (default: $VAE_COURSE_DATASET, else digits)")
    parser.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, metavar="N",
                        help="passes over the training set (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help="images per training step (default: %(default)s)")
    parser.add_argument("--latent-dim", type=positive_int, default=DEFAULT_LATENT_DIM, metavar="K",
                        help="size of z (default: %(default)s)")
    parser.add_argument("--hidden", type=positive_int_list, default=DEFAULT_HIDDEN, metavar="N,N,...",
                        help="encoder layer widths; the decoder mirrors them (default: "
                        + ",".join(map(str, DEFAULT_HIDDEN)) + ")")
    parser.add_argument("--learning-rate", type=positive_float, default=DEFAULT_LEARNING_RATE, metavar="LR",
                        help="Adam's initial learning rate, cosine-decayed to 0 over the run (default: %(default)s)")
    parser.add_argument("--beta", type=non_negative_float, default=DEFAULT_BETA,
                        help="weight of the KL term in the training loss; 1 gives the negative ELBO "
                        "(default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED,
                        help="random seed for weights, sampling and shuffling (default: %(default)s)")
    parser.add_argument("--flow-steps", type=non_negative_int, default=OPTIONAL_SETTINGS["flow_steps"], metavar="N",
                        help="inverse autoregressive flow steps reshaping q(z | x) (vae_course.flows); 0 is the "
                        "plain Gaussian VAE, 4 tightens the bound (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    parser.add_argument("--resume", metavar="DIR", default=None,
                        help="continue the interrupted run in DIR from its last finished epoch; "
                        "its settings come from DIR/config.json (other options except --quiet are ignored)")


# ---------------------------------------------------------------------------- the run


def _error(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def default_out_dir(base="runs"):
    """runs/<YYYYmmdd-HHMMSS>, with -2, -3, ... added if that folder already exists."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = Path(base) / stamp
    suffix = 2
    while candidate.exists():
        candidate = Path(base) / f"{stamp}-{suffix}"
        suffix += 1
    return candidate


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


def checkpoint_epoch(out):
    """Epochs finished according to the checkpoint in ``out``, or None when there is none."""
    metadata = Path(out) / CHECKPOINT / "training_metadata.json"
    if not metadata.is_file():
        return None
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (ValueError, KeyError, TypeError):
        return None


def _settings_for_resume(args):
    """Fill ``args`` from DIR/config.json; return an error message or None."""
    out = Path(args.resume)
    config = out / "config.json"
    if not config.is_file():
        return f"{str(out)!r} has no config.json, so it is not a folder written by `train`; nothing to resume"
    if checkpoint_epoch(out) is None:
        if (out / "model.keras").exists():
            return f"the run in {str(out)!r} already finished (model.keras is there); nothing to resume"
        return (f"{str(out)!r} has no checkpoint: the run stopped before its first epoch ended. "
                f"Start it again with --out {out}")
    try:
        settings = {**OPTIONAL_SETTINGS, **json.loads(config.read_text())}
        for name in SETTINGS:
            value = settings[name]
            setattr(args, name, tuple(value) if name == "hidden" else value)
    except (ValueError, KeyError, TypeError) as err:
        return f"{config} is unreadable or incomplete ({err}); start a new run instead"
    args.out = str(out)
    return None


def _truncate_history(path, epochs):
    """Keep the header and the first ``epochs`` rows: an epoch logged but not checkpointed is run again."""
    if path.is_file():
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[: 1 + epochs]))


def _read_history(path):
    """history.csv as {metric: [value per epoch]}."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [key for key in (rows[0] if rows else {}) if key != "epoch"]
    # CSVLogger writes NA for metrics a run never reported (val_* without validation data).
    return {key: [float(row[key]) for row in rows] for key in keys if all(row[key] != "NA" for row in rows)}


def run(args):
    resume = getattr(args, "resume", None)
    if resume:
        problem = _settings_for_resume(args)
        if problem:
            return _error(problem)
    # Read the data first: an unknown name should not leave an empty output folder behind.
    from ..vae import data

    dataset = args.dataset or os.environ.get("VAE_COURSE_DATASET") or data.DEFAULT_DATASET
    try:
        (x_train, y_train), (x_test, y_test) = data.load_dataset(dataset)
    except data.DatasetError as err:
        return _error(str(err))

    out = Path(args.out) if args.out else default_out_dir()
    if not resume and checkpoint_epoch(out) is not None:
        return _error(f"{str(out)!r} holds an interrupted run: continue it with --resume {out}, "
                      "or choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return _error(f"cannot create the output folder {str(out)!r}: {err.strerror or err}")
    settings = {name: getattr(args, name) for name in SETTINGS}
    settings["dataset"] = dataset
    settings["hidden"] = list(args.hidden)
    if not resume:
        (out / "config.json").write_text(json.dumps(settings, indent=2) + "\n")
        (out / "history.csv").unlink(missing_ok=True)
    done = (checkpoint_epoch(out) or 0) if resume else 0
    if resume:
        _truncate_history(out / "history.csv", done)
        print(f"Resuming {out} after epoch {done} of {args.epochs}.", flush=True)

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # keep a backend someone already chose (e.g. a notebook's)
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import keras
    import tensorflow as tf

    from ..vae import plots
    from ..vae.elbo import negative_elbo
    from ..vae.flows import make_flow_vae
    from ..vae.model import make_vae
    from ..vae.guards import SafeBackupAndRestore, TrainingDiverged
    from ..vae.progress import EpochProgress

    image_shape = tuple(int(d) for d in x_train.shape[1:])
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    quiet = args.quiet
    if not quiet:
        print(
            f"Training a VAE on {dataset} ({len(x_train)} training and {len(x_test)} test images of "
            f"{'x'.join(map(str, image_shape))} pixels): latent_dim {args.latent_dim}, hidden "
            f"{','.join(map(str, args.hidden))}, {args.epochs} epochs of batch {args.batch_size}, "
            f"Adam from {args.learning_rate:g} (cosine decay), beta {args.beta:g}, seed {args.seed}"
            + (f", {args.flow_steps} flow steps in q(z | x)." if args.flow_steps else "."),
            flush=True,
        )

    keras.utils.set_random_seed(args.seed)
    if args.flow_steps:
        vae = make_flow_vae(image_shape, args.latent_dim, hidden=args.hidden, flow_steps=args.flow_steps,
                            beta=args.beta, seed=args.seed)
    else:
        vae = make_vae(image_shape, args.latent_dim, hidden=args.hidden, beta=args.beta, seed=args.seed)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.epochs * steps_per_epoch)
    # One call into the compiled graph per epoch instead of one per batch: the same steps in the same order
    # (bit-identical results), without Python's per-batch overhead (python -m vae_course bench measures it).
    vae.compile(optimizer=keras.optimizers.Adam(schedule), steps_per_execution=steps_per_epoch)
    callbacks = [
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        SafeBackupAndRestore(str(out / CHECKPOINT), delete_checkpoint=True),
    ]
    if not quiet:
        callbacks.append(EpochProgress(args.epochs))

    start = time.perf_counter()
    try:
        vae.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0,
                callbacks=callbacks)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Epoch {checkpoint_epoch(out) or 0} of {args.epochs} is saved in {out / CHECKPOINT}; "
              f"continue with:\n  {PROG} --resume {out}", file=sys.stderr)
        return 130
    except TrainingDiverged as err:
        _error(f"{err} The last finished epoch is kept in {out / CHECKPOINT}.")
        return 1
    train_seconds = time.perf_counter() - start
    history = _read_history(out / "history.csv")

    value, reconstruction, kl = negative_elbo(vae, x_test, return_terms=True)
    metrics = {
        "negative_elbo": _finite_or_none(value),
        "reconstruction": _finite_or_none(reconstruction),
        "kl": _finite_or_none(kl),
        "units": "nats per image, mean over the test set",
        "train_seconds": round(train_seconds, 3),
        "samples_per_second": round((args.epochs - done) * len(x_train) / train_seconds, 1),
        "resumed_after_epoch": done if resume else None,
        "dataset": dataset,
        "image_shape": list(image_shape),
        "train_images": int(len(x_train)),
        "test_images": int(len(x_test)),
        "latent_dim": args.latent_dim,
        "hidden": list(args.hidden),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "learning_rate_schedule": "cosine decay to 0 over all steps",
        "beta": args.beta,
        "seed": args.seed,
        "flow_steps": args.flow_steps,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "created": datetime.now().isoformat(timespec="seconds"),
    }

    written = []
    vae.save(out / "model.keras")
    written.append("model.keras")
    with open(out / "metrics.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    written.append("metrics.json")

    figures = [
        ("loss_curves.png", lambda: plots.plot_loss_curves(history)),
        ("reconstructions.png", lambda: plots.plot_reconstructions(vae, x_test, n=10)),
        ("samples.png", lambda: plots.plot_prior_samples(vae, n=25, seed=args.seed)),
        ("latent_space.png", lambda: plots.plot_latent_space(vae, x_test, y_test)),
    ]
    if args.latent_dim == 2:
        figures.append(("manifold.png", lambda: plots.plot_manifold(vae, n=15)))
    for name, draw in figures:
        fig = draw()
        try:
            fig.savefig(out / name, dpi=100)
        finally:
            plt.close(fig)
        written.append(name)

    print(f"Wrote {out}{os.sep}: {', '.join(written)}")
    if metrics["negative_elbo"] is None:
        print(f"{PROG}: training diverged (the loss is not finite); try a smaller --learning-rate.", file=sys.stderr)
        return 1
    print(
        f"Test negative ELBO {value:.2f} nats per image "
        f"(reconstruction {reconstruction:.2f} + KL {kl:.2f})"
    )
    print(f"Training took {train_seconds:.1f} s ({metrics['samples_per_second']:,.0f} images per second)")
    return 0
