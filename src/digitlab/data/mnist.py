"""MNIST, bundled with the package: no network needed.

Two loaders, each shaped like the one people already know:

- `load_data()` like `keras.datasets.mnist.load_data()`: uint8 arrays
  `((x_train, y_train), (x_test, y_test))` shaped (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).
- `load_mnist(normalize, flatten, one_hot_label)` like *Deep Learning from Scratch*'s
  `dataset/mnist.py`.

The four files are checked against the sha256 of their decompressed bytes the first time a process
loads them; the parsed arrays are then kept (read-only) for later calls, which get copies, so a
caller that changes its arrays never changes what the next caller gets.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from digitlab.data.batches import to_float32
from digitlab.data.idx import read_idx
from digitlab.data.labels import one_hot
from digitlab.errors import DataError

MNIST_DIR = Path(__file__).resolve().parent / "mnist"

# sha256 of each file's decompressed IDX bytes (the same whichever mirror or compression a copy came from).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# The order load_data returns them in: x_train, y_train, x_test, y_test.
_FILE_ORDER = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

_REINSTALL = "The package's copy is damaged; reinstall digitlab with `pip install --force-reinstall digitlab`."
_REPLACE = "Replace it with an original MNIST file (gzipped or not)."

MnistArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

# folder -> (the files' fingerprints when they were read, their verified read-only arrays)
_verified: dict[Path, tuple[tuple, MnistArrays]] = {}
_lock = threading.Lock()


def load_data(directory: str | os.PathLike | None = None):
    """MNIST as uint8 arrays, like `keras.datasets.mnist.load_data()`.

    Returns `((x_train, y_train), (x_test, y_test))`: images (N, 28, 28) with pixels 0..255 (white
    ink on black), labels (N,) with digits 0..9; N is 60000 and 10000. The arrays are the caller's
    own, writable copies. `directory` reads the four IDX files (`train-images-idx3-ubyte[.gz]`, ...)
    from another folder instead of the bundled copy (so does the environment variable
    DIGITLAB_MNIST_DIR); they must still be the original MNIST bytes.
    Raises `DataError` if a file is missing, corrupt or fails its checksum.
    """
    x_train, y_train, x_test, y_test = (array.copy() for array in _load_verified(directory))
    return (x_train, y_train), (x_test, y_test)


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    directory: str | os.PathLike | None = None,
):
    """MNIST shaped for a network, like `load_mnist` in *Deep Learning from Scratch*.

    Returns `((x_train, t_train), (x_test, t_test))`.

    - `normalize`: images as float32 in [0, 1] (made without a float64 intermediate); otherwise
      uint8 0..255.
    - `flatten`: images as (N, 784) rows; otherwise (N, 1, 28, 28), NCHW with one channel.
    - `one_hot_label`: labels as float32 (N, 10) one-hot rows; otherwise uint8 (N,) digits, as in
      the book (and as `load_data` gives them).

    `directory` as in `load_data`. Every array returned is the caller's own.
    """
    x_train, y_train, x_test, y_test = _load_verified(directory)

    def images(x: np.ndarray) -> np.ndarray:
        x = to_float32(x) if normalize else x.copy()
        return x.reshape(len(x), 784) if flatten else x.reshape(len(x), 1, 28, 28)

    def labels(y: np.ndarray) -> np.ndarray:
        return one_hot(y, 10) if one_hot_label else y.copy()

    return (images(x_train), labels(y_train)), (images(x_test), labels(y_test))


def _load_verified(directory: str | os.PathLike | None) -> MnistArrays:
    """The four arrays, read-only, parsed and checked once per folder (again if its files change)."""
    directory = directory or os.environ.get("DIGITLAB_MNIST_DIR") or None
    bundled = directory is None
    folder = MNIST_DIR if bundled else Path(directory).resolve()
    remedy = _REINSTALL if bundled else _REPLACE
    paths = [_find_file(folder, stem, remedy) for stem in _FILE_ORDER]
    fingerprint = tuple(_fingerprint(path) for path in paths)
    with _lock:
        cached = _verified.get(folder)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        arrays = tuple(
            read_idx(path, MNIST_SHA256[stem], remedy=remedy) for path, stem in zip(paths, _FILE_ORDER, strict=True)
        )
        for array in arrays:
            array.flags.writeable = False
        _verified[folder] = (fingerprint, arrays)
        return arrays


def _fingerprint(path: Path) -> tuple:
    """What changes when a file is replaced or rewritten: its inode, size and modification time."""
    try:
        status = path.stat()
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror or error}).") from None
    return str(path), status.st_ino, status.st_size, status.st_mtime_ns


def _find_file(folder: Path, stem: str, remedy: str) -> Path:
    """`stem.gz` if it is there, else the uncompressed `stem`."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{stem}.gz: MNIST file missing: neither {folder / (stem + '.gz')} nor {folder / stem} exists. {remedy}"
    )
