"""The headline summary (issue 16's targets), the lessons' tables over the floor, and the fresh-clone pytest line."""

PASS_LABELS = {
    "lessons": "lessons/ as generated, empty cache",
    "solutions": "solutions/, empty cache",
    "cache-full": "lessons/ again, cache full",
    "quick": "a tiny notebook (--quick)",
}


def verdict(value, target, at_most=True):
    """"met" or "not met" against a bound (``at_most``: value <= target, else value >= target)."""
    if value is None:
        return "not measured"
    return "met" if (value <= target if at_most else value >= target) else "not met"


def minutes(seconds):
    """``m:ss``."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def cores_label(cores):
    return f"{cores} core{'s' if cores != 1 else ''}"


def _ratio(value):
    return "-" if value is None else f"{value:.2f}×"


def taught_path_line(tp):
    return (f"- **Taught path** (`make_vae(...)` + `compile(optimizer)` + `fit(x, ...)`, no extra arguments): "
            f"**{_ratio(tp['ratio_vs_textbook'])}** the textbook port's samples/s ({tp['samples_per_second']:,.0f} "
            f"against {tp['textbook_samples_per_second']:,.0f}, side by side in one process, "
            f"{tp.get('epochs_per_call', 1)} epochs per `fit` call; target ≥ "
            f"{tp['target']:g}×: {verdict(tp['ratio_vs_textbook'], tp['target'], at_most=False)}){_first_call(tp)}")


def _first_call(tp):
    """The first call of each, tracing and compiling included, when the results hold it."""
    ratio = tp.get("first_call_ratio")
    return "" if ratio is None else f"; their first calls, tracing and compiling included: {_ratio(ratio)}"


def pass_line(cores, floor, p):
    failed = "" if p["all_ok"] else " (some notebooks FAILED)"
    return (f"- {cores_label(cores)}, {PASS_LABELS.get(p['name'], p['name'])}: course total "
            f"**{_ratio(p['total_ratio'])}** the floor of {floor if floor is None else round(floor, 1)} s "
            f"(target ≤ {p['course_target']:g}×: {verdict(p['total_ratio'], p['course_target'])}); worst "
            f"{p['worst']} {_ratio(p['worst_ratio'])}; {p['within_lesson_target']} of {p['count']} within "
            f"{p['lesson_target']:g}×{failed}")


def pytest_line(p):
    left_out = " (uncommitted changes are not in a clone)" if p.get("uncommitted_changes_left_out") else ""
    cpu = p.get("cpu_seconds")  # results written before it was measured have none
    busy = f"{cpu:.0f} CPU-seconds, {cpu / p['seconds']:.1f} cores busy on average; " if cpu and p["seconds"] else ""
    return (f"- First `{p['command']}` on a fresh clone of {p['commit'][:10]}: **{minutes(p['seconds'])}** "
            f"(target < {minutes(p['target_seconds'])}: {verdict(p['seconds'], p['target_seconds'])}; {busy}git clone "
            f"{p['clone_seconds']:.1f} s more; exit {p['returncode']}; {p['summary']}){left_out}")


def pytest_cpu_table(p):
    """The files whose tests cost the fresh-clone run most CPU, and what no test accounts for (pytest's start)."""
    if not p.get("cpu_by_file"):  # results written before it was measured have none
        return []
    lines = ["| CPU-s | test file (its tests, and the processes they started) |", "|---:|---|"]
    lines += [f"| {cpu:.1f} | {name} |" for name, cpu in p["cpu_by_file"]]
    return lines + [f"| {p['cpu_outside_tests']:.1f} | outside any test: starting pytest and its workers, collecting |"]


def summary_lines(results):
    """The headline: the taught path first, then each core count's passes, then the fresh-clone pytest."""
    lines = []
    t = results.get("throughput")
    if t and t.get("taught_path"):
        lines.append(taught_path_line(t["taught_path"]))
    for c in (results.get("lessons") or {}).get("cores", []):
        for p in c["passes"]:
            lines.append(pass_line(c["cores"], c["floor"]["median_seconds"], p))
    if results.get("pytest"):
        lines.append(pytest_line(results["pytest"]))
    return lines


def _cell(notebook):
    if notebook is None:
        return "- | -"
    seconds = f"{notebook['seconds']:.1f}" + ("" if notebook["ok"] else " FAILED")
    return f"{seconds} | {_ratio(notebook['ratio'])}"


def floor_line(c):
    f = c["floor"]
    runs = ", ".join(f"{r['execute_seconds']:.1f}" + ("" if r["ok"] else " FAILED") + f" (after {r['after']})"
                     for r in f["runs"])
    spread = "-" if f["spread"] is None else f"{100 * f['spread']:.0f} %"
    count = f"the median of {len(f['runs'])} runs" if len(f["runs"]) > 1 else "1 run"
    return (f"Floor: {f['median_seconds']} s, {count} spread between the notebooks (seconds, after how many "
            f"notebooks): {runs}; spread (max - min) / median {spread}.")


def cores_table(c, floor_cells):
    """One core count's table: each notebook's seconds and × floor in every pass, the totals, peak memory."""
    passes = c["passes"]
    lines = [f"Run All in a fresh kernel on {cores_label(c['cores'])} (CPUs {','.join(map(str, c['cpus']))}, "
             f"CPU_LIMIT={c['cpu_limit']}), nbclient; the floor notebook runs "
             + " and ".join(f"`{cell}`" for cell in floor_cells) + ".", floor_line(c), ""]
    lines.append("| notebook | " + " | ".join(f"{PASS_LABELS.get(p['name'], p['name'])}: s | × floor"
                                                for p in passes) + " | kernel peak MB |")
    lines.append("|---|" + "---:|---:|" * len(passes) + "---:|")
    by_pass = [{n["notebook"]: n for n in p["notebooks"]} for p in passes]
    names = list(dict.fromkeys(name for table in by_pass for name in table))
    for name in names:
        peaks = [t[name]["kernel_peak_mb"] for t in by_pass if name in t and t[name]["kernel_peak_mb"] is not None]
        peak = f"{max(peaks):.0f}" if peaks else "-"
        lines.append(f"| {name.removesuffix('.ipynb')} | " + " | ".join(_cell(t.get(name)) for t in by_pass)
                     + f" | {peak} |")
    lines.append("| **course total** (target ≤ " + f"{passes[0]['course_target']:g}×) | "
                 + " | ".join(f"{p['total_seconds']:.1f} | **{_ratio(p['total_ratio'])}**" for p in passes) + " | |")
    lines.append(f"| worst (target ≤ {passes[0]['lesson_target']:g}× each) | "
                 + " | ".join(f"{p['worst'].removesuffix('.ipynb')} | {_ratio(p['worst_ratio'])}" for p in passes)
                 + " | |")
    return lines


def lessons_tables(lessons):
    lines = []
    for c in lessons["cores"]:
        lines += [""] + cores_table(c, lessons["floor_cells"])
    return lines
