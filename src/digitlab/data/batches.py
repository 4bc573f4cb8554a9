"""Turning a dataset into mini-batches for training: the public data API (``from digitlab.data
import iterate_batches``) over the engine's ``digitlab.nn.batching``.

The engine's batching hands out index arrays and trusts its caller; this layer is for people
batching data themselves: it checks the arguments when it is called (not at the first batch),
asks for a seeded Generator by name, and hands out the batches themselves. Images stay uint8 in
memory (47 MB for MNIST's training set, not 188 MB as float32) and each batch is converted to
float32 in [0, 1] as it is handed out. All randomness comes from a `numpy.random.Generator` the
caller seeds, so a run with the same seed sees the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from digitlab.errors import ConfigError
from digitlab.nn import batching
from digitlab.nn.backend import as_float32
from digitlab.nn.batching import num_batches
from digitlab.nn.checks import same_length, whole_number

__all__ = ["iterate_batches", "num_batches", "sample_batches", "to_float32"]

Batch = tuple[np.ndarray, np.ndarray | None]


def to_float32(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 -> float32 in [0, 1]; floating-point input is returned as float32.

    The division is done in float32 (never through a float64 intermediate), and IEEE division
    rounds correctly, so each value is the float32 nearest to k/255 and 255 maps to exactly 1.0.
    Floating-point input is assumed to be scaled already and is not copied if it is float32.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8 or images.dtype.kind == "f":
        return as_float32(images)
    raise ConfigError(
        f"to_float32 expects uint8 pixels (0..255) or floating-point images, got {images.dtype}; "
        "convert the images with .astype(np.uint8) first."
    )


def iterate_batches(
    x: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[Batch]:
    """One epoch of mini-batches `(xb, yb)`: every sample exactly once.

    With `shuffle` (the default) the order is one permutation drawn from `rng`, which must then be
    a `numpy.random.Generator`; without it the batches are consecutive slices. The last batch is
    smaller when `batch_size` does not divide the number of samples, unless `drop_last` leaves it
    out. `xb` is float32 (see `to_float32`); `yb` is `y`'s rows as they are (None if `y` is None).
    The arguments are checked when this is called, not when the first batch is asked for.
    """
    n = same_length(x, y)
    whole_number(batch_size, "batch_size")
    if shuffle:
        _require_generator(rng, "iterate_batches(shuffle=True)")
    indices = batching.batch_indices(n, batch_size, rng, shuffle, drop_last)
    return (_take(x, y, index) for index in indices)


def sample_batches(
    x: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    steps: int,
    *,
    rng: np.random.Generator,
) -> Iterator[Batch]:
    """`steps` mini-batches, each `batch_size` samples drawn uniformly WITH replacement.

    This is how *Deep Learning from Scratch* trains its two-layer net (`np.random.choice` each
    step): there are no epochs, and a sample can appear twice in a batch. Batches as in
    `iterate_batches`.
    """
    n = same_length(x, y)
    whole_number(batch_size, "batch_size")
    if steps < 0:
        raise ConfigError(f"sample_batches: steps must be 0 or more, got {steps}.")
    if n == 0 and steps > 0:
        raise ConfigError("sample_batches: cannot draw samples from an empty dataset.")
    generator = _require_generator(rng, "sample_batches")
    return (_take(x, y, index) for index in batching.sampled_indices(n, batch_size, steps, generator))


def _take(x, y, index) -> Batch:
    return to_float32(x[index]), (None if y is None else y[index])


def _require_generator(rng, caller: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"{caller} needs rng=np.random.default_rng(seed) (a numpy.random.Generator) so that the "
            f"batches repeat with the seed; got {type(rng).__name__}."
        )
    return rng
