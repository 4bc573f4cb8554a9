"""The engine's hot operations in their textbook form, and the dispatch to faster versions.

Each function below is the definition of what it computes, written to be read: the layers call
these (``ops.conv2d``, ``ops.relu``, ...), never a speed trick. ``digitlab.nn.accel`` registers a
faster version of an op under the op's name, with the same signature (``@ops.fast("conv2d")``); a
call then goes to that version. Inside ``with ops.reference():`` every call runs the version written
here instead. Both must give the same numbers to float32 rounding: tests/nn/test_conformance.py
runs every layer and optimizer both ways.

``reference()`` holds for the whole process, not per thread: the engine's own threads
(accel/threads.py) run parts of one call, and they must run what the caller runs. So switch it from
one thread at a time (a test, a learner at a prompt), not while another thread trains.

Where forward keeps something for backward (``conv2d``, ``max_pool2d``), it returns ``(y, saved)``:
the layer keeps ``saved`` without looking inside and hands it to the backward op. A fast forward's
``saved`` suits the fast backward only: run a step's forward and backward in the same mode.

A call costs one Python call and one dictionary lookup more than the version it runs.
"""

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, ParamSpec, Protocol, TypeVar

import numpy as np

Array = np.ndarray
Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

REFERENCE: dict[str, Callable[..., Any]] = {}  # every op's textbook version, by name
_registered: dict[str, Callable[..., Any]] = {}  # the fast versions accel registered
_active: dict[str, Callable[..., Any]] = _registered  # what calls go to now ({} inside reference())


def _op(textbook: Callable[P, R]) -> Callable[P, R]:
    """Make ``textbook`` an op: a call runs the fast version registered under its name, if any."""
    name = textbook.__name__
    REFERENCE[name] = textbook

    @functools.wraps(textbook)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        version: Callable[P, R] = _active.get(name, textbook)
        return version(*args, **kwargs)

    return call


def fast(name: str) -> Callable[[F], F]:
    """Register the decorated function as the fast version of op ``name``. Its parameters must be
    the textbook version's, so that a caller never needs to know which one runs."""
    def register(version: F) -> F:
        if name not in REFERENCE:
            raise KeyError(f"no op named {name!r}; ops: {', '.join(REFERENCE)}")
        wanted, got = (list(inspect.signature(f).parameters) for f in (REFERENCE[name], version))
        if wanted != got:
            raise TypeError(f"the fast {name} takes ({', '.join(got)}), the textbook one ({', '.join(wanted)})")
        _registered[name] = version
        return version
    return register


@contextmanager
def reference() -> Iterator[None]:
    """Run the textbook version of every op while inside (process-wide; calls may nest)."""
    global _active
    before, _active = _active, {}
    try:
        yield
    finally:
        _active = before


# Matrix products and ReLU.

@_op
def matmul(a: Array, b: Array, out: Array | None = None) -> Array:
    """a @ b for 2-D arrays (into ``out`` when given)."""
    return np.matmul(a, b, out=out)


@_op
def relu(x: Array) -> Array:
    """max(x, 0), element by element."""
    return np.maximum(x, 0)


@_op
def relu_backward(dy: Array, y: Array) -> Array:
    """dx for relu's output y: dy where the input was positive (exactly where y > 0), else 0."""
    return dy * (y > 0)


# Convolution, by im2col as in Deep Learning from Scratch: every window of the padded input becomes
# a row of ``columns``, so the whole convolution is one matrix product with the kernel.

class ConvSaved(NamedTuple):
    columns: Array
    x_shape: tuple[int, ...]
    strides: int
    pads: Pads
    has_bias: bool


def _windows(x: Array, height: int, width: int, strides: int, pads: Pads, fill: float = 0.0) -> Array:
    """Every (height x width) window of x padded by ``pads`` (with ``fill``), ``strides`` apart:
    a view, (n, C, out_h, out_w, height, width)."""
    padded = np.pad(x, ((0, 0), (0, 0), *pads), constant_values=fill)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(2, 3))
    return windows[:, :, ::strides, ::strides]


@_op
def conv2d(x: Array, kernel: Array, bias: Array | None, strides: int, pads: Pads) -> tuple[Array, Any]:
    """y[n, o, r, c] = sum over channel k and tap (i, j) of
    padded_x[n, k, r * strides + i, c * strides + j] * kernel[o, k, i, j], + bias[o].

    x (n, C, H, W), kernel (O, C, kh, kw), bias (O,) or None: y (n, O, out_h, out_w), and ``saved``."""
    filters, _, kh, kw = kernel.shape
    windows = _windows(x, kh, kw, strides, pads)
    n, _, out_h, out_w = windows.shape[:4]
    # one row per output position (n, r, c), its window's values in the kernel's order (k, i, j)
    columns = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * out_h * out_w, -1)
    y = columns @ kernel.reshape(filters, -1).T
    if bias is not None:
        y = y + bias
    y = y.reshape(n, out_h, out_w, filters).transpose(0, 3, 1, 2)
    return y, ConvSaved(columns, x.shape, strides, pads, bias is not None)


@_op
def conv2d_backward(dy: Array, kernel: Array, saved: Any,
                    input_gradient: bool = True) -> tuple[Array | None, Array, Array | None]:
    """(dx, dkernel, dbias) for conv2d's output gradient dy (n, O, out_h, out_w). The product
    y_rows = columns @ kernel_rows.T gives dkernel_rows = dy_rows.T @ columns and
    dcolumns = dy_rows @ kernel_rows; dx adds every window's gradient back where the window came
    from (col2im). dx is None unless ``input_gradient``, dbias None for a convolution without bias."""
    columns, x_shape, strides, ((top, bottom), (left, right)), has_bias = saved
    filters, channels, kh, kw = kernel.shape
    n, _, out_h, out_w = dy.shape
    dy_rows = dy.transpose(0, 2, 3, 1).reshape(-1, filters)  # in the order of columns' rows
    dkernel = (dy_rows.T @ columns).reshape(kernel.shape)
    dbias = dy_rows.sum(axis=0) if has_bias else None
    if not input_gradient:
        return None, dkernel, dbias
    dwindows = (dy_rows @ kernel.reshape(filters, -1)).reshape(n, out_h, out_w, channels, kh, kw)
    _, _, height, width = x_shape
    dpadded = np.zeros((n, channels, height + top + bottom, width + left + right), dy.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + strides * out_h, strides), slice(j, j + strides * out_w, strides)
            dpadded[:, :, rows, cols] += dwindows[..., i, j].transpose(0, 3, 1, 2)
    return dpadded[:, :, top:top + height, left:left + width], dkernel, dbias


# Max pooling.

class PoolSaved(NamedTuple):
    windows: Array
    x_shape: tuple[int, ...]
    strides: int
    pads: Pads


@_op
def max_pool2d(x: Array, pool_size: int, strides: int, pads: Pads) -> tuple[Array, Any]:
    """The largest value of each (pool_size x pool_size) window of x padded by ``pads`` (with
    -inf, which never wins), ``strides`` apart: y (n, C, out_h, out_w), and ``saved``."""
    windows = _windows(x, pool_size, pool_size, strides, pads, fill=-np.inf)
    return windows.max(axis=(4, 5)), PoolSaved(windows, x.shape, strides, pads)


@_op
def max_pool2d_backward(dy: Array, saved: Any) -> Array:
    """dx: each window's dy goes to the position that held its maximum (the first one, in reading
    order, when several did), and is added where windows overlap."""
    windows, x_shape, strides, ((top, bottom), (left, right)) = saved
    n, channels, out_h, out_w, size, _ = windows.shape
    first_max = windows.reshape(n, channels, out_h, out_w, size * size).argmax(axis=-1)
    i, j = np.divmod(first_max, size)
    image, channel, row, col = np.indices(first_max.shape, sparse=True)
    _, _, height, width = x_shape
    dpadded = np.zeros((n, channels, height + top + bottom, width + left + right), dy.dtype)
    np.add.at(dpadded, (image, channel, row * strides + i, col * strides + j), dy)
    return dpadded[:, :, top:top + height, left:left + width]


# The optimizer's step for one parameter.

class HasRule(Protocol):
    @property
    def rule(self) -> Callable[..., None]: ...


@_op
def update(optimizer: HasRule, param: Array, grad: Array, state: list[Array]) -> None:
    """Update ``param`` in place by the optimizer's own rule, as its paper writes it, with its
    state arrays for this parameter (updated in place too)."""
    optimizer.rule(param, grad, *state)
