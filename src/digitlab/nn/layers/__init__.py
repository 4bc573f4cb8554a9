"""The layers, one family a file: activations, dense, flatten, dropout, normalization, conv, pooling.
Each is a small class whose ``forward`` and ``backward`` sit side by side (the base: digitlab.nn.layer)."""

from digitlab.nn.layer import Layer
from digitlab.nn.layers.activations import ACTIVATIONS, PReLU, ReLU, Sigmoid, Softmax, Tanh, activation_layer
from digitlab.nn.layers.conv import Conv2D
from digitlab.nn.layers.dense import Dense
from digitlab.nn.layers.dropout import Dropout
from digitlab.nn.layers.flatten import Flatten
from digitlab.nn.layers.normalization import BatchNormalization
from digitlab.nn.layers.pooling import MaxPool2D

__all__ = ["ACTIVATIONS", "LAYERS", "BatchNormalization", "Conv2D", "Dense", "Dropout", "Flatten", "Layer", "MaxPool2D",
           "PReLU", "ReLU", "Sigmoid", "Softmax", "Tanh", "activation_layer", "layer_from_config"]


LAYERS = {cls.__name__: cls for cls in (Dense, Flatten, Dropout, Conv2D, MaxPool2D, BatchNormalization,
                                        ReLU, Sigmoid, Tanh, Softmax, PReLU)}


def layer_from_config(spec: dict) -> Layer:
    """Rebuild a layer from ``{"class": "Dense", "config": {...}}`` as saved in a model file."""
    if not isinstance(spec, dict):
        raise ValueError(f"a layer is described by a dict, not {type(spec).__name__}")
    cls = LAYERS.get(str(spec.get("class")))
    if cls is None:
        raise ValueError(f"unknown layer class {spec.get('class')!r}")
    return cls(**spec.get("config", {}))
