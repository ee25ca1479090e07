"""Data sets for the course: the bundled 8x8 digits (default) and opt-in Fashion-MNIST.

``load_dataset`` returns ``(x_train, y_train), (x_test, y_test)`` with float32
images in [0, 1] and integer labels.
"""

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from .._paths import REPOSITORY

DEFAULT_DATASET = "digits"
DIGITS_TRAIN_SIZE = 1500

# Zalando Research's files; SHA-256 of each .gz as published (their MD5s match the official list).
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


class DatasetError(RuntimeError):
    """A data set could not be loaded; the message says why and what to do."""


def load_dataset(name=None):
    """Load a data set by name; ``None`` means ``$VAE_COURSE_DATASET`` or "digits"."""
    name = name or os.environ.get("VAE_COURSE_DATASET") or DEFAULT_DATASET
    loaders = {"digits": load_digits, "fashion_mnist": load_fashion_mnist}
    if name not in loaders:
        valid = ", ".join(sorted(loaders))
        raise DatasetError(f"Unknown data set {name!r}. Valid names: {valid}.")
    return loaders[name]()


def load_digits():
    """The 1797 8x8 digits bundled with scikit-learn, pixels / 16; first 1500 train, last 297 test."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    n = DIGITS_TRAIN_SIZE
    return (x[:n], y[:n]), (x[n:], y[n:])



CACHE_ENVIRONMENT = "VAE_COURSE_CACHE"
CACHE_OFF = ("off", "0")  # values that switch the model cache off; downloads then use the default folder


def cache_root(environ=None):
    """The course's cache folder: ``$VAE_COURSE_CACHE`` (unless "off" or "0"), else ``$XDG_CACHE_HOME/vae_course``,
    else ``~/.cache/vae_course``. Downloads live in it, trained models in its ``models`` folder."""
    environ = os.environ if environ is None else environ
    root = environ.get(CACHE_ENVIRONMENT, "").strip()
    if root and root.lower() not in CACHE_OFF:
        return Path(root).expanduser()
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "vae_course"


def inside_repository(path):
    """True if ``path`` lies in the course repository this package runs from (not in an installed copy)."""
    return (REPOSITORY / "pyproject.toml").is_file() and Path(path).resolve().is_relative_to(REPOSITORY)


def cache_dir():
    """Where downloads live: ``cache_root()``. Never inside the course repository: 60 MB of data must not end up in
    a commit."""
    path = cache_root()
    if inside_repository(path):
        raise DatasetError(
            f"The data cache {path} is inside the course repository ({REPOSITORY}); downloads must not end up in "
            "a commit. Set VAE_COURSE_CACHE to a folder outside it, e.g. ~/.cache/vae_course."
        )
    return path


def sha256_of(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_fashion_mnist(directory=None, download=True, files=None, base_url=FASHION_MNIST_URL):
    """Fashion-MNIST 28x28, pixels / 255; each file downloaded once and checked by SHA-256 before use."""
    directory = Path(directory) if directory else cache_dir() / "fashion_mnist"
    files = files or FASHION_MNIST_FILES
    paths = {fname: fetch_verified(directory / fname, sha, base_url + fname, download) for fname, sha in files.items()}
    x_train = read_idx(paths["train-images-idx3-ubyte.gz"]).astype(np.float32) / 255.0
    y_train = read_idx(paths["train-labels-idx1-ubyte.gz"]).astype(np.int64)
    x_test = read_idx(paths["t10k-images-idx3-ubyte.gz"]).astype(np.float32) / 255.0
    y_test = read_idx(paths["t10k-labels-idx1-ubyte.gz"]).astype(np.int64)
    return (x_train, y_train), (x_test, y_test)


def fetch_verified(path, sha256, url, download=True):
    """Return ``path`` once its SHA-256 matches; download it (atomically) if missing or corrupt."""
    path = Path(path)
    if path.exists() and sha256_of(path) == sha256:
        return path
    problem = "is corrupt or truncated (its SHA-256 does not match)" if path.exists() else "is not in the cache"
    if not download:
        raise DatasetError(
            f"{path.name} {problem} at {path.parent}. Delete it and load again with download allowed, "
            f"or use the offline default data set, load_dataset('{DEFAULT_DATASET}')."
        )
    _download(url, path)
    actual = sha256_of(path)
    if actual != sha256:
        path.unlink()
        raise DatasetError(
            f"Downloaded {path.name} from {url} but its SHA-256 is {actual}, expected {sha256}. "
            "The file was deleted; try again later, or use the offline default data set, "
            f"load_dataset('{DEFAULT_DATASET}')."
        )
    return path


def _download(url, path):
    """Fetch ``url`` into ``path`` through a temporary file, so a broken transfer never leaves a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False)
    try:
        with tmp, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, tmp)
        os.replace(tmp.name, path)
    except (urllib.error.URLError, OSError) as err:
        raise DatasetError(
            f"Could not download {path.name} from {url} ({err}). Are you offline? "
            f"The default data set, load_dataset('{DEFAULT_DATASET}'), needs no network."
        ) from None
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)


def read_idx(path):
    """Read a gzipped IDX file (unsigned bytes): magic 0x0000080D where D is the number of dimensions."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetError(f"{Path(path).name} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) - header != int(np.prod(shape)):
        raise DatasetError(f"{Path(path).name} is truncated: header says shape {shape}.")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
