"""``python -m vae_course train``: train a complete VAE and write the model, its metrics and figures.

With no arguments it trains on the default data set (8x8 digits, or
``$VAE_COURSE_DATASET``), needs no network and writes into ``runs/<timestamp>/``
the files listed in ``OUTPUTS`` below (model, metrics, figures), plus

    config.json          the settings, so ``--resume`` can rebuild the same run
    history.csv          the loss terms per epoch (kept across an interruption)

While it trains, ``checkpoint/`` holds the last finished epoch (weights, optimizer state and epoch
number, via Keras' BackupAndRestore); Ctrl-C leaves it there and ``--resume DIR`` continues from it,
losing at most the epoch that was running. It is deleted when the run finishes.

``run`` goes through four steps: the settings (``_prepare``), building and fitting the model
(``_fit``), evaluating it (``_metrics``) and writing the outputs (``_write_outputs``).
TensorFlow, Keras and matplotlib are imported inside them: building the parser must not load them.
"""

import argparse
import json
import math
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from ..vae.recipes import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BETA,
    DEFAULT_DROPOUT,
    DEFAULT_EPOCHS,
    DEFAULT_HIDDEN,
    DEFAULT_LATENT_DIM,
    DEFAULT_LEARNING_RATE,
    DEFAULT_SEED,
    DEFAULT_WEIGHT_DECAY,
)
from .arguments import non_negative_float, non_negative_int, positive_float, positive_int, positive_int_list

PROG = "python -m vae_course train"
CHECKPOINT = "checkpoint"
SETTINGS = ("dataset", "epochs", "batch_size", "latent_dim", "hidden", "learning_rate", "beta", "seed", "flow_steps",
            "dropout", "weight_decay", "reconstruction")
# Missing from config.json files written before the option existed: what those runs did.
OPTIONAL_SETTINGS = {"flow_steps": 0, "dropout": 0.0, "weight_decay": 0.0, "reconstruction": "textbook_bce"}
RECONSTRUCTIONS = ("likelihood", "textbook_bce")  # vae_course.vae.likelihood.RECONSTRUCTIONS, without importing it
IMPORTANCE_SAMPLES = 1000  # k of the importance-weighted bound in metrics.json

# Every file a finished run writes, in order; the figures are drawn by ``_draw``.
OUTPUTS = {
    "model.keras": "the trained VAE (vae_course.load_model)",
    "metrics.json": "test negative ELBO (reconstruction + KL) and importance-weighted bound, nats per image "
                    "under the data set's likelihood; timings, the config",
    "loss_curves.png": "total, reconstruction and KL terms per epoch",
    "reconstructions.png": "test images above their reconstructions",
    "samples.png": "images decoded from z ~ N(0, I)",
    "latent_space.png": "test z_mean coloured by label",
    "manifold.png": "a decoded grid of the latent plane (2-D latent spaces only)",
}


def output_files(latent_dim):
    """The names in ``OUTPUTS`` a run with this latent size writes (the manifold needs a 2-D latent space)."""
    return [name for name in OUTPUTS if name != "manifold.png" or latent_dim == 2]


# ---------------------------------------------------------------------------- argument types


def unit_interval(text):
    """A number in [0, 1) (dropout rates)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 up to (not including) 1, got {text!r}")
    return value


def dataset_name(text):
    """A non-empty data set name; whether it exists is checked by ``load_dataset``."""
    text = str(text).strip()
    if not text:
        raise argparse.ArgumentTypeError("the data set name is empty (try digits)")
    return text


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "writes into the output folder:\n" + "\n".join(
        f"  {name:<20} {what}" for name, what in OUTPUTS.items())
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
                        help="inverse autoregressive flow steps reshaping q(z | x) (vae_course.vae.flows); 0 is the "
                        "plain Gaussian VAE, 4 tightens the bound (default: %(default)s)")
    parser.add_argument("--dropout", type=unit_interval, default=DEFAULT_DROPOUT, metavar="RATE",
                        help="dropout after each hidden layer of the decoder while training (default: %(default)s)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=DEFAULT_WEIGHT_DECAY, metavar="WD",
                        help="decoupled weight decay on the kernels (AdamW); 0 is plain Adam (default: %(default)s)")
    parser.add_argument("--reconstruction", choices=RECONSTRUCTIONS, default="likelihood",
                        help="training loss: -log p(x | z) under the data set's likelihood, or the textbook's "
                        "grey-level binary cross-entropy; metrics.json scores both with the likelihood "
                        "(default: %(default)s)")
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


class _Run:
    """What the steps of one ``train`` run share: settings, output folder, data and results so far."""

    def __init__(self, args, dataset, data, out, done):
        self.args, self.dataset, self.out, self.done = args, dataset, out, done
        (self.x_train, self.y_train), (self.x_test, self.y_test) = data
        self.resumed = bool(getattr(args, "resume", None))
        self.image_shape = tuple(int(d) for d in self.x_train.shape[1:])
        self.vae = self.history = self.train_seconds = None


def run(args):
    """Train, evaluate and write the outputs; the exit code (0 done, 1 diverged, 2 bad settings, 130 Ctrl-C)."""
    prepared = _prepare(args)
    if isinstance(prepared, int):
        return prepared
    stopped = _fit(prepared)
    if stopped is not None:
        return stopped
    metrics, terms = _metrics(prepared)
    written = _write_outputs(prepared, metrics)
    return _report(prepared, metrics, terms, written)


# ---- step 1: the settings, the data and the output folder


def _prepare(args):
    """A ``_Run`` ready to train, or an exit code after a one-line error."""
    resume = getattr(args, "resume", None)
    if resume:
        problem = _settings_for_resume(args)
        if problem:
            return _error(problem)
    # Read the data first: an unknown name should not leave an empty output folder behind.
    from ..vae import data

    dataset = args.dataset or os.environ.get("VAE_COURSE_DATASET") or data.DEFAULT_DATASET
    try:
        loaded = data.load_dataset(dataset)
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
    return _Run(args, dataset, loaded, out, done)


# ---- step 2: build the model and fit it


def _announce(run):
    args = run.args
    print(
        f"Training a VAE on {run.dataset} ({len(run.x_train)} training and {len(run.x_test)} test images of "
        f"{'x'.join(map(str, run.image_shape))} pixels): latent_dim {args.latent_dim}, hidden "
        f"{','.join(map(str, args.hidden))}, {args.epochs} epochs of batch {args.batch_size}, "
        f"{'AdamW' if args.weight_decay else 'Adam'} from {args.learning_rate:g} (cosine decay"
        + (f", weight decay {args.weight_decay:g}" if args.weight_decay else "") + ")"
        + (f", decoder dropout {args.dropout:g}" if args.dropout else "")
        + f", loss {args.reconstruction}, beta {args.beta:g}, seed {args.seed}"
        + (f", {args.flow_steps} flow steps in q(z | x)." if args.flow_steps else "."),
        flush=True,
    )


def _build(run):
    """The compiled VAE the settings ask for (flow steps or not), seeded."""
    import keras

    from ..vae.flows import make_flow_vae
    from ..vae.model import make_vae

    args = run.args
    keras.utils.set_random_seed(args.seed)
    options = dict(hidden=args.hidden, beta=args.beta, seed=args.seed, likelihood=run.dataset,
                   reconstruction=args.reconstruction, dropout=args.dropout)
    if args.flow_steps:
        vae = make_flow_vae(run.image_shape, args.latent_dim, flow_steps=args.flow_steps, **options)
    else:
        vae = make_vae(run.image_shape, args.latent_dim, **options)
    steps_per_epoch = math.ceil(len(run.x_train) / args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, decay_steps=args.epochs * steps_per_epoch)
    # One call into the compiled graph per epoch instead of one per batch: the same steps in the same order
    # (bit-identical results), without Python's per-batch overhead (python -m vae_course bench measures it).
    vae.compile(optimizer=_optimizer(schedule, args.weight_decay), steps_per_execution=steps_per_epoch)
    return vae


def _optimizer(schedule, weight_decay):
    """Adam, or AdamW decaying the kernels (not the biases) when ``weight_decay`` > 0."""
    import keras

    if not weight_decay:
        return keras.optimizers.Adam(schedule)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


def _fit(run):
    """Train ``run.vae`` with checkpoints; None when it finished, else the exit code (1 diverged, 130 Ctrl-C)."""
    import keras

    from ..vae.guards import SafeBackupAndRestore, TrainingDiverged
    from ..vae.progress import EpochProgress

    args, out = run.args, run.out
    if not args.quiet:
        _announce(run)
    run.vae = _build(run)
    callbacks = [
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        SafeBackupAndRestore(str(out / CHECKPOINT), delete_checkpoint=True),
    ]
    if not args.quiet:
        callbacks.append(EpochProgress(args.epochs))

    start = time.perf_counter()
    try:
        run.vae.fit(run.x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0,
                    callbacks=callbacks)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Epoch {checkpoint_epoch(out) or 0} of {args.epochs} is saved in {out / CHECKPOINT}; "
              f"continue with:\n  {PROG} --resume {out}", file=sys.stderr)
        return 130
    except TrainingDiverged as err:
        _error(f"{err} The last finished epoch is kept in {out / CHECKPOINT}.")
        return 1
    run.train_seconds = time.perf_counter() - start
    run.history = _read_history(out / "history.csv")
    return None


# ---- step 3: evaluate


def _metrics(run):
    """(metrics.json's content, (negative ELBO, reconstruction, KL) as floats)."""
    import keras
    import tensorflow as tf

    from ..vae.elbo import importance_weighted_nll, negative_elbo

    args, likelihood = run.args, run.vae.likelihood
    value, reconstruction, kl = negative_elbo(run.vae, run.x_test, return_terms=True)
    bound = importance_weighted_nll(run.vae, run.x_test, k=IMPORTANCE_SAMPLES) if math.isfinite(value) else math.nan
    metrics = {
        "negative_elbo": _finite_or_none(value),
        "reconstruction": _finite_or_none(reconstruction),
        "kl": _finite_or_none(kl),
        "importance_weighted_nll": _finite_or_none(bound),
        "importance_samples": IMPORTANCE_SAMPLES,
        "likelihood": likelihood.name,
        "units": (f"nats per image, mean over the test set: -log p(x | z) under {likelihood.name} + KL; both "
                  "the negative ELBO and the importance-weighted figure are upper bounds on -log p(x)"),
        "training_loss": args.reconstruction,
        "train_seconds": round(run.train_seconds, 3),
        "samples_per_second": round((args.epochs - run.done) * len(run.x_train) / run.train_seconds, 1),
        "resumed_after_epoch": run.done if run.resumed else None,
        "dataset": run.dataset,
        "image_shape": list(run.image_shape),
        "train_images": int(len(run.x_train)),
        "test_images": int(len(run.x_test)),
        "latent_dim": args.latent_dim,
        "hidden": list(args.hidden),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "learning_rate_schedule": "cosine decay to 0 over all steps",
        "beta": args.beta,
        "seed": args.seed,
        "flow_steps": args.flow_steps,
        "dropout": args.dropout,
        "weight_decay": args.weight_decay,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    return metrics, (value, reconstruction, kl, bound)


# ---- step 4: write the outputs


def _draw(name, run):
    """The figure ``name`` of ``OUTPUTS``."""
    from ..vae import plots

    vae = run.vae
    drawers = {
        "loss_curves.png": lambda: plots.plot_loss_curves(run.history, units=_loss_units(run)),
        "reconstructions.png": lambda: plots.plot_reconstructions(vae, run.x_test, n=10),
        "samples.png": lambda: plots.plot_prior_samples(vae, n=25, seed=run.args.seed),
        "latent_space.png": lambda: plots.plot_latent_space(vae, run.x_test, run.y_test),
        "manifold.png": lambda: plots.plot_manifold(vae, n=15),
    }
    return drawers[name]()


def _loss_units(run):
    """The loss curves' axis label: nats only when the training loss is -log p(x | z) + KL."""
    if run.args.reconstruction == "textbook_bce":
        return "summed BCE + KL per image (not nats)"
    return f"nats per image ({run.vae.likelihood.name})"


def _write_outputs(run, metrics):
    """Write every file of ``output_files`` into the run folder; returns their names."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # keep a backend someone already chose (e.g. a notebook's)
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name in output_files(run.args.latent_dim):
        if name == "model.keras":
            run.vae.save(run.out / name)
        elif name == "metrics.json":
            with open(run.out / name, "w", encoding="utf-8") as f:
                json.dump(metrics, f, indent=2)
                f.write("\n")
        else:
            fig = _draw(name, run)
            try:
                fig.savefig(run.out / name, dpi=100)
            finally:
                plt.close(fig)
        written.append(name)
    return written


def _report(run, metrics, terms, written):
    """Print what was written and the test figures; the exit code (1 if the loss is not finite)."""
    value, reconstruction, kl, bound = terms
    print(f"Wrote {run.out}{os.sep}: {', '.join(written)}")
    if metrics["negative_elbo"] is None:
        print(f"{PROG}: training diverged (the loss is not finite); try a smaller --learning-rate.", file=sys.stderr)
        return 1
    print(
        f"Test negative ELBO {value:.2f} nats per image under {metrics['likelihood']} "
        f"(reconstruction {reconstruction:.2f} + KL {kl:.2f}); importance-weighted bound "
        f"(k = {IMPORTANCE_SAMPLES}) {bound:.2f}"
    )
    print(f"Training took {run.train_seconds:.1f} s ({metrics['samples_per_second']:,.0f} images per second)")
    return 0
