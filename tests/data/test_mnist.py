"""The bundled MNIST and its two loaders.

Tests that only need the loaders' logic use a tiny fake MNIST folder (a few 28x28 images) whose
checksums are patched in; the real files are parsed once per test process (memoised).
"""

import gzip
import hashlib

import numpy as np
import pytest

import digitlab.data.mnist as mnist
from digitlab.data import MNIST_DIR, load_data, load_mnist, one_hot, read_idx, write_idx
from digitlab.errors import DataError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A folder of four small, valid MNIST-layout files (5 train, 3 test), checksums patched in."""
    rng = np.random.default_rng(0)
    arrays = {
        STEMS[0]: rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        STEMS[1]: np.array([0, 9, 3, 3, 7], np.uint8),
        STEMS[2]: rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        STEMS[3]: np.array([1, 2, 0], np.uint8),
    }
    digests = {}
    for stem, array in arrays.items():
        write_idx(tmp_path / stem, array)
        digests[stem] = hashlib.sha256((tmp_path / stem).read_bytes()).hexdigest()
        write_idx(tmp_path / f"{stem}.gz", array)
        (tmp_path / stem).unlink()
    monkeypatch.setattr(mnist, "MNIST_SHA256", digests)
    return tmp_path, [arrays[stem] for stem in STEMS]


def test_bundled_mnist_shapes_dtypes_and_label_counts():
    (x_train, y_train), (x_test, y_test) = load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert x_train.min() == 0 and x_train.max() == 255
    assert 30 < x_train.mean() < 36  # mostly black background, white ink


def test_bundled_files_are_where_mnist_dir_says():
    assert sorted(p.name for p in MNIST_DIR.glob("*.gz")) == sorted(f"{stem}.gz" for stem in STEMS)
    assert read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", mnist.MNIST_SHA256[STEMS[3]]).shape == (10000,)


def test_callers_get_their_own_arrays():
    (x_train, y_train), _ = load_data()
    assert x_train.flags.writeable
    x_train[0] = 7
    y_train[:] = 0
    (x_again, y_again), _ = load_data()
    assert not (x_again[0] == 7).all()
    assert np.bincount(y_again).tolist() == TRAIN_COUNTS


def test_files_are_parsed_once_per_process(monkeypatch):
    load_data()  # the first load in this process, if no test before did it
    calls = []
    monkeypatch.setattr(mnist, "read_idx", lambda *args, **kwargs: calls.append(args))
    load_data()
    load_mnist(normalize=False)
    assert calls == []


def test_changed_files_are_read_again(fake_mnist):
    folder, (x_train, *_) = fake_mnist
    (first, _), _ = load_data(folder)
    np.testing.assert_array_equal(first, x_train)
    write_idx(folder / f"{STEMS[0]}.gz", x_train[::-1].copy())
    with pytest.raises(DataError, match="checksum mismatch"):  # the patched digest is the old file's
        load_data(folder)


def test_other_folder_with_uncompressed_files(fake_mnist):
    folder, arrays = fake_mnist
    for stem in STEMS:
        (folder / stem).write_bytes(gzip.decompress((folder / f"{stem}.gz").read_bytes()))
        (folder / f"{stem}.gz").unlink()
    (x_train, y_train), (x_test, y_test) = load_data(folder)
    for got, want in zip([x_train, y_train, x_test, y_test], arrays, strict=True):
        np.testing.assert_array_equal(got, want)


def test_missing_file_says_which_and_where(fake_mnist):
    folder, _ = fake_mnist
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as caught:
        load_data(folder)
    assert str(folder) in str(caught.value)


def test_damaged_real_label_file_fails_its_checksum(tmp_path):
    for stem in STEMS:
        (tmp_path / f"{stem}.gz").symlink_to(MNIST_DIR / f"{stem}.gz")
    labels = read_idx(MNIST_DIR / "train-labels-idx1-ubyte.gz")
    labels[123] = (labels[123] + 1) % 10  # one wrong label: still a valid IDX file
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match="checksum mismatch") as caught:
        load_data(tmp_path)
    message = str(caught.value)
    assert "train-labels-idx1-ubyte.gz" in message
    assert mnist.MNIST_SHA256["train-labels-idx1-ubyte"] in message
    assert "Replace it with an original MNIST file" in message


def test_damaged_bundled_copy_says_reinstall(fake_mnist, monkeypatch):
    folder, _ = fake_mnist
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    monkeypatch.setattr(mnist, "MNIST_DIR", folder)
    with pytest.raises(DataError, match="pip install --force-reinstall digitlab") as caught:
        load_data()
    assert "train-labels-idx1-ubyte.gz" in str(caught.value)


def test_load_mnist_defaults_match_the_book():
    (x_train, t_train), (x_test, t_test) = load_mnist()
    assert x_train.shape == (60000, 784) and x_train.dtype == np.float32
    assert x_test.shape == (10000, 784) and x_test.dtype == np.float32
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert t_train.shape == (60000,) and t_train.dtype == np.uint8
    (raw_train, y_train), _ = load_data()
    np.testing.assert_array_equal(t_train, y_train)
    np.testing.assert_allclose(x_train[:100], raw_train[:100].reshape(100, 784) / 255, atol=1e-7)


def test_load_mnist_raw_images_and_one_hot_labels():
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=False, flatten=False, one_hot_label=True)
    assert x_train.shape == (60000, 1, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 1, 28, 28)
    assert t_train.shape == (60000, 10) and t_train.dtype == np.float32
    assert t_test.sum(axis=0).tolist() == TEST_COUNTS


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("one_hot_label", [True, False])
def test_load_mnist_options(fake_mnist, normalize, flatten, one_hot_label):
    folder, (x_train, y_train, x_test, y_test) = fake_mnist
    (xs, ts), (xt, tt) = load_mnist(normalize, flatten, one_hot_label, directory=folder)
    assert xs.shape == ((5, 784) if flatten else (5, 1, 28, 28))
    assert xt.shape == ((3, 784) if flatten else (3, 1, 28, 28))
    if normalize:
        assert xs.dtype == np.float32 and 0.0 <= xs.min() and xs.max() <= 1.0
        np.testing.assert_allclose(xs.reshape(5, 28, 28), x_train / 255, atol=1e-7)
    else:
        assert xs.dtype == np.uint8
        np.testing.assert_array_equal(xs.reshape(5, 28, 28), x_train)
    if one_hot_label:
        assert ts.dtype == np.float32 and ts.shape == (5, 10)
        np.testing.assert_array_equal(ts.argmax(axis=1), y_train)
        assert tt.sum() == 3
    else:
        assert ts.dtype == np.uint8
        np.testing.assert_array_equal(tt, y_test)


def test_one_hot():
    encoded = one_hot(np.array([3, 0, 9]))
    assert encoded.dtype == np.float32 and encoded.shape == (3, 10)
    np.testing.assert_array_equal(encoded.argmax(axis=1), [3, 0, 9])
    assert encoded.sum() == 3
    assert one_hot([1, 2], num_classes=3).tolist() == [[0, 1, 0], [0, 0, 1]]
    assert one_hot(np.zeros(0, np.int64)).shape == (0, 10)
    with pytest.raises(DataError, match="outside 0..9"):
        one_hot([10])
    with pytest.raises(DataError, match="outside 0..2"):
        one_hot([-1, 1], num_classes=3)
    with pytest.raises(DataError, match="integer"):
        one_hot([0.5])
