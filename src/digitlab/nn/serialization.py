"""Model files: safetensors, with the architecture (and any recipe or training facts) as JSON
in the header's metadata. Nothing is unpickled and nothing in a file is executed: a file that is
not exactly what it claims to be is refused with a ModelFileError before anything is built.
"""

import json
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


def save_model(model, path, metadata=None):
    """Write ``model`` to ``path`` atomically: a temporary file in the same folder, then rename.

    ``metadata`` is a dict of JSON-able values (the recipe, the training result, ...).
    """
    header = {"format": FORMAT, "format_version": FORMAT_VERSION,
              "model": json.dumps(model.get_config())}
    for key, value in (metadata or {}).items():
        if key in header:
            raise ValueError(f"metadata key {key!r} is reserved for the model file itself")
        header[key] = json.dumps(value)
    payload = tensors_to_bytes({k: np.ascontiguousarray(v) for k, v in model.get_weights().items()},
                               metadata=header)
    atomic_write(path, payload)


def read_model_file(path):
    """The tensors and metadata of a digitlab model file, checked; raises ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file (train one with `digitlab train`)")
    data = path.read_bytes()
    not_ours = f"{path}: not a digitlab model file"
    if len(data) < 8:
        raise ModelFileError(f"{not_ours} (only {len(data)} bytes)")
    header_size = int.from_bytes(data[:8], "little")
    if header_size > min(MAX_HEADER_BYTES, len(data) - 8):
        raise ModelFileError(f"{not_ours}: its header claims {header_size} bytes")
    try:
        header = json.loads(data[8:8 + header_size])
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{not_ours}: {error}") from None
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{not_ours}: a safetensors file without digitlab's model description")
    try:
        decoded = {key: json.loads(value) for key, value in metadata.items()
                   if key not in ("format", "format_version")}
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: its metadata is not valid JSON ({error})") from None
    return tensors, decoded


def load_model(path):
    """Rebuild the model saved at ``path``; its metadata (recipe, results) is on ``model.metadata``."""
    from digitlab.nn.model import Sequential

    tensors, metadata = read_model_file(path)
    try:
        model = Sequential.from_config(metadata.pop("model"))
        model.build()
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: its architecture cannot be built ({error})") from None
    expected = {f"{layer.name}.{key}": value for layer in model.layers
                for key, value in {**layer.params, **layer.buffers}.items()}
    if set(expected) != set(tensors):
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        raise ModelFileError(f"{path}: tensors do not match the architecture "
                             f"(missing {missing or 'none'}, unexpected {extra or 'none'})")
    for name, value in tensors.items():
        if value.shape != expected[name].shape or value.dtype != np.float32:
            raise ModelFileError(f"{path}: tensor {name} is {value.dtype} {value.shape}, "
                                 f"the architecture needs float32 {expected[name].shape}")
    model.set_weights(tensors)
    model.metadata = metadata
    return model
