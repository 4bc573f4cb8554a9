"""MaxPool2D."""

import numpy as np

from digitlab.nn import parallel
from digitlab.nn.checks import whole_number
from digitlab.nn.layer import Layer
from digitlab.nn.layers.windows import same_padding, window_offsets, window_positions


class MaxPool2D(Layer):
    """The largest value in each window; the gradient flows back to that one position.

    The windows are never gathered: for each offset (i, j) inside the window, the strided view of
    the input at that offset is compared with the running maximum, so a 2x2 pool is four
    element-wise maxima. Ties go to the first offset, as with argmax.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None):
        super().__init__(name)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = whole_number(pool_size, "MaxPool2D pool_size")
        self.strides = whole_number(pool_size if strides is None else strides, "MaxPool2D strides")
        self.padding = padding

    def _pads(self, height, width):
        if self.padding == "valid":
            return (0, 0), (0, 0)
        return (same_padding(height, self.pool_size, self.strides),
                same_padding(width, self.pool_size, self.strides))

    def output_shape(self, input_shape):
        channels, height, width = input_shape
        window = (self.pool_size, self.pool_size)
        return (channels, *window_positions(self, "pool_size", window, height, width))

    def forward(self, x, training=False):
        n, channels, height, width = x.shape
        (top, bottom), (left, right) = self._pads(height, width)
        if top + bottom + left + right:
            x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf)
        _, out_h, out_w = self.output_shape((channels, height, width))
        offsets = list(window_offsets(self.pool_size, self.pool_size, self.strides, out_h, out_w))
        y = np.empty_like(x[:, :, offsets[0][2], offsets[0][3]])  # keeps a channels-last layout

        def pool(images):
            np.copyto(y[images], x[images, :, offsets[0][2], offsets[0][3]])
            for _, _, rows, cols in offsets[1:]:
                np.maximum(y[images], x[images, :, rows, cols], out=y[images])

        parallel.over_rows(pool, x)
        self.x, self.y, self.offsets = x, y, offsets
        self.pads, self.x_shape = (top, left), (n, channels, height, width)
        return y

    def backward(self, dy):
        overlapping = self.strides < self.pool_size
        _, _, out_h, out_w = self.y.shape
        tiled = self.strides == self.pool_size and self.x.shape[2:] == (out_h * self.strides, out_w * self.strides)
        # Windows that tile the input write every dx value below: no need to clear it first.
        dx = np.empty_like(self.x, dtype=dy.dtype) if tiled else np.zeros_like(self.x, dtype=dy.dtype)

        def route(images):
            x, y, dy_part, dx_part = self.x[images], self.y[images], dy[images], dx[images]
            taken = None  # where an earlier offset already won
            for _, _, rows, cols in self.offsets:
                winner = x[:, :, rows, cols] == y
                if taken is None:
                    taken = winner
                else:  # the first offset that holds the maximum wins; for booleans, a > b is "a and not b"
                    np.greater(winner, taken, out=winner)
                    taken |= winner
                if overlapping:
                    dx_part[:, :, rows, cols] += dy_part * winner
                else:  # each input is in one window at most: the gradient is written, not added
                    np.multiply(dy_part, winner, out=dx_part[:, :, rows, cols])

        parallel.over_rows(route, dy, self.x.size / max(len(self.x), 1) * 2 * parallel.ELEMENT_NS)
        top, left = self.pads
        return dx[:, :, top:top + self.x_shape[2], left:left + self.x_shape[3]]

    def config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}
