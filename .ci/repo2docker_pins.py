"""Turn repo2docker's conda lock file for Python 3.11 into pip pins (binder/repo2docker-base-py311.txt).

Usage: python .ci/repo2docker_pins.py LOCK_FILE COMMIT > binder/repo2docker-base-py311.txt

LOCK_FILE is repo2docker/buildpacks/conda/environment.py-3.11-linux-64.lock from jupyterhub/repo2docker
at COMMIT. Conda packages with no PyPI counterpart are left out, each with its reason, in the output's header.
"""

import re
import sys
import textwrap
from pathlib import Path

LOCK_NAME = "repo2docker/buildpacks/conda/environment.py-3.11-linux-64.lock"

# Conda names whose PyPI name differs.
PYPI_NAME = {
    "brotli-python": "brotli",
    "jupyterhub-base": "jupyterhub",
    "nbconvert-core": "nbconvert",
    "python-fastjsonschema": "fastjsonschema",
}

# Conda-only packages, grouped by why pip has nothing to install for them.
LEFT_OUT = {
    "the interpreter itself; the check uses this machine's Python 3.11": {"python"},
    "Node.js, which JupyterLab needs only to build extensions from source": {"nodejs"},
    "conda metapackages whose parts are pinned one by one below": {
        "bleach-with-css",
        "cached-property",
        "jsonschema-with-format-nongpl",
        "jupyterhub-singleuser",
        "typing-extensions",
    },
    "C libraries and conda bookkeeping that pip wheels bundle or the OS provides": {
        "_libgcc_mutex", "_openmp_mutex", "bzip2", "ca-certificates", "icu", "keyutils", "krb5",
        "ld_impl_linux-64", "libedit", "libexpat", "libffi", "libgcc", "libgcc-ng", "libgomp", "liblzma",
        "libnsl", "libsodium", "libsqlite", "libstdcxx", "libstdcxx-ng", "libuuid", "libuv", "libxcrypt",
        "libzlib", "ncurses", "openssl", "python_abi", "readline", "tk", "tzdata", "yaml", "zeromq", "zlib",
        "zstd",
    },
}


def conda_packages(lock_text):
    """[(name, version)] for every package URL in a conda explicit lock file."""
    found = []
    for line in lock_text.splitlines():
        if not line.startswith("http"):
            continue
        filename = line.split("#", 1)[0].rsplit("/", 1)[-1]
        stem = re.sub(r"\.(conda|tar\.bz2)$", "", filename)
        name, version, _build = stem.rsplit("-", 2)
        found.append((name, version))
    if not found:
        raise ValueError("no package URLs found: is this a conda explicit lock file?")
    return found


def reason_left_out(name):
    """Why a conda package has no pip pin, or None if it gets one."""
    for reason, names in LEFT_OUT.items():
        if name in names:
            return reason
    return None


def pins_text(lock_text, commit):
    """The pins file: a header naming the source and what was left out, then sorted name==version lines."""
    pins, left_out = {}, {}
    for name, version in conda_packages(lock_text):
        reason = reason_left_out(name)
        if reason:
            left_out.setdefault(reason, []).append(f"{name} {version}")
        else:
            pins[PYPI_NAME.get(name, name)] = version
    frozen = re.search(r"^# Frozen on (.+)$", lock_text, re.MULTILINE)
    lines = [
        "# repo2docker's base environment for Python 3.11 (Jupyter server and kernel on Binder), as pip pins.",
        f"# Source: jupyterhub/repo2docker at {commit}, {LOCK_NAME}"
        + (f" (frozen {frozen.group(1)})." if frozen else "."),
        "# Made by .ci/repo2docker_pins.py; .ci/binder-env installs these with --no-deps,"
        " then binder/requirements.txt.",
        "# Left out:",
    ]
    for reason, names in left_out.items():
        text = f"{reason}: {', '.join(names)}"
        lines += textwrap.wrap(text, 110, initial_indent="#   ", subsequent_indent="#     ", break_on_hyphens=False)
    lines += [f"{name}=={version}" for name, version in sorted(pins.items())]
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    lock_file, commit = argv
    sys.stdout.write(pins_text(Path(lock_file).read_text(), commit))


if __name__ == "__main__":
    main(sys.argv[1:])
