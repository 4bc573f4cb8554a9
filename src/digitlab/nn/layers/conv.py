"""Conv2D: 2-D convolution."""

from typing import Any

import numpy as np

from digitlab.nn import initializers, ops
from digitlab.nn.checks import whole_number
from digitlab.nn.layer import Layer
from digitlab.nn.layers.activations import activation_layer
from digitlab.nn.layers.windows import same_padding, window_positions

Array = np.ndarray


class Conv2D(Layer):
    """2-D convolution (really cross-correlation, as in every framework), then the activation if
    one is given: y[n, o] = sum over channels c of x[n, c] correlated with kernel[o, c], + bias[o].

    kernel: (filters, channels, kh, kw); images NCHW. ``strides`` steps the window, padding "same"
    adds zeros around the image so that the output has ceil(size / strides) positions.
    ops.conv2d and ops.conv2d_backward hold the arithmetic: im2col and one matrix product, and its
    gradients. Their fast versions (nn/accel/conv.py) compute the same by blocked im2col, or through
    the Fourier transform where that does less work.
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], strides: int = 1, padding: str = "valid",
                 activation: str | Layer | None = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 name: str | None = None) -> None:
        super().__init__(name)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters = whole_number(filters, "Conv2D filters")
        sizes = tuple(kernel_size) if isinstance(kernel_size, (tuple, list, np.ndarray)) else (kernel_size,) * 2
        if len(sizes) != 2:
            raise ValueError(f"Conv2D kernel_size must be one number or a pair (height, width), got {kernel_size!r}")
        kh, kw = (whole_number(size, "Conv2D kernel_size") for size in sizes)
        self.kernel_size = kh, kw
        self.strides = whole_number(strides, "Conv2D strides")
        self.padding = padding
        self.activation = activation_layer(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _pads(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        if self.padding == "valid":
            return (0, 0), (0, 0)
        kh, kw = self.kernel_size
        return same_padding(height, kh, self.strides), same_padding(width, kw, self.strides)

    def array_shapes(self, input_shape: tuple[int, ...]) -> dict:
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D expects (channels, height, width) inputs, got {tuple(input_shape)}")
        kernel = (self.filters, input_shape[0], *self.kernel_size)
        return {"kernel": kernel, **({"bias": (self.filters,)} if self.use_bias else {})}

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        shapes = self.array_shapes(input_shape)
        self.output_shape(input_shape)  # a kernel larger than the input is refused before any allocation
        super().build(input_shape, rng)
        self.add_param("kernel", self.kernel_initializer(shapes["kernel"], rng))
        if self.use_bias:
            self.add_param("bias", self.bias_initializer(shapes["bias"], rng))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        _, height, width = input_shape
        return (self.filters, *window_positions(self, "kernel_size", self.kernel_size, height, width))

    def forward(self, x: Array, training: bool = False) -> Array:
        self.output_shape(x.shape[1:])  # a kernel larger than the image is refused by name
        pads = self._pads(*x.shape[2:])
        y, self.saved = ops.conv2d(x, self.params["kernel"], self.params.get("bias"), self.strides, pads)
        return self.activation.forward(y, training) if self.activation else y

    def backward(self, dy: Array) -> Array | None:
        if self.activation:
            dy = self.activation.backward(dy)
        dx, dkernel, dbias = ops.conv2d_backward(dy, self.params["kernel"], self.saved, self.input_gradient)
        self.grads["kernel"][...] = dkernel
        if self.use_bias:
            self.grads["bias"][...] = dbias
        return dx

    def config(self) -> dict:
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": self.strides,
            "padding": self.padding,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.config_of(self.kernel_initializer),
            "bias_initializer": initializers.config_of(self.bias_initializer),
        }
