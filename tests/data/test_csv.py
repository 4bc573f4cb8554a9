"""Digit CSV files (Kaggle's digit-recognizer layout)."""

import numpy as np
import pytest

import digitlab.data.csv
from digitlab.data import load_csv
from digitlab.errors import DataError

HEADER_LABELLED = "label," + ",".join(f"pixel{i}" for i in range(784))
HEADER_PIXELS = ",".join(f"pixel{i}" for i in range(784))


def digits(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n)


def rows_text(x, y=None):
    table = x if y is None else np.column_stack([y, x])
    return [",".join(map(str, row)) for row in table.tolist()]


def write(tmp_path, lines, name="digits.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header", [True, False])
def test_labelled_file(tmp_path, header):
    x, y = digits()
    path = write(tmp_path, ([HEADER_LABELLED] if header else []) + rows_text(x, y))
    got_x, got_y = load_csv(path)
    assert got_x.dtype == np.uint8 and got_x.shape == (5, 784)
    assert got_y.dtype == np.int64 and got_y.shape == (5,)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


@pytest.mark.parametrize("header", [True, False])
def test_file_without_labels(tmp_path, header):
    x, _ = digits()
    path = write(tmp_path, ([HEADER_PIXELS] if header else []) + rows_text(x))
    got_x, got_y = load_csv(path)
    np.testing.assert_array_equal(got_x, x)
    assert got_y is None
    assert load_csv(path, has_labels=False)[1] is None


def test_normalize_gives_float32_in_unit_range(tmp_path):
    x, y = digits()
    x[0, :2] = [0, 255]
    got_x, _ = load_csv(write(tmp_path, rows_text(x, y)), normalize=True)
    assert got_x.dtype == np.float32
    assert got_x[0, 0] == 0.0 and got_x[0, 1] == 1.0
    np.testing.assert_allclose(got_x, x / 255, atol=1e-7)


def test_one_row_blank_lines_bom_and_windows_newlines(tmp_path):
    x, y = digits(n=3)
    lines = rows_text(x, y)
    path = tmp_path / "windows.csv"
    path.write_bytes(("\ufeff" + HEADER_LABELLED + "\r\n" + lines[0] + "\r\n\r\n  \r\n" + lines[1]).encode())
    got_x, got_y = load_csv(path)
    np.testing.assert_array_equal(got_x, x[:2])
    np.testing.assert_array_equal(got_y, y[:2])
    got_x, got_y = load_csv(write(tmp_path, lines[:1]))
    assert got_x.shape == (1, 784) and got_y.tolist() == [y[0]]


def test_blocks_keep_their_order_and_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(digitlab.data.csv, "_BLOCK", 2)  # parse two rows at a time
    x, y = digits(n=7, seed=1)
    rows = rows_text(x, y)
    path = write(tmp_path, [HEADER_LABELLED] + rows[:3] + [""] + rows[3:])
    got_x, got_y = load_csv(path)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    rows[5] = "11" + rows[5][1:]  # data row 5 is line 8: after the header and the blank line
    with pytest.raises(DataError, match="line 8: label 11 is outside 0..9"):
        load_csv(write(tmp_path, [HEADER_LABELLED] + rows[:3] + [""] + rows[3:]))


def bad_file(tmp_path, line_index, edit):
    """A header and five good rows, with row `line_index` (0 = the first data row) edited."""
    x, y = digits()
    rows = rows_text(x, y)
    rows[line_index] = edit(rows[line_index])
    return write(tmp_path, [HEADER_LABELLED] + rows, name="bad.csv")


@pytest.mark.parametrize(
    "edit, complaint",
    [
        (lambda row: row + ",0", "line 4: 786 values"),
        (lambda row: row.rsplit(",", 1)[0], "line 4: 784 values"),
        (lambda row: row.replace(",", ",abc,", 1).rsplit(",", 1)[0], "line 4, column 2: 'abc' is not a whole number"),
        (lambda row: row.rsplit(",", 1)[0] + ",", "line 4, column 785: '' is not a whole number"),
        (lambda row: row.rsplit(",", 1)[0] + ",2.5", "line 4, column 785: '2.5' is not a whole number"),
        (lambda row: row.rsplit(",", 1)[0] + ",256", "line 4, column 785: pixel value 256 is outside 0..255"),
        (lambda row: row.rsplit(",", 1)[0] + ",-1", "line 4, column 785: pixel value -1 is outside 0..255"),
        (lambda row: row.rsplit(",", 1)[0] + ",99999", "line 4, column 785: pixel value 99999 is outside 0..255"),
        (lambda row: "10" + row[1:], "line 4: label 10 is outside 0..9"),
    ],
    ids=["extra-column", "missing-column", "word", "empty-value", "fraction", "256", "negative", "huge", "label-10"],
)
def test_bad_rows_give_the_line_number(tmp_path, edit, complaint):
    path = bad_file(tmp_path, 2, edit)  # header is line 1, so data row 2 is line 4
    with pytest.raises(DataError, match=complaint) as caught:
        load_csv(path)
    assert str(caught.value).startswith(f"{path}, line 4")


def test_first_row_decides_the_layout(tmp_path):
    x, y = digits()
    path = write(tmp_path, [",".join(["1"] * 100)] + rows_text(x, y))
    with pytest.raises(DataError, match="line 1: 100 values where a row has 785 .* or 784"):
        load_csv(path)


def test_explicit_has_labels_must_match(tmp_path):
    x, y = digits()
    with pytest.raises(DataError, match="line 1: 784 values where a row has 785"):
        load_csv(write(tmp_path, rows_text(x)), has_labels=True)
    with pytest.raises(DataError, match="line 2: 785 values where a row has 784"):
        load_csv(write(tmp_path, [HEADER_LABELLED] + rows_text(x, y)), has_labels=False)


def test_header_must_match_the_rows(tmp_path):
    x, y = digits()
    with pytest.raises(DataError, match="line 1: the header has 784 columns but line 2 has 785"):
        load_csv(write(tmp_path, [HEADER_PIXELS] + rows_text(x, y)))


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(DataError, match="empty file") as caught:
        load_csv(path)
    assert str(path) in str(caught.value)


def test_header_only_missing_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="header row but no rows"):
        load_csv(write(tmp_path, [HEADER_LABELLED]))
    with pytest.raises(DataError, match="file not found"):
        load_csv(tmp_path / "absent.csv")
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(DataError, match="not a text file"):
        load_csv(binary)
