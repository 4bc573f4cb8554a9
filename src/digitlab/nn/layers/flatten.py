"""Flatten: images to rows, for the Dense layers after a convolution."""

import numpy as np

from digitlab.nn.layer import Layer


class Flatten(Layer):
    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.shape)
