"""Training-time augmentation: digits as people write them, not only as MNIST's writers did.

    from digitlab.data.augment import augment
    xb = augment(x_train[index], rng)          # uint8 or float images in, float32 [0, 1] out

Each image gets its own random affine map (a shift, a small rotation, a scaling and a slant) and
its own stroke thickness (a 3x3 grey dilation or erosion, blended in by a random amount). The whole
batch is transformed at once: one set of sampling coordinates per image, one bilinear gather, no
loop over samples. All randomness comes from the ``numpy.random.Generator`` passed in, so a seeded
run repeats exactly.

Images may be (N, 28, 28), (N, 1, 28, 28) or flat (N, 784) rows of a square image; the result has
the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlab.data.batches import to_float32


@dataclass(frozen=True)
class Augmentation:
    """How far each transformation may go. ``Augmentation()(images, rng)`` applies it."""

    max_shift: float = 2.0          # pixels, uniform in [-max_shift, max_shift] on each axis
    max_rotation: float = 12.0      # degrees, uniform in [-max_rotation, max_rotation]
    scale: tuple = (0.9, 1.1)       # a uniform factor in this range (same on both axes)
    max_shear: float = 0.2          # slant: x moves by shear * y, uniform in [-max_shear, max_shear]
    thicken: float = 0.25           # probability of a 3x3 dilation (thicker strokes) ...
    thin: float = 0.2               # ... and of a 3x3 erosion (thinner), blended in by U(0, 1) ...
    max_thinning: float = 0.6       # ... times this for the erosion (a full one wipes out a thin 1)

    def __call__(self, images, rng: np.random.Generator) -> np.ndarray:
        return augment(images, rng, self)


DEFAULT = Augmentation()


def augment(images, rng: np.random.Generator, settings: Augmentation = DEFAULT) -> np.ndarray:
    """A randomly transformed float32 copy of a batch of square grey images (see the module doc)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("augment needs a numpy.random.Generator: rng=np.random.default_rng(seed)")
    x = np.asarray(images)
    shape = x.shape
    x = to_float32(x).reshape(_as_squares(shape))
    if len(x) == 0:
        return x.reshape(shape).copy()
    n = len(x)
    x = stroke_thickness(x, _thickness_amounts(n, rng, settings))
    matrices, offsets = random_affine(n, rng, settings)
    return affine(x, matrices, offsets).reshape(shape)


def _as_squares(shape):
    """(N, side, side) for (N, side, side), (N, 1, side, side) or (N, side*side)."""
    if len(shape) == 3 and shape[1] == shape[2]:
        return shape
    if len(shape) == 4 and shape[1] == 1 and shape[2] == shape[3]:
        return (shape[0], shape[2], shape[3])
    if len(shape) == 2:
        side = int(round(shape[1] ** 0.5))
        if side * side == shape[1]:
            return (shape[0], side, side)
    raise ValueError(f"augment expects (N, H, H), (N, 1, H, H) or (N, H*H) square images, got {shape}")


def _thickness_amounts(n, rng, settings):
    """Per image: > 0 blends toward the dilation, < 0 toward the erosion, 0 leaves it."""
    choice = rng.random(n)
    strength = rng.random(n).astype(np.float32)
    amount = np.zeros(n, np.float32)
    thicker = choice < settings.thicken
    thinner = (choice >= settings.thicken) & (choice < settings.thicken + settings.thin)
    amount[thicker] = strength[thicker]
    amount[thinner] = -settings.max_thinning * strength[thinner]
    return amount


def max_filter3(x: np.ndarray) -> np.ndarray:
    """3x3 maximum of each pixel's neighbourhood over a batch (N, H, W); outside counts as 0."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    rows = np.maximum(np.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    return np.maximum(np.maximum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def min_filter3(x: np.ndarray) -> np.ndarray:
    """3x3 minimum of each pixel's neighbourhood (grey erosion); outside counts as 0."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    rows = np.minimum(np.minimum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    return np.minimum(np.minimum(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def stroke_thickness(x: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Blend each image toward its 3x3 dilation (amount > 0) or erosion (amount < 0) by |amount|."""
    amount = np.asarray(amount, np.float32)
    if not amount.any():
        return x
    target = np.where((amount > 0)[:, None, None], max_filter3(x), min_filter3(x))
    weight = np.abs(amount)[:, None, None]
    return x + weight * (target - x)


def random_affine(n, rng, settings: Augmentation = DEFAULT):
    """n random forward maps ``out = M @ (in - centre) + centre + offset``: (n, 2, 2), (n, 2).

    Coordinates are (x, y) = (column, row).
    """
    angle = np.deg2rad(rng.uniform(-settings.max_rotation, settings.max_rotation, n))
    scale = rng.uniform(*settings.scale, n)
    shear = rng.uniform(-settings.max_shear, settings.max_shear, n)
    offsets = rng.uniform(-settings.max_shift, settings.max_shift, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    slant = np.zeros((n, 2, 2))
    slant[:, 0, 0] = slant[:, 1, 1] = 1
    slant[:, 0, 1] = shear
    matrices = scale[:, None, None] * rotation @ slant
    return matrices.astype(np.float32), offsets.astype(np.float32)


def affine(x: np.ndarray, matrices: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply each image's forward affine map about the image centre, by bilinear sampling.

    Every output pixel looks up where it came from (the inverse map) and interpolates the four
    pixels around that point; points outside the image read 0 (background).
    """
    n, height, width = x.shape
    centre = np.array([(width - 1) / 2, (height - 1) / 2], np.float32)
    inverse = np.linalg.inv(matrices.astype(np.float64)).astype(np.float32)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    grid = np.stack([cols.ravel(), rows.ravel()], 0) - centre[:, None]          # (2, H*W)
    source = inverse @ (grid[None] - offsets[:, :, None]) + centre[None, :, None]  # (n, 2, H*W)
    sx, sy = source[:, 0], source[:, 1]
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    flat = x.reshape(n, -1)
    out = np.zeros((n, height * width), np.float32)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
            index = np.where(inside, yi * width + xi, 0)
            out += np.where(inside, np.take_along_axis(flat, index, axis=1), 0) * (wx * wy)
    return out.reshape(n, height, width)
