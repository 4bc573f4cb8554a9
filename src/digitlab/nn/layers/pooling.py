"""MaxPool2D."""

import numpy as np

from digitlab.nn import ops
from digitlab.nn.checks import whole_number
from digitlab.nn.layer import Layer
from digitlab.nn.layers.windows import same_padding, window_positions

Array = np.ndarray


class MaxPool2D(Layer):
    """The largest value in each window; the gradient flows back to that one position (the first,
    when several hold the maximum). ops.max_pool2d holds the arithmetic."""

    def __init__(self, pool_size: int = 2, strides: int | None = None, padding: str = "valid",
                 name: str | None = None) -> None:
        super().__init__(name)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = whole_number(pool_size, "MaxPool2D pool_size")
        self.strides = whole_number(pool_size if strides is None else strides, "MaxPool2D strides")
        self.padding = padding

    def _pads(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        if self.padding == "valid":
            return (0, 0), (0, 0)
        return (same_padding(height, self.pool_size, self.strides),
                same_padding(width, self.pool_size, self.strides))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        channels, height, width = input_shape
        window = (self.pool_size, self.pool_size)
        return (channels, *window_positions(self, "pool_size", window, height, width))

    def forward(self, x: Array, training: bool = False) -> Array:
        self.output_shape(x.shape[1:])  # a window larger than the image is refused by name
        y, self.saved = ops.max_pool2d(x, self.pool_size, self.strides, self._pads(*x.shape[2:]))
        return y

    def backward(self, dy: Array) -> Array:
        return ops.max_pool2d_backward(dy, self.saved)

    def config(self) -> dict:
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}
