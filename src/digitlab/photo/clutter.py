"""What on a picture of a digit is not the digit: page edges, boxes, ruled lines and specks.

``find_ink`` (digitlab.photo.preprocess) thresholds a picture into ink and paper; these functions then
take out of the ink what a person did not write as part of the digit:

- ``ruled_lines``: ruled or squared paper, straight lines across the whole picture;
- ``choose_pieces``: of the connected pieces of ink, a page edge, a table or a shadow along the
  picture's rim, a box drawn around the digit or a page's printed border (``outlines``),
  specks of dust, and bits of other writing cut by the rim.
"""

from __future__ import annotations

import numpy as np

from digitlab.photo.components import Components

SPECK = 0.04                # pieces under this fraction of the largest piece's area are noise
EDGE_CONTACT = 0.08         # a piece along this fraction of the picture's rim is a page edge
LINE_SPAN = 0.8             # a ruled line runs along at least this much of the picture ...
LINE_WIDTH = 0.008          # ... and is at most this thick (of the picture's longer side)


def choose_pieces(pieces: Components) -> np.ndarray:
    """The indices of the pieces that make the digit(s): no page edge, no specks.

    A piece along a good part of the picture's rim is a page edge, a table or a shadow, unless
    nothing else of any size is left (a digit that fills the frame). A box drawn around other ink
    (a form's box, a page's printed border) goes. Of the rest, specks (under 4% of the largest
    piece) go, and so do small pieces cut by the rim (other writing)."""
    if pieces.count == 0:
        return np.zeros(0, int)
    height, width = pieces.labels.shape
    edge = pieces.edge_pixels >= EDGE_CONTACT * 2 * (height + width)
    candidates = np.flatnonzero(~edge)
    if edge.any() and len(candidates):
        biggest = pieces.area[candidates].max()
        if biggest < 0.02 * pieces.area[edge].max() and biggest < 0.002 * height * width:
            candidates = np.zeros(0, int)
    if len(candidates) == 0:
        candidates = np.arange(pieces.count)        # nothing else: the digit itself fills the frame
    candidates = np.setdiff1d(candidates, outlines(pieces, candidates))
    if len(candidates) == 0:
        return candidates
    area = pieces.area[candidates]
    largest = area.max()
    cut_by_rim = (pieces.edge_pixels[candidates] > 0) & (area < 0.25 * largest)
    return candidates[(area >= SPECK * largest) & ~cut_by_rim]


def spans_the_picture(pieces: Components) -> bool:
    """Whether a piece runs along LINE_SPAN of the picture: a ruled line may be there."""
    height, width = pieces.labels.shape
    return bool(np.any(pieces.right - pieces.left + 1 >= LINE_SPAN * width)
                or np.any(pieces.bottom - pieces.top + 1 >= LINE_SPAN * height))


def long_and_thin(pieces: Components) -> np.ndarray:
    """Pieces half as long as the picture and 8 times longer than they are thick: lines."""
    height, width = pieces.labels.shape
    tall, wide = pieces.bottom - pieces.top + 1, pieces.right - pieces.left + 1
    return np.flatnonzero(((wide >= 0.5 * width) & (wide >= 8 * tall))
                          | ((tall >= 0.5 * height) & (tall >= 8 * wide)))


def ruled_lines(mask: np.ndarray) -> np.ndarray:
    """The ink of straight lines that run across the whole picture within 6 degrees of level or
    of upright (ruled or squared paper), except where a pen stroke crosses them.

    For each slope, the ink pixels are counted along each line of that slope (a projection, as
    in a Hough transform); a line of the best slope that holds ink along LINE_SPAN of the
    picture, in every eighth of it, and is at most LINE_WIDTH of it thick, is a ruled line."""
    height, width = mask.shape
    rows, cols = np.nonzero(mask)
    lines = np.zeros_like(mask)
    if len(rows) == 0:
        return lines
    for across, along, length, thickness, upright in ((rows, cols, width, height, False),
                                                      (cols, rows, height, width, True)):
        best = None
        for slope in np.tan(np.deg2rad(np.arange(-6, 6.01, 0.5))):
            bins = np.round(across - along * slope).astype(np.int64)
            low = bins.min()
            counts = np.bincount(bins - low)
            if best is None or counts.max() > best[0]:
                best = (counts.max(), bins - low, counts)
        _, bins, counts = best
        widest = max(6, int(LINE_WIDTH * max(height, width)))
        pieces_along = np.minimum(along * 8 // length, 7)       # eighths of the line's length
        eighths = np.bincount(bins * 8 + pieces_along, minlength=len(counts) * 8).reshape(-1, 8)
        at_rim = np.bincount(bins, weights=(across < 3) | (across >= thickness - 3), minlength=len(counts))
        full = ((counts >= LINE_SPAN * length) & (eighths.min(axis=1) >= 0.4 * length / 8)
                & (at_rim < 0.2 * counts))                      # along the picture's edge: a page edge
        full &= ~_thick_bands(counts >= 0.4 * length, widest)   # a table's edge is no line
        if not full.any():
            continue
        near = np.convolve(full, np.ones(3), mode="same") > 0      # the line's blurred edges too
        on_line = (near & (counts >= 0.2 * length))[bins]
        crossing = (_ink_at(mask, across - widest - 2, along, upright)
                    & _ink_at(mask, across + widest + 2, along, upright))
        keep_line = on_line & ~crossing
        lines[rows[keep_line], cols[keep_line]] = True
    return lines


def _thick_bands(full, widest):
    """The runs of True in a 1-D array that are more than ``widest`` long."""
    padded = np.concatenate([[False], full, [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(padded) == 1), np.flatnonzero(np.diff(padded) == -1)
    thick = np.zeros_like(full)
    for start, end in zip(starts, ends, strict=True):
        if end - start > widest:
            thick[start:end] = True
    return thick


def _ink_at(mask, across, along, upright):
    """Whether the mask holds ink at the given points (outside the picture: no); ``across`` is
    the column for upright lines, the row for level ones."""
    rows, cols = (along, across) if upright else (across, along)
    inside = (rows >= 0) & (rows < mask.shape[0]) & (cols >= 0) & (cols < mask.shape[1])
    found = np.zeros(len(rows), bool)
    found[inside] = mask[rows[inside], cols[inside]]
    return found


def outlines(pieces: Components, candidates) -> np.ndarray:
    """Pieces that are a box drawn around other ink: a thin outline (under 12% of its own box is
    ink) whose box holds a piece of at least 5% of its ink, inside it."""
    candidates = np.asarray(candidates)
    top, bottom, left, right = (getattr(pieces, side)[candidates] for side in ("top", "bottom", "left", "right"))
    area = pieces.area[candidates]
    thin = area < 0.12 * (bottom - top + 1) * (right - left + 1)
    found = []
    for index in np.flatnonzero(thin):
        inside = ((top > top[index]) & (bottom < bottom[index]) & (left > left[index])
                  & (right < right[index]) & (area >= 0.05 * area[index]))
        if inside.any():
            found.append(candidates[index])
    return np.array(found, int)
