"""The model file format: safetensors, with the architecture (and any recipe or training facts) as
JSON in the header's metadata. Nothing is unpickled and nothing in a file is executed: a file that is
not exactly what it claims to be is refused with a ModelFileError before anything is built.

This module knows bytes and dicts only; digitlab.nn.serialization turns them into a Sequential.
"""

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as tensors_to_bytes

from digitlab.errors import ModelFileError
from digitlab.files import atomic_write

FORMAT = "digitlab.sequential"
FORMAT_VERSION = "1"
MAX_HEADER_BYTES = 1 << 20  # a digitlab header is a few kB; a huge one is a crafted file


def write_model_file(path, architecture: dict, weights: dict, metadata=None) -> None:
    """Write ``weights`` (name -> array) and ``architecture`` to ``path`` atomically: a temporary file
    in the same folder, then rename. ``metadata`` is a dict of JSON-able values (the recipe, the
    training result, ...)."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": json.dumps(architecture)}
    for key, value in (metadata or {}).items():
        if key in header:
            raise ValueError(f"metadata key {key!r} is reserved for the model file itself")
        header[key] = json.dumps(value)
    payload = tensors_to_bytes({k: np.ascontiguousarray(v) for k, v in weights.items()}, metadata=header)
    atomic_write(path, payload)


MAX_FILE_BYTES = 1 << 30      # digitlab's models are a few MB; the best one about 3 MB
_DTYPE_SIZES = {"F32": 4}     # digitlab writes float32 only


def _check_header(header, data_length, not_ours):
    """Every tensor entry: float32, a sane shape, and bytes inside the file that no other uses."""
    if not isinstance(header, dict):
        raise ModelFileError(f"{not_ours}: its header is not a JSON object")
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise ModelFileError(f"{not_ours}: its metadata is not a map of strings")
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in _DTYPE_SIZES:
            dtype = entry.get("dtype") if isinstance(entry, dict) else entry
            raise ModelFileError(f"{not_ours}: tensor {name} is {dtype}; digitlab model files hold float32 (F32)")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise ModelFileError(f"{not_ours}: tensor {name} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_length):
            raise ModelFileError(f"{not_ours}: tensor {name}'s data offsets {offsets!r} lie outside the file "
                                 "(a damaged or truncated file)")
        if offsets[1] - offsets[0] != int(np.prod(shape, dtype=np.int64)) * _DTYPE_SIZES[entry["dtype"]]:
            raise ModelFileError(f"{not_ours}: tensor {name}'s {offsets[1] - offsets[0]} bytes "
                                 f"do not fit shape {shape}")
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    for (_, end, first), (begin, _, second) in pairwise(spans):
        if begin < end:
            raise ModelFileError(f"{not_ours}: tensors {first} and {second} overlap")


def read_model_file(path, expected_format=FORMAT):
    """The tensors and metadata of a digitlab file, checked; raises ModelFileError.

    The header is checked (size, dtypes, shapes, offsets, overlaps) before any tensor is read.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file (train one with `digitlab train`)")
    not_ours = f"{path}: not a digitlab model file"
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModelFileError(f"{not_ours}: {path.stat().st_size:,} bytes is far more than any digitlab model")
    data = path.read_bytes()
    if len(data) < 8:
        raise ModelFileError(f"{not_ours} (only {len(data)} bytes)")
    header_size = int.from_bytes(data[:8], "little")
    if header_size > min(MAX_HEADER_BYTES, len(data) - 8):
        raise ModelFileError(f"{not_ours}: its header claims {header_size:,} bytes, more than the file holds "
                             "(not a safetensors file, or a truncated one)")
    try:
        header = json.loads(data[8:8 + header_size])
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{not_ours}: its header is not JSON ({error})") from None
    _check_header(header, len(data) - 8 - header_size, not_ours)
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != expected_format:
        raise ModelFileError(f"{not_ours}: a safetensors file without digitlab's model description "
                             f"(format {metadata.get('format')!r}, expected {expected_format!r})")
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError) as error:
        raise ModelFileError(f"{not_ours}: {error}") from None
    try:
        decoded = {key: json.loads(value) for key, value in metadata.items()
                   if key not in ("format", "format_version")}
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: its metadata is not valid JSON ({error})") from None
    return tensors, decoded
