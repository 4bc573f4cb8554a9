"""Flatten: images to rows, for the Dense layers after a convolution."""

import numpy as np

from digitlab.nn.layer import Layer

Array = np.ndarray


class Flatten(Layer):
    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(input_shape)),)

    def forward(self, x: Array, training: bool = False) -> Array:
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: Array) -> Array:
        return dy.reshape(self.shape)
