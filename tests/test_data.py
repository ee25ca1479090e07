"""Data sets: the bundled digits and an offline, checksum-verified Fashion-MNIST.

Fashion-MNIST is never downloaded here: the tests write tiny valid IDX files
and serve them from memory. An autouse fixture makes any real network access
fail and points the cache at a temporary folder.
"""

import gzip
import hashlib
import io
import urllib.error
import urllib.request

import numpy as np
import pytest

import vae_course
import vae_course.vae.data as data
from vae_course import DatasetError, load_dataset
from vae_course.vae.data import load_fashion_mnist

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


def idx_bytes(array):
    """Uncompressed IDX: magic 0, 0, 0x08 (unsigned byte), ndim, then each size as a big-endian uint32."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def gz(raw):
    return gzip.compress(raw, mtime=0)


def sha256(blob):
    return hashlib.sha256(blob).hexdigest()


@pytest.fixture
def fake_fashion():
    """Five training and three test images of 28x28 with labels, as the four .gz files' bytes."""
    rng = np.random.default_rng(0)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: np.array([9, 0, 0, 3, 2], dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        TEST_LABELS: np.array([1, 7, 9], dtype=np.uint8),
    }
    arrays[TRAIN_IMAGES][0, 0, :3] = [0, 255, 128]  # make sure both ends of the range are present
    blobs = {name: gz(idx_bytes(a)) for name, a in arrays.items()}
    return arrays, blobs, {name: sha256(blob) for name, blob in blobs.items()}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test in this file may reach the network or the real cache."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to open a URL: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VAE_COURSE_DATASET", raising=False)


def write_files(directory, blobs):
    directory.mkdir(parents=True, exist_ok=True)
    for name, blob in blobs.items():
        (directory / name).write_bytes(blob)


class FakeServer:
    """Stands in for urllib.request.urlopen: serves bytes by file name and records what was asked."""

    def __init__(self, blobs):
        self.blobs = dict(blobs)
        self.requests = []

    def __call__(self, url, timeout=None):
        self.requests.append(url)
        name = url.rsplit("/", 1)[-1]
        return io.BytesIO(self.blobs[name])


# ---------------------------------------------------------------------------- digits


def test_digits_shapes_range_and_labels():
    (x_train, y_train), (x_test, y_test) = load_dataset("digits")
    assert x_train.shape == (1500, 8, 8) and x_test.shape == (297, 8, 8)
    assert y_train.shape == (1500,) and y_test.shape == (297,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert x_train.min() == 0.0 and x_train.max() == 1.0 and x_test.min() >= 0.0 and x_test.max() <= 1.0
    assert np.issubdtype(y_train.dtype, np.integer)
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))


def test_digits_split_is_fixed():
    """The first 1500 images train, the rest test, in scikit-learn's order, pixels / 16."""
    from sklearn.datasets import load_digits

    images = load_digits().images
    (x_train, _), (x_test, y_test) = load_dataset("digits")
    np.testing.assert_array_equal(x_test[0], (images[1500] / 16).astype(np.float32))
    np.testing.assert_array_equal(x_train[0], (images[0] / 16).astype(np.float32))
    np.testing.assert_array_equal(x_test[-1], (images[-1] / 16).astype(np.float32))
    assert y_test[0] == load_digits().target[1500]


def test_the_environment_variable_chooses_the_default(monkeypatch, tmp_path, fake_fashion):
    arrays, blobs, shas = fake_fashion
    write_files(tmp_path / "cache" / "fashion_mnist", blobs)
    monkeypatch.setattr(data, "FASHION_MNIST_FILES", shas)

    assert load_dataset()[0][0].shape == (1500, 8, 8)  # unset: digits
    monkeypatch.setenv("VAE_COURSE_DATASET", "fashion_mnist")
    (x_train, y_train), (x_test, _) = load_dataset()
    assert x_train.shape == (5, 28, 28) and x_test.shape == (3, 28, 28)
    np.testing.assert_array_equal(y_train, arrays[TRAIN_LABELS])
    assert load_dataset("digits")[0][0].shape == (1500, 8, 8)  # an explicit name wins
    monkeypatch.setenv("VAE_COURSE_DATASET", "nope")
    with pytest.raises(DatasetError, match="nope"):
        load_dataset()


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist_please")
    message = str(info.value)
    assert "mnist_please" in message and "digits" in message and "fashion_mnist" in message
    assert isinstance(info.value, vae_course.DatasetError)


# ---------------------------------------------------------------------------- Fashion-MNIST, offline


def test_fashion_mnist_round_trips_from_a_local_folder(tmp_path, fake_fashion):
    arrays, blobs, shas = fake_fashion
    folder = tmp_path / "files"
    write_files(folder, blobs)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(directory=folder, download=False, files=shas)
    assert x_train.dtype == np.float32 and x_train.shape == (5, 28, 28) and x_test.shape == (3, 28, 28)
    np.testing.assert_allclose(x_train, arrays[TRAIN_IMAGES] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(x_test, arrays[TEST_IMAGES] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_train, arrays[TRAIN_LABELS])
    np.testing.assert_array_equal(y_test, arrays[TEST_LABELS])
    assert x_train[0, 0, 0] == 0.0 and x_train[0, 0, 1] == 1.0
    assert x_train[0, 0, 2] == pytest.approx(128 / 255)


def test_load_dataset_uses_the_cache_folder(monkeypatch, tmp_path, fake_fashion):
    arrays, blobs, shas = fake_fashion
    cache = tmp_path / "elsewhere"
    monkeypatch.setenv("VAE_COURSE_CACHE", str(cache))
    monkeypatch.setattr(data, "FASHION_MNIST_FILES", shas)
    write_files(cache / "fashion_mnist", blobs)
    (_, _), (x_test, y_test) = load_dataset("fashion_mnist")
    np.testing.assert_allclose(x_test, arrays[TEST_IMAGES] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_test, arrays[TEST_LABELS])


def test_a_corrupt_file_is_rejected_when_downloads_are_off(tmp_path, fake_fashion):
    _, blobs, shas = fake_fashion
    folder = tmp_path / "files"
    write_files(folder, {**blobs, TEST_LABELS: blobs[TEST_LABELS][:-5]})
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist(directory=folder, download=False, files=shas)
    message = str(info.value)
    assert TEST_LABELS in message and "SHA-256" in message
    assert "Delete it" in message and "digits" in message  # says what to do


def test_a_missing_file_is_reported_when_downloads_are_off(tmp_path, fake_fashion):
    _, blobs, shas = fake_fashion
    folder = tmp_path / "files"
    write_files(folder, {k: v for k, v in blobs.items() if k != TRAIN_LABELS})
    with pytest.raises(DatasetError, match=f"{TRAIN_LABELS} is not in the cache"):
        load_fashion_mnist(directory=folder, download=False, files=shas)


def test_missing_and_corrupt_files_are_downloaded_then_verified(monkeypatch, tmp_path, fake_fashion):
    arrays, blobs, shas = fake_fashion
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / TRAIN_IMAGES).write_bytes(b"not the real file")  # corrupt; the three others are missing
    (folder / TEST_IMAGES).write_bytes(blobs[TEST_IMAGES])  # already good: must not be fetched again
    server = FakeServer(blobs)
    monkeypatch.setattr(urllib.request, "urlopen", server)
    (x_train, _), (x_test, _) = load_fashion_mnist(directory=folder, files=shas, base_url="https://example.test/fm/")
    assert sorted(server.requests) == sorted(
        f"https://example.test/fm/{name}" for name in (TRAIN_IMAGES, TRAIN_LABELS, TEST_LABELS)
    )
    assert (folder / TRAIN_IMAGES).read_bytes() == blobs[TRAIN_IMAGES]
    np.testing.assert_allclose(x_train, arrays[TRAIN_IMAGES] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(x_test, arrays[TEST_IMAGES] / 255.0, rtol=1e-6)
    assert sorted(p.name for p in folder.iterdir()) == sorted(blobs)  # no temporary files left behind
    # a second load reads the cache only
    server.requests.clear()
    load_fashion_mnist(directory=folder, files=shas, base_url="https://example.test/fm/")
    assert server.requests == []


def test_a_download_with_the_wrong_bytes_is_deleted_and_reported(monkeypatch, tmp_path, fake_fashion):
    _, blobs, shas = fake_fashion
    folder = tmp_path / "files"
    write_files(folder, {k: v for k, v in blobs.items() if k != TRAIN_LABELS})
    monkeypatch.setattr(urllib.request, "urlopen", FakeServer({**blobs, TRAIN_LABELS: b"<html>moved</html>"}))
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist(directory=folder, files=shas, base_url="https://example.test/")
    message = str(info.value)
    assert TRAIN_LABELS in message and "deleted" in message and shas[TRAIN_LABELS] in message
    assert not (folder / TRAIN_LABELS).exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(set(blobs) - {TRAIN_LABELS})


def test_being_offline_points_to_the_digits(monkeypatch, tmp_path, fake_fashion):
    _, _, shas = fake_fashion

    def no_network(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(data, "FASHION_MNIST_FILES", shas)
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion_mnist")
    message = str(info.value)
    assert "offline" in message and "'digits'" in message
    assert any(name in message for name in shas)
    assert not (tmp_path / "cache" / "fashion_mnist").exists() or not any(
        (tmp_path / "cache" / "fashion_mnist").iterdir()
    )


def test_a_transfer_broken_halfway_leaves_no_partial_file(monkeypatch, tmp_path, fake_fashion):
    """The connection drops mid-download: a clear message, and nothing half-written stays in the cache."""
    _, blobs, shas = fake_fashion

    class Dropping(io.BytesIO):
        def read(self, *args):
            raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Dropping(b""))
    folder = tmp_path / "partial"
    with pytest.raises(DatasetError, match="Could not download .*connection reset"):
        data.load_fashion_mnist(directory=folder, files=shas)
    assert list(folder.iterdir()) == []


def test_a_truncated_idx_file_is_reported(tmp_path, fake_fashion):
    """A file whose checksum is right (e.g. a truncated upload) but whose header promises more bytes."""
    _, blobs, shas = fake_fashion
    truncated = gz(idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-100])
    folder = tmp_path / "files"
    write_files(folder, {**blobs, TRAIN_IMAGES: truncated})
    with pytest.raises(DatasetError, match=f"{TRAIN_IMAGES} is truncated"):
        load_fashion_mnist(directory=folder, download=False, files={**shas, TRAIN_IMAGES: sha256(truncated)})


def test_a_file_that_is_not_idx_is_reported(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gz(b"PK\x03\x04 a zip file"))
    with pytest.raises(DatasetError, match="not an IDX file"):
        data.read_idx(path)


def test_the_default_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_COURSE_CACHE", str(tmp_path / "a"))
    assert data.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("VAE_COURSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "vae_course"


def test_the_cache_is_never_inside_the_repository(monkeypatch):
    monkeypatch.setenv("VAE_COURSE_CACHE", str(data.REPOSITORY / "data-cache"))
    with pytest.raises(DatasetError, match="inside the course repository.*VAE_COURSE_CACHE"):
        data.cache_dir()
    assert not (data.REPOSITORY / "data-cache").exists()


def test_the_default_cache_is_in_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("VAE_COURSE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / "vae_course"
