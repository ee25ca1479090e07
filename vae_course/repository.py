"""The course's public repository, named once, and every link made from it.

The one place is ``[project.urls] Repository`` in pyproject.toml (a fork changes that line). Where the package runs
from a checkout, that file is read; where it was installed (Colab, a hub image), the same URL comes from the
installed package's metadata. Binder, Colab, nbgitpuller and ``pip install`` addresses are all built here.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode

from ._paths import REPOSITORY

DISTRIBUTION = "vae-course"
BRANCH = "main"
GITHUB = re.compile(r"https://github\.com/(?P<slug>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)")
PYPROJECT = REPOSITORY / "pyproject.toml"


class RepositoryError(ValueError):
    """The repository address is missing or not a GitHub repository URL."""


def slug_of(url):
    """``"owner/name"`` of a ``https://github.com/owner/name`` URL; RepositoryError for anything else."""
    match = GITHUB.fullmatch(url.strip().removesuffix("/").removesuffix(".git")) if isinstance(url, str) else None
    if match is None:
        raise RepositoryError(f"{url!r} is not a GitHub repository URL like https://github.com/OWNER/NAME")
    return match.group("slug")


def url_in_pyproject(path=PYPROJECT):
    """The ``Repository`` URL under ``[project.urls]`` in the pyproject.toml at ``path``."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RepositoryError(f"{path}: cannot read it ({error})") from None
    url = data.get("project", {}).get("urls", {}).get("Repository")
    if url is None:
        raise RepositoryError(f'{path}: no `Repository = "https://github.com/OWNER/NAME"` under [project.urls]')
    return url


def url_in_metadata():
    """The ``Repository`` URL of the installed vae-course distribution, or None."""
    try:
        entries = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    return None


def repository_slug():
    """``"owner/name"`` of the course's repository: from pyproject.toml in a checkout, else the installed metadata."""
    url = url_in_pyproject() if PYPROJECT.is_file() else url_in_metadata()
    if url is None:
        raise RepositoryError(f"the {DISTRIBUTION} package records no Repository URL; reinstall it from the course")
    return slug_of(url)


def pip_requirement(slug, branch=BRANCH):
    """What ``pip install`` takes to install the course package, with its own version ranges, from GitHub."""
    return f"{DISTRIBUTION} @ git+https://github.com/{slug}@{branch}"


def colab_link(slug, path, branch=BRANCH):
    """Colab's address for the notebook at ``path`` (relative to the repository root) on ``branch``."""
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{Path(path).as_posix()}"


def binder_link(slug, path, branch=BRANCH):
    """mybinder.org's address that opens the notebook at ``path`` in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=lab/tree/{Path(path).as_posix()}"


def nbgitpuller_link(hub, slug, path, branch=BRANCH):
    """A JupyterHub link that pulls the repository into the learner's home and opens ``path`` in JupyterLab."""
    folder = slug.split("/")[1]
    query = urlencode({
        "repo": f"https://github.com/{slug}",
        "urlpath": f"lab/tree/{folder}/{Path(path).as_posix()}",
        "branch": branch,
    })
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"
