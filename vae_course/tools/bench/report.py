"""The benchmark's results as Markdown tables."""

import math

from .report_course import lessons_tables, pytest_cpu_table, pytest_line, summary_lines
from .throughput import TAUGHT_PATH


def _fmt(value, spec=".2f", missing="-"):
    return missing if value is None else format(value, spec)


def format_table(results):
    lines = []
    m = results["machine"]
    lines.append(f"vae-course benchmark, {results['created']}: {m['model_name']}, {m['cores']} cores at "
                 f"{_fmt(m['mhz'] and m['mhz'] / 1000)} GHz, peak {_fmt(m['peak_gflops'], '.1f')} GFLOP/s float32 "
                 f"({m['peak_assumption']}); Keras {results['versions'].get('keras')}, "
                 f"TensorFlow {results['versions'].get('tensorflow')}" + (" [--quick]" if results["quick"] else ""))
    summary = summary_lines(results)
    if summary:
        lines += ["", "Summary (issue 16's targets):", ""] + summary
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
            name = r["name"] + (" (the taught path)" if r["name"] == TAUGHT_PATH else "")
            lines.append(f"| {name} | {r['samples_per_second']:,.0f} | {r['ratio_vs_textbook']:.2f} | "
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
    if results.get("lessons"):
        lines += lessons_tables(results["lessons"])
    if results.get("pytest"):
        lines += ["", pytest_line(results["pytest"]).removeprefix("- "), *pytest_cpu_table(results["pytest"])]
    return "\n".join(lines)
