"""MNIST test digits rendered the way a phone camera sees a digit written on paper.

A test set for ``digitlab predict`` that needs no files: each MNIST digit is drawn in dark ink
(sometimes blue, sometimes with a thinner pen) on unevenly lit paper, somewhere in a larger frame,
sometimes with a few specks or a dark table edge along one side, then blurred, given sensor noise
and saved as a JPEG at a random quality. The same seed gives the same bytes.

    from digitlab.data.photos import camera_photos
    photos, labels = camera_photos(200, seed=0)        # a list of JPEG bytes, uint8 labels
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from digitlab.data.mnist import load_data


def camera_photos(count: int = 200, seed: int = 0, start: int = 0):
    """``count`` photos of MNIST test digits from index ``start``: (list of JPEG bytes, labels)."""
    _, (x_test, y_test) = load_data()
    images, labels = x_test[start:start + count], y_test[start:start + count]
    rng = np.random.default_rng(seed)
    return [render_photo(image, rng) for image in images], labels.copy()


def render_photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """One 28x28 uint8 MNIST digit (white on black) as the JPEG bytes of a photo of paper."""
    return _photograph(_pen(digit, rng), rng)


def render_row(digits, rng: np.random.Generator) -> bytes:
    """Several 28x28 MNIST digits written in a row (a year, a house number) as one photo."""
    scale = rng.uniform(5, 8)
    thin = rng.random() < 0.4
    inks = [_pen(digit, rng, scale, thin) for digit in digits]
    height = inks[0].shape[0]
    gaps = [np.zeros((height, int(height * rng.uniform(-0.15, 0.1)) + height // 4), np.float32)
            for _ in inks]
    row = np.concatenate([part for ink, gap in zip(inks, gaps, strict=True) for part in (ink, gap)][:-1], axis=1)
    return _photograph(row, rng)


def _photograph(ink, rng):
    """Ink (H, W, 0..1) on paper somewhere in a larger frame, lit, blurred, noisy, as a JPEG."""
    height, width = ink.shape
    canvas_h = int(height * rng.uniform(1.5, 2.6))
    canvas_w = int(width * rng.uniform(1.5, 2.6))
    margin_h, margin_w = canvas_h // 12, canvas_w // 12     # room for a table edge
    top = rng.integers(margin_h, canvas_h - height - margin_h + 1)
    left = rng.integers(margin_w, canvas_w - width - margin_w + 1)
    page = np.zeros((canvas_h, canvas_w), np.float32)
    page[top:top + height, left:left + width] = ink

    light = _lighting(canvas_h, canvas_w, rng)
    paper = np.float32(rng.uniform(0.8, 1.0))
    pen = rng.uniform(0.05, 0.3) * (np.array([0.8, 0.9, 2.5]) if rng.random() < 0.3 else np.ones(3))
    absorb = (1 - np.clip(pen, 0, 1)).astype(np.float32)
    reflect = paper * (1 - page[..., None] * absorb[None, None, :])
    reflect = _specks(reflect, rng)
    if rng.random() < 0.2:
        reflect = _table_edge(reflect, rng)
    photo = (light * 255)[..., None] * reflect
    picture = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 2.0)))
    noise = rng.standard_normal((canvas_h, canvas_w, 1), dtype=np.float32) * np.float32(rng.uniform(2, 10))
    noisy = np.asarray(picture, np.float32) + noise
    picture = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=int(rng.integers(30, 91)))
    return buffer.getvalue()


def _pen(digit, rng, scale=None, thin=None):
    """The digit enlarged 5-10 times, sometimes drawn with a thinner pen than MNIST's."""
    scale = rng.uniform(5, 10) if scale is None else scale
    size = int(28 * scale)
    big = Image.fromarray(np.asarray(digit, np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    ink = np.asarray(big, np.float32) / 255
    if rng.random() < 0.4 if thin is None else thin:     # a thinner pen: keep the strokes' cores
        cut = rng.uniform(0.3, 0.7)
        ink = np.clip((ink - cut) / (1 - cut), 0, 1)
    return np.clip(ink * 1.2, 0, 1)


def _lighting(height, width, rng):
    """Light falling off across the page (a gradient in a random direction), a vignette, and
    sometimes a soft shadow across part of the page."""
    rows, cols = np.ogrid[0:height, 0:width]
    rows, cols = rows.astype(np.float32), cols.astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = (np.cos(angle) * cols / width + np.sin(angle) * rows / height)
    along = (along - along.min()) / max(float(np.ptp(along)), 1e-6)
    light = 1 - rng.uniform(0.1, 0.55) * along
    radius = ((rows / height - 0.5) ** 2 + (cols / width - 0.5) ** 2)
    light *= 1 - rng.uniform(0, 0.5) * radius
    if rng.random() < 0.3:                          # the soft shadow of a hand or a phone
        angle = rng.uniform(0, 2 * np.pi)
        across = (np.cos(angle) * (cols / width - rng.uniform(0.2, 0.8))
                  + np.sin(angle) * (rows / height - rng.uniform(0.2, 0.8)))
        softness = rng.uniform(0.03, 0.15)
        light *= 1 - rng.uniform(0.15, 0.4) / (1 + np.exp(-across / softness))
    return (light * rng.uniform(0.75, 1.0)).astype(np.float32)


def _specks(reflect, rng):
    """A few small dark dots of dust or pencil on the paper."""
    height, width = reflect.shape[:2]
    for _ in range(rng.integers(0, 4)):
        row, col = rng.integers(0, height), rng.integers(0, width)
        radius = int(rng.integers(1, 3))
        reflect[max(row - radius, 0):row + radius, max(col - radius, 0):col + radius] *= 0.3
    return reflect


def _table_edge(reflect, rng):
    """A dark strip along one side: the table beyond the sheet of paper."""
    height, width = reflect.shape[:2]
    depth = int(rng.uniform(0.03, 0.08) * min(height, width)) + 1
    side = rng.integers(0, 4)
    dark = np.float32(rng.uniform(0.05, 0.25))
    if side == 0:
        reflect[:depth] = dark
    elif side == 1:
        reflect[-depth:] = dark
    elif side == 2:
        reflect[:, :depth] = dark
    else:
        reflect[:, -depth:] = dark
    return reflect
