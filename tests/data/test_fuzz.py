"""Hostile files: the IDX, CSV and image readers, given arbitrary or damaged bytes, either read them
or raise digitlab's documented error (DataError for data files, ImageError for pictures); nothing
else escapes. tests/data/test_idx.py fuzzes read_idx on bytes in memory; here the files are on disk
and the damage starts from real files (MNIST's gzip, a PNG, a JPEG), so the deeper decoders are hit.
"""

import gzip
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitlab.data import load_csv, read_idx
from digitlab.data.mnist import MNIST_DIR
from digitlab.errors import DataError, DigitlabError, ImageError

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# A real gzipped IDX file: MNIST's test labels (10,008 bytes once decompressed).
REAL_GZIP = (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()


@st.composite
def damaged(draw, original: bytes):
    """``original`` truncated, with bytes overwritten, or with bytes inserted: the usual damage."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "truncate":
            del data[at:]
        elif action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at:at + len(chunk)] = chunk
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _only_documented(call, error_type):
    """Run ``call``; a digitlab error must be ``error_type``; any other exception fails the test."""
    try:
        return call()
    except DigitlabError as error:
        assert isinstance(error, error_type), f"{type(error).__name__} where {error_type.__name__} was documented"
        assert str(error)
        return None


# ----------------------------------------------------------------------------- IDX


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(content=st.one_of(st.binary(max_size=200), damaged(REAL_GZIP), damaged(gzip.decompress(REAL_GZIP)[:400])))
def test_read_idx_on_damaged_files(content, scratch):
    path = scratch / "file.idx.gz"
    path.write_bytes(content)
    array = _only_documented(lambda: read_idx(path), DataError)
    if array is not None:
        assert isinstance(array, np.ndarray) and array.ndim >= 1


@FUZZ
@given(content=damaged(gzip.compress(gzip.decompress(REAL_GZIP)[:300], mtime=0)))
def test_read_idx_with_a_checksum_on_damaged_gzip(content):
    assert _only_documented(lambda: read_idx(content, "0" * 64), DataError) is None  # no file has that sha256


# ----------------------------------------------------------------------------- CSV

_CSV_ROW = "5," + ",".join(["0"] * 300 + ["255"] * 184 + ["17"] * 300) + "\n"
_CSV = ("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n" + _CSV_ROW * 3).encode()


@st.composite
def csv_like(draw):
    """Text that is nearly a digit CSV: rows of numbers and junk, 784 or 785 columns, or fewer."""
    columns = draw(st.sampled_from([784, 785, 3, 786]))
    value = st.one_of(st.integers(-300, 300).map(str), st.sampled_from(["", " 7", "1.5", "x", '"3"', "+4", "٣"]))
    rows = draw(st.lists(st.lists(value, min_size=1, max_size=5), min_size=0, max_size=3))
    lines = []
    for row in rows:
        lines.append(",".join((row * (columns // len(row) + 1))[:columns]))
    return ("\n".join(lines)).encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), errors="replace")


@FUZZ
@given(content=st.one_of(st.binary(max_size=300), damaged(_CSV), csv_like()))
def test_load_csv_on_damaged_files(content, scratch):
    path = scratch / "digits.csv"
    path.write_bytes(content)
    result = _only_documented(lambda: load_csv(path), DataError)
    if result is not None:
        x, y = result
        assert x.ndim == 2 and x.shape[1] == 784 and x.dtype == np.uint8
        assert y is None or (len(y) == len(x) and y.min() >= 0 and y.max() <= 9)


# ----------------------------------------------------------------------------- images

preprocess = pytest.importorskip("digitlab.photo.preprocess").preprocess


def _picture(format_name):
    from PIL import Image

    canvas = np.full((32, 32), 230, np.uint8)
    canvas[6:26, 14:18] = 20  # a dark "1" on light paper
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format=format_name)
    return buffer.getvalue()


PNG, JPEG, BMP = _picture("PNG"), _picture("JPEG"), _picture("BMP")


@FUZZ
@given(content=st.one_of(st.binary(max_size=300), damaged(PNG), damaged(JPEG), damaged(BMP)))
def test_preprocess_on_damaged_images(content):
    digit = _only_documented(lambda: preprocess(content), ImageError)
    if digit is not None:
        assert digit.shape == (28, 28) and digit.dtype == np.float32


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=100), damaged(PNG)))
def test_preprocess_on_damaged_image_files(content, scratch):
    path = scratch / "digit.png"
    path.write_bytes(content)
    _only_documented(lambda: preprocess(path), ImageError)


def test_the_originals_are_read(scratch):
    """The fuzzing starts from files the readers accept, so the damage is what they refuse."""
    assert read_idx(REAL_GZIP).shape == (10000,)
    for picture in (PNG, JPEG, BMP):
        assert preprocess(picture).shape == (28, 28)
    (scratch / "original.csv").write_bytes(_CSV)
    x, y = load_csv(scratch / "original.csv")
    assert x.shape == (3, 784) and list(y) == [5, 5, 5]
