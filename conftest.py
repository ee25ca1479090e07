"""Repository-wide pytest set-up.

- Finds nbval's sanitize file from any folder.
- Measures each solution notebook's peak memory during its nbval run (the kernel's VmHWM) and fails the
  notebook's last cell above the limit: Binder gives a course 2 GB, so we keep every notebook under 1.5 GB.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NOTEBOOK_PEAK_LIMIT_MB = float(os.environ.get("VAE_COURSE_NOTEBOOK_LIMIT_MB", 1536))
_PEAKS = {}


def pytest_configure(config):
    opt = config.option
    path = getattr(opt, "nbval_sanitize_with", None)
    if path and not Path(path).is_absolute():
        opt.nbval_sanitize_with = str(config.rootpath / path)


def kernel_peak_mb(kernel):
    """Peak resident memory (VmHWM) of an nbval kernel's process in MB, or None where /proc cannot tell."""
    provisioner = getattr(getattr(kernel, "km", None), "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, TypeError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def pytest_runtest_teardown(item, nextitem):
    notebook = getattr(item, "parent", None)
    if type(notebook).__name__ != "IPyNbFile" or getattr(nextitem, "parent", None) is notebook:
        return
    peak = kernel_peak_mb(getattr(notebook, "kernel", None))
    if peak is None:
        return
    item.user_properties.append(("notebook_peak_mb", (notebook.path.name, peak)))  # reaches the report, xdist too
    if peak > NOTEBOOK_PEAK_LIMIT_MB:
        pytest.fail(f"{notebook.path.name} peaked at {peak:.0f} MB, over the {NOTEBOOK_PEAK_LIMIT_MB:.0f} MB kept "
                    "for Binder's 2 GB limit", pytrace=False)


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        for key, value in report.user_properties:
            if key == "notebook_peak_mb":
                name, peak = value
                _PEAKS[name] = peak


def pytest_terminal_summary(terminalreporter):
    if _PEAKS:
        terminalreporter.section("notebook peak memory (kernel VmHWM)")
        for name, peak in sorted(_PEAKS.items()):
            terminalreporter.write_line(f"{peak:7.0f} MB  {name}")
