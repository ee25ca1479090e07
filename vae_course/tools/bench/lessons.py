"""Each lesson's Run All time over the floor, on a given number of cores, as a learner first meets it.

The floor is a notebook that only imports ``vae_course`` and ``keras`` (kernel start and TensorFlow's import),
run several times in the same measurement, spread between the lessons so that drift shows; its median is the
unit. Every notebook runs top to bottom in a fresh kernel (``course.run_notebook``), the child pinned to the
first N CPUs this process may use (as ``taskset -c``) with ``CPU_LIMIT=N`` in its environment (what Binder sets;
``vae_course._threads`` sizes TensorFlow's pools from it). Each pass gets a fresh empty ``VAE_COURSE_CACHE``
folder, so lessons that share a trained model fill it as a learner's first run does; the ``cache-full`` pass
runs the lessons again on the folder the ``lessons`` pass filled.
"""

import os
import statistics
import tempfile
from pathlib import Path

from ..._paths import REPOSITORY
from .course import run_notebook

FLOOR_CELLS = ("import vae_course", "import keras")
QUICK_FLOOR_CELLS = ("import vae_course",)  # --quick, a smoke run whose numbers mean nothing: no TensorFlow import
PASSES = ("lessons", "solutions", "cache-full")
FOLDER_OF_PASS = {"lessons": "lessons", "solutions": "solutions", "cache-full": "lessons"}
CACHE_OF_PASS = {"lessons": "lessons", "solutions": "solutions", "cache-full": "lessons"}  # cache-full reuses
COURSE_TARGET = 18.0  # issue 16: the whole course within 18x the floor


def lesson_target(cores):
    """Issue 16's bound on one lesson over the floor: 5x on one core (as on Binder), 3x on more."""
    return 5.0 if cores == 1 else 3.0


def write_notebook(path, cells):
    """A notebook of code cells with these sources, written to ``path``."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return Path(path)


def cpus_for(count, available=None):
    """The first ``count`` CPUs this process may run on; ValueError if it may use fewer."""
    available = sorted(os.sched_getaffinity(0) if available is None else available)
    if count > len(available):
        raise ValueError(f"{count} cores asked for, but this process may run on only {len(available)} "
                         f"(CPUs {', '.join(map(str, available))})")
    return tuple(available[:count])


def child_environment(cpus, cache):
    """What a notebook's process gets on top of ours: the CPU limit, its cache folder, and this package first."""
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"CPU_LIMIT": str(len(cpus)), "VAE_COURSE_CACHE": str(cache),
            "PYTHONPATH": os.pathsep.join([str(REPOSITORY)] + rest)}


def pass_plan(names, pattern="*.ipynb", repository=REPOSITORY):
    """``[(pass name, notebook paths, cache key)]`` for the passes in ``names``, in the order of ``PASSES``."""
    if "cache-full" in names and "lessons" not in names:
        raise ValueError("the cache-full pass reuses the cache the lessons pass fills: ask for both")
    plan = []
    for name in PASSES:
        if name in names:
            paths = sorted((Path(repository) / FOLDER_OF_PASS[name]).glob(pattern))
            if not paths:
                raise ValueError(f"no notebooks match {pattern!r} in {Path(repository) / FOLDER_OF_PASS[name]}")
            plan.append((name, paths, CACHE_OF_PASS[name]))
    return plan


def floor_positions(count, runs):
    """Before which of ``count`` notebooks each of ``runs`` floor runs goes, spread evenly, first and last included."""
    if runs == 1:
        return [0]
    return sorted(round(i * count / (runs - 1)) for i in range(runs))


def interleave(items, runs):
    """``items`` with ``runs`` floor runs spread between them: ``[("floor", None) | ("notebook", item)]``."""
    positions = floor_positions(len(items), runs)
    sequence = []
    for index in range(len(items) + 1):
        sequence += [("floor", None)] * positions.count(index)
        if index < len(items):
            sequence.append(("notebook", items[index]))
    return sequence


def over_floor(seconds, floor):
    """``seconds`` in units of the floor, two decimals; None if either is missing."""
    if seconds is None or not floor or seconds != seconds:
        return None
    return round(seconds / floor, 2)


def summarise_pass(name, runs, floor, cores):
    """One pass's notebooks over the floor, its total (the course's sum), its worst lesson, against the targets."""
    target = lesson_target(cores)
    notebooks = [{**r, "seconds": r["execute_seconds"], "ratio": over_floor(r["execute_seconds"], floor)}
                 for r in runs]
    ratios = [n["ratio"] for n in notebooks if n["ratio"] is not None]
    total = round(sum(n["seconds"] for n in notebooks), 2)
    worst = max(notebooks, key=lambda n: -1 if n["ratio"] is None else n["ratio"])
    return {"name": name, "notebooks": notebooks, "all_ok": all(n["ok"] for n in notebooks),
            "total_seconds": total, "total_ratio": over_floor(total, floor), "course_target": COURSE_TARGET,
            "worst": worst["notebook"], "worst_ratio": worst["ratio"], "lesson_target": target,
            "within_lesson_target": sum(r <= target for r in ratios), "count": len(notebooks)}


def summarise_cores(cores, cpus, floors, runs):
    """The floor runs (median, spread) and every pass of one core count, in units of that floor."""
    seconds = [f["execute_seconds"] for f in floors if f["ok"]]
    floor = round(statistics.median(seconds), 2) if seconds else None
    names = list(dict.fromkeys(r["pass"] for r in runs))
    return {"cores": cores, "cpus": list(cpus), "cpu_limit": str(len(cpus)),
            "floor": {"median_seconds": floor, "runs": floors,
                      "spread": round((max(seconds) - min(seconds)) / floor, 3) if seconds and floor else None},
            "passes": [summarise_pass(name, [r for r in runs if r["pass"] == name], floor, cores) for name in names]}


def _progress(cores, label, result):
    state = "" if result["ok"] else "  FAILED: " + str(result["error"])[:120]
    print(f"  {cores} core{'s' if cores > 1 else ''}  {label:<11} {result['notebook']:<42} "
          f"{result['execute_seconds']:7.1f} s{state}", flush=True)


def measure_cores(cores, plan, floor_runs, runner=run_notebook, floor_cells=FLOOR_CELLS):
    """Run the floor ``floor_runs`` times between the ``plan``'s notebooks, all pinned to ``cores`` CPUs."""
    cpus = cpus_for(cores)
    items = [(name, path, cache) for name, paths, cache in plan for path in paths]
    floors, runs = [], []
    with tempfile.TemporaryDirectory(prefix="vae-bench-lessons-") as folder:
        floor = write_notebook(Path(folder) / "floor.ipynb", floor_cells)
        caches = {}
        for kind, item in interleave(items, floor_runs):
            if kind == "floor":
                cache = Path(tempfile.mkdtemp(prefix="cache-floor-", dir=folder))  # always empty
                result = runner(floor, env=child_environment(cpus, cache), cpus=cpus)
                floors.append({"after": len(runs), **result})
                _progress(cores, "floor", result)
                continue
            name, path, key = item
            if key not in caches:  # a fresh, empty folder the first time a pass uses this key
                caches[key] = Path(tempfile.mkdtemp(prefix=f"cache-{key}-", dir=folder))
            result = runner(path, env=child_environment(cpus, caches[key]), cpus=cpus)
            runs.append({"pass": name, **result})
            _progress(cores, name, result)
    return summarise_cores(cores, cpus, floors, runs)


def measure_lessons(core_counts, plan, floor_runs, runner=run_notebook, floor_cells=FLOOR_CELLS, done=None):
    """Every core count in turn (``measure_cores``), with the floor's cells and the targets alongside;
    ``done(results so far)`` after each core count, so a long run can be saved as it goes."""
    results = {"floor_cells": list(floor_cells), "floor_runs": floor_runs, "course_target": COURSE_TARGET,
               "passes": [name for name, _, _ in plan], "cores": []}
    for n in core_counts:
        results["cores"].append(measure_cores(n, plan, floor_runs, runner, floor_cells))
        if done:
            done(results)
    return results
