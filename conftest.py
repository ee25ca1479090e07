"""Repository-wide pytest set-up: find the nbval sanitize file from any folder."""
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    opt = config.option
    path = getattr(opt, "nbval_sanitize_with", None)
    if path and not Path(path).is_absolute():
        opt.nbval_sanitize_with = str(config.rootpath / path)
