"""Digits stored as CSV, one image a row: Kaggle's digit-recognizer layout.

    label,pixel0,pixel1,...,pixel783      (the optional header row)
    1,0,0,...,0                           (train.csv: a label 0..9, then 784 pixels 0..255)

Kaggle's test.csv has no label column: 784 values a row. `load_csv` tells the two apart by the
number of columns, and a header row by its values not being numbers.

The rows are parsed by NumPy's C parser in blocks of lines; only a block that it rejects is read
again value by value, to report the first problem with its line number.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from digitlab.data.batches import to_float32
from digitlab.errors import DataError
from digitlab.files import read_text

PIXELS = 784
_BLOCK = 2000  # lines handed to NumPy's parser at a time
_WHAT_TO_DO = "Fix that line, or check that this is a digit CSV file (label,pixel0,...,pixel783)."


def load_csv(
    path: str | os.PathLike,
    normalize: bool = False,
    *,
    has_labels: bool | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a digit CSV into `(x, y)`.

    `x` is (N, 784) uint8, or float32 in [0, 1] if `normalize`. `y` is (N,) int64 digits, or None
    when the file has no label column. `has_labels=None` decides by the column count (785 with
    labels, 784 without); True or False insists. Blank lines are skipped.

    Raises `DataError`, naming the file and the line, for: a missing or empty file, a row with the
    wrong number of columns, a value that is not an integer, a pixel outside 0..255 or a label
    outside 0..9.
    """
    path = Path(path)
    numbered = [(number, line) for number, line in enumerate(_read_lines(path), start=1) if line.strip()]
    rows, columns = _split_header(path, numbered, has_labels)
    labelled = columns == PIXELS + 1
    blocks = [_parse_block(path, rows[i : i + _BLOCK], columns) for i in range(0, len(rows), _BLOCK)]
    values = np.concatenate(blocks)
    x = (values[:, 1:] if labelled else values).astype(np.uint8)
    y = values[:, 0].astype(np.int64) if labelled else None
    return (to_float32(x) if normalize else x), y



def _read_lines(path: Path) -> list[str]:
    return read_text(path, "CSV file").splitlines()


def _split_header(
    path: Path, numbered: list[tuple[int, str]], has_labels: bool | None
) -> tuple[list[tuple[int, str]], int]:
    """Drop the header row, if there is one, and find the column count from the first data row."""
    if not numbered:
        raise DataError(f"{path}: empty file: no rows of digits. Pass a CSV file with one image a row.")
    header_number, header = numbered[0]
    header_fields = header.split(",")
    is_header = not any(_is_integer(field.strip().strip('"')) for field in header_fields)
    rows = numbered[1:] if is_header else numbered
    if not rows:
        raise DataError(f"{path}: has a header row but no rows of digits. Pass a CSV file with data.")
    first_number, first = rows[0]
    columns = len(first.split(","))
    allowed = {True: (PIXELS + 1,), False: (PIXELS,), None: (PIXELS + 1, PIXELS)}[has_labels]
    if columns not in allowed:
        wanted = " or ".join(_describe_columns(count) for count in allowed)
        raise DataError(f"{path}, line {first_number}: {columns} values where a row has {wanted}. {_WHAT_TO_DO}")
    if is_header and len(header_fields) != columns:
        raise DataError(
            f"{path}, line {header_number}: the header has {len(header_fields)} columns but line "
            f"{first_number} has {columns}. {_WHAT_TO_DO}"
        )
    return rows, columns


def _parse_block(path: Path, rows: list[tuple[int, str]], columns: int) -> np.ndarray:
    """Parse rows into int16 values, checked; raises `DataError` with the line of the first problem."""
    try:
        values = np.loadtxt([line for _, line in rows], delimiter=",", dtype=np.int16, comments=None, ndmin=2)
    except (ValueError, OverflowError):
        values = None
    if values is None or values.shape != (len(rows), columns):
        values = np.array([_parse_row_exactly(path, number, line, columns) for number, line in rows], np.int16)
    _check_ranges(path, rows, values, columns == PIXELS + 1)
    return values


def _parse_row_exactly(path: Path, number: int, line: str, columns: int) -> list[int]:
    fields = line.split(",")
    if len(fields) != columns:
        raise DataError(
            f"{path}, line {number}: {len(fields)} values where a row has {_describe_columns(columns)}. "
            f"{_WHAT_TO_DO}"
        )
    labelled = columns == PIXELS + 1
    row = []
    for column, field in enumerate(fields, start=1):
        if not _is_integer(field):
            raise DataError(
                f"{path}, line {number}, column {column}: {field.strip()!r} is not a whole number. {_WHAT_TO_DO}"
            )
        value = int(field)
        if not 0 <= value <= (9 if labelled and column == 1 else 255):
            _raise_out_of_range(path, number, column, value, labelled)
        row.append(value)
    return row


def _check_ranges(path: Path, rows: list[tuple[int, str]], values: np.ndarray, labelled: bool) -> None:
    high = np.full(values.shape[1], 255, np.int16)
    if labelled:
        high[0] = 9
    bad = (values < 0) | (values > high)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        _raise_out_of_range(path, rows[row][0], column + 1, int(values[row, column]), labelled)


def _raise_out_of_range(path: Path, number: int, column: int, value: int, labelled: bool) -> None:
    if labelled and column == 1:
        raise DataError(f"{path}, line {number}: label {value} is outside 0..9. {_WHAT_TO_DO}")
    raise DataError(f"{path}, line {number}, column {column}: pixel value {value} is outside 0..255. {_WHAT_TO_DO}")


def _is_integer(text: str) -> bool:
    text = text.strip()
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()


def _describe_columns(count: int) -> str:
    return f"{count} (a label and {PIXELS} pixels)" if count == PIXELS + 1 else f"{count} (the {PIXELS} pixels)"
