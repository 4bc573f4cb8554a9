"""The IDX reader and writer: round trips, and every way a file can be damaged."""

import gzip
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitlab.data import read_idx, write_idx
from digitlab.data.idx import IDX_DTYPES
from digitlab.errors import DataError

SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)]
NATIVE_DTYPES = [dtype.newbyteorder("=") for dtype in IDX_DTYPES.values()]


def random_array(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def idx_bytes(array, type_code=None):
    """An IDX file's bytes, built by hand (independently of write_idx)."""
    code = type_code if type_code is not None else {v.newbyteorder("="): k for k, v in IDX_DTYPES.items()}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", NATIVE_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"rank{len(s)}")
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type_and_rank(tmp_path, dtype, shape, suffix):
    array = random_array(dtype, shape)
    path = tmp_path / f"data-idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == dtype and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_file_written_matches_hand_built_bytes(tmp_path):
    array = np.arange(12, dtype=np.int16).reshape(3, 4) - 6
    write_idx(tmp_path / "a.idx", array)
    assert (tmp_path / "a.idx").read_bytes() == idx_bytes(array)
    assert idx_bytes(array)[:8] == bytes([0, 0, 0x0B, 2, 0, 0, 0, 3])


def test_reads_bytes_and_detects_gzip_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    raw = idx_bytes(array)
    np.testing.assert_array_equal(read_idx(raw), array)
    np.testing.assert_array_equal(read_idx(gzip.compress(raw)), array)
    (tmp_path / "gzipped-without-suffix").write_bytes(gzip.compress(raw))
    (tmp_path / "plain.gz").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "gzipped-without-suffix"), array)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "plain.gz")), array)


def test_empty_dimension_is_allowed(tmp_path):
    write_idx(tmp_path / "empty.idx", np.zeros((0, 28, 28), np.uint8))
    assert read_idx(tmp_path / "empty.idx").shape == (0, 28, 28)


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "x.idx.gz"
    write_idx(path, np.ones(5, np.uint8))
    write_idx(path, np.zeros(3, np.float64))  # replaces the old file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.idx.gz"]
    np.testing.assert_array_equal(read_idx(path), np.zeros(3))
    (tmp_path / "reference").write_bytes(b"")  # permissions as the umask gives any new file
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "reference").stat().st_mode)


def test_write_into_a_missing_folder(tmp_path):
    with pytest.raises(DataError, match="cannot write") as caught:
        write_idx(tmp_path / "no-such-folder" / "x.idx", np.zeros(2, np.uint8))
    assert "x.idx" in str(caught.value)


def test_gzip_output_is_deterministic(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


@pytest.mark.parametrize(
    "array, complaint",
    [(np.zeros(3, np.int64), "int64"), (np.zeros(3, bool), "bool"), (np.float32(1.0), "0-dimensional")],
)
def test_write_rejects_what_idx_cannot_store(tmp_path, array, complaint):
    with pytest.raises(DataError, match=complaint):
        write_idx(tmp_path / "bad.idx", array)
    assert list(tmp_path.iterdir()) == []


# --- damaged files: each is a DataError naming the file -------------------------------------------

GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    "content, complaint",
    [
        (b"", "truncated IDX header"),
        (b"\x00\x00", "truncated IDX header"),
        (b"PK\x03\x04" + GOOD[4:], "not an IDX file"),
        (b"\x00\x00\x07\x01" + GOOD[4:], "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "rank 0"),
        (GOOD[:10], "truncated IDX header"),
        (GOOD[:-1], "truncated IDX file: header says 2x3x4 uint8 \\(24 bytes of data\\) but only 23 are there"),
        (GOOD + b"\x00\x00", "2 trailing bytes"),
        (bytes([0, 0, 8, 100]) + (1).to_bytes(4, "big") * 100 + b"\x07", "more dimensions than NumPy"),
    ],
    ids=["empty", "two-bytes", "bad-magic", "type-code", "rank-0", "short-header", "truncated", "trailing", "rank-100"],
)
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
def test_damaged_file_raises_data_error_naming_it(tmp_path, content, complaint, compress):
    path = tmp_path / ("damaged-idx3-ubyte.gz" if compress else "damaged-idx3-ubyte")
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(DataError, match=complaint) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)
    assert "Re-download or reinstall" in str(caught.value)


def test_truncated_and_corrupt_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match="truncated gzip") as caught:
        read_idx(truncated)
    assert "truncated.gz" in str(caught.value)

    corrupt = bytearray(compressed)
    corrupt[20:30] = b"\xff" * 10
    path = tmp_path / "corrupt.gz"
    path.write_bytes(bytes(corrupt))
    with pytest.raises(DataError, match="gzip") as caught:
        read_idx(path)
    assert "corrupt.gz" in str(caught.value)

    with pytest.raises(DataError, match="gzip"):
        read_idx(b"\x1f\x8b" + b"\x00" * 30)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="file not found") as caught:
        read_idx(tmp_path / "nowhere-idx1-ubyte.gz")
    assert "nowhere-idx1-ubyte.gz" in str(caught.value)
    with pytest.raises(DataError, match="folder"):
        read_idx(tmp_path)


def test_checksum_checked_on_decompressed_bytes(tmp_path):
    import hashlib

    raw = idx_bytes(np.arange(50, dtype=np.uint8))
    digest = hashlib.sha256(raw).hexdigest()
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(path, expected_sha256=digest.upper()), np.arange(50))

    wrong = "0" * 64
    with pytest.raises(DataError, match="checksum mismatch") as caught:
        read_idx(path, expected_sha256=wrong, remedy="Do the thing.")
    message = str(caught.value)
    assert str(path) in message and digest in message and wrong in message and message.endswith("Do the thing.")


def test_bytes_source_is_named_in_messages():
    with pytest.raises(DataError, match="^<bytes>: "):
        read_idx(b"nonsense")
    with pytest.raises(DataError, match="^download of kmnist: "):
        read_idx(b"nonsense", name="download of kmnist")


@st.composite
def idx_like_bytes(draw):
    """Bytes that are often nearly an IDX file, so the parser's deeper checks get exercised."""
    kind = draw(st.sampled_from(["random", "header", "gzip"]))
    tail = draw(st.binary(max_size=64))
    if kind == "random":
        return tail
    code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    rank = draw(st.integers(0, 6))
    dims = b"".join(draw(st.integers(0, 5)).to_bytes(4, "big") for _ in range(rank))
    content = bytes([0, 0, code, rank]) + dims + tail
    return gzip.compress(content) if kind == "gzip" else content


@settings(max_examples=200, deadline=None)
@given(idx_like_bytes())
def test_arbitrary_bytes_give_an_array_or_a_data_error(content):
    try:
        array = read_idx(content)
    except DataError as error:
        assert str(error).startswith("<bytes>: ")
    else:
        assert isinstance(array, np.ndarray) and array.ndim >= 1
