"""Ctrl-C during `train` keeps the last finished epoch; `--resume` continues from its epoch and weights."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from vae_course.tools import cli
from vae_course.tools.train import checkpoint_epoch

ARGS = ["--epochs", "400", "--hidden", "16", "--batch-size", "256", "--seed", "3"]


def read_history(path):
    with open(path, newline="") as f:
        return [(int(row["epoch"]), float(row["loss"])) for row in csv.DictReader(f)]


def interrupt_after(out, epochs, timeout=120):
    """Start a long run, send SIGINT (Ctrl-C) once `epochs` epochs are checkpointed; return the process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    # SIGINT at its default in the child, as in a terminal: a pytest started as a background job of a script has it
    # ignored, and the run would then ignore Ctrl-C and train all its epochs
    proc = subprocess.Popen([sys.executable, "-m", "vae_course", "train", "--out", str(out), "--quiet", *ARGS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    while (checkpoint_epoch(out) or 0) < epochs:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no checkpoint after {timeout} s: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return proc


def test_interrupt_then_resume_continues_from_the_saved_epoch_and_weights(tmp_path, capsys):
    out = tmp_path / "run"
    proc = interrupt_after(out, epochs=5)
    stderr = proc.stderr.read()
    assert proc.returncode == 130, stderr
    assert "Interrupted" in stderr and f"--resume {out}" in stderr and "Traceback" not in stderr
    saved = checkpoint_epoch(out)
    assert saved >= 5
    before = read_history(out / "history.csv")
    assert [e for e, _ in before][:saved] == list(range(saved))  # at most one epoch logged past the checkpoint
    assert len(before) - saved <= 1

    # Shorten the remaining work: resume reads settings from config.json, so edit the epochs there.
    config = json.loads((out / "config.json").read_text())
    config["epochs"] = saved + 3
    del config["flow_steps"]  # as written before --flow-steps existed: such a run resumes as the Gaussian VAE
    (out / "config.json").write_text(json.dumps(config))
    assert cli.main(["train", "--resume", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"Resuming {out} after epoch {saved} of {saved + 3}" in printed

    after = read_history(out / "history.csv")
    assert [e for e, _ in after] == list(range(saved + 3))  # every epoch exactly once, resumed at `saved`
    assert after[:saved] == before[:saved]
    first_loss, last_loss_before = after[saved][1], before[saved - 1][1]
    fresh_first_loss = before[0][1]
    # The weights were restored: the resumed epoch carries on near the interrupted loss, far below a fresh start.
    assert abs(first_loss - last_loss_before) < 0.25 * (fresh_first_loss - last_loss_before)
    assert (out / "model.keras").exists() and not (out / "checkpoint").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_after_epoch"] == saved and metrics["epochs"] == saved + 3
    assert metrics["flow_steps"] == 0


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["train", "--resume", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_resume_refuses_a_finished_run(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.keras").write_text("")
    assert cli.main(["train", "--resume", str(tmp_path)]) == 2
    assert "already finished" in capsys.readouterr().err


def test_a_new_run_does_not_overwrite_an_interrupted_one(tmp_path, capsys):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    assert cli.main(["train", "--out", str(tmp_path), "--epochs", "1"]) == 2
    assert "holds an interrupted run" in capsys.readouterr().err


def test_a_diverging_run_exits_1_with_the_likely_causes(tmp_path, capsys):
    code = cli.main(["train", "--out", str(tmp_path / "nan"), "--epochs", "30", "--learning-rate", "1e12",
                     "--hidden", "16", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "Training stopped at epoch" in err and "learning rate" in err
