"""Any picture of a handwritten digit -> a 28x28 float32 array as MNIST's digits are drawn.

MNIST's convention: white ink (1.0) on black (0.0), grey anti-aliased edges, the digit fitted in a
20x20 box keeping its aspect ratio, and centred by its centre of mass in 28x28. A photo of a digit
on paper is dark ink on light, unevenly lit, noisy, anywhere in a larger frame. The pipeline:

1. read: EXIF orientation, grey, transparency as paper, shrunk to at most 800 pixels (``images``);
2. ink: which way round the ink is (darker or lighter than the paper), the paper's light divided
   out (a smooth surface fitted to the paper alone: gradients, vignettes, soft shadows), Otsu's
   threshold for what is ink;
3. clean (``digitlab.photo.clutter``): ruled or squared paper's lines, a table edge along the rim, a box
   drawn around the digit, specks of dust and bits of other writing are taken out;
4. fit: crop to the ink, keep its grey levels, thicken pen strokes much thinner than MNIST's, fit
   the longer side to 20 pixels (area averaging), and put the centre of mass at MNIST's (14, 14).

    from digitlab.photo.preprocess import preprocess
    x = preprocess("my_digit.jpg")        # (28, 28) float32, ready for model.predict(x[None])

``split_digits`` does steps 1-3 once for a picture of several digits in a row, groups the pieces
into digits (pieces above one another, like a 5's flag, belong together) and fits each, left to
right. Errors are ``digitlab.errors.ImageError``; a picture without ink is a ``NoDigitError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from PIL import Image

from digitlab.errors import NoDigitError
from digitlab.photo.clutter import choose_pieces, long_and_thin, ruled_lines, spans_the_picture
from digitlab.photo.components import Components, connected_components
from digitlab.photo.images import MAX_PIXELS, describe, read_grey

BOX = 20                    # MNIST fits each digit in a 20x20 box ...
SIZE = 28                   # ... inside 28x28 ...
CENTRE = 14.0               # ... with the centre of mass at row 14, column 14 (measured on MNIST)
MIN_CONTRAST = 0.06         # ink must differ from the paper by this much (of black to white) ...
NOISE_CONTRAST = 8          # ... and by this many times the paper's noise
STROKE_RATIO = 0.093        # MNIST's median stroke width over the digit's longer side
THIN = 0.7                  # strokes under THIN * STROKE_RATIO are thickened toward STROKE_RATIO
WORK_BOX = 4 * BOX          # strokes are measured and thickened at 4x the final scale


@dataclass
class Ink:
    """A picture's ink: ``ink`` (H, W) float32, 0 paper .. 1 full ink; ``pieces`` the connected
    pieces of ink; ``keep`` the indices of those that are the digit(s) (not specks, not edges)."""

    ink: np.ndarray
    pieces: Components
    keep: np.ndarray
    dark_ink: bool          # the ink was darker than the paper (and so was inverted)


def preprocess(source, *, max_pixels: int = MAX_PIXELS, thicken: bool = True) -> np.ndarray:
    """A picture of one digit (path, bytes, file, PIL image or array) -> (28, 28) float32 in [0, 1]."""
    found = find_ink(read_grey(source, max_pixels), describe(source))
    return fit_digit(_digit_ink(found, found.keep), thicken=thicken)


def preprocess_many(sources, **options) -> np.ndarray:
    """(N, 28, 28) float32 for a list of pictures (any error stops it: see digitlab.predict)."""
    return np.stack([preprocess(source, **options) for source in sources])


def split_digits(source, *, max_pixels: int = MAX_PIXELS, thicken: bool = True):
    """A picture of several digits in a row -> [(28x28 array, (top, bottom, left, right)), ...]
    left to right, the box in the picture as read (upright, at most 800 pixels on a side)."""
    found = find_ink(read_grey(source, max_pixels), describe(source))
    groups = group_columns(found.pieces, mend_strokes(found.pieces, found.keep))
    boxes = [found.pieces.box(group) for group in groups]
    row_height = float(np.median([bottom - top + 1 for top, bottom, _, _ in boxes]))
    digits = []
    for group, (top, bottom, left, right) in zip(groups, boxes, strict=True):
        ink = _digit_ink(found, group)
        offset = max(left - 1, 0)                                # _digit_ink keeps a 1-pixel margin
        for start, stop in split_touching(ink, row_height):
            box = (top, bottom, max(offset + start, left), min(offset + stop - 1, right))
            digits.append((fit_digit(ink[:, start:stop], thicken=thicken), box))
    return digits


def split_touching(ink: np.ndarray, row_height: float) -> list[tuple[int, int]]:
    """Column ranges of the digits in one piece of ink: itself, unless it is much wider than a
    digit is tall (digits written touching), when it is cut where a column holds least ink near
    each place a cut is expected."""
    width = ink.shape[1]
    if width <= 1.25 * row_height:
        return [(0, width)]
    count = max(2, int(round(width / (0.75 * row_height))))
    columns = ink.sum(axis=0)
    cuts, reach = [], max(1, int(width / (4 * count)))
    for index in range(1, count):
        expected = int(round(index * width / count))
        low, high = max(expected - reach, 1), min(expected + reach, width - 1)
        cuts.append(low + int(np.argmin(columns[low:high + 1])))
    edges = [0, *cuts, width]
    return [(a, b) for a, b in pairwise(edges) if columns[a:b].sum() > 0]


# ----------------------------------------------------------------------------- 2. ink


def find_ink(grey: np.ndarray, name: str = "the image") -> Ink:
    """Where the ink is in a grey picture, and how strong; raises NoDigitError if there is none."""
    grey = np.asarray(grey, np.float32)
    dark_ink = ink_is_dark(grey)
    bright = 1 - grey if dark_ink else grey                # ink bright on a dark background now
    paper = _paper_surface(bright)
    raw = (bright - paper) / np.maximum(1 - paper, 0.05)
    raw = _smooth(raw, 1 if max(raw.shape) >= 200 else 0)    # sensor noise, at photo sizes
    level, noise = float(np.median(_sample(raw))), _spread(raw)  # the paper's, before clipping
    unclipped, raw = raw, np.clip(raw, 0, 1)
    if max(raw.shape) < 48:                 # a thumbnail: too few pixels to tell noise from ink
        level = noise = 0.0
    cut = otsu(raw)
    # much ink (a digit cropped tight) widens the spread: then the paper's own grain is the noise
    noise = min(noise, 3 * _pixel_noise(unclipped, raw > cut)) if noise else 0.0
    threshold = max(cut, level + 4 * noise)                 # never a cut through the paper's noise
    mask = raw > threshold
    grain = _pixel_noise(unclipped, mask) if noise else 0.0
    if not mask.any() or mask.all():
        raise NoDigitError(f"{name}: no digit found (the picture is blank)")
    ink_level, paper_level = np.median(raw[mask]), np.median(_sample(raw)[~_sample(mask)])
    if ink_level - paper_level < max(MIN_CONTRAST, NOISE_CONTRAST * grain):
        raise NoDigitError(f"{name}: no digit found (nothing stands out from the paper)")
    pieces = connected_components(mask)
    if max(mask.shape) >= 48 and spans_the_picture(pieces):    # ruled or squared paper?
        lines = ruled_lines(mask)
        if lines.any():
            pieces = connected_components(mask & ~lines)
            lines |= pieces.mask(long_and_thin(pieces))     # what is left of a box's lines
            mask &= ~lines
            raw = np.where(lines, 0, raw)
            pieces = connected_components(mask)
    keep = choose_pieces(pieces)
    if len(keep) == 0:
        raise NoDigitError(f"{name}: no digit found (only specks of ink)")
    strong = np.percentile(raw[pieces.mask(keep)], 75)           # the digit's ink, not an edge's
    ink = np.clip((raw - paper_level) / max(strong - paper_level, 1e-3), 0, 1).astype(np.float32)
    return Ink(ink, pieces, keep, bool(dark_ink))


def ink_is_dark(grey: np.ndarray) -> bool:
    """Whether the ink is darker than the paper. The paper is most of the picture: a smooth surface
    (a quadratic, fitted robustly to the cells' medians, so ink and a table edge are left out) is
    taken off, and the side that holds more of what stands out beyond the noise is the ink's."""
    level = grey - _paper_surface(grey)
    noise = _spread(level) + 1e-3
    dark = np.maximum(-level - 3 * noise, 0).sum()
    bright = np.maximum(level - 3 * noise, 0).sum()
    return bool(dark > bright)


def _paper_surface(grey, cells=24):
    """A quadratic in x and y fitted to the cells' medians, refitted without outlying cells (ink,
    a table's edge), starting from a level and a slope so that the ink can't pull it along."""
    height, width = grey.shape
    if max(height, width) < 48:
        return np.float32(np.median(grey))
    blocks = _cell_medians(grey, cells)
    rows, cols = np.mgrid[0:blocks.shape[0], 0:blocks.shape[1]]
    y, x = rows.ravel() / max(blocks.shape[0] - 1, 1), cols.ravel() / max(blocks.shape[1] - 1, 1)
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], 1)
    values, use = blocks.ravel(), np.ones(len(x), bool)
    for count in (1, 3, 6, 6, 6):           # a level, then a slope, then a bend: ink can't bend it
        if count == 1:
            fitted = [np.median(values)]    # the level most of the picture has: the paper's
        else:
            fitted = np.linalg.lstsq(terms[use, :count], values[use], rcond=None)[0]
        coefficients = np.concatenate([fitted, np.zeros(6 - count)])
        residual = values - terms @ coefficients
        spread = max(1.4826 * float(np.median(np.abs(residual[use]))), 0.02)  # flat paper: no collapse
        keep = np.abs(residual) < 2.5 * spread
        if keep.sum() < 12:
            break
        use = keep
    # cell i's centre is at (i + 0.5) / count of the picture: map pixel centres onto that scale
    px = ((np.arange(width) + 0.5) / width * blocks.shape[1] - 0.5) / max(blocks.shape[1] - 1, 1)
    py = ((np.arange(height) + 0.5) / height * blocks.shape[0] - 0.5) / max(blocks.shape[0] - 1, 1)
    c = coefficients
    return (c[0] + c[1] * px[None] + c[2] * py[:, None] + c[3] * px[None] ** 2
            + c[4] * px[None] * py[:, None] + c[5] * py[:, None] ** 2).astype(np.float32)


def _cell_medians(grey, cells, detail=8):
    """The median of each cell, about square, ``cells`` of them along the longer side; taken over
    ``detail`` x ``detail`` area averages of the cell (fast, and as robust to sparse ink)."""
    height, width = grey.shape
    rows = max(1, round(cells * height / max(height, width)))
    cols = max(1, round(cells * width / max(height, width)))
    small = Image.fromarray(grey.astype(np.float32), "F").resize((cols * detail, rows * detail),
                                                                  Image.Resampling.BOX)
    blocks = np.asarray(small, np.float32).reshape(rows, detail, cols, detail)
    return np.median(blocks.transpose(0, 2, 1, 3).reshape(rows, cols, -1), axis=2)


def _sample(image, count=40_000):
    """Every n-th pixel along each axis, about ``count`` of them: enough for a median."""
    step = max(1, int(np.sqrt(image.size / count)))
    return image[::step, ::step]


def _spread(image):
    """The noise's standard deviation, robustly: 1.4826 times the median absolute deviation."""
    values = _sample(image)
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _pixel_noise(image, ink):
    """The paper's noise from one pixel to the next (its standard deviation, robustly), blind to
    shading: over neighbours that are both paper, not ink."""
    values, ink = _sample(image, 160_000), _sample(ink, 160_000)
    paper = ~(ink[:, 1:] | ink[:, :-1])
    steps = (values[:, 1:] - values[:, :-1])[paper]
    if steps.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / np.sqrt(2)


def _smooth(image, radius):
    """A box blur of the given radius (none for 0), edges repeated."""
    if radius < 1:
        return image
    size = 2 * radius + 1
    padded = np.pad(image, radius, mode="edge")
    summed = np.cumsum(np.cumsum(np.pad(padded, ((1, 0), (1, 0))), axis=0), axis=1)
    total = summed[size:, size:] - summed[:-size, size:] - summed[size:, :-size] + summed[:-size, :-size]
    return (total / size ** 2).astype(np.float32)


def _filter(image, reduce, size):
    """``reduce`` over each pixel's size x size neighbourhood (edges repeated)."""
    pad = size // 2
    padded = np.pad(image, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))
    return reduce(windows, axis=(2, 3))


def otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold on values in [0, 1]: the cut that best separates two classes."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    counts = counts.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


# ----------------------------------------------------------------------------- 3. clean


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """A boolean image grown by ``radius`` pixels in every direction (a square; rows then columns)."""
    size = 2 * radius + 1
    grown = np.pad(mask, radius)
    grown = np.lib.stride_tricks.sliding_window_view(grown, size, axis=0).any(axis=-1)
    return np.lib.stride_tricks.sliding_window_view(grown, size, axis=1).any(axis=-1)


def mend_strokes(pieces: Components, keep) -> list[np.ndarray]:
    """The kept pieces in clusters that a pen stroke broken by the threshold would join: pieces
    that come within about one stroke width of each other (up to 1/40 of the picture)."""
    mask = pieces.mask(keep)
    radius = int(np.clip(round(stroke_width(mask)), 1, max(1, max(mask.shape) // 40)))
    grown = connected_components(dilate(mask, radius))
    pairs = np.unique(np.stack([pieces.labels[mask], grown.labels[mask]]), axis=1)
    return [pairs[0, pairs[1] == cluster] - 1 for cluster in np.unique(pairs[1])]


def group_columns(pieces: Components, clusters) -> list[np.ndarray]:
    """Clusters of pieces grouped into digits, left to right: clusters whose columns overlap by at
    least a third of the narrower one (a 5's flag over its body, a 7's bar over its stem) are one
    digit."""
    spans = sorted(((int(pieces.left[c].min()), int(pieces.right[c].max()), c) for c in clusters),
                   key=lambda span: span[0])
    groups: list[list] = []                         # [left, right, [clusters]]
    for left, right, cluster in spans:
        for group in groups:
            overlap = min(right, group[1]) - max(left, group[0]) + 1
            narrower = min(right - left, group[1] - group[0]) + 1
            if overlap >= narrower / 3:
                group[0], group[1] = min(group[0], left), max(group[1], right)
                group[2].append(cluster)
                break
        else:
            groups.append([left, right, [cluster]])
    groups.sort(key=lambda group: group[0])
    return [np.concatenate(group[2]) for group in groups]


def _digit_ink(found: Ink, keep) -> np.ndarray:
    """The ink of the chosen pieces (with their soft edges), cropped to them."""
    top, bottom, left, right = found.pieces.box(keep)
    height, width = found.ink.shape
    top, left = max(top - 1, 0), max(left - 1, 0)
    bottom, right = min(bottom + 2, height), min(right + 2, width)
    chosen = found.pieces.mask(keep)[top:bottom, left:right]
    near = _filter(chosen.astype(np.float32), np.max, 3) > 0          # anti-aliased edges too
    others = (found.pieces.labels[top:bottom, left:right] > 0) & ~chosen
    return np.where(near & ~others, found.ink[top:bottom, left:right], 0).astype(np.float32)


# ----------------------------------------------------------------------------- 4. fit


def fit_digit(ink: np.ndarray, thicken: bool = True) -> np.ndarray:
    """A cropped ink image (any size) -> 28x28: longer side 20, centre of mass at (14, 14)."""
    ink = _crop(np.asarray(ink, np.float32))
    work = _resize_longer_side(ink, WORK_BOX)
    if thicken:
        work = thicken_strokes(work)
    box = _resize_longer_side(work, BOX)
    top = box.max()
    if top <= 0:
        raise NoDigitError("no digit found (the ink vanished when it was shrunk)")
    return centre_by_mass(box / top)


def _crop(ink):
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        raise NoDigitError("no digit found")
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize_longer_side(image, side):
    height, width = image.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(image, "F").resize(size, resample)
    return np.clip(np.asarray(resized, np.float32), 0, 1)


def stroke_width(mask: np.ndarray) -> float:
    """The mean width of the strokes in a boolean image: twice the area over the perimeter."""
    padded = np.pad(mask, 1)
    perimeter = (np.count_nonzero(padded[1:] != padded[:-1])
                 + np.count_nonzero(padded[:, 1:] != padded[:, :-1]))
    return 2.0 * np.count_nonzero(mask) / perimeter if perimeter else 0.0


def thicken_strokes(work: np.ndarray) -> np.ndarray:
    """Dilate ink whose strokes are much thinner than MNIST's (a ballpoint pen on a big digit).

    Strokes under THIN of MNIST's median width are dilated up to that median; the dilation is
    blended in gradually as the strokes get thinner, so a small change in the picture never
    switches it fully on or off."""
    width = stroke_width(work > 0.5)
    target = STROKE_RATIO * max(work.shape)
    blend = float(np.clip((THIN * target - width) / (0.15 * target), 0, 1)) if width > 0 else 0.0
    if blend == 0:
        return work
    size = int(round(target - width)) | 1                      # odd, so the ink stays centred
    padded = np.pad(work, size // 2)
    return padded + blend * (_filter(padded, np.max, size) - padded)


def centre_by_mass(box: np.ndarray) -> np.ndarray:
    """Paste a digit of at most 20x20 into 28x28 with its centre of mass at (14, 14), moved by a
    fraction of a pixel where needed (bilinear), so that a small change in the picture never
    makes the digit jump by a whole pixel."""
    height, width = box.shape
    total = box.sum()
    mass_row = float(box.sum(axis=1) @ np.arange(height) / total)
    mass_col = float(box.sum(axis=0) @ np.arange(width) / total)
    top = float(np.clip(CENTRE - mass_row, 0, SIZE - 1 - height))
    left = float(np.clip(CENTRE - mass_col, 0, SIZE - 1 - width))
    row, col = int(top), int(left)
    down, right = top - row, left - col
    padded = np.zeros((height + 1, width + 1), np.float32)
    padded[:height, :width] = box
    moved = ((1 - down) * (1 - right) * padded
             + down * (1 - right) * np.roll(padded, 1, axis=0)
             + (1 - down) * right * np.roll(padded, 1, axis=1)
             + down * right * np.roll(np.roll(padded, 1, axis=0), 1, axis=1))
    out = np.zeros((SIZE, SIZE), np.float32)
    out[row:row + height + 1, col:col + width + 1] = moved
    return out / out.max()


__all__ = ["preprocess", "preprocess_many", "split_digits", "find_ink", "fit_digit", "otsu",
           "centre_by_mass", "stroke_width"]
