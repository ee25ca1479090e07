"""The folder of trained models ``fit_cached`` keeps: where it is, and its entries written and read whole.

An entry is two files: ``<stem>.json`` (the record: key, history, settings, when and how long it trained) and the
weights it names, ``<stem>-<digest>.weights.h5``. Each is written to a temporary file in the same folder and moved
into place with ``os.replace``, weights first, so a reader sees a whole old entry or a whole new one, never half.
Two processes training the same key each write their own weights file; the last record written wins.
"""

import json
import os
import tempfile
import time
from pathlib import Path

from .._paths import REPOSITORY
from .data import CACHE_ENVIRONMENT as ENVIRONMENT
from .data import CACHE_OFF as DISABLED
from .data import cache_root, inside_repository

FORMAT = 1


class BadEntry(ValueError):
    """A cache entry that cannot be used: unreadable, incomplete, or written for other settings."""


def cache_folder(environ=None):
    """``$VAE_COURSE_CACHE/models``, else ``$XDG_CACHE_HOME/vae_course/models``, else ``~/.cache/vae_course/models``.

    ``None`` when ``VAE_COURSE_CACHE`` is "off" or "0": caching is switched off.
    """
    environ = os.environ if environ is None else environ
    if environ.get(ENVIRONMENT, "").strip().lower() in DISABLED:
        return None
    return cache_root(environ) / "models"


def unusable_because(folder):
    """Why trained models cannot be written into ``folder`` (it is made if missing), or None if they can."""
    folder = Path(folder)
    if inside_repository(folder):
        return f"it is inside the course repository ({REPOSITORY}), and trained weights must not end up in a commit"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return err.strerror or type(err).__name__
    return None


def record_path(folder, stem):
    return Path(folder) / f"{stem}.json"


def weights_name(stem, digest):
    return f"{stem}-{digest[:12]}.weights.h5"


def read_record(folder, stem, key):
    """The entry's record, or None if there is none; BadEntry if it is unreadable or for another key."""
    path = record_path(folder, stem)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadEntry(f"{path.name} could not be read ({type(err).__name__})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise BadEntry(f"{path.name} is not a record this version of the course wrote")
    if record.get("key") != key:
        raise BadEntry(f"{path.name} was written for other settings (its recorded key differs)")
    missing = [field for field in ("weights_file", "state_sha256", "history", "epoch", "params") if field not in record]
    if missing:
        raise BadEntry(f"{path.name} lacks {', '.join(missing)}")
    if not (Path(folder) / str(record["weights_file"])).is_file():
        raise BadEntry(f"its weights file {record['weights_file']} is missing")
    return record


def write_entry(folder, stem, save_weights, record, started):
    """Write the weights (``save_weights(path)``) then the record, each atomically; returns the record's path.

    Weights files of this entry older than ``started`` (a ``time.time()``) that the record no longer names are
    removed: left by an entry that was replaced. Newer ones may belong to a process writing at the same time.
    """
    folder = Path(folder)
    weights = folder / record["weights_file"]
    write_atomically(weights, save_weights)
    text = json.dumps(record, indent=1)
    write_atomically(record_path(folder, stem), lambda tmp: Path(tmp).write_text(text))
    for old in folder.glob(f"{stem}-*.weights.h5"):
        if old.name != weights.name and _older_than(old, started):
            _remove(old)
    return record_path(folder, stem)


def write_atomically(path, write):
    """``write(temporary path)`` in the same folder, then move it onto ``path`` in one step."""
    path = Path(path)
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        _remove(Path(temporary))
        raise


def entries(folder):
    """``[(record path, record or None if unreadable, bytes on disk)]`` for every record in ``folder``."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            record = None
        size = path.stat().st_size
        if isinstance(record, dict) and (folder / str(record.get("weights_file", ""))).is_file():
            size += (folder / record["weights_file"]).stat().st_size
        found.append((path, record if isinstance(record, dict) else None, size))
    return found


def clear(folder):
    """Remove every record, weights file and leftover temporary file; returns (files removed, bytes freed)."""
    folder = Path(folder)
    removed, freed = 0, 0
    patterns = ("*.json", "*.weights.h5", ".tmp-*")
    for path in [p for pattern in patterns for p in folder.glob(pattern)] if folder.is_dir() else []:
        size = path.stat().st_size
        if _remove(path):
            removed, freed = removed + 1, freed + size
    return removed, freed


def _older_than(path, moment):
    try:
        return path.stat().st_mtime < moment
    except OSError:
        return False


def _remove(path):
    try:
        Path(path).unlink()
        return True
    except OSError:
        return False


def utc_now():
    """The time now as "2026-12-06 10:31 UTC"."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
