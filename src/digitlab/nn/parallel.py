"""The engine's own threads: a batch's work split into one part per CPU core.

NumPy runs element-wise work (ReLU, pooling, im2col, optimizer updates) on one core only, and
OpenBLAS's threads, which do parallelise the matrix products, keep spinning between products and
slow everything else down (one cnn layer's forward and backward on 2 cores took 25 ms at best and
47 ms half the time, minutes apart). So while a model trains or predicts, the engine takes the
cores itself: each large operation is cut into parts (rows of the batch, or of a parameter), the
parts run at once in a small thread pool, and every matrix product inside them is single-threaded.
NumPy lets go of Python's lock while it computes, so the parts really do run side by side (the same
layer then took 22 ms every time).

Work too small to be worth a thread hand-off (a few tens of microseconds) runs as one part, in the
calling thread, and so does all work on a GPU.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
from threadpoolctl import ThreadpoolController

# Rough single-core costs, in nanoseconds on this project's 2-core machine: one value through an
# element-wise pass, and one multiply-add inside a matrix product. Handing a part to a thread and
# getting it back costs about 60 microseconds there, so only work of more than MIN_SPLIT_NS is split.
ELEMENT_NS = 1.0
MULTIPLY_ADD_NS = 0.02
MIN_SPLIT_NS = 150_000

_pool = None
_blas = None


def _forget_pool():
    global _pool
    _pool = None  # a forked child has none of its parent's threads: it makes a pool of its own


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


WORKERS = cores()


def product_ns(inner, outer):
    """The work of one row of a matrix product: ``inner`` values in, each row of ``outer`` outputs.

    Reading the inputs counts as well as the multiply-adds: a product with few outputs is slow
    for its arithmetic."""
    return inner * outer * MULTIPLY_ADD_NS + inner * ELEMENT_NS


def parts(length, nanoseconds, array=None):
    """Up to WORKERS slices of range(length), nearly equal, when work that takes about
    ``nanoseconds`` on one core is worth splitting (and ``array`` is not on a GPU); else one slice."""
    on_gpu = array is not None and not isinstance(array, np.ndarray)
    count = 1 if on_gpu or nanoseconds < MIN_SPLIT_NS else min(WORKERS, length)
    bounds = [length * k // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]


def run(function, slices):
    """``function(part)`` for every slice, at once; the results in the slices' order.

    The calling thread does the first part itself while the pool does the rest.
    """
    if len(slices) == 1:
        return [function(slices[0])]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS - 1, thread_name_prefix="digitlab")
    others = [_pool.submit(function, part) for part in slices[1:]]
    first = function(slices[0])
    return [first] + [future.result() for future in others]


def over_rows(function, array, ns_per_row=None):
    """``function(rows)`` for parts of the first axis of ``array``; the results in order.

    ``ns_per_row``, the work of one row on one core, defaults to one element-wise pass over it."""
    per_row = array[0].size * ELEMENT_NS if ns_per_row is None else ns_per_row
    if per_row * len(array) < MIN_SPLIT_NS:  # the common case for small batches, kept short
        return [function(slice(0, len(array)))]
    return run(function, parts(len(array), per_row * len(array), array))


def matmul(a, b, out=None):
    """``a @ b`` for 2-D arrays, cut into parts by a's rows or b's columns: whichever halves the
    larger of the two, so that each core reads only its half of it (a layer's kernel, usually)."""
    if out is None:
        out = np.empty_like(a, shape=(a.shape[0], b.shape[1]), dtype=np.result_type(a.dtype, b.dtype), order="C")
    nanoseconds = a.shape[0] * product_ns(*b.shape)
    if nanoseconds < MIN_SPLIT_NS:
        return np.matmul(a, b, out=out)
    if a.size >= b.size:
        product = lambda rows: np.matmul(a[rows], b, out=out[rows])
        run(product, parts(a.shape[0], nanoseconds, a))
    else:
        product = lambda columns: np.matmul(a, b[:, columns], out=out[:, columns])
        run(product, parts(b.shape[1], nanoseconds, b))
    return out


@contextmanager
def engine_threads():
    """While the engine runs: matrix products single-threaded, the engine's own parts in parallel.

    The BLAS gets its thread count back afterwards. (A BLAS that threadpoolctl cannot steer keeps
    its threads: everything still works, only slower.)
    """
    global _blas
    if WORKERS == 1:
        yield
        return
    if _blas is None:  # made once: finding the loaded libraries takes about a millisecond
        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        yield
