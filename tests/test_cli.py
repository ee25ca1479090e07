"""``python -m vae_course train``: files written, numbers reported, arguments refused cleanly.

Also the two helpers the command shares with the notebooks: the progress
callback and the plotting functions.
"""

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from vae_course import VAE, load_dataset, load_model, make_vae, negative_elbo, plots  # noqa: E402
from vae_course.tools import cli, train  # noqa: E402
from vae_course.vae.progress import EpochProgress  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = tuple(name for name in train.OUTPUTS if name.endswith(".png") and name != "manifold.png")
CONFIG_KEYS = {"dataset", "latent_dim", "hidden", "epochs", "batch_size", "learning_rate", "beta", "seed",
               "keras_version", "tensorflow_version"}
RESULT_KEYS = {"negative_elbo", "reconstruction", "kl", "train_seconds", "samples_per_second"}
EPOCH_LINE = re.compile(r"^epoch +(\d+)/(\d+)  loss \d+\.\d\d  reconstruction \d+\.\d\d  kl \d+\.\d\d\b")


def clean_env():
    env = dict(os.environ)
    for name in ("VAE_COURSE_DATASET", "MPLBACKEND"):
        env.pop(name, None)
    return env


def in_process(*args, cwd):
    """``python -m vae_course *args`` run in this process (cli.main, the function ``__main__`` calls), in ``cwd``,
    with VAE_COURSE_DATASET unset: its exit code and what it printed, as subprocess.run would give them. A
    subprocess would import TensorFlow again (5 CPU-s); tests/test_resume.py runs the command as a real process."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:  # undone afterwards, like the monkeypatch fixture (any scope)
        patch.delenv("VAE_COURSE_DATASET", raising=False)
        patch.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(list(args))
    return subprocess.CompletedProcess(["vae_course", *args], code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """One real run: 3 epochs with progress, into a folder whose name has a space."""
    work = tmp_path_factory.mktemp("cli")
    out = work / "run one"
    proc = in_process("train", "--epochs", "3", "--out", str(out), cwd=work)
    metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").exists() else None
    return proc, out, work, metrics


@pytest.fixture
def no_dataset_env(monkeypatch):
    monkeypatch.delenv("VAE_COURSE_DATASET", raising=False)


# ---------------------------------------------------------------------------- a real run


def test_a_short_run_succeeds_and_reports(short_run):
    proc, out, work, metrics = short_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert str(out) in proc.stdout
    progress = [m for m in map(EPOCH_LINE.match, proc.stdout.splitlines()) if m]
    assert [(int(m[1]), int(m[2])) for m in progress] == [(1, 3), (2, 3), (3, 3)]
    printed = re.search(r"negative ELBO (\d+\.\d\d) nats per image", proc.stdout)
    assert printed, proc.stdout
    assert float(printed[1]) == pytest.approx(metrics["negative_elbo"], abs=0.006)
    assert re.search(r"reconstruction \d+\.\d\d \+ KL \d+\.\d\d", proc.stdout)
    assert re.search(r"Training took \d+\.\d s \([\d,]+ images per second\)", proc.stdout)
    assert not (work / "runs").exists()  # --out was given


def test_a_short_run_writes_every_file(short_run):
    proc, out, _, _ = short_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("model.keras", "metrics.json") + FIGURES:
        assert (out / name).is_file(), name
        assert name in proc.stdout
    for name in FIGURES + ("manifold.png",):  # a 2-D latent space also gets the manifold
        blob = (out / name).read_bytes()
        assert blob[:8] == PNG_MAGIC, name
        assert len(blob) > 5000, name
        pixels = matplotlib.image.imread(out / name)
        assert pixels.ndim == 3 and min(pixels.shape[:2]) >= 200, (name, pixels.shape)
        assert pixels[..., :3].std() > 0.05, f"{name} looks blank"


def test_metrics_json_holds_finite_numbers_and_the_config(short_run):
    _, _, _, metrics = short_run
    assert metrics is not None
    assert RESULT_KEYS | CONFIG_KEYS <= set(metrics)
    for key in RESULT_KEYS:
        assert isinstance(metrics[key], float) and math.isfinite(metrics[key]), key
        assert metrics[key] > 0, key
    assert metrics["negative_elbo"] == pytest.approx(metrics["reconstruction"] + metrics["kl"], rel=1e-9)
    # between a good model (about 150 nats) and an untrained one (about 540), under Binomial(16, p)
    assert 150 < metrics["negative_elbo"] < 450
    assert metrics["likelihood"] == "binomial(16)" and metrics["training_loss"] == "likelihood"
    assert metrics["importance_samples"] == 1000
    assert 0 < metrics["negative_elbo"] - metrics["importance_weighted_nll"] < 40  # a tighter bound, not a wild one
    assert metrics["samples_per_second"] == pytest.approx(3 * 1500 / metrics["train_seconds"], rel=1e-3)
    assert metrics["dataset"] == "digits"
    assert (metrics["epochs"], metrics["batch_size"], metrics["latent_dim"]) == (3, 64, 2)
    assert metrics["hidden"] == [256, 128]
    assert metrics["learning_rate"] == 0.005 and metrics["beta"] == 1.0 and metrics["seed"] == 0
    assert metrics["dropout"] == 0.1 and metrics["weight_decay"] == 0.1
    assert metrics["keras_version"] == keras.__version__
    assert metrics["tensorflow_version"] == tf.__version__


def test_the_saved_model_reloads_and_gives_the_reported_elbo(short_run):
    _, out, _, metrics = short_run
    vae = keras.saving.load_model(out / "model.keras")
    assert isinstance(vae, VAE)
    (_, _), (x_test, _) = load_dataset("digits")
    value, reconstruction, kl = negative_elbo(vae, x_test, return_terms=True)
    assert value == pytest.approx(metrics["negative_elbo"], rel=1e-5)
    assert kl == pytest.approx(metrics["kl"], rel=1e-5)


def test_the_default_folder_and_quiet_mode_and_the_run_is_reproducible(short_run, tmp_path, monkeypatch,
                                                                        capsys, no_dataset_env):
    """In-process, with no --out: runs/<timestamp>/ in the current folder, and the same numbers as before."""
    _, _, _, reference = short_run
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--epochs", "3", "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert not any(EPOCH_LINE.match(line) for line in stdout.splitlines())
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and re.fullmatch(r"\d{8}-\d{6}", folders[0].name), folders
    assert folders[0].name in stdout and "negative ELBO" in stdout
    metrics = json.loads((folders[0] / "metrics.json").read_text())
    for key in ("negative_elbo", "reconstruction", "kl"):
        assert metrics[key] == pytest.approx(reference[key], rel=1e-4), key


def test_default_folders_never_collide(tmp_path, monkeypatch):
    from vae_course.tools import train

    monkeypatch.chdir(tmp_path)
    first = train.default_out_dir()
    assert first.parent.name == "runs" and re.fullmatch(r"\d{8}-\d{6}", first.name)
    first.mkdir(parents=True)
    second = train.default_out_dir()
    if second.name.startswith(first.name):  # same second: a suffix is added
        assert second.name == first.name + "-2"
    assert second != first


# ---------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "-1"], r"--epochs: .*positive"),
        (["train", "--epochs", "0"], r"--epochs: .*positive"),
        (["train", "--epochs", "abc"], r"--epochs: .*whole number.*'abc'"),
        (["train", "--epochs", "2.5"], r"--epochs: .*whole number"),
        (["train", "--batch-size", "0"], r"--batch-size: .*positive"),
        (["train", "--latent-dim", "-2"], r"--latent-dim: .*positive"),
        (["train", "--hidden", "abc"], r"--hidden: .*separated by commas.*'abc'"),
        (["train", "--hidden", "256,-1"], r"--hidden: .*separated by commas"),
        (["train", "--hidden", ""], r"--hidden: "),
        (["train", "--learning-rate", "0"], r"--learning-rate: .*greater than 0"),
        (["train", "--learning-rate", "fast"], r"--learning-rate: .*number"),
        (["train", "--beta", "-1"], r"--beta: .*0 or more"),
        (["train", "--beta", "nan"], r"--beta: .*finite"),
        (["train", "--seed", "-3"], r"--seed: "),
        (["train", "--flow-steps", "-1"], r"--flow-steps: "),
        (["train", "--bogus"], r"unrecognized arguments: --bogus"),
        (["fly"], r"invalid choice: 'fly'"),
        ([], r"required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_a_usage_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    stderr = capsys.readouterr().err
    assert "usage: python -m vae_course" in stderr
    assert re.search(message, stderr), stderr
    assert "Traceback" not in stderr


def test_good_arguments_are_parsed(no_dataset_env):
    args = cli.build_parser().parse_args(
        ["train", "--hidden", "64, 32,16", "--latent-dim", "3", "--learning-rate", "1e-3", "--beta", "0",
         "--seed", "7", "--batch-size", "32", "--epochs", "5", "--dataset", "digits", "--out", "x", "--quiet"])
    assert args.hidden == (64, 32, 16) and args.latent_dim == 3 and args.learning_rate == 1e-3
    assert args.beta == 0.0 and args.seed == 7 and args.batch_size == 32 and args.epochs == 5
    assert args.dataset == "digits" and args.out == "x" and args.quiet
    defaults = cli.build_parser().parse_args(["train"])
    assert defaults.hidden == (256, 128) and defaults.latent_dim == 2 and defaults.seed == 0
    assert defaults.dataset is None and defaults.out is None and not defaults.quiet


def test_an_unknown_data_set_is_a_one_line_error_and_writes_nothing(tmp_path, capsys, no_dataset_env):
    out = tmp_path / "never"
    assert cli.main(["train", "--dataset", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'nope'" in err and "digits" in err and "fashion_mnist" in err
    assert not out.exists()


def test_the_environment_variable_picks_the_data_set(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VAE_COURSE_DATASET", "nope_from_env")
    assert cli.main(["train", "--out", str(tmp_path / "x")]) == 2
    assert "'nope_from_env'" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(tmp_path, capsys, no_dataset_env):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert cli.main(["train", "--out", str(blocker / "run")]) == 2
    err = capsys.readouterr().err
    assert "cannot create the output folder" in err and "Traceback" not in err


def test_python_m_turns_the_return_code_into_the_exit_status(tmp_path, monkeypatch, capsys, no_dataset_env):
    """vae_course/__main__.py, run as ``python -m`` would (in-process, to save TensorFlow's start-up)."""
    import runpy

    monkeypatch.setattr(sys, "argv", ["vae_course", "train", "--dataset", "nope", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("vae_course", run_name="__main__", alter_sys=False)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: Unknown data set 'nope'" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_help_lists_the_subcommands_and_every_train_option(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "train" in text and "lessons" in text
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--dataset", "--epochs", "--batch-size", "--latent-dim", "--hidden",
                   "--learning-rate", "--beta", "--seed", "--flow-steps", "--quiet"):
        assert option in text, option


def test_a_command_imports_only_its_own_module():
    """`python -m vae_course train` starts without the other commands' modules (nbformat alone costs ~2 CPU-s)."""
    code = ("import sys\nfrom vae_course.tools import cli\n"
            "argv = ['train', '--epochs', '2']\n"
            "print(cli.build_parser(argv).parse_args(argv).epochs)\n"
            "print(' '.join(m for m in sys.modules if m.startswith(('vae_course.tools.', 'nbformat'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env(), timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    epochs, modules = run.stdout.splitlines()
    assert epochs == "2" and "vae_course.tools.train" in modules.split()
    others = [module for name, (module, _) in cli.SUBCOMMANDS.items() if name != "train"]
    assert not set(modules.split()) & {*others, "nbformat"}, modules


# ---------------------------------------------------------------------------- progress lines


def simulate(total, logs=None, **kwargs):
    stream = io.StringIO()
    progress = EpochProgress(total, stream=stream, **kwargs)
    progress.on_train_begin()
    for epoch in range(total):
        progress.on_epoch_begin(epoch)
        progress.on_epoch_end(epoch, logs or {"loss": 30.0, "reconstruction_loss": 28.0, "kl_loss": 2.0})
    progress.on_train_end()
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("total", [1, 3, 18, 19, 20, 21, 57, 100, 120, 1000, 1001])
def test_progress_prints_at_most_twenty_lines_including_first_and_last(total):
    lines = simulate(total, show_eta=False)
    numbers = [int(EPOCH_LINE.match(line)[1]) for line in lines]
    assert len(lines) <= 20
    assert numbers[0] == 1 and numbers[-1] == total
    assert numbers == sorted(set(numbers))
    if total <= 18:
        assert numbers == list(range(1, total + 1))
    else:
        assert len(lines) >= 10  # not too sparse either


def test_progress_line_format_is_rounded_and_aligned():
    lines = simulate(120, logs={"loss": 27.3149, "reconstruction_loss": 25.0213, "kl_loss": 2.2936},
                     every=10, show_eta=False)
    assert lines[0] == "epoch   1/120  loss 27.31  reconstruction 25.02  kl 2.29"
    assert lines[1] == "epoch  10/120  loss 27.31  reconstruction 25.02  kl 2.29"
    assert lines[-1] == "epoch 120/120  loss 27.31  reconstruction 25.02  kl 2.29"
    assert len(lines) == 13


def test_progress_time_estimate_can_be_turned_off():
    with_eta = simulate(40)
    assert all(re.search(r"(~\d+ s|<1 s) left$", line) for line in with_eta[1:-1])
    assert not re.search(r"left|in all", with_eta[0])  # the first epoch also traces: no estimate yet
    assert re.search(r"\d+ s in all$", with_eta[-1])
    without = simulate(40, show_eta=False)
    assert len(without) == len(with_eta)
    assert not any(("left" in line or " s" in line) for line in without)


def test_progress_writes_to_the_current_stdout_by_default(capsys):
    progress = EpochProgress(2, show_eta=False)
    progress.on_train_begin()
    progress.on_epoch_end(0, {"loss": 1.0})
    assert capsys.readouterr().out == "epoch 1/2  loss 1.00\n"
    with pytest.raises(ValueError):
        EpochProgress(0)


# ---------------------------------------------------------------------------- figures


@pytest.fixture
def small_vae():
    keras.utils.set_random_seed(0)
    vae = make_vae((8, 8), latent_dim=2, hidden=(16,), seed=0)
    yield vae
    plt.close("all")


@pytest.fixture
def no_show(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("plots must not call plt.show()")

    monkeypatch.setattr(plt, "show", refuse)


def count_calls(monkeypatch, vae, name):
    calls = []
    original = getattr(vae, name)

    def counted(z, *args, **kwargs):
        calls.append(len(z))
        return original(z, *args, **kwargs)

    monkeypatch.setattr(vae, name, counted)
    return calls


def test_loss_curves_have_titles_labels_and_legends(no_show):
    history = {"loss": [30.0, 26.0, 25.0], "reconstruction_loss": [29.0, 24.0, 22.5], "kl_loss": [1.0, 2.0, 2.5]}
    fig = plots.plot_loss_curves(history)
    axes = fig.axes
    assert len(axes) == 2 and fig._suptitle is not None
    assert sum(len(ax.lines) for ax in axes) == 3
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel() == "epoch" and "nats" in ax.get_ylabel()
        assert ax.get_legend() is not None
    np.testing.assert_array_equal(axes[1].lines[0].get_ydata(), [1.0, 2.0, 2.5])
    np.testing.assert_array_equal(axes[0].lines[0].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError):
        plots.plot_loss_curves({"accuracy": [0.5]})
    plt.close("all")


def test_prior_samples_and_manifold_decode_in_one_batch(small_vae, monkeypatch, no_show):
    calls = count_calls(monkeypatch, small_vae, "generate")
    fig = plots.plot_prior_samples(small_vae, n=12, seed=3)
    assert calls == [12]
    assert sum(1 for ax in fig.axes if ax.images) == 12
    fig = plots.plot_manifold(small_vae, n=7, span=1.5)
    assert calls == [12, 49]
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (7 * 9 - 1, 7 * 9 - 1)  # 8x8 tiles with a one-pixel gap
    # tick labels give the latent coordinates of the tile centres (every second tile)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["-1.5", "-0.5", "0.5", "1.5"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["1.5", "0.5", "-0.5", "-1.5"]
    # z[1] grows upwards: the top-left tile is z = (-span, +span), the bottom-right one (+span, -span)
    corners = keras.ops.convert_to_numpy(small_vae.generate(np.array([[-1.5, 1.5], [1.5, -1.5]], np.float32)))
    np.testing.assert_allclose(image[:8, :8], corners[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(image[-8:, -8:], corners[1], rtol=1e-5, atol=1e-6)
    assert np.all(image[8, :] == 0)  # the gap between the first and second rows of tiles


def test_prior_samples_depend_on_the_seed_only(small_vae, no_show):
    def pixels(seed):
        return [ax.images[0].get_array() for ax in plots.plot_prior_samples(small_vae, n=4, seed=seed).axes]

    np.testing.assert_array_equal(pixels(1)[0], pixels(1)[0])
    assert not np.allclose(pixels(1)[0], pixels(2)[0])


def test_reconstructions_put_originals_above_their_decoding(small_vae, no_show):
    x = load_dataset("digits")[1][0][:6]
    fig = plots.plot_reconstructions(small_vae, x, n=6)
    grid = np.array(fig.axes).reshape(2, 6)
    for col in range(6):
        np.testing.assert_array_equal(grid[0, col].images[0].get_array(), x[col])
        assert grid[1, col].images[0].get_array().shape == (8, 8)
    z_mean = small_vae.encoder(x[:1])[0]
    expected = keras.ops.convert_to_numpy(small_vae.generate(z_mean))[0]
    np.testing.assert_allclose(grid[1, 0].images[0].get_array(), expected, rtol=1e-5, atol=1e-6)


def test_latent_space_is_coloured_by_label_and_names_the_dimensions_shown(monkeypatch, no_show):
    (_, _), (x_test, y_test) = load_dataset("digits")
    keras.utils.set_random_seed(0)
    vae3 = make_vae((8, 8), latent_dim=3, hidden=(16,), seed=0)
    calls = count_calls(monkeypatch, vae3, "encoder")
    fig = plots.plot_latent_space(vae3, x_test, y_test)
    assert calls == [len(x_test)]  # one batched call
    assert "first 2 of 3" in fig.axes[0].get_title()
    assert len(fig.axes) == 2  # the scatter and its colour bar
    points = fig.axes[0].collections[0]
    assert len(points.get_offsets()) == len(x_test)
    np.testing.assert_array_equal(points.get_array(), y_test)
    with pytest.raises(ValueError, match="2-D latent space"):
        plots.plot_manifold(vae3)
    plt.close("all")


def test_flow_steps_train_and_save_a_flow_vae(tmp_path, capsys, no_dataset_env):
    """--flow-steps N: q(z | x) gets N IAF steps; the settings, the metrics and the saved model all say so."""
    out = tmp_path / "flow run"
    argv = ["train", "--flow-steps", "2", "--epochs", "2", "--hidden", "16", "--out", str(out), "--quiet"]
    assert cli.main(argv) == 0
    assert json.loads((out / "config.json").read_text())["flow_steps"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["flow_steps"] == 2 and math.isfinite(metrics["negative_elbo"])
    vae = load_model(out / "model.keras")
    assert type(vae).__name__ == "FlowVAE" and len(vae.flows) == 2
    (_, _), (x_test, _) = load_dataset("digits")
    assert negative_elbo(vae, x_test) == pytest.approx(metrics["negative_elbo"], abs=1e-3)
