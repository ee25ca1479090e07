"""The first cell of every lesson: is the installed vae_course new enough for this lesson?

Lessons can be newer than the package (a hub pulls new lessons with nbgitpuller into an old image). The lesson
calls ``require("X.Y.Z")``; an older package stops the lesson with one plain paragraph saying what to do.
No TensorFlow here, so the check answers at once.
"""

import re

from .repository import RepositoryError, pip_requirement, repository_slug

__version__ = "0.2.0"  # the package's one version number (pyproject.toml reads it); lessons require it

VERSION = re.compile(r"\d+(\.\d+)*")


class CourseTooOld(RuntimeError):
    """The installed vae_course is older than the lesson needs. Jupyter shows only the message, no traceback."""

    def _render_traceback_(self):  # IPython's hook: these lines replace the traceback
        return [f"\x1b[1;31m{self}\x1b[0m"]


def release(version):
    """The numeric release of a version string, as a tuple: ``"0.10.2"`` -> ``(0, 10, 2)``; ``"0.2"`` == ``"0.2.0"``."""
    match = VERSION.match(version) if isinstance(version, str) else None
    if match is None:
        raise ValueError(f"{version!r} is not a version number like 0.2.0")
    parts = [int(part) for part in match.group().split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def how_to_update():
    """The command that installs the newest course package, with its own version ranges."""
    try:
        requirement = pip_requirement(repository_slug())
    except RepositoryError:
        return "reinstall the course package from the course's repository"
    return f'run `%pip install -U "{requirement}"` in a cell'


def require(minimum, installed=__version__):
    """Raise CourseTooOld, saying what to do, when vae_course ``installed`` is older than ``minimum``."""
    if release(installed) >= release(minimum):
        return
    raise CourseTooOld(
        f"This lesson needs vae-course {minimum} or newer, but this kernel has {installed}. "
        f"To update it, {how_to_update()}, then restart the kernel (JupyterLab: Kernel > Restart Kernel; Colab: "
        f"Runtime > Restart session) and run the lesson again. If you work from a copy of the course folder, "
        f"`git pull` and `pip install -r requirements.txt` do the same. On a shared JupyterHub where that fails, "
        f"ask your instructor to update the image."
    )
