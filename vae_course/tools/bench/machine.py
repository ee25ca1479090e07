"""The machine a benchmark ran on: CPU model, cores, clock, the float32 peak, and the dense layers' FLOPs."""

import math
import os
import platform
import subprocess
from pathlib import Path

FMA_UNITS_ASSUMED = 2  # per core; true for Xeon Scalable Gold/Platinum since Skylake-SP (2 x 512-bit FMA)

def lscpu():
    """``lscpu``'s fields as a dict (empty where it is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _cpuinfo_mhz():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except (OSError, ValueError):
        pass
    return None


def machine_info(fields=None):
    """Model name, cores, clock and the float32 peak: cores x GHz x FLOPs per cycle per core.

    FLOPs per cycle per core = FMA units x float32 lanes x 2; the lanes come from the flags (AVX-512: 16,
    AVX2: 8, else SSE: 4) and the FMA units are *assumed* to be 2 (``FMA_UNITS_ASSUMED``), which is what
    server Xeons since Skylake-SP have; ``lscpu`` cannot tell.
    """
    fields = lscpu() if fields is None else fields
    flags = set(fields.get("Flags", "").split())
    cores = int(fields.get("CPU(s)") or os.cpu_count() or 1)
    mhz = None
    for key in ("CPU max MHz", "CPU MHz"):
        try:
            mhz = float(fields[key])
            break
        except (KeyError, ValueError):
            pass
    if mhz is None:
        mhz = _cpuinfo_mhz()
    if "avx512f" in flags:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flags:
        lanes, isa = 8, "AVX2"
    else:
        lanes, isa = 4, "SSE"
    fma = FMA_UNITS_ASSUMED if "fma" in flags or "avx512f" in flags else 1
    per_cycle = fma * lanes * 2
    peak = cores * (mhz or 0) / 1000 * per_cycle if mhz else None
    return {
        "model_name": fields.get("Model name") or platform.processor() or "unknown",
        "cores": cores,
        "threads_per_core": int(fields.get("Thread(s) per core") or 1),
        "mhz": mhz,
        "isa": isa,
        "flops_per_cycle_per_core": per_cycle,
        "peak_gflops": round(peak, 1) if peak else None,
        "peak_assumption": (f"{cores} cores x {mhz / 1000 if mhz else float('nan'):.2f} GHz x {per_cycle} FLOP/cycle "
                            f"({fma} FMA units assumed x {lanes} float32 lanes ({isa}) x 2 FLOPs per FMA)"),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def dense_flops_per_sample(*models):
    """Training FLOPs per example of the dense layers: 3 (forward + backward) x 2 (multiply + add) x sum(in x out).

    Each ``Dense`` kernel counts once, even if several of ``models`` share it; biases, activations and the
    loss are left out (they are small next to the matrix products).
    """
    seen, macs = set(), 0

    def walk(layer):
        nonlocal macs
        kernel = getattr(layer, "kernel", None)
        if type(layer).__name__ == "Dense" and kernel is not None:
            if id(layer) not in seen:
                seen.add(id(layer))
                macs += math.prod(int(d) for d in kernel.shape)
            return
        for sub in getattr(layer, "layers", []) or []:
            walk(sub)

    for model in models:
        walk(model)
    return 6 * macs
