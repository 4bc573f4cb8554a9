"""The engine's own threads: a batch's work split into one part per CPU core.

NumPy runs element-wise work (ReLU, pooling, im2col, optimizer updates) on one core only, and
OpenBLAS's threads, which do parallelise the matrix products, keep spinning between products and
slow everything else down (one cnn layer's forward and backward on 2 cores took 25 ms at best and
47 ms half the time, minutes apart). So while a model trains or predicts (inside
``engine_threads``), the engine takes the cores itself: each large operation is cut into parts
(rows of the batch, or of a parameter), the parts run at once in a small thread pool, and every
matrix product inside them is single-threaded. NumPy lets go of Python's lock while it computes, so
the parts really do run side by side (the same layer then took 22 ms every time). The Python
between those NumPy calls does hold the lock, and the other core's part waits for it, so parts keep
their Python short: Conv2D makes its window view once a batch rather than once a block (the cnn's
step 48.5 -> 44.4 ms), and parts are handed over through a C queue and a lock (44.1 -> 42.4 ms).

Outside ``engine_threads`` (a layer called by hand, a custom training loop), nothing is split and
BLAS keeps its threads. Work too small to be worth a thread hand-off runs as one part, in the
calling thread, and so does all work on a GPU.
"""

import os
import queue
import threading
from contextlib import contextmanager
from itertools import pairwise

import numpy as np
from threadpoolctl import ThreadpoolController

from digitlab.nn import ops

# Rough single-core costs, in nanoseconds on this project's 2-core machine: one value through an
# element-wise pass, and one multiply-add inside a matrix product. Handing a part to a thread and
# getting it back costs about 60 microseconds there, so no part is made smaller than MIN_PART_NS.
ELEMENT_NS = 1.0
MULTIPLY_ADD_NS = 0.02
MIN_PART_NS = 75_000

_pool = None
_blas = None
_blas_limiter = None
_users = 0               # how many calls are inside engine_threads now, in any thread
_users_lock = threading.Lock()
_in_pool = threading.local()


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


def splitting(array=None) -> bool:
    """Whether work may be split now: inside engine_threads, on the CPU, with cores to spare, and
    not already inside a part (a part that split again would wait on its own pool)."""
    on_gpu = array is not None and not isinstance(array, np.ndarray)
    return _users > 0 and WORKERS > 1 and not on_gpu and not getattr(_in_pool, "inside", False)


def parts(length, nanoseconds, array=None):
    """Slices of range(length), nearly equal: one per core when work that takes about
    ``nanoseconds`` on one core can be split so, fewer when parts would be too small to pay."""
    count = min(WORKERS, length, int(nanoseconds // MIN_PART_NS)) if splitting(array) else 1
    count = max(count, 1)
    bounds = [length * k // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in pairwise(bounds)]


def run(function, slices):
    """``function(part)`` for every slice, at once; the results in the slices' order.

    The calling thread does the first part itself while the pool does the rest; no part splits its
    work again (the pool is busy). Every part has finished when this returns, also when one of them
    raised.
    """
    if len(slices) == 1:
        return [function(slices[0])]
    global _pool
    if _pool is None:
        _pool = _Pool()
    _pool.grow(WORKERS - 1)
    handed = [_Part(function, piece) for piece in slices[1:]]
    for part in handed:
        _pool.parts.put(part)
    was_inside, _in_pool.inside = getattr(_in_pool, "inside", False), True
    try:
        first = function(slices[0])
    finally:
        _in_pool.inside = was_inside
        for part in handed:  # no part may still be writing once the caller moves on
            part.done.acquire()
    for part in handed:
        if part.error is not None:
            raise part.error
    return [first] + [part.result for part in handed]


class _Part:
    """One part handed to the pool, with a lock held until it has run. (concurrent.futures would
    do, but its Future and wait cost some 30 microseconds of Python a part, holding the lock that
    every other thread's Python waits on; a queue and a lock are C.)"""

    __slots__ = ("function", "piece", "result", "error", "done")

    def __init__(self, function, piece):
        self.function, self.piece, self.result, self.error = function, piece, None, None
        self.done = threading.Lock()
        self.done.acquire()

    def run(self):
        try:
            self.result = self.function(self.piece)
        except BaseException as error:  # raised again in the caller's thread
            self.error = error
        finally:
            self.done.release()


class _Pool:
    """Worker threads that run the parts put on one queue, in turn."""

    def __init__(self):
        self.parts: queue.SimpleQueue[_Part] = queue.SimpleQueue()
        self.threads = 0

    def grow(self, threads):
        while self.threads < threads:
            threading.Thread(target=self._work, name=f"digitlab-{self.threads}", daemon=True).start()
            self.threads += 1

    def _work(self):
        _in_pool.inside = True
        while True:
            self.parts.get().run()


def over_rows(function, array, ns_per_row=None):
    """``function(rows)`` for parts of the first axis of ``array``; the results in order.

    ``ns_per_row``, the work of one row on one core, defaults to one element-wise pass over it."""
    rows = len(array)
    per_row = array.size / max(rows, 1) * ELEMENT_NS if ns_per_row is None else ns_per_row
    if per_row * rows < 2 * MIN_PART_NS or not splitting(array):  # the common small case, kept short
        return [function(slice(0, rows))]
    return run(function, parts(rows, per_row * rows, array))


@ops.fast("matmul")
def matmul(a, b, out=None):
    """``a @ b`` for 2-D arrays, cut by a's rows or b's columns: whichever splits the larger of the
    two, so that each core reads only its share of it (a layer's kernel, usually)."""
    if out is None:
        out = np.empty_like(a, shape=(a.shape[0], b.shape[1]), dtype=np.result_type(a.dtype, b.dtype), order="C")
    nanoseconds = a.shape[0] * product_ns(*b.shape)
    if nanoseconds < 2 * MIN_PART_NS or not splitting(a):
        return np.matmul(a, b, out=out)
    if a.size >= b.size:
        run(lambda rows: np.matmul(a[rows], b, out=out[rows]), parts(a.shape[0], nanoseconds, a))
    else:
        run(lambda columns: np.matmul(a, b[:, columns], out=out[:, columns]), parts(b.shape[1], nanoseconds, b))
    return out


@contextmanager
def engine_threads():
    """While the engine runs: matrix products single-threaded, the engine's own parts in parallel.

    Calls may nest and may come from several threads at once: the first to enter limits the BLAS
    to one thread and the last to leave gives it back its thread count. threadpoolctl lets one
    thread only steer OpenBLAS (the first that does, usually the main one), so calls from other
    threads change nothing by themselves. Correctness never depends on the count, only speed.
    """
    global _users, _blas, _blas_limiter
    with _users_lock:
        if _users == 0 and WORKERS > 1:
            if _blas is None:  # made once: finding the loaded libraries takes about a millisecond
                _blas = ThreadpoolController()
            _blas_limiter = _blas.limit(limits=1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _users_lock:
            _users -= 1
            if _users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
