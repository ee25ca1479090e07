"""The benchmark's machinery (``python -m vae_course bench``), on tiny settings: never its timings.

The textbook port itself (its loss = mean BCE over pixels + KL / n_pixels, beta = 1, and that it trains on
the digits) is tested in tests/test_textbook.py.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

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
                 ["bench", "--latent-dims", "2,-8"], ["bench", "--seconds", "inf"], ["bench", "--only", "course"],
                 ["bench", "--cores", "0"], ["bench", "--cores", "4096"], ["bench", "--passes", "lessons,again"],
                 ["bench", "--floor-runs", "0"]):
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
    code = cli.main(["bench", "--only", "throughput,quality,lessons", "--quick", "--cores", "1", "--out", str(out)])
    return code, json.loads(out.read_text())


def test_a_quick_run_writes_json_with_the_expected_keys(quick_results):
    code, results = quick_results
    assert code == 0
    assert results["quick"] is True and results["parts"] == ["throughput", "quality", "lessons"]
    assert {"model_name", "cores", "peak_gflops", "peak_assumption"} <= set(results["machine"])
    assert {"keras", "tensorflow"} <= set(results["versions"])
    assert "pytest" not in results  # --quick skips the fresh clone, and it was not asked for


def test_the_quick_lessons_part_times_the_floor_and_one_tiny_notebook_on_one_core(quick_results):
    _, results = quick_results
    lessons = results["lessons"]
    assert lessons["floor_cells"] == ["import vae_course"] and lessons["passes"] == ["quick"]  # no Keras: quick
    (one,) = lessons["cores"]
    assert one["cores"] == 1 and len(one["cpus"]) == 1 and one["cpu_limit"] == "1"
    (floor,) = one["floor"]["runs"]
    assert floor["ok"], floor["error"]
    assert one["floor"]["median_seconds"] == floor["execute_seconds"] > 0
    (quick,) = one["passes"]
    (tiny,) = quick["notebooks"]
    assert tiny["ok"] and tiny["notebook"] == "tiny.ipynb"
    assert tiny["ratio"] == round(tiny["seconds"] / floor["execute_seconds"], 2)
    assert finite(tiny["wall_seconds"]) and tiny["wall_seconds"] >= tiny["execute_seconds"] > 0
    assert tiny["kernel_peak_mb"] > 120  # its kernel wrote 100 MB (a bare kernel peaks at about 80)
    assert tiny["tree_peak_mb"] > 0
    assert quick["lesson_target"] == 5.0 and quick["course_target"] == 18.0
    table = bench.report.format_table(results)
    assert "on 1 core (CPUs" in table and "| tiny | " in table and "**course total**" in table


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
    taught = t["taught_path"]
    assert taught["name"] == "make_vae" and taught["target"] == 2.0
    assert taught["ratio_vs_textbook"] == t["rows"][1]["ratio_vs_textbook"]
    assert taught["textbook_samples_per_second"] == t["rows"][0]["samples_per_second"]
    assert taught["epochs_per_call"] == 1 and finite(taught["first_call_ratio"])  # quick: one epoch a call
    assert bench.throughput.long_run_epochs(20480) == 13  # 160 steps an epoch: 2,080 steps a call


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


# ---------------------------------------------------------------------------- lessons over the floor, fresh clone


def test_floor_runs_are_spread_between_the_notebooks_first_and_last_included():
    assert bench.lessons.floor_positions(30, 5) == [0, 8, 15, 22, 30]
    assert bench.lessons.floor_positions(3, 1) == [0]
    assert bench.lessons.floor_positions(0, 2) == [0, 0]
    sequence = bench.lessons.interleave(["a", "b", "c", "d"], 3)
    assert sequence == [("floor", None), ("notebook", "a"), ("notebook", "b"), ("floor", None),
                        ("notebook", "c"), ("notebook", "d"), ("floor", None)]


def test_core_counts_take_the_first_cpus_this_process_may_use():
    assert bench.lessons.cpus_for(1, {3, 1, 2}) == (1,)
    assert bench.lessons.cpus_for(2, {3, 1, 2}) == (1, 2)
    with pytest.raises(ValueError, match="3 cores asked for, but this process may run on only 2"):
        bench.lessons.cpus_for(3, {0, 1})


def test_the_plan_takes_lessons_then_solutions_then_the_lessons_again_on_the_filled_cache(tmp_path):
    for folder in ("lessons", "solutions"):
        (tmp_path / folder).mkdir()
        for name in ("01-b.ipynb", "00-a.ipynb"):
            (tmp_path / folder / name).write_text("{}")
    plan = bench.lessons.pass_plan(("cache-full", "solutions", "lessons"), repository=tmp_path)
    assert [(name, [p.name for p in paths], cache) for name, paths, cache in plan] == [
        ("lessons", ["00-a.ipynb", "01-b.ipynb"], "lessons"),
        ("solutions", ["00-a.ipynb", "01-b.ipynb"], "solutions"),
        ("cache-full", ["00-a.ipynb", "01-b.ipynb"], "lessons")]
    assert plan[0][1][0].parent.name == "lessons" and plan[1][1][0].parent.name == "solutions"
    with pytest.raises(ValueError, match="cache-full pass reuses the cache the lessons pass fills"):
        bench.lessons.pass_plan(("cache-full",), repository=tmp_path)
    with pytest.raises(ValueError, match="no notebooks match '9\\*'"):
        bench.lessons.pass_plan(("lessons",), pattern="9*", repository=tmp_path)


class FakeRunner:
    """Stands in for run_notebook: given seconds per notebook name, records what each run was given."""

    def __init__(self, seconds, failing=()):
        self.seconds, self.failing, self.calls = seconds, failing, []

    def __call__(self, path, env, cpus):
        self.calls.append({"name": path.name, "env": env, "cpus": cpus, "cache_files": sorted(
            p.name for p in Path(env["VAE_COURSE_CACHE"]).iterdir())})
        Path(env["VAE_COURSE_CACHE"], f"from-{path.stem}").touch()  # what a lesson that fills the cache leaves
        seconds = self.seconds[path.name].pop(0)
        ok = path.name not in self.failing
        return {"notebook": path.name, "wall_seconds": seconds + 1, "execute_seconds": seconds,
                "kernel_peak_mb": 500.0, "tree_peak_mb": 600.0, "error": None if ok else "Boom", "ok": ok}


@pytest.fixture
def fake_lessons(tmp_path):
    """Two fake lessons and their solutions, timed by FakeRunner: floor 10, 12 and 8 s (median 10)."""
    paths = {}
    for folder in ("lessons", "solutions"):
        paths[folder] = [tmp_path / folder / "00-a.ipynb", tmp_path / folder / "01-b.ipynb"]
    plan = [("lessons", paths["lessons"], "lessons"), ("solutions", paths["solutions"], "solutions"),
            ("cache-full", paths["lessons"], "lessons")]
    runner = FakeRunner({"floor.ipynb": [10.0, 12.0, 8.0], "00-a.ipynb": [20.0, 25.0, 15.0],
                         "01-b.ipynb": [35.0, 40.0, 5.0]}, failing=("01-b.ipynb",))
    return bench.lessons.measure_cores(1, plan, floor_runs=3, runner=runner), runner


def test_each_pass_is_measured_in_units_of_the_median_floor(fake_lessons):
    result, _ = fake_lessons
    assert result["cores"] == 1 and result["cpu_limit"] == "1"
    floor = result["floor"]
    assert floor["median_seconds"] == 10.0 and floor["spread"] == 0.4
    assert [r["after"] for r in floor["runs"]] == [0, 3, 6]  # 6 notebooks: a floor run first, halfway, last
    lessons, solutions, cached = result["passes"]
    assert [n["ratio"] for n in lessons["notebooks"]] == [2.0, 3.5]  # 20 s and 35 s
    assert [n["ratio"] for n in solutions["notebooks"]] == [2.5, 4.0]
    assert [n["ratio"] for n in cached["notebooks"]] == [1.5, 0.5]
    assert lessons["total_seconds"] == 55.0 and lessons["total_ratio"] == 5.5 and lessons["course_target"] == 18.0
    assert lessons["worst"] == "01-b.ipynb" and lessons["worst_ratio"] == 3.5
    assert lessons["lesson_target"] == 5.0 and lessons["within_lesson_target"] == 2  # one core: 5x
    assert solutions["worst"] == "01-b.ipynb" and solutions["total_ratio"] == 6.5
    assert not lessons["all_ok"] and lessons["notebooks"][1]["error"] == "Boom"


def test_every_run_is_pinned_with_a_cpu_limit_and_each_pass_starts_from_an_empty_cache(fake_lessons):
    _, runner = fake_lessons
    order = [c["name"] for c in runner.calls]
    assert order == ["floor.ipynb", "00-a.ipynb", "01-b.ipynb", "00-a.ipynb", "floor.ipynb", "01-b.ipynb",
                     "00-a.ipynb", "01-b.ipynb", "floor.ipynb"]
    assert all(c["cpus"] == (min(os.sched_getaffinity(0)),) and c["env"]["CPU_LIMIT"] == "1" for c in runner.calls)
    assert all(c["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(bench.lessons.REPOSITORY) for c in runner.calls)
    caches = [c["env"]["VAE_COURSE_CACHE"] for c in runner.calls]
    assert [c["cache_files"] for c in runner.calls if c["name"] == "floor.ipynb"] == [[], [], []]
    lessons_a, lessons_b, solutions_a, solutions_b, cached_a, cached_b = (
        c for c in runner.calls if c["name"] != "floor.ipynb")
    assert lessons_a["cache_files"] == [] and lessons_b["cache_files"] == ["from-00-a"]  # filled by the pass
    assert solutions_a["cache_files"] == []  # a pass of its own: a fresh, empty folder
    assert cached_a["cache_files"] == ["from-00-a", "from-01-b"]  # the lessons pass's folder, full
    assert lessons_a["env"]["VAE_COURSE_CACHE"] == cached_b["env"]["VAE_COURSE_CACHE"]
    assert len(set(caches)) == 3 + 2  # three floor runs, each its own empty folder; lessons; solutions
    assert not any(Path(c).exists() for c in caches)  # cleaned up afterwards


def test_the_summary_puts_the_taught_path_first_then_the_passes_then_pytest(fake_lessons):
    result, _ = fake_lessons
    rows = [{"name": "textbook", "lever": "book", "samples_per_second": 20_000.0, "ratio_vs_textbook": 1.0,
             "epochs_per_call": 13, "first_call_seconds": 30.0},
            {"name": "make_vae", "lever": "taught", "samples_per_second": 21_000.0, "ratio_vs_textbook": 1.04,
             "epochs_per_call": 13, "first_call_seconds": 24.0}]
    results = {"throughput": {"taught_path": bench.throughput.taught_path(rows)},
               "lessons": {"cores": [result], "floor_cells": ["import vae_course", "import keras"]},
               "pytest": {"command": "pytest", "commit": "0123456789abcdef", "seconds": 301.0, "clone_seconds": 0.4,
                          "cpu_seconds": 551.8,
                          "returncode": 0, "summary": "2031 passed in 300.00s", "target_seconds": 180,
                          "uncommitted_changes_left_out": True}}
    lines = bench.report_course.summary_lines(results)
    assert len(lines) == 5
    assert "**Taught path**" in lines[0] and "**1.04×**" in lines[0] and "target ≥ 2×: not met" in lines[0]
    assert "21,000 against 20,000" in lines[0] and "13 epochs per `fit` call" in lines[0]
    assert "first calls, tracing and compiling included: 1.25×" in lines[0]
    assert lines[1].startswith("- 1 core, lessons/ as generated, empty cache: course total **5.50×** the floor of "
                               "10.0 s (target ≤ 18×: met); worst 01-b.ipynb 3.50×; 2 of 2 within 5×")
    assert "some notebooks FAILED" in lines[1]
    assert lines[3].startswith("- 1 core, lessons/ again, cache full: course total **2.00×**")
    assert "**5:01** (target < 3:00: not met" in lines[4] and "2031 passed" in lines[4]
    assert "; 552 CPU-seconds, 1.8 cores busy on average; git clone 0.4 s more" in lines[4]
    assert "uncommitted changes" in lines[4]


def test_the_lessons_table_has_a_row_per_notebook_and_the_totals(fake_lessons):
    result, _ = fake_lessons
    lines = bench.report_course.cores_table(result, ["import vae_course", "import keras"])
    assert lines[0].startswith("Run All in a fresh kernel on 1 core (CPUs ") and "CPU_LIMIT=1" in lines[0]
    assert "`import vae_course` and `import keras`" in lines[0]
    assert lines[1].startswith("Floor: 10.0 s, the median of 3 runs") and "12.0 (after 3)" in lines[1]
    assert "spread (max - min) / median 40 %" in lines[1]
    header, rule, a, b, total, worst = lines[3:]
    assert header.count("× floor") == 3 and rule == "|---|---:|---:|---:|---:|---:|---:|---:|"
    assert a == "| 00-a | 20.0 | 2.00× | 25.0 | 2.50× | 15.0 | 1.50× | 500 |"
    assert b == "| 01-b | 35.0 FAILED | 3.50× | 40.0 FAILED | 4.00× | 5.0 FAILED | 0.50× | 500 |"
    assert total == ("| **course total** (target ≤ 18×) | 55.0 | **5.50×** | 65.0 | **6.50×** | 20.0 | "
                     "**2.00×** | |")
    assert worst == "| worst (target ≤ 5× each) | 01-b | 3.50× | 01-b | 4.00× | 00-a | 1.50× | |"


def test_ratios_over_a_missing_floor_are_missing_not_errors():
    assert bench.lessons.over_floor(12.0, None) is None and bench.lessons.over_floor(float("nan"), 5.0) is None
    summary = bench.lessons.summarise_cores(2, (0, 1), [{"execute_seconds": 3.0, "ok": False, "after": 0}],
                                            [{"pass": "lessons", "notebook": "x.ipynb", "execute_seconds": 4.0,
                                              "ok": True}])
    assert summary["floor"]["median_seconds"] is None and summary["passes"][0]["total_ratio"] is None
    assert summary["passes"][0]["lesson_target"] == 3.0  # more than one core: 3x
    assert bench.report_course.verdict(None, 3.0) == "not measured"


def test_real_kernels_are_pinned_and_see_their_cpu_limit_and_cache(tmp_path):
    """Tiny notebooks in real kernels, one core: each records what its kernel saw, then fills the cache; the
    second one then fails, and its pass reports it. (That a pass of another key, such as solutions, starts from an
    empty folder of its own is the fake runner's test.)"""
    log = tmp_path / "seen.jsonl"
    seen_cell = (
        "import json, os, pathlib\n"
        "cache = pathlib.Path(os.environ['VAE_COURSE_CACHE'])\n"
        f"seen = {{'cpu_limit': os.environ['CPU_LIMIT'], 'cpus': sorted(os.sched_getaffinity(0)), "
        f"'cache': str(cache), 'files': sorted(p.name for p in cache.iterdir())}}\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(seen) + '\\n')\n"
        "(cache / 'model').touch()")
    probe = bench.lessons.write_notebook(tmp_path / "probe.ipynb", [seen_cell])
    failing = bench.lessons.write_notebook(tmp_path / "failing.ipynb", [seen_cell, "1 / 0"])
    plan = [("lessons", [probe], "lessons"), ("cache-full", [failing], "lessons")]
    result = bench.lessons.measure_lessons([1], plan, floor_runs=0)  # the quick run's test has a floor in a kernel
    (one,) = result["cores"]
    lessons, full = one["passes"]
    assert lessons["all_ok"] and lessons["notebooks"][0]["ok"], lessons
    (failed,) = full["notebooks"]
    assert not failed["ok"] and not full["all_ok"] and "ZeroDivisionError" in failed["error"], failed
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert [s["cpu_limit"] for s in seen] == ["1"] * 2 and all(s["cpus"] == one["cpus"] for s in seen)
    assert [s["files"] for s in seen] == [[], ["model"]]  # fresh, then the lessons pass's cache
    assert seen[0]["cache"] == seen[1]["cache"]
    assert one["floor"] == {"median_seconds": None, "runs": [], "spread": None}


def test_cache_full_without_the_lessons_pass_is_refused(tmp_path, capsys):
    code = cli.main(["bench", "--only", "lessons", "--passes", "cache-full", "--out", str(tmp_path / "r.json")])
    assert code == 2
    assert "reuses the cache the lessons pass fills" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def _git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_pytest_runs_in_a_fresh_clone_of_the_committed_head_importing_the_clone(tmp_path):
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[tool.pytest.ini_options]\ntestpaths = ['tests']\n")
    (repo / "tests" / "test_here.py").write_text(
        "import os, pathlib\n\n\n"
        "def test_the_clone_comes_first_and_has_no_bytecode_yet():\n"
        "    root = pathlib.Path(__file__).resolve().parent.parent\n"
        "    assert os.environ['PYTHONPATH'].split(os.pathsep)[0] == str(root)\n"
        "    assert root.name == 'vae-course' and (root / 'committed.txt').is_file()\n"
        "    assert not (root / 'uncommitted.txt').exists()\n"
        "    cache = pathlib.Path(os.environ['VAE_COURSE_CACHE'])\n"
        "    assert cache.is_dir() and not any(cache.iterdir()) and not cache.is_relative_to(root)\n")
    (repo / "committed.txt").write_text("yes")
    _git("init", "-q", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "one", cwd=repo)
    (repo / "uncommitted.txt").write_text("not in a clone")
    (repo / "committed.txt").write_text("changed")
    result = bench.clone.fresh_clone_pytest(repo, pytest_args=("-p", "no:xdist", "-p", "no:cacheprovider"))
    assert result["returncode"] == 0, result["summary"]
    assert result["summary"].startswith("1 passed in ")
    assert result["uncommitted_changes_left_out"] is True
    assert result["commit"] == subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                              text=True).stdout.strip()
    assert result["command"] == "pytest -p no:xdist -p no:cacheprovider" and result["target_seconds"] == 180
    assert 0 < result["cpu_seconds"] <= result["seconds"] * os.cpu_count() + 0.1  # pytest's start costs CPU time
    (only_file,) = result["cpu_by_file"]  # the plugin logged the clone's one test
    assert only_file[0] == "tests/test_here.py" and 0 <= only_file[1] <= result["cpu_seconds"]
    assert result["cpu_outside_tests"] == round(result["cpu_seconds"] - only_file[1], 1)


def test_the_cpu_log_becomes_the_costliest_files_and_the_tests_total():
    lines = [json.dumps({"file": name, "cpu": cpu}) for name, cpu in
             [("tests/a.py", 1.0), ("solutions/b.ipynb", 5.25), ("tests/a.py", 0.5), ("tests/c.py", 0.125)]]
    assert bench.pytest_cpu.cpu_by_file(lines) == ([("solutions/b.ipynb", 5.2), ("tests/a.py", 1.5),
                                                    ("tests/c.py", 0.1)], 6.9)
    assert bench.pytest_cpu.cpu_by_file(lines, top=1)[0] == [("solutions/b.ipynb", 5.2)]
    assert bench.pytest_cpu.cpu_by_file([]) == ([], 0)


def test_the_report_lists_the_costliest_files_when_they_were_measured():
    run = {"command": "pytest", "commit": "0123456789abc", "seconds": 240.0, "cpu_seconds": 390.0,
           "clone_seconds": 0.1, "returncode": 0, "summary": "2 passed in 239.0s", "target_seconds": 180}
    assert bench.report_course.pytest_cpu_table(run) == []  # results from before the plugin
    table = bench.report_course.pytest_cpu_table(dict(run, cpu_by_file=[["solutions/b.ipynb", 86.0]],
                                                      cpu_outside_tests=29.0))
    assert table[2] == "| 86.0 | solutions/b.ipynb |" and table[-1].startswith("| 29.0 | outside any test")


def test_pytests_summary_line_is_found_without_its_rules():
    out = "....\n\n===== 3 failed, 2028 passed, 1 skipped in 301.20s (0:05:01) =====\n\n"
    assert bench.clone.summary_line(out) == "3 failed, 2028 passed, 1 skipped in 301.20s (0:05:01)"
    assert bench.clone.summary_line("1 error in 2.0s") == "1 error in 2.0s"
    assert bench.clone.summary_line("no tests ran") == ""
    assert bench.report_course.minutes(301.0) == "5:01" and bench.report_course.minutes(59.6) == "1:00"


def test_a_long_lessons_run_hands_over_its_results_after_each_core_count(tmp_path):
    lesson = tmp_path / "00-a.ipynb"
    runner = FakeRunner({"floor.ipynb": [4.0, 2.0], "00-a.ipynb": [6.0, 3.0]})
    saved = []
    result = bench.lessons.measure_lessons([1, 1], [("lessons", [lesson], "lessons")], 1, runner=runner,
                                           done=lambda so_far: saved.append(json.loads(json.dumps(so_far))))
    assert [len(s["cores"]) for s in saved] == [1, 2]
    assert saved[-1] == json.loads(json.dumps(result))
    assert [c["passes"][0]["total_ratio"] for c in result["cores"]] == [1.5, 1.5]
