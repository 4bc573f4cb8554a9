"""Max pooling without gathering the windows, split over the cores.

For each offset (i, j) inside the window, the strided view of the input at that offset is compared
with the running maximum, so a 2x2 pool is four element-wise maxima. Ties go to the first offset,
as with argmax. Backward routes each window's gradient to the offset that won, in the same order.
"""

from typing import NamedTuple

import numpy as np

from digitlab.nn import ops
from digitlab.nn.accel import threads


class Saved(NamedTuple):
    x: np.ndarray        # the padded input
    y: np.ndarray
    offsets: list        # (rows, cols) slices of x that each offset in the window meets
    pads: tuple          # (top, left)
    x_shape: tuple       # before padding
    pool_size: int
    strides: int


def window_offsets(pool_size, strides, out_h, out_w):
    """For each offset (i, j) inside the window: the slices of the padded input it meets, one per output."""
    return [(slice(i, i + strides * out_h, strides), slice(j, j + strides * out_w, strides))
            for i in range(pool_size) for j in range(pool_size)]


@ops.fast("max_pool2d")
def max_pool2d(x, pool_size, strides, pads):
    n, channels, height, width = x.shape
    (top, bottom), (left, right) = pads
    if top + bottom + left + right:
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf)
    out_h = (x.shape[2] - pool_size) // strides + 1
    out_w = (x.shape[3] - pool_size) // strides + 1
    offsets = window_offsets(pool_size, strides, out_h, out_w)
    y = np.empty_like(x[:, :, offsets[0][0], offsets[0][1]])  # keeps a channels-last layout

    def pool(images):
        np.copyto(y[images], x[images, :, offsets[0][0], offsets[0][1]])
        for rows, cols in offsets[1:]:
            np.maximum(y[images], x[images, :, rows, cols], out=y[images])

    threads.over_rows(pool, x)
    return y, Saved(x, y, offsets, (top, left), (n, channels, height, width), pool_size, strides)


@ops.fast("max_pool2d_backward")
def max_pool2d_backward(dy, saved):
    overlapping = saved.strides < saved.pool_size
    _, _, out_h, out_w = saved.y.shape
    tiled = saved.strides == saved.pool_size and saved.x.shape[2:] == (out_h * saved.strides, out_w * saved.strides)
    # Windows that tile the input write every dx value below: no need to clear it first.
    dx = np.empty_like(saved.x, dtype=dy.dtype) if tiled else np.zeros_like(saved.x, dtype=dy.dtype)

    def route(images):
        x, y, dy_part, dx_part = saved.x[images], saved.y[images], dy[images], dx[images]
        taken = None  # where an earlier offset already won
        for rows, cols in saved.offsets:
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

    threads.over_rows(route, dy, saved.x.size / max(len(saved.x), 1) * 2 * threads.ELEMENT_NS)
    top, left = saved.pads
    return dx[:, :, top:top + saved.x_shape[2], left:left + saved.x_shape[3]]
