"""The benchmark's machinery (``python -m vae_course bench``), on tiny settings: never its timings.

The textbook port itself (its loss = mean BCE over pixels + KL / n_pixels, beta = 1, and that it trains on
the digits) is tested in tests/test_textbook.py.
"""

import json
import math
import subprocess
import sys

import nbformat
import pytest

from vae_course import make_vae
from vae_course.tools import bench, cli
from vae_course.vae.textbook import make_textbook_vae

# 784*150 + 150*100 + 2 * 100*10 (the two heads) + 10*100 + 100*150 + 150*784
BOOK_MACS = 117_600 + 15_000 + 2_000 + 1_000 + 15_000 + 117_600


def finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_the_flop_counter_on_the_books_architecture():
    tb = make_textbook_vae(seed=0)
    assert bench.machine.dense_flops_per_sample(tb.encoder, tb.decoder) == 6 * BOOK_MACS == 1_609_200
    # the training model shares its layers with the encoder and decoder: each kernel counts once
    assert bench.machine.dense_flops_per_sample(tb.model, tb.encoder, tb.decoder) == 6 * BOOK_MACS
    vae = make_vae((28, 28), 10, hidden=(150, 100), activation="selu", seed=0)
    assert bench.machine.dense_flops_per_sample(vae) == 6 * BOOK_MACS
    small = make_vae((8, 8), 2, hidden=(4,), seed=0)
    assert bench.machine.dense_flops_per_sample(small) == 6 * (64 * 4 + 2 * (4 * 2) + 2 * 4 + 4 * 64)


@pytest.mark.parametrize("flags, per_cycle, peak", [
    ("fpu sse2 avx2 fma avx512f avx512bw", 64, 332.8),
    ("fpu sse2 avx2 fma", 32, 166.4),
    ("fpu sse2", 8, 41.6),
])
def test_the_peak_is_cores_times_clock_times_flops_per_cycle(flags, per_cycle, peak):
    info = bench.machine.machine_info(
        {"Model name": "Test CPU", "CPU(s)": "2", "CPU max MHz": "2600.0", "Flags": flags})
    assert info["model_name"] == "Test CPU" and info["cores"] == 2 and info["mhz"] == 2600.0
    assert info["flops_per_cycle_per_core"] == per_cycle
    assert info["peak_gflops"] == pytest.approx(peak)
    assert "assumed" in info["peak_assumption"]


def test_the_curve_summary_finds_the_first_time_below_the_target_and_the_best():
    curve = [(0.5, 1, 30.0), (1.0, 2, 25.9), (1.5, 3, 25.6), (2.0, 4, 25.8), (3.0, 5, 24.9)]
    s = bench.quality._summarise(curve, 25.7, budget=3.0)
    assert s["seconds_to_target"] == 1.5 and s["epochs_to_target"] == 3
    assert s["best_nats"] == 24.9 and s["best_at_seconds"] == 3.0 and s["best_at_epoch"] == 5
    never = bench.quality._summarise(curve[:2], 25.7, budget=3.0)
    assert never["seconds_to_target"] is None and never["best_nats"] == 25.9


def test_bad_arguments_give_a_usage_error():
    for argv in (["bench", "--only", "everything"], ["bench", "--seconds", "0"], ["bench", "--repeats", "x"],
                 ["bench", "--latent-dims", "2,-8"], ["bench", "--seconds", "inf"]):
        with pytest.raises(SystemExit) as err:
            cli.main(argv)
        assert err.value.code == 2


def test_importing_the_benchmark_does_not_load_tensorflow():
    code = ("import sys, vae_course.tools.bench, vae_course.tools.cli; vae_course.tools.cli.build_parser(); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    code = cli.main(["bench", "--only", "throughput,quality", "--quick", "--out", str(out)])
    return code, json.loads(out.read_text())


def test_a_quick_run_writes_json_with_the_expected_keys(quick_results):
    code, results = quick_results
    assert code == 0
    assert results["quick"] is True and results["parts"] == ["throughput", "quality"]
    assert {"model_name", "cores", "peak_gflops", "peak_assumption"} <= set(results["machine"])
    assert {"keras", "tensorflow"} <= set(results["versions"])
    assert "course" not in results


def test_the_quick_throughput_part_has_finite_numbers(quick_results):
    _, results = quick_results
    t = results["throughput"]
    assert t["flops_per_sample"] == 6 * BOOK_MACS and t["batch_size"] == 128 and t["latent_dim"] == 10
    names = [row["name"] for row in t["rows"]]
    assert names[:2] == ["textbook", "make_vae"] and len(names) >= 3
    for row in t["rows"]:
        for key in ("samples_per_second", "ratio_vs_textbook", "ratio_vs_make_vae", "gflops", "fraction_of_peak"):
            assert finite(row[key]) and row[key] > 0, (row["name"], key, row[key])
    assert t["rows"][0]["ratio_vs_textbook"] == 1.0
    assert t["best"] in names and finite(t["best_ratio_vs_textbook"])


def test_the_quick_quality_part_has_finite_numbers(quick_results):
    _, results = quick_results
    q = results["quality"]
    assert q["target_nats"] == bench.quality.TARGET_NATS and list(q["latent"]) == ["2"]
    assert "Binomial(16, p)" in q["units"]
    for name in ("textbook", "vae_course"):
        entry = q["latent"]["2"][name]
        # under Binomial(16, p): a model after a second of training sits between a good one (about 150 nats)
        # and an untrained one (about 540)
        assert finite(entry["best_nats"]) and 140 < entry["best_nats"] < 600, entry["best_nats"]
        assert finite(entry["train_seconds"]) and entry["epochs"] >= 1
        times = [t for t, _, _ in entry["curve"]]
        assert times == sorted(times) and all(finite(v) for _, _, v in entry["curve"])
    assert finite(q["latent"]["2"]["vae_course"]["final_nats"])


def test_a_notebook_is_timed_and_its_memory_measured(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = bytearray(50 * 2**20)\nprint(len(x))")])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    result = bench.course.run_notebook(path)
    assert result["ok"], result["error"]
    assert result["notebook"] == "tiny.ipynb"
    assert finite(result["wall_seconds"]) and result["wall_seconds"] >= result["execute_seconds"] > 0
    assert result["kernel_peak_mb"] > 50  # the kernel held a 50 MB buffer
    assert result["tree_peak_mb"] > 0
    failing = tmp_path / "failing.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), failing)
    assert not bench.course.run_notebook(failing)["ok"]


def test_the_fast_trainer_gives_the_same_steps_one_call_per_batch_or_in_one_loop():
    import keras
    import numpy as np
    from keras import ops

    from vae_course import load_dataset
    from vae_course.vae.recipes import FastTrainer

    (x_train, _), _ = load_dataset("digits")
    x = x_train[:200]
    weights, losses = [], []
    for stepwise in (0, 2):
        keras.utils.set_random_seed(7)
        vae = make_vae((8, 8), 2, hidden=(16,), seed=7)
        trainer = FastTrainer(vae, x, batch_size=32, learning_rate=5e-3, total_steps=50, ema_decay=0.9, seed=7,
                              stepwise_epochs=stepwise)
        losses.append([trainer.run(1), trainer.run(2)])
        assert trainer.epochs_done == 3 and trainer.steps_done == 3 * (200 // 32)
        with trainer.averaged_weights():
            averaged = [np.array(ops.convert_to_numpy(w)) for w in vae.trainable_variables]
        weights.append(([np.array(ops.convert_to_numpy(w)) for w in vae.trainable_variables], averaged))
    # the same steps on the same batches; the two graphs may round differently (float32), nothing more
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-3)
    for a, b in zip(weights[0][0], weights[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-4)
    assert losses[0][1] < losses[0][0]  # it learns
    # the averaged weights are a different set; with a step-by-step start the average begins later, so it differs
    assert not np.allclose(weights[0][0][0], weights[0][1][0])
    assert not np.allclose(weights[1][0][0], weights[1][1][0])


def test_the_weight_average_starts_with_the_first_looped_epoch():
    import keras
    import numpy as np
    from keras import ops

    from vae_course.vae.recipes import FastTrainer

    x = (np.random.default_rng(0).integers(0, 17, (128, 8, 8)) / 16).astype(np.float32)  # on the digits' support
    keras.utils.set_random_seed(3)
    vae = make_vae((8, 8), 2, hidden=(16,), seed=3)
    trainer = FastTrainer(vae, x, batch_size=32, total_steps=40, ema_decay=0.9, seed=3, stepwise_epochs=2)
    current = lambda: [np.array(ops.convert_to_numpy(w)) for w in vae.trainable_variables]  # noqa: E731
    trainer.run(2)  # step by step: no average yet, so the "averaged" weights are the weights themselves
    raw = current()
    with trainer.averaged_weights():
        for a, b in zip(current(), raw):
            np.testing.assert_array_equal(a, b)
    trainer.run(2)  # looped: the average starts from the weights after epoch 2 and trails them
    raw = current()
    with trainer.averaged_weights():
        averaged = current()
    assert not np.allclose(averaged[0], raw[0])
    for a, b in zip(current(), raw):  # swapped back afterwards
        np.testing.assert_array_equal(a, b)


def test_versions_are_the_installed_ones_even_when_tensorflow_was_not_imported():
    """``--only course`` never imports TensorFlow; the versions come from the installed packages."""
    import importlib.metadata

    from vae_course.tools.bench import _versions

    versions = _versions()
    assert versions["tensorflow"] == importlib.metadata.version("tensorflow")
    assert versions["keras"] == importlib.metadata.version("keras")


def test_weight_decay_shrinks_kernels_after_the_adam_step_and_leaves_biases_alone():
    """FastTrainer's decoupled decay: w <- w_adam * (1 - lr * wd) on kernels; biases are not decayed."""
    import keras
    import numpy as np
    from keras import ops

    from vae_course import load_dataset
    from vae_course.vae.recipes import FastTrainer

    (x_train, _), _ = load_dataset("digits")
    weights = []
    for decay in (0.0, 0.5):
        keras.utils.set_random_seed(11)
        vae = make_vae((8, 8), 2, hidden=(16,), seed=11)
        trainer = FastTrainer(vae, x_train[:64], batch_size=64, learning_rate=1e-2, total_steps=10**6, seed=11,
                              weight_decay=decay, stepwise_epochs=1)
        trainer.run(1)  # one step
        weights.append({w.path: np.array(ops.convert_to_numpy(w)) for w in vae.trainable_variables})
    plain, decayed = weights
    for path, value in plain.items():
        factor = 1 - 1e-2 * 0.5 if value.ndim > 1 else 1.0
        np.testing.assert_allclose(decayed[path], value * factor, rtol=1e-5, atol=1e-7, err_msg=path)
