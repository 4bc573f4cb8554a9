"""digitlab.files.read_text: every way a user's text file can fail is one DataError naming it."""

import pytest

from digitlab.errors import DataError
from digitlab.files import read_text


def test_read_text_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbfpulse,conductance\n")
    assert read_text(path) == "pulse,conductance\n"


@pytest.mark.parametrize("make, expected", [
    (lambda folder: folder / "missing.csv", r"missing.csv: no such CSV file \(file not found\)"),
    (lambda folder: folder, "is a folder, not a CSV file"),
    (lambda folder: (folder / "b.csv").write_bytes(b"ok\xff") and folder / "b.csv",
     r"not a text file \(byte 2 is not UTF-8\)"),
])
def test_read_text_says_what_is_wrong_with_the_file(tmp_path, make, expected):
    with pytest.raises(DataError, match=expected):
        read_text(make(tmp_path), "CSV file")
