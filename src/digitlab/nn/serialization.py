"""Saving and loading a Sequential model: its architecture and weights through the model file
format (digitlab.nn.modelfile), checked against each other before any array is allocated.
"""

import numpy as np

from digitlab.errors import ModelFileError
from digitlab.nn.model import Sequential
from digitlab.nn.modelfile import read_model_file

MAX_ACTIVATIONS = 10_000_000  # values one image may produce in a layer: far above any digit model


def save_model(model: Sequential, path, metadata=None) -> None:
    """Write ``model`` to ``path`` atomically (``model.save`` does the same)."""
    model.save(path, metadata)


def _architecture(config, tensors, path):
    """The layers a file describes, checked against its tensors before any array is allocated."""
    model = Sequential.from_config(config)
    shape = tuple(model.input_shape)
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"input shape {list(shape)} is not a list of positive sizes")
    for layer in model.layers:
        for key, expected in layer.array_shapes(shape).items():
            name = f"{layer.name}.{key}"
            if name not in tensors:
                raise ModelFileError(f"{path}: tensor {name} is missing")
            if tensors[name].shape != tuple(expected):
                raise ModelFileError(f"{path}: tensor {name} is {list(tensors[name].shape)}, "
                                     f"the architecture needs {list(expected)}")
        shape = tuple(layer.output_shape(shape))
        if not all(d > 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) > MAX_ACTIVATIONS:
            raise ValueError(f"layer {layer.name} would output {list(shape)}")
    return model


def load_model(path):
    """Rebuild the model saved at ``path``; its metadata (recipe, results) is on ``model.metadata``."""
    tensors, metadata = read_model_file(path)
    try:
        model = _architecture(metadata.pop("model"), tensors, path)
        model.build()
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path}: its architecture cannot be built ({error})") from None
    names = {f"{layer.name}.{key}" for layer in model.layers for key in {**layer.params, **layer.buffers}}
    if names != set(tensors):
        raise ModelFileError(f"{path}: tensors do not match the architecture "
                             f"(unexpected {sorted(set(tensors) - names)})")
    model.set_weights(tensors)
    model.metadata = metadata
    return model
