"""Conv2D: 2-D convolution by im2col and matrix products (or the DFT, where it pays)."""

import numpy as np

from digitlab.nn import fourier, initializers, parallel
from digitlab.nn.backend import strided_view
from digitlab.nn.checks import whole_number
from digitlab.nn.layer import Layer
from digitlab.nn.layers.activations import activation_layer
from digitlab.nn.layers.windows import same_padding, window_positions

# How much of the columns matrix Conv2D makes at a time: a few images' worth, to stay in one core's cache.
COLUMNS_BLOCK_BYTES = 1 << 20


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


class Conv2D(Layer):
    """2-D convolution (really cross-correlation, as in every framework) by im2col and matmul.

    kernel: (filters, channels, kh, kw). Forward copies every input window into a row of a
    ``columns`` matrix (one row per output position, kh*kw*channels values), so the convolution is
    the product columns @ kernel_matrix.T. Backward gets dkernel from that product transposed,
    dy_rows.T @ columns. And dx is itself a convolution: each input pixel gathers dy from every
    output whose window held it, weighted by the kernel entry that met it, so dx is dy convolved
    with the kernel turned 180 degrees (with zeros spread between dy's values for a stride > 1),
    made by the same im2col and product as forward.
    Inside, images are channels-last (NHWC), so each window's channels are contiguous in memory.

    The batch goes through a few images at a time (``blocks``): one block's columns, some
    megabytes, stay in the CPU's cache between the copy that makes them and the product that reads
    them, where the whole batch's would go out to main memory and back. Backward makes a block's
    columns again rather than keeping them all from forward: a copy costs less than the memory.

    A layer with many channels and a wide kernel (stride 1, on the CPU) computes the same
    convolution through the discrete Fourier transform instead, where it does under half the
    arithmetic: fourier.py, whose docstring derives the three products. ``algorithm`` chooses:
    "auto" (that rule), "im2col" or "fourier" (where the stride and the device allow). It is not
    saved with the model: both give the same values, to float32 rounding.
    """

    algorithm = "auto"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 name=None):
        super().__init__(name)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters = whole_number(filters, "Conv2D filters")
        sizes = tuple(kernel_size) if isinstance(kernel_size, (tuple, list, np.ndarray)) else (kernel_size,) * 2
        if len(sizes) != 2:
            raise ValueError(f"Conv2D kernel_size must be one number or a pair (height, width), got {kernel_size!r}")
        self.kernel_size = tuple(whole_number(size, "Conv2D kernel_size") for size in sizes)
        self.strides = whole_number(strides, "Conv2D strides")
        self.padding = padding
        self.activation = activation_layer(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._fourier_transforms = {}  # (image size, dtype, algorithm): a FourierConvolution, or None for im2col

    def _pads(self, height, width):
        if self.padding == "valid":
            return (0, 0), (0, 0)
        kh, kw = self.kernel_size
        return same_padding(height, kh, self.strides), same_padding(width, kw, self.strides)

    def array_shapes(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D expects (channels, height, width) inputs, got {tuple(input_shape)}")
        kernel = (self.filters, input_shape[0], *self.kernel_size)
        return {"kernel": kernel, **({"bias": (self.filters,)} if self.use_bias else {})}

    def build(self, input_shape, rng):
        shapes = self.array_shapes(input_shape)
        self.output_shape(input_shape)  # a kernel larger than the input is refused before any allocation
        super().build(input_shape, rng)
        self.add_param("kernel", self.kernel_initializer(shapes["kernel"], rng))
        if self.use_bias:
            self.add_param("bias", self.bias_initializer(shapes["bias"], rng))

    def output_shape(self, input_shape):
        _, height, width = input_shape
        return (self.filters, *window_positions(self, "kernel_size", self.kernel_size, height, width))

    def _kernel_matrix(self):
        """The kernel as (filters, kh*kw*channels), in the columns' order."""
        return self.params["kernel"].transpose(0, 2, 3, 1).reshape(self.filters, -1)

    def _turned_kernel_matrix(self):
        """The kernel turned 180 degrees as (kh*kw*filters, channels): dy's columns @ it is dx."""
        turned = self.params["kernel"][:, :, ::-1, ::-1]
        return turned.transpose(2, 3, 0, 1).reshape(-1, self.x_shape[1])

    def _convolve(self, padded, kernel_matrix, strides, out, bias=None, fill=None):
        """out[n, r, c] = the window of ``padded`` at output (r, c) @ kernel_matrix (+ bias): every
        window copied into a row of ``columns`` by im2col, a block of images at a time.
        ``fill(images)`` first writes those images into ``padded``, on the core that reads them."""
        n, out_h, out_w, filters = out.shape
        kh, kw = self.kernel_size
        image_bytes = out_h * out_w * kernel_matrix.shape[0] * padded.itemsize
        windows = _windows(padded, kh, kw, strides)

        def convolve(images):
            if fill is not None:
                fill(images)
            for block in blocks(images, image_bytes, padded):
                columns = _im2col(windows[block])
                rows = np.matmul(columns, kernel_matrix, out=out[block].reshape(len(columns), filters))
                if bias is not None:
                    rows += bias  # while the block is in cache

        parallel.over_rows(convolve, out, out_h * out_w * parallel.product_ns(*kernel_matrix.shape))
        return out

    def _fourier(self, x):
        """The FourierConvolution for x's images where it is used (see ``algorithm``), else None."""
        if self.algorithm not in ("auto", "im2col", "fourier"):
            raise ValueError(f"Conv2D.algorithm must be 'auto', 'im2col' or 'fourier', got {self.algorithm!r}")
        if self.algorithm == "im2col" or self.strides != 1 or not isinstance(x, np.ndarray):
            return None
        image_size = x.shape[2:]
        key = (image_size, x.dtype, self.algorithm)
        if key not in self._fourier_transforms:  # decided once for each image size, not every batch
            pads = self._pads(*image_size)
            wanted = self.algorithm == "fourier" or fourier.pays(
                image_size, self.kernel_size, pads, x.shape[1], self.filters)
            self._fourier_transforms[key] = (
                fourier.FourierConvolution(image_size, self.kernel_size, pads, x.dtype) if wanted else None)
        return self._fourier_transforms[key]

    def forward(self, x, training=False):
        _, out_h, out_w = self.output_shape(x.shape[1:])
        y = np.empty_like(x, shape=(len(x), out_h, out_w, self.filters), order="C")
        by_fourier = self._fourier(x)
        self.by_fourier, self.x_shape = by_fourier, x.shape
        if by_fourier is not None:
            by_fourier.forward(x, self.params["kernel"], y, self.params.get("bias"))
        else:
            self._forward_by_windows(x, y)
        # An NCHW view of channels-last memory: element-wise layers keep that layout (NumPy allocates
        # their results in the input's memory order), so the next convolution needs no transpose.
        y = y.transpose(0, 3, 1, 2)
        return self.activation.forward(y, training) if self.activation else y

    def _forward_by_windows(self, x, y):
        """y (n, out_h, out_w, filters) by im2col: every window of x a row of columns."""
        n, channels, height, width = x.shape
        (top, bottom), (left, right) = self._pads(height, width)
        padded = np.zeros_like(x, shape=(n, height + top + bottom, width + left + right, channels), order="C")
        inside = padded[:, top:top + height, left:left + width]

        def fill(images):
            np.copyto(inside[images], x[images].transpose(0, 2, 3, 1))

        self.padded, self.pads = padded, (top, left)
        self._convolve(padded, self._kernel_matrix().T, self.strides, y, self.params.get("bias"), fill)

    def backward(self, dy):
        if self.activation:
            dy = self.activation.backward(dy)
        if self.by_fourier is not None:
            return self._backward_by_fourier(dy)
        dy = dy.transpose(0, 2, 3, 1)  # channels-last, as the columns' rows are
        dx = self._input_gradient(dy) if self.input_gradient else None
        dkernel, dbias = self._parameter_gradients(dy)
        kh, kw = self.kernel_size
        self.grads["kernel"][...] = dkernel.reshape(self.filters, kh, kw, self.x_shape[1]).transpose(0, 3, 1, 2)
        if self.use_bias:
            self.grads["bias"][...] = dbias
        return None if dx is None else dx.transpose(0, 3, 1, 2)

    def _backward_by_fourier(self, dy):
        n, channels, height, width = self.x_shape
        dx = np.empty_like(dy, shape=(n, height, width, channels), order="C") if self.input_gradient else None
        self.grads["kernel"][...] = self.by_fourier.backward(dy, dx)
        if self.use_bias:
            channels_last = dy.transpose(0, 2, 3, 1)
            self.grads["bias"][...] = sum(parallel.over_rows(lambda some: channels_last[some].sum(axis=(0, 1, 2)), dy))
        return None if dx is None else dx.transpose(0, 3, 1, 2)

    def _input_gradient(self, dy):
        """dx: dy convolved with the kernel turned 180 degrees (see the class docstring)."""
        n, out_h, out_w, _ = dy.shape
        kh, kw = self.kernel_size
        _, channels, height, width = self.x_shape
        top, left = self.pads
        # dy where the turned kernel's windows meet it: output (r, c) sits at (r * stride, c *
        # stride) + (kh - 1 - top, kw - 1 - left), with zeros around and between.
        spread = np.zeros_like(dy, shape=(n, height + kh - 1, width + kw - 1, self.filters), order="C")
        rows = slice(kh - 1 - top, kh - 1 - top + (out_h - 1) * self.strides + 1, self.strides)
        cols = slice(kw - 1 - left, kw - 1 - left + (out_w - 1) * self.strides + 1, self.strides)

        def fill(images):
            np.copyto(spread[images, rows, cols], dy[images])

        dx = np.empty_like(dy, shape=(n, height, width, channels), dtype=self.padded.dtype, order="C")
        return self._convolve(spread, self._turned_kernel_matrix(), 1, dx, fill=fill)

    def _parameter_gradients(self, dy):
        """dkernel = dy_rows.T @ columns and dbias = dy summed over the batch: each core sums its
        part of the batch, and the parts' sums are added."""
        kh, kw = self.kernel_size
        _, out_h, out_w, _ = dy.shape
        kernel_matrix = self._kernel_matrix()
        image_bytes = out_h * out_w * kernel_matrix.shape[1] * self.padded.itemsize
        windows = _windows(self.padded, kh, kw, self.strides)

        def part_sums(images):
            dkernel = np.zeros_like(kernel_matrix)
            for block in blocks(images, image_bytes, dy):
                columns = _im2col(windows[block])
                dkernel += dy[block].reshape(len(columns), self.filters).T @ columns
            return dkernel, dy[images].sum(axis=(0, 1, 2)) if self.use_bias else None

        sums = parallel.over_rows(part_sums, dy, out_h * out_w * parallel.product_ns(*kernel_matrix.shape[::-1]))
        dkernel = sum(dkernel for dkernel, _ in sums)
        return dkernel, sum(dbias for _, dbias in sums) if self.use_bias else None

    def config(self):
        return {
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": self.strides,
            "padding": self.padding,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.config_of(self.kernel_initializer),
            "bias_initializer": initializers.config_of(self.bias_initializer),
        }
