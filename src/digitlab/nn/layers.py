"""The layers: each a small class with ``forward`` and ``backward``.

A layer owns ``params`` and ``grads``, two dicts with the same keys. ``forward(x, training)``
returns the output and keeps what ``backward`` needs; ``backward(dy)`` fills ``grads`` with dLoss/dParam
and returns dLoss/dx. Layers learn their input shape from the first input they see (or from
``build``), and never modify the gradient they are given. Images are NCHW.

``forward`` only writes what it keeps for ``backward``, never reads it back: inference may run one
layer on several batches at once, one per core (``Sequential.predict_proba``).
"""

import numpy as np

from digitlab.nn import fourier, initializers, parallel
from digitlab.nn.backend import strided_view, to_device
from digitlab.nn.checks import number, whole_number


class Layer:
    # Sequential sets this to False on its first layer with parameters: nothing before it learns,
    # so the gradient with respect to its input (a whole matmul for Dense) is never computed.
    input_gradient = True

    def __init__(self, name=None):
        self.name = name
        self.params = {}
        self.grads = {}
        self.buffers = {}  # arrays that are saved with the model but not trained (running statistics)
        self.built = False
        self.input_shape = None

    def build(self, input_shape, rng):
        """Create the parameters for inputs of ``input_shape`` (without the batch axis)."""
        self.input_shape = tuple(input_shape)
        self.built = True

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def array_shapes(self, input_shape) -> dict:
        """The shape of every parameter and buffer ``build`` will make (a model file is checked
        against these before anything is allocated)."""
        return {}

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def config(self) -> dict:
        """The constructor arguments that rebuild this layer (saved with the model)."""
        return {}

    def __call__(self, x, training=False):
        if not self.built:
            self.build(x.shape[1:], np.random.default_rng())
        return self.forward(x, training)

    def astype(self, dtype):
        """Cast parameters and gradients (the gradient checks run in float64)."""
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = self.grads[key].astype(dtype)
        for key in self.buffers:
            self.buffers[key] = self.buffers[key].astype(dtype)
        if getattr(self, "activation", None):
            self.activation.astype(dtype)
        return self

    def _add_param(self, key, value):
        self.params[key] = to_device(value)
        self.grads[key] = np.zeros_like(self.params[key])

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({arguments})"


# ----------------------------------------------------------------------------- activations


class ReLU(Layer):
    def forward(self, x, training=False):
        y = np.empty_like(x)
        parallel.over_rows(lambda rows: np.maximum(x[rows], 0, out=y[rows]), x)
        self.y = y  # kept for backward: y > 0 exactly where x > 0
        return y

    def backward(self, dy):
        dx = np.empty_like(dy)
        parallel.over_rows(lambda rows: np.multiply(dy[rows], self.y[rows] > 0, out=dx[rows]), dy)
        return dx


class Sigmoid(Layer):
    def forward(self, x, training=False):
        # 1/(1+exp(-x)) written with tanh, which never overflows.
        y = 0.5 * np.tanh(0.5 * x) + 0.5
        self.y = y
        return y

    def backward(self, dy):
        return dy * self.y * (1 - self.y)


class Tanh(Layer):
    def forward(self, x, training=False):
        y = np.tanh(x)
        self.y = y
        return y

    def backward(self, dy):
        return dy * (1 - self.y * self.y)


class Softmax(Layer):
    """Probabilities over the last axis. Followed by cross-entropy, Sequential fuses the two."""

    def forward(self, x, training=False):
        exps = np.exp(x - x.max(axis=-1, keepdims=True))
        y = exps / exps.sum(axis=-1, keepdims=True)
        self.y = y
        return y

    def backward(self, dy):
        return self.y * (dy - (dy * self.y).sum(axis=-1, keepdims=True))


class PReLU(Layer):
    """ReLU with a learned slope ``alpha`` for negative inputs (one shared, or one per channel)."""

    def __init__(self, alpha_init=0.25, per_channel=False, name=None):
        super().__init__(name)
        self.alpha_init = alpha_init
        self.per_channel = per_channel

    def array_shapes(self, input_shape):
        # Per channel: axis 0 of the input (features of a vector, channels of an image).
        return {"alpha": (input_shape[0],) + (1,) * (len(input_shape) - 1) if self.per_channel else (1,)}

    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self._add_param("alpha", np.full(self.array_shapes(input_shape)["alpha"], self.alpha_init, np.float32))

    def forward(self, x, training=False):
        self.x = x
        return np.where(x > 0, x, self.params["alpha"] * x)

    def backward(self, dy):
        negative = self.x <= 0
        slope_grad = np.where(negative, dy * self.x, 0)
        # Sum over every axis that shares one slope: all of them, or all but the channel axis (1).
        summed_axes = (0, *range(2, dy.ndim)) if self.per_channel else tuple(range(dy.ndim))
        summed = slope_grad.sum(axis=summed_axes)
        self.grads["alpha"][...] = summed.reshape(self.params["alpha"].shape)
        return np.where(negative, self.params["alpha"] * dy, dy)

    def config(self):
        return {"alpha_init": self.alpha_init, "per_channel": self.per_channel}


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax, "prelu": PReLU}


def activation_layer(spec):
    """An activation layer from a name ("relu"), or None for no activation ("linear", None).

    Only parameter-free activations: a PReLU's slope must be a layer of its own to be trained.
    """
    if spec is None or spec == "linear":
        return None
    if spec == "prelu" or isinstance(spec, PReLU):
        raise ValueError("PReLU has a learned slope: add PReLU() as a layer of its own, not as activation=")
    if isinstance(spec, Layer):
        return spec
    if spec not in ACTIVATIONS:
        raise ValueError(f"unknown activation {spec!r}; known: {', '.join(ACTIVATIONS)}, linear")
    return ACTIVATIONS[spec]()


# ----------------------------------------------------------------------------- dense and shape


class Dense(Layer):
    """y = x @ kernel + bias, then the activation if one is given (as in Keras)."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", name=None):
        super().__init__(name)
        self.units = whole_number(units, "Dense units")
        self.activation = activation_layer(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def array_shapes(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat inputs, got shape {tuple(input_shape)}: add Flatten()")
        return {"kernel": (input_shape[0], self.units), **({"bias": (self.units,)} if self.use_bias else {})}

    def build(self, input_shape, rng):
        shapes = self.array_shapes(input_shape)
        super().build(input_shape, rng)
        self._add_param("kernel", self.kernel_initializer(shapes["kernel"], rng))
        if self.use_bias:
            self._add_param("bias", self.bias_initializer(shapes["bias"], rng))

    def output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, training=False):
        self.x = x
        y = parallel.matmul(x, self.params["kernel"])
        if self.use_bias:
            y += self.params["bias"]
        return self.activation.forward(y, training) if self.activation else y

    def backward(self, dy):
        if self.activation:
            dy = self.activation.backward(dy)
        parallel.matmul(self.x.T, dy, out=self.grads["kernel"])
        if self.use_bias:
            np.sum(dy, axis=0, out=self.grads["bias"])
        return parallel.matmul(dy, self.params["kernel"].T) if self.input_gradient else None

    def config(self):
        return {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.config_of(self.kernel_initializer),
            "bias_initializer": initializers.config_of(self.bias_initializer),
        }


class Flatten(Layer):
    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.shape)


class BatchNormalization(Layer):
    """Normalise each feature (each channel of an image) over the batch, then scale and shift.

    Training uses the batch's mean and variance and keeps running averages of them, which
    inference uses instead. With x_hat = (x - mean) / std over m values per feature,
    dx = gamma / std * (dy - mean(dy) - x_hat * mean(dy * x_hat)).
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(name)
        # moving = momentum * moving + (1 - momentum) * batch: 1 keeps the statistics, 0 forgets them.
        self.momentum = number(momentum, "BatchNormalization momentum", "in [0, 1]")
        self.epsilon = number(epsilon, "BatchNormalization epsilon", "> 0 and finite")

    def array_shapes(self, input_shape):
        channels = (input_shape[0],)
        return {"gamma": channels, "beta": channels, "moving_mean": channels, "moving_variance": channels}

    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        channels = input_shape[0]
        self._add_param("gamma", np.ones(channels, np.float32))
        self._add_param("beta", np.zeros(channels, np.float32))
        self.buffers["moving_mean"] = to_device(np.zeros(channels, np.float32))
        self.buffers["moving_variance"] = to_device(np.ones(channels, np.float32))

    def _per_feature(self, x):
        """Reshape a (channels,) vector to broadcast against x: (C,) for vectors, (C, 1, 1) for images."""
        return (-1,) + (1,) * (x.ndim - 2)

    def forward(self, x, training=False):
        axes = (0, *range(2, x.ndim))  # every axis but the feature/channel axis
        shape = self._per_feature(x)
        if training:
            mean, variance = x.mean(axis=axes), x.var(axis=axes)
            for key, batch_value in (("moving_mean", mean), ("moving_variance", variance)):
                moving = self.buffers[key]
                moving *= self.momentum
                moving += (1 - self.momentum) * batch_value.astype(moving.dtype)
        else:
            mean, variance = self.buffers["moving_mean"], self.buffers["moving_variance"]
        inverse_std = (1 / np.sqrt(variance + self.epsilon)).astype(x.dtype).reshape(shape)
        x_hat = (x - mean.astype(x.dtype).reshape(shape)) * inverse_std
        self.inverse_std, self.x_hat, self.axes = inverse_std, x_hat, axes
        return x_hat * self.params["gamma"].reshape(shape) + self.params["beta"].reshape(shape)

    def backward(self, dy):
        shape, axes = self._per_feature(dy), self.axes
        self.grads["gamma"][...] = (dy * self.x_hat).sum(axis=axes)
        self.grads["beta"][...] = dy.sum(axis=axes)
        count = dy.size // dy.shape[1]
        mean_dy = (self.grads["beta"] / count).reshape(shape)
        mean_dy_x_hat = (self.grads["gamma"] / count).reshape(shape)
        scale = self.params["gamma"].reshape(shape) * self.inverse_std
        return scale * (dy - mean_dy - self.x_hat * mean_dy_x_hat)

    def config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon}


class Dropout(Layer):
    """Zeroes each input with probability ``rate`` while training, scaling the rest by 1/(1-rate)."""

    def __init__(self, rate, name=None):
        super().__init__(name)
        self.rate = number(rate, "Dropout rate", "in [0, 1)")

    def build(self, input_shape, rng):
        super().build(input_shape, rng)
        self.rng = np.random.default_rng(rng.integers(2**63))

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        mask = to_device(keep.astype(x.dtype) / np.array(1 - self.rate, x.dtype))
        self.mask = mask
        return x * mask

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask

    def config(self):
        return {"rate": self.rate}


# ----------------------------------------------------------------------------- convolution


# How much of the columns matrix Conv2D makes at a time: a few images' worth, to stay in one core's cache.
COLUMNS_BLOCK_BYTES = 1 << 20


def _same_padding(size, kernel, stride):
    """(before, after) padding so that the output has ceil(size / stride) positions."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _window_positions(layer, what, window, height, width):
    """(out_h, out_w): how many of ``layer``'s windows fit in its padded input, a ValueError if
    none does (an empty output would build, train and predict one class for everything)."""
    (top, bottom), (left, right) = layer._pads(height, width)
    kh, kw = window
    out_h = (height + top + bottom - kh) // layer.strides + 1
    out_w = (width + left + right - kw) // layer.strides + 1
    if out_h < 1 or out_w < 1:
        same = " or padding='same'" if layer.padding == "valid" else ""
        raise ValueError(f"{type(layer).__name__} {what} {kh}x{kw} is larger than its {height}x{width} input: "
                         f"use a smaller {what} (at most {height}x{width}){same}")
    return out_h, out_w


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


def _blocks(images, image_bytes, array):
    """Slices of ``images`` whose columns, ``image_bytes`` an image, take about COLUMNS_BLOCK_BYTES
    (all of them at once on a GPU, where ``array`` is not a NumPy array)."""
    if not isinstance(array, np.ndarray):
        return [images]
    per_block = max(1, COLUMNS_BLOCK_BYTES // image_bytes)
    starts = range(images.start, images.stop, per_block)
    return [slice(start, min(start + per_block, images.stop)) for start in starts]


def _offsets(kernel_h, kernel_w, stride, out_h, out_w):
    """For each kernel offset (i, j): the slices of the padded input that it meets, one per output."""
    for i in range(kernel_h):
        for j in range(kernel_w):
            yield i, j, slice(i, i + stride * out_h, stride), slice(j, j + stride * out_w, stride)


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

    The batch goes through a few images at a time (``_blocks``): one block's columns, some
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
        return _same_padding(height, kh, self.strides), _same_padding(width, kw, self.strides)

    def array_shapes(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D expects (channels, height, width) inputs, got {tuple(input_shape)}")
        kernel = (self.filters, input_shape[0], *self.kernel_size)
        return {"kernel": kernel, **({"bias": (self.filters,)} if self.use_bias else {})}

    def build(self, input_shape, rng):
        shapes = self.array_shapes(input_shape)
        self.output_shape(input_shape)  # a kernel larger than the input is refused before any allocation
        super().build(input_shape, rng)
        self._add_param("kernel", self.kernel_initializer(shapes["kernel"], rng))
        if self.use_bias:
            self._add_param("bias", self.bias_initializer(shapes["bias"], rng))

    def output_shape(self, input_shape):
        _, height, width = input_shape
        return (self.filters, *_window_positions(self, "kernel_size", self.kernel_size, height, width))

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
            for block in _blocks(images, image_bytes, padded):
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
            for block in _blocks(images, image_bytes, dy):
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
        return (_same_padding(height, self.pool_size, self.strides),
                _same_padding(width, self.pool_size, self.strides))

    def output_shape(self, input_shape):
        channels, height, width = input_shape
        window = (self.pool_size, self.pool_size)
        return (channels, *_window_positions(self, "pool_size", window, height, width))

    def forward(self, x, training=False):
        n, channels, height, width = x.shape
        (top, bottom), (left, right) = self._pads(height, width)
        if top + bottom + left + right:
            x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf)
        _, out_h, out_w = self.output_shape((channels, height, width))
        offsets = list(_offsets(self.pool_size, self.pool_size, self.strides, out_h, out_w))
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


LAYERS = {cls.__name__: cls for cls in (Dense, Flatten, Dropout, Conv2D, MaxPool2D, BatchNormalization,
                                        ReLU, Sigmoid, Tanh, Softmax, PReLU)}


def layer_from_config(spec: dict) -> Layer:
    """Rebuild a layer from ``{"class": "Dense", "config": {...}}`` as saved in a model file."""
    if not isinstance(spec, dict):
        raise ValueError(f"a layer is described by a dict, not {type(spec).__name__}")
    cls = LAYERS.get(spec.get("class"))
    if cls is None:
        raise ValueError(f"unknown layer class {spec.get('class')!r}")
    return cls(**spec.get("config", {}))
