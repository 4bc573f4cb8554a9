"""Downloads against a local HTTP server on 127.0.0.1: good, corrupt and truncated files, dead mirrors."""

import hashlib
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from digitlab.data import load_data
from digitlab.data.download import (
    DATASETS,
    FILES,
    RemoteDataset,
    cache_dir,
    dataset_folder,
    download,
    is_cached,
    list_datasets,
    load_dataset,
)
from digitlab.data.idx import write_idx
from digitlab.errors import ConfigError, DataError

# ----------------------------------------------------------------------------- a small dataset and its server


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 5, dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def files(arrays, tmp_path_factory):
    """The four .gz files' bytes, as a mirror serves them."""
    folder = tmp_path_factory.mktemp("served")
    for name, array in arrays.items():
        write_idx(folder / name, array)
    return {name: (folder / name).read_bytes() for name in FILES}


class _Handler(BaseHTTPRequestHandler):
    """Serves /<kind>/<file>: good, corrupt (other bytes), short (a short file, honestly labelled),
    cut (the full Content-Length declared, half sent), slow, unsized (no Content-Length); anything
    else is a 404."""

    def do_GET(self):
        self.server.requests.append(self.path)
        kind, _, name = self.path.strip("/").partition("/")
        body = self.server.files.get(name)
        if body is None or kind not in ("good", "corrupt", "short", "cut", "slow", "unsized"):
            self.send_error(404, "Not Found")
            return
        if kind == "corrupt":
            body = bytes(reversed(body))
        elif kind == "short":
            body = body[: len(body) // 2]
        elif kind == "slow":
            time.sleep(3)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if kind != "unsized":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2] if kind == "cut" else body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on this mirror
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server(files):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.files, httpd.requests = files, []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def dead_mirror():
    """A port with nothing listening on it: the connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/data/"


@pytest.fixture
def silent_mirror():
    """A port that accepts connections but never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/data/"
    listener.close()


def _dataset(files, *mirrors):
    sha256 = tuple((name, hashlib.sha256(files[name]).hexdigest()) for name in FILES)
    return RemoteDataset(name="tiny", description="a test set", mirrors=tuple(mirrors), sha256=sha256)


def _assert_arrays(loaded, arrays):
    (x_train, y_train), (x_test, y_test) = loaded
    for got, name in zip((x_train, y_train, x_test, y_test), FILES, strict=True):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


# ----------------------------------------------------------------------------- fetching


def test_a_good_mirror_gives_the_arrays_and_fills_the_cache(server, files, arrays, tmp_path):
    dataset = _dataset(files, f"{server.url}/good/")
    _assert_arrays(load_dataset(dataset, tmp_path), arrays)
    folder = tmp_path / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert all((folder / name).read_bytes() == files[name] for name in FILES)
    assert is_cached(dataset, tmp_path)


def test_mirrors_are_tried_in_order_until_one_works(server, files, arrays, tmp_path, dead_mirror):
    dataset = _dataset(files, dead_mirror, f"{server.url}/missing/", f"{server.url}/corrupt/",
                       f"{server.url}/short/", f"{server.url}/cut/", f"{server.url}/good/")
    _assert_arrays(load_dataset(dataset, tmp_path), arrays)
    first_file = [path for path in server.requests if path.endswith(FILES[0])]
    assert first_file == [f"/{kind}/{FILES[0]}" for kind in ("missing", "corrupt", "short", "cut", "good")]
    assert _leftovers(tmp_path / "tiny") == []


def test_when_every_mirror_fails_the_error_names_each_and_why(server, files, tmp_path, dead_mirror):
    mirrors = (dead_mirror, f"{server.url}/missing/", f"{server.url}/corrupt/", f"{server.url}/short/",
               f"{server.url}/cut/")
    with pytest.raises(DataError) as caught:
        load_dataset(_dataset(files, *mirrors), tmp_path)
    message = str(caught.value)
    assert message.startswith(f"could not download tiny's {FILES[0]}: tried ")
    reasons = re.findall(r"(http://\S+) \(([^)]*)\)", message)
    assert [url for url, _ in reasons] == [mirror + FILES[0] for mirror in mirrors]
    refused, missing, corrupt, short, cut = (reason for _, reason in reasons)
    assert "refused" in refused.lower()
    assert missing == "HTTP 404 Not Found"
    assert "wrong sha256" in corrupt and "wrong sha256" in short
    assert cut.startswith("truncated: ") and f"of {len(files[FILES[0]]):,} bytes" in cut
    assert "are you offline?" in message and f"place the files in {tmp_path / 'tiny'} by hand" in message
    assert list((tmp_path / "tiny").iterdir()) == []  # nothing half-written, nothing wrong kept


def test_a_mirror_that_never_answers_times_out(files, tmp_path, silent_mirror):
    started = time.monotonic()
    with pytest.raises(DataError, match=r"no answer within 0\.5 s"):
        load_dataset(_dataset(files, silent_mirror), tmp_path, timeout=0.5)
    assert time.monotonic() - started < 10


def test_a_slow_mirror_is_left_for_the_next(server, files, arrays, tmp_path):
    dataset = _dataset(files, f"{server.url}/slow/", f"{server.url}/good/")
    _assert_arrays(load_dataset(dataset, tmp_path, timeout=0.3), arrays)


@pytest.mark.parametrize("kind", ["good", "unsized"])
def test_an_oversized_answer_is_cut_off(kind, server, files, tmp_path):
    dataset = _dataset(files, f"{server.url}/{kind}/")
    with pytest.raises(DataError, match="more than the 100 bytes expected at most"):
        download(dataset, tmp_path, max_bytes=100)
    assert list((tmp_path / "tiny").iterdir()) == []


def test_an_answer_without_a_length_is_checked_by_its_sha256(server, files, arrays, tmp_path):
    _assert_arrays(load_dataset(_dataset(files, f"{server.url}/unsized/"), tmp_path), arrays)


def test_a_cached_dataset_loads_without_the_network(server, files, arrays, tmp_path, dead_mirror):
    load_dataset(_dataset(files, f"{server.url}/good/"), tmp_path)
    count = len(server.requests)
    _assert_arrays(load_dataset(_dataset(files, dead_mirror), tmp_path), arrays)
    assert len(server.requests) == count


def test_a_damaged_cached_file_is_fetched_again(server, files, arrays, tmp_path):
    dataset = _dataset(files, f"{server.url}/good/")
    load_dataset(dataset, tmp_path)
    damaged = tmp_path / "tiny" / FILES[2]
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert not is_cached(dataset, tmp_path)
    server.requests.clear()
    _assert_arrays(load_dataset(dataset, tmp_path), arrays)
    assert server.requests == [f"/good/{FILES[2]}"]


def test_files_placed_by_hand_are_used(files, arrays, tmp_path, dead_mirror):
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes(files[name])
    _assert_arrays(load_dataset(_dataset(files, dead_mirror), tmp_path), arrays)


def test_without_downloads_a_missing_dataset_says_where_to_put_it(files, tmp_path, dead_mirror):
    with pytest.raises(DataError, match=r"tiny is not in the cache .*train-images-idx3-ubyte\.gz.*place the files"):
        load_dataset(_dataset(files, dead_mirror), tmp_path, download_missing=False)


def test_files_that_do_not_fit_together_are_refused(files, tmp_path):
    swapped = dict(files)
    swapped["train-labels-idx1-ubyte.gz"] = files["t10k-labels-idx1-ubyte.gz"]  # 5 labels for 12 images
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes(swapped[name])
    with pytest.raises(DataError, match="the train files do not fit together"):
        load_dataset(_dataset(swapped), tmp_path)


def test_other_mirrors_can_be_given(server, files, arrays, tmp_path, dead_mirror):
    dataset = _dataset(files, dead_mirror)
    _assert_arrays(load_dataset(dataset, tmp_path, mirrors=(f"{server.url}/good/",)), arrays)


# ----------------------------------------------------------------------------- the registry and the cache folder


def test_the_registry_lists_fashion_mnist_and_kmnist_with_checksums():
    assert set(DATASETS) == {"fashion-mnist", "kmnist"}
    for dataset in DATASETS.values():
        assert [name for name, _ in dataset.sha256] == list(FILES)
        assert all(re.fullmatch(r"[0-9a-f]{64}", sha256) for _, sha256 in dataset.sha256)
        assert len({sha256 for _, sha256 in dataset.sha256}) == 4
        assert dataset.mirrors and all(re.fullmatch(r"https?://[^/]+/(\S*/)?", url) for url in dataset.mirrors)
        assert len(dataset.classes) == 10


def test_unknown_dataset_names_are_a_config_error():
    with pytest.raises(ConfigError, match="unknown dataset 'cifar'.*mnist, fashion-mnist, kmnist"):
        load_dataset("cifar")


def test_mnist_is_the_bundled_copy():
    (x_train, y_train), (x_test, y_test) = load_dataset("mnist")
    (x_train2, _), (x_test2, y_test2) = load_data()
    assert x_train.shape == (60000, 28, 28) and np.array_equal(x_test, x_test2) and np.array_equal(y_test, y_test2)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("DIGITLAB_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "digitlab"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "digitlab"
    monkeypatch.setenv("DIGITLAB_DATA", str(tmp_path / "data"))
    assert cache_dir() == tmp_path / "data"
    assert dataset_folder("kmnist") == tmp_path / "data" / "kmnist"
    assert [(dataset.name, cached) for dataset, cached, _ in list_datasets()] == [("fashion-mnist", False),
                                                                                   ("kmnist", False)]


def test_an_unwritable_cache_folder_is_a_clear_error(files, tmp_path, dead_mirror):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match="cannot create the cache folder.*DIGITLAB_DATA"):
        load_dataset(_dataset(files, dead_mirror), blocker)


# ----------------------------------------------------------------------------- the command


def test_cli_lists_the_datasets_and_the_cache(cli, tmp_path):
    result = cli("datasets", env={"DIGITLAB_DATA": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["mnist", "bundled"]
    assert [line.split()[:3] for line in lines[1:3]] == [["fashion-mnist", "not", "cached"],
                                                         ["kmnist", "not", "cached"]]
    assert lines[-1] == f"cache: {tmp_path}"


def test_cli_download_of_an_unknown_dataset_is_one_line(cli, tmp_path):
    result = cli("datasets", "--download", "cifar", env={"DIGITLAB_DATA": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.startswith("error: unknown dataset 'cifar'") and len(result.stderr.splitlines()) == 1
    empty = cli("datasets", "--download", "", env={"DIGITLAB_DATA": str(tmp_path)})
    assert empty.returncode == 1 and empty.stderr.startswith("error: unknown dataset ''")
    bundled = cli("datasets", "--download", "mnist", env={"DIGITLAB_DATA": str(tmp_path)})
    assert bundled.returncode == 0 and "mnist: cached in" in bundled.stdout
