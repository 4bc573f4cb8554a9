"""Conv2D by im2col and matrix products: channels-last, a few images at a time, split over the cores.

kernel: (filters, channels, kh, kw). Forward copies every input window into a row of a ``columns``
matrix (one row per output position, kh*kw*channels values), so the convolution is the product
columns @ kernel_matrix.T. Backward gets dkernel from that product transposed, dy_rows.T @ columns.
And dx is itself a convolution: each input pixel gathers dy from every output whose window held it,
weighted by the kernel entry that met it, so dx is dy convolved with the kernel turned 180 degrees
(with zeros spread between dy's values for a stride > 1), made by the same im2col and product as
forward.

Inside, images are channels-last (NHWC), so each window's (kw, channels) runs are contiguous in
memory and the copy into ``columns`` moves whole runs. The batch goes through a few images at a
time (``blocks``): one block's columns, some megabytes, stay in the CPU's cache between the copy that
makes them and the product that reads them, where the whole batch's would go out to main memory and
back. Backward makes a block's columns again rather than keeping them all from forward: a copy costs
less than the memory. Each core takes its share of the batch (``threads.over_rows``) and fills its
own images into the padded input, so that they are in its cache when it reads them.
"""

from typing import NamedTuple

import numpy as np

from digitlab.nn.accel import threads
from digitlab.nn.backend import strided_view

# How much of the columns matrix is made at a time: a few images' worth, to stay in one core's cache.
COLUMNS_BLOCK_BYTES = 1 << 20


class Saved(NamedTuple):
    padded: np.ndarray   # the input, channels-last, with its padding
    pads: tuple          # (top, left)
    strides: int
    x_shape: tuple       # (n, channels, height, width)
    has_bias: bool


def _windows(padded, kernel_h, kernel_w, stride=1):
    """Every window of a channels-last batch, (N, out_h, out_w, kh, kw, channels): a strided view,
    no copy, whose (kw, channels) runs are contiguous in memory. Output (r, c) starts at input row
    r * stride and column c * stride, and a step inside the window is a step in the input.
    Made once for a whole batch, then sliced a block at a time."""
    n, height, width, channels = padded.shape
    image_step, row_step, column_step, channel_step = padded.strides
    out_h = (height - kernel_h) // stride + 1
    out_w = (width - kernel_w) // stride + 1
    return strided_view(padded, (n, out_h, out_w, kernel_h, kernel_w, channels),
                        (image_step, row_step * stride, column_step * stride, row_step, column_step, channel_step))


def _im2col(windows):
    """The windows of a block of images as rows, (n*out_h*out_w, kh*kw*channels): the one copy."""
    n, out_h, out_w = windows.shape[:3]
    return windows.reshape(n * out_h * out_w, -1)


def blocks(images, image_bytes, array):
    """Slices of ``images`` whose columns, ``image_bytes`` an image, take about COLUMNS_BLOCK_BYTES
    (all of them at once on a GPU, where ``array`` is not a NumPy array)."""
    if not isinstance(array, np.ndarray):
        return [images]
    per_block = max(1, COLUMNS_BLOCK_BYTES // image_bytes)
    starts = range(images.start, images.stop, per_block)
    return [slice(start, min(start + per_block, images.stop)) for start in starts]


def kernel_matrix(kernel):
    """The kernel as (filters, kh*kw*channels), in the columns' order."""
    return kernel.transpose(0, 2, 3, 1).reshape(len(kernel), -1)


def turned_kernel_matrix(kernel):
    """The kernel turned 180 degrees as (kh*kw*filters, channels): dy's columns @ it is dx."""
    turned = kernel[:, :, ::-1, ::-1]
    return turned.transpose(2, 3, 0, 1).reshape(-1, kernel.shape[1])


def convolve(padded, matrix, kernel_size, strides, out, bias=None, fill=None):
    """out[n, r, c] = the window of ``padded`` at output (r, c) @ matrix (+ bias): every window
    copied into a row of ``columns`` by im2col, a block of images at a time.
    ``fill(images)`` first writes those images into ``padded``, on the core that reads them."""
    n, out_h, out_w, filters = out.shape
    kh, kw = kernel_size
    image_bytes = out_h * out_w * matrix.shape[0] * padded.itemsize
    windows = _windows(padded, kh, kw, strides)

    def convolve_images(images):
        if fill is not None:
            fill(images)
        for block in blocks(images, image_bytes, padded):
            columns = _im2col(windows[block])
            rows = np.matmul(columns, matrix, out=out[block].reshape(len(columns), filters))
            if bias is not None:
                rows += bias  # while the block is in cache

    threads.over_rows(convolve_images, out, out_h * out_w * threads.product_ns(*matrix.shape))
    return out


def forward(x, kernel, bias, strides, pads, y):
    """y (n, out_h, out_w, filters) by im2col: every window of x a row of columns; returns what backward needs."""
    n, channels, height, width = x.shape
    (top, bottom), (left, right) = pads
    padded = np.zeros_like(x, shape=(n, height + top + bottom, width + left + right, channels), order="C")
    inside = padded[:, top:top + height, left:left + width]

    def fill(images):
        np.copyto(inside[images], x[images].transpose(0, 2, 3, 1))

    convolve(padded, kernel_matrix(kernel).T, kernel.shape[2:], strides, y, bias, fill)
    return Saved(padded, (top, left), strides, x.shape, bias is not None)


def backward(dy, kernel, saved, input_gradient):
    """(dx, dkernel, dbias) for dy (n, filters, out_h, out_w), as conv2d_backward in nn/ops.py."""
    dy = dy.transpose(0, 2, 3, 1)  # channels-last, as the columns' rows are
    dx = _input_gradient(dy, kernel, saved) if input_gradient else None
    dkernel, dbias = _parameter_gradients(dy, kernel, saved)
    filters, channels, kh, kw = kernel.shape
    dkernel = dkernel.reshape(filters, kh, kw, channels).transpose(0, 3, 1, 2)
    return None if dx is None else dx.transpose(0, 3, 1, 2), dkernel, dbias


def _input_gradient(dy, kernel, saved):
    """dx: dy convolved with the kernel turned 180 degrees (see the module's docstring)."""
    n, out_h, out_w, filters = dy.shape
    kh, kw = kernel.shape[2:]
    _, channels, height, width = saved.x_shape
    top, left = saved.pads
    # dy where the turned kernel's windows meet it: output (r, c) sits at (r * stride, c *
    # stride) + (kh - 1 - top, kw - 1 - left), with zeros around and between.
    spread = np.zeros_like(dy, shape=(n, height + kh - 1, width + kw - 1, filters), order="C")
    rows = slice(kh - 1 - top, kh - 1 - top + (out_h - 1) * saved.strides + 1, saved.strides)
    cols = slice(kw - 1 - left, kw - 1 - left + (out_w - 1) * saved.strides + 1, saved.strides)

    def fill(images):
        np.copyto(spread[images, rows, cols], dy[images])

    dx = np.empty_like(dy, shape=(n, height, width, channels), dtype=saved.padded.dtype, order="C")
    return convolve(spread, turned_kernel_matrix(kernel), (kh, kw), 1, dx, fill=fill)


def _parameter_gradients(dy, kernel, saved):
    """dkernel = dy_rows.T @ columns and dbias = dy summed over the batch: each core sums its
    part of the batch, and the parts' sums are added."""
    filters, _, kh, kw = kernel.shape
    _, out_h, out_w, _ = dy.shape
    matrix = kernel_matrix(kernel)
    image_bytes = out_h * out_w * matrix.shape[1] * saved.padded.itemsize
    windows = _windows(saved.padded, kh, kw, saved.strides)

    def part_sums(images):
        dkernel = np.zeros_like(matrix)
        for block in blocks(images, image_bytes, dy):
            columns = _im2col(windows[block])
            dkernel += dy[block].reshape(len(columns), filters).T @ columns
        return dkernel, dy[images].sum(axis=(0, 1, 2)) if saved.has_bias else None

    sums = threads.over_rows(part_sums, dy, out_h * out_w * threads.product_ns(*matrix.shape[::-1]))
    dkernel = sum(dkernel for dkernel, _ in sums)
    return dkernel, sum(dbias for _, dbias in sums) if saved.has_bias else None
