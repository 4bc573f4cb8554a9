"""The IDX file format, in which MNIST and its relatives (Fashion-MNIST, KMNIST) are published.

An IDX file is a 4-byte magic number, the sizes of the dimensions, then the data:

    bytes 0-1   0x00 0x00
    byte  2     the element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64 (all multi-byte values big-endian)
    byte  3     the rank r (the number of dimensions), at least 1
    then        r big-endian uint32 sizes, then prod(sizes) elements in C order

The files are usually distributed gzipped. `read_idx` recognises gzip by its magic bytes
(1f 8b), not by the file's name, and checks everything a damaged download could get wrong:
the magic, the type code, a short header, too few or too many data bytes, a corrupt gzip
stream and, optionally, the sha256 of the decompressed bytes. Each problem is a `DataError`
that names the file, says what is wrong and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from pathlib import Path

import numpy as np

from digitlab.errors import DataError
from digitlab.files import atomic_file

# IDX type code -> big-endian element type, as stored in the file.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Native element type (by its name, e.g. "float32") -> IDX type code, for writing.
_TYPE_CODES: dict[str, int] = {dtype.newbyteorder("=").name: code for code, dtype in IDX_DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"
_DEFAULT_REMEDY = "Re-download or reinstall the file."


def read_idx(
    source: str | os.PathLike | bytes,
    expected_sha256: str | None = None,
    *,
    name: str | None = None,
    remedy: str = _DEFAULT_REMEDY,
) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into a NumPy array in native byte order.

    `source` is a path or the file's bytes. If `expected_sha256` is given, the sha256 of the
    decompressed IDX bytes must equal it. `name` labels the source in error messages (the
    default is the path, or "<bytes>"); `remedy` is the advice that ends every error message.

    Returns a new, writable array with the header's shape and element type (uint8 stays uint8).
    Raises `DataError` for a missing, unreadable, corrupt or mismatching file.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        raw = bytes(source)
    else:
        label = name or str(source)
        raw = _read_file(source, label, remedy)
    payload = _decompress_if_gzipped(raw, label, remedy)
    if expected_sha256 is not None:
        _verify_sha256(payload, expected_sha256, label, remedy)
    return _parse_idx(payload, label, remedy)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` as an IDX file at `path`, gzipped when the name ends in ".gz".

    The element type must be one IDX stores (uint8, int8, int16, int32, float32, float64) and
    the rank at least 1. The file is written atomically: to a temporary file in the same
    folder, flushed and synced to disk, then renamed over `path`, so a reader never sees half
    a file. The gzip header carries no name or time, so equal arrays give equal files.
    """
    array = np.asarray(array)
    path = Path(path)
    type_code = _TYPE_CODES.get(array.dtype.name)
    if type_code is None:
        raise DataError(
            f"{path}: cannot write a {array.dtype} array as IDX; IDX stores uint8, int8, int16, "
            "int32, float32 and float64. Convert it first, e.g. array.astype(np.int32)."
        )
    if array.ndim < 1:
        raise DataError(f"{path}: cannot write a 0-dimensional array as IDX; reshape it to (1,) first.")
    if any(size > 0xFFFFFFFF for size in array.shape):
        raise DataError(f"{path}: shape {array.shape} has a dimension too large for IDX (at most 2**32 - 1).")
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    data = np.ascontiguousarray(array, dtype=IDX_DTYPES[type_code]).tobytes()
    _write_atomically(path, header, data, gzipped=path.name.endswith(".gz"))


def _read_file(path: str | os.PathLike, label: str, remedy: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{label}: file not found. {remedy}") from None
    except IsADirectoryError:
        raise DataError(f"{label}: is a folder, not an IDX file. Pass the path of the file itself.") from None
    except OSError as error:
        raise DataError(f"{label}: cannot read the file ({error.strerror or error}). {remedy}") from None


def _decompress_if_gzipped(raw: bytes, label: str, remedy: str) -> bytes:
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(
            f"{label}: truncated gzip stream: the file ends before its compressed data does. {remedy}"
        ) from None
    except (OSError, zlib.error) as error:
        raise DataError(f"{label}: corrupt gzip stream ({error}). {remedy}") from None


def _verify_sha256(payload: bytes, expected: str, label: str, remedy: str) -> None:
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected.lower():
        raise DataError(
            f"{label}: checksum mismatch: the sha256 of its decompressed bytes is {actual}, "
            f"expected {expected.lower()}. {remedy}"
        )


def _parse_idx(payload: bytes, label: str, remedy: str) -> np.ndarray:
    if len(payload) < 4:
        raise DataError(
            f"{label}: truncated IDX header: the file has {len(payload)} bytes, fewer than the 4-byte magic "
            f"number. {remedy}"
        )
    if payload[0:2] != b"\x00\x00":
        raise DataError(
            f"{label}: not an IDX file: it starts with bytes {payload[0]:02x} {payload[1]:02x} where an IDX "
            f"file starts with 00 00. Check that this is the right file; otherwise: {remedy}"
        )
    type_code, rank = payload[2], payload[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise DataError(f"{label}: unknown IDX type code 0x{type_code:02X} (known: {known}). {remedy}")
    if rank == 0:
        raise DataError(f"{label}: IDX header gives rank 0; an IDX file has at least one dimension. {remedy}")
    header_length = 4 + 4 * rank
    if len(payload) < header_length:
        raise DataError(
            f"{label}: truncated IDX header: rank {rank} needs a {header_length}-byte header but the file "
            f"has only {len(payload)} bytes. {remedy}"
        )
    shape = tuple(int.from_bytes(payload[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    dtype = IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    present = len(payload) - header_length
    described = f"{'x'.join(map(str, shape))} {dtype.newbyteorder('=').name} ({expected} bytes of data)"
    if present < expected:
        raise DataError(
            f"{label}: truncated IDX file: header says {described} but only {present} are there. {remedy}"
        )
    if present > expected:
        raise DataError(
            f"{label}: IDX file has {present - expected} trailing bytes: header says {described} but "
            f"{present} are there. {remedy}"
        )
    flat = np.frombuffer(payload, dtype=dtype, count=math.prod(shape), offset=header_length)
    try:
        shaped = flat.reshape(shape)
    except ValueError:  # NumPy allows at most 32 (NumPy 1) or 64 (NumPy 2) dimensions
        raise DataError(
            f"{label}: IDX header gives rank {rank}, more dimensions than NumPy supports. {remedy}"
        ) from None
    return shaped.astype(dtype.newbyteorder("="))  # a native-order, writable copy


def _write_atomically(path: Path, header: bytes, data: bytes, *, gzipped: bool) -> None:
    try:
        with atomic_file(path) as file:
            if gzipped:
                with gzip.GzipFile(filename="", mode="wb", fileobj=file, compresslevel=6, mtime=0) as compressed:
                    compressed.write(header)
                    compressed.write(data)
            else:
                file.write(header)
                file.write(data)
    except OSError as error:
        raise DataError(f"{path}: cannot write the file ({error.strerror or error}). Check the folder.") from None
