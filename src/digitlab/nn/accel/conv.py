"""The fast conv2d: blocked channels-last im2col (im2col.py), or the discrete Fourier transform
(fourier.py) where that does under half the arithmetic: a layer with many channels and a wide
kernel, stride 1, on the CPU (the cnn recipe's second convolution).

``ALGORITHM`` chooses, for every Conv2D in the process: "auto" (that rule), "im2col" or "fourier"
(where the stride and the array's device allow); ``with algorithm("im2col"):`` sets it for a while.
It is not saved with a model: both give the same values, to float32 rounding. The choice is made
once for each shape of input and kernel, not every batch, and the transform matrices it needs are
made once and shared.
"""

from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from digitlab.nn import ops
from digitlab.nn.accel import fourier, im2col, threads

ALGORITHMS = ("auto", "im2col", "fourier")
ALGORITHM = "auto"
_transforms: dict = {}  # (image size, kernel shape, pads, dtype, algorithm): a FourierConvolution, or None


class FourierSaved(NamedTuple):
    transform: fourier.FourierConvolution
    images: np.ndarray   # the images' spectra
    kernel: np.ndarray   # the kernel's spectrum
    x_shape: tuple
    has_bias: bool


@contextmanager
def algorithm(name):
    """Convolve by ``name`` ("auto", "im2col" or "fourier") while inside."""
    global ALGORITHM
    before, ALGORITHM = ALGORITHM, name
    try:
        yield
    finally:
        ALGORITHM = before


def _fourier(x, kernel_shape, strides, pads):
    """The FourierConvolution for x's images where it is used (see ALGORITHM), else None."""
    chosen = ALGORITHM
    if chosen not in ALGORITHMS:
        raise ValueError(f"the Conv2D algorithm must be 'auto', 'im2col' or 'fourier', got {chosen!r}")
    if chosen == "im2col" or strides != 1 or not isinstance(x, np.ndarray):
        return None
    image_size = x.shape[2:]
    key = (image_size, kernel_shape, pads, x.dtype, chosen)
    if key not in _transforms:
        filters, channels, *sizes = kernel_shape
        kernel_size = tuple(sizes)
        wanted = chosen == "fourier" or fourier.pays(image_size, kernel_size, pads, channels, filters)
        _transforms[key] = fourier.FourierConvolution(image_size, kernel_size, pads, x.dtype) if wanted else None
    return _transforms[key]


@ops.fast("conv2d")
def conv2d(x, kernel, bias, strides, pads):
    n, _, height, width = x.shape
    filters, _, kh, kw = kernel.shape
    (top, bottom), (left, right) = pads
    out_h, out_w = (height + top + bottom - kh) // strides + 1, (width + left + right - kw) // strides + 1
    y = np.empty_like(x, shape=(n, out_h, out_w, filters), order="C")
    by_fourier = _fourier(x, kernel.shape, strides, pads)
    if by_fourier is not None:
        images, kernel_spectrum = by_fourier.forward(x, kernel, y, bias)
        saved = FourierSaved(by_fourier, images, kernel_spectrum, x.shape, bias is not None)
    else:
        saved = im2col.forward(x, kernel, bias, strides, pads, y)
    # An NCHW view of channels-last memory: element-wise layers keep that layout (NumPy allocates
    # their results in the input's memory order), so the next convolution needs no transpose.
    return y.transpose(0, 3, 1, 2), saved


@ops.fast("conv2d_backward")
def conv2d_backward(dy, kernel, saved, input_gradient=True):
    if not isinstance(saved, FourierSaved):
        return im2col.backward(dy, kernel, saved, input_gradient)
    n, channels, height, width = saved.x_shape
    dx = np.empty_like(dy, shape=(n, height, width, channels), order="C") if input_gradient else None
    dkernel = saved.transform.backward(dy, saved.images, saved.kernel, dx)
    dbias = None
    if saved.has_bias:
        channels_last = dy.transpose(0, 2, 3, 1)
        dbias = sum(threads.over_rows(lambda some: channels_last[some].sum(axis=(0, 1, 2)), dy))
    return None if dx is None else dx.transpose(0, 3, 1, 2), dkernel, dbias
