"""The array seam: where the engine's arrays live (NumPy on the CPU, CuPy on a GPU).

Layers call NumPy functions on the arrays they are given. CuPy arrays implement NumPy's dispatch
protocols (``__array_function__``, ``__array_ufunc__``), so the same layer code runs on either;
only arrays created from nothing (parameters, buffers) need to know the backend, and they are made
through ``xp()`` or moved with ``to_device``.
"""

import functools

import numpy as np

_backend = "cpu"


def set_backend(backend: str) -> None:
    """Choose where new arrays live: ``"cpu"`` or ``"gpu"`` (needs CuPy and a CUDA GPU)."""
    global _backend
    if backend not in ("cpu", "gpu"):
        raise ValueError(f"unknown backend {backend!r}: choose 'cpu' or 'gpu'")
    if backend == "gpu":
        _cupy()
    _backend = backend


def get_backend() -> str:
    return _backend


def xp():
    """The array module of the current backend: numpy, or cupy on a GPU."""
    return _cupy() if _backend == "gpu" else np


def to_device(array):
    """Move an array to the current backend (a no-op when it is already there)."""
    if _backend == "gpu":
        return _cupy().asarray(array)
    return to_numpy(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy array from a NumPy or CuPy array."""
    if hasattr(array, "get") and not isinstance(array, np.ndarray):
        return array.get()
    return np.asarray(array)


def as_float32(images):
    """Images as float32: uint8 pixels are scaled to [0, 1] without a float64 intermediate, floats
    are taken as they are. Other types are refused, as ``digitlab.data.to_float32`` does: int64
    pixels could be 0-255 or already 0-1, and a guess would be wrong half the time.

    Dividing in float32 gives the float32 nearest to k/255 (multiplying by 1/255 can be one ulp off).
    """
    if images.dtype != np.uint8 and images.dtype.kind != "f":
        raise TypeError(f"images must be uint8 pixels (0-255) or floats in [0, 1], not {images.dtype}: convert "
                        "them with .astype(np.uint8) or scale them to float32")
    if images.dtype == np.uint8 and images.ndim == 0:
        return np.float32(images) / np.float32(255)
    if images.dtype == np.uint8:
        from digitlab.nn.accel import threads  # here, not at the top: accel's modules import this seam

        out = np.empty_like(images, dtype=np.float32)
        threads.over_rows(lambda rows: np.divide(images[rows], np.float32(255), out=out[rows]), images)
        return out
    return images.astype(np.float32, copy=False)


def strided_view(array, shape, strides):
    """A read-only view of ``array``'s memory with the given shape and strides (in bytes), on the
    array's own device. Nothing is copied or checked: the caller makes sure every index stays
    inside the array."""
    if isinstance(array, np.ndarray):
        return np.lib.stride_tricks.as_strided(array, shape, strides, writeable=False)
    return _cupy().lib.stride_tricks.as_strided(array, shape, strides)


@functools.cache
def elementwise_kernel(inputs, outputs, body, name):
    """A CUDA kernel that runs ``body`` (C, for one element) over whole arrays: CuPy's
    ElementwiseKernel, made once for each distinct source."""
    return _cupy().ElementwiseKernel(inputs, outputs, body, name)


def _cupy():
    try:
        import cupy
    except ImportError as error:
        raise RuntimeError(
            "the GPU path needs CuPy: install digitlab with the gpu extra "
            "(pip install 'digitlab[gpu]') on a machine with a CUDA GPU"
        ) from error
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # no driver, or one too old for this CuPy: CuPy raises its own errors
        raise RuntimeError(f"CuPy cannot reach a CUDA GPU ({error}): use --backend cpu, or install the "
                           "CuPy that matches this machine's CUDA (digitlab[gpu] or digitlab[gpu-cuda13])") from None
    if count == 0:
        raise RuntimeError("CuPy found no CUDA GPU on this machine: use --backend cpu")
    return cupy
