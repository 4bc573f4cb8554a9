"""Other IDX datasets by download: Fashion-MNIST and KMNIST, read by the same IDX reader as MNIST.

    from digitlab.data import load_dataset
    (x_train, y_train), (x_test, y_test) = load_dataset("fashion-mnist")   # like load_data()

Each of a dataset's four ``.gz`` files is fetched from its mirrors in order: streamed (with a
timeout) into a temporary file in the cache folder, checked against the sha256 of the file as the
mirrors serve it, then renamed into place, so the cache never holds half a file or a wrong one. Any
failure (no connection, an HTTP error, a timeout, a truncated or corrupt file) moves on to the next
mirror; when every mirror has failed, a DataError names each one and why. A file already in the
cache with the right sha256 is never fetched again, so once downloaded (or placed there by hand) a
dataset loads offline.

The cache folder is ``$DIGITLAB_DATA``, else ``$XDG_CACHE_HOME/digitlab``, else
``~/.cache/digitlab``; each dataset has a folder of its own in it. MNIST needs no download: it is
bundled, and ``load_dataset("mnist")`` returns the bundled copy.

The sha256 values are the ones published for the files the mirrors serve (the same values appear in
TensorFlow Datasets' and torchvision's checksum lists, the latter as md5).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlab.data.idx import read_idx
from digitlab.errors import ConfigError, DataError
from digitlab.files import atomic_file

# The order load_dataset returns them in: x_train, y_train, x_test, y_test.
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TIMEOUT = 30.0                # seconds without an answer before a mirror counts as failed
MAX_BYTES = 64 * 1024 * 1024  # no file of these datasets is near this; a larger answer is not ours
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteDataset:
    """An IDX dataset that is downloaded: where from, and the sha256 of each file as served."""

    name: str
    description: str
    mirrors: tuple[str, ...]               # base URLs, tried in order; each file is base + file name
    sha256: tuple[tuple[str, str], ...]    # (file name, sha256 of the .gz as served), in FILES' order
    classes: tuple[str, ...] = ()
    homepage: str = ""
    licence: str = ""

    @property
    def files(self) -> dict[str, str]:
        return dict(self.sha256)


DATASETS = {
    dataset.name: dataset
    for dataset in [
        RemoteDataset(
            name="fashion-mnist",
            description="Zalando's article images: 10 kinds of clothing, 28x28 grey, 60,000 + 10,000",
            mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                     "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
            sha256=(
                ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
                ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
                ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
                ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
            ),
            classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                     "Ankle boot"),
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            licence="MIT",
        ),
        RemoteDataset(
            name="kmnist",
            description="Kuzushiji-MNIST: 10 cursive Japanese (hiragana) characters, 28x28 grey, 60,000 + 10,000",
            mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
                     "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
            sha256=(
                ("train-images-idx3-ubyte.gz", "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
                ("train-labels-idx1-ubyte.gz", "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
                ("t10k-images-idx3-ubyte.gz", "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
                ("t10k-labels-idx1-ubyte.gz", "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
            ),
            classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            homepage="https://github.com/rois-codh/kmnist",
            licence="CC BY-SA 4.0",
        ),
    ]
}
BUNDLED = "mnist"  # load_dataset("mnist") is the bundled copy: no download


def cache_dir() -> Path:
    """Where downloads are kept: $DIGITLAB_DATA, else $XDG_CACHE_HOME/digitlab, else ~/.cache/digitlab."""
    if os.environ.get("DIGITLAB_DATA"):
        return Path(os.environ["DIGITLAB_DATA"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "digitlab"
    return Path.home() / ".cache" / "digitlab"


def get_dataset(dataset: str | RemoteDataset) -> RemoteDataset:
    """The registry's entry for a name (or the RemoteDataset itself); ConfigError for an unknown name."""
    if isinstance(dataset, RemoteDataset):
        return dataset
    if dataset not in DATASETS:
        known = ", ".join([BUNDLED, *DATASETS])
        raise ConfigError(f"unknown dataset {dataset!r}; known: {known}")
    return DATASETS[dataset]


def dataset_folder(dataset: str | RemoteDataset, cache: str | os.PathLike | None = None) -> Path:
    return Path(cache or cache_dir()) / get_dataset(dataset).name


def is_cached(dataset: str | RemoteDataset, cache: str | os.PathLike | None = None) -> bool:
    """Whether every file of the dataset is in the cache with its right sha256 (loads offline)."""
    dataset = get_dataset(dataset)
    folder = dataset_folder(dataset, cache)
    return all(_has_file(folder / name, sha256) for name, sha256 in dataset.sha256)


def list_datasets(cache: str | os.PathLike | None = None) -> list[tuple[RemoteDataset, bool, Path]]:
    """Every downloadable dataset with whether it is cached, and its folder."""
    return [(dataset, is_cached(dataset, cache), dataset_folder(dataset, cache)) for dataset in DATASETS.values()]


def download(dataset: str | RemoteDataset, cache: str | os.PathLike | None = None, *,
             mirrors: tuple[str, ...] | None = None, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES,
             progress=None) -> Path:
    """Make sure every file of ``dataset`` is in the cache (fetching those that are not); returns its folder.

    ``mirrors`` replaces the dataset's own list (a local mirror, say). ``progress(file_name, url)``
    is called before each fetch. Raises DataError when every mirror failed for a file. MNIST is
    bundled: its folder in the package is returned.
    """
    if dataset == BUNDLED:
        from digitlab.data.mnist import MNIST_DIR

        return MNIST_DIR
    dataset = get_dataset(dataset)
    folder = dataset_folder(dataset, cache)
    for name, sha256 in dataset.sha256:
        fetch_file(name, sha256, mirrors or dataset.mirrors, folder, timeout=timeout, max_bytes=max_bytes,
                   label=f"{dataset.name}'s {name}", progress=progress)
    return folder


def fetch_file(name: str, sha256: str, mirrors, folder: str | os.PathLike, *, timeout: float = TIMEOUT,
               max_bytes: int = MAX_BYTES, label: str | None = None, progress=None) -> Path:
    """``folder/name`` with the given sha256: the cached copy, or fetched from the first mirror that works."""
    folder = Path(folder)
    target = folder / name
    if _has_file(target, sha256):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"{folder}: cannot create the cache folder ({error.strerror or error}); "
                        "set DIGITLAB_DATA to a folder you can write") from None
    tried = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        if progress:
            progress(name, url)
        try:
            _fetch(url, target, sha256, timeout, max_bytes)
            return target
        except _Failed as failure:
            tried.append(f"{url} ({failure})")
    raise DataError(f"could not download {label or name}: tried {', '.join(tried) or 'no mirror'}; are you "
                    f"offline? You can place the files in {folder} by hand ({name}, sha256 {sha256})")


def load_dataset(dataset: str | RemoteDataset = "fashion-mnist", cache: str | os.PathLike | None = None, *,
                 download_missing: bool = True, mirrors: tuple[str, ...] | None = None,
                 timeout: float = TIMEOUT):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays, like ``load_data()``.

    Downloads the files that are not cached yet (unless ``download_missing`` is False, when a missing
    file is a DataError saying where to put it). ``"mnist"`` is the bundled MNIST.
    """
    if dataset == BUNDLED:
        from digitlab.data.mnist import load_data

        return load_data()
    dataset = get_dataset(dataset)
    folder = dataset_folder(dataset, cache)
    if download_missing:
        download(dataset, cache, mirrors=mirrors, timeout=timeout)
    else:
        missing = [name for name, sha256 in dataset.sha256 if not _has_file(folder / name, sha256)]
        if missing:
            raise DataError(f"{dataset.name} is not in the cache ({', '.join(missing)} missing or damaged in "
                            f"{folder}): download it with load_dataset({dataset.name!r}) or place the files there")
    remedy = f"Delete it from {folder} to download it again."
    x_train, y_train, x_test, y_test = (read_idx(folder / name, name=str(folder / name), remedy=remedy)
                                        for name in FILES)
    for images, labels, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or images.dtype != np.uint8:
            raise DataError(f"{folder}: the {split} files do not fit together: images {images.dtype} "
                            f"{images.shape}, labels {labels.shape}. {remedy}")
    return (x_train, y_train), (x_test, y_test)


# ----------------------------------------------------------------------------- fetching one file


class _Failed(Exception):
    """One mirror's failure, with the reason as its message."""


def _fetch(url: str, target: Path, sha256: str, timeout: float, max_bytes: int) -> None:
    """Stream ``url`` into a temporary file beside ``target``, check it, rename it; raises _Failed."""
    with atomic_file(target) as file:
        digest, size, declared = _stream(url, file, timeout, max_bytes)
        if declared is not None and size != declared:
            raise _Failed(f"truncated: {size:,} of {declared:,} bytes")
        if digest != sha256.lower():
            raise _Failed(f"wrong sha256 {digest[:16]}..., expected {sha256[:16]}...: a corrupt or different file")


def _stream(url, file, timeout, max_bytes):
    """(sha256 hex digest, bytes received, Content-Length or None), writing the body to ``file``."""
    digest, size = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "digitlab"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            declared = int(length) if length and length.isdigit() else None
            if declared is not None and declared > max_bytes:
                raise _Failed(f"{declared:,} bytes, more than the {max_bytes:,} bytes expected at most")
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _Failed(f"more than the {max_bytes:,} bytes expected at most")
                digest.update(chunk)
                file.write(chunk)
    except _Failed:
        raise
    except urllib.error.HTTPError as error:
        raise _Failed(f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            raise _Failed(f"no answer within {timeout:g} s") from None
        raise _Failed(getattr(reason, "strerror", None) or str(reason)) from None
    except TimeoutError:
        raise _Failed(f"no answer within {timeout:g} s") from None
    except http.client.IncompleteRead as error:
        raise _Failed(f"truncated: the connection closed after {size + len(error.partial):,} bytes") from None
    except (http.client.HTTPException, OSError, ValueError) as error:
        raise _Failed(f"{type(error).__name__}: {error}") from None
    return digest.hexdigest(), size, declared


def _has_file(path: Path, sha256: str) -> bool:
    try:
        with path.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256")
    except OSError:
        return False
    return digest.hexdigest() == sha256.lower()
