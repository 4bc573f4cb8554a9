"""Connected components of a binary image in NumPy: the pieces of ink in a picture.

The mask is cut into runs (a row's consecutive True pixels); runs in neighbouring rows that touch,
diagonally included (8-connectivity), are joined; components are found on that small graph of runs
by label propagation with pointer jumping. No loop over pixels, and none over runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Components:
    """The pieces of a mask: ``labels`` (H, W) int32 with 0 for background and 1..count for pieces,
    and per piece (index label - 1) its area, bounding box and how many pixels lie on the image's
    edge."""

    labels: np.ndarray
    area: np.ndarray
    top: np.ndarray
    bottom: np.ndarray      # inclusive
    left: np.ndarray
    right: np.ndarray       # inclusive
    edge_pixels: np.ndarray

    @property
    def count(self) -> int:
        return len(self.area)

    def mask(self, keep) -> np.ndarray:
        """A boolean image of the pieces whose indices (0-based) are in ``keep``."""
        chosen = np.zeros(self.count + 1, bool)
        chosen[np.asarray(keep, int) + 1] = True
        return chosen[self.labels]

    def box(self, keep):
        """(top, bottom, left, right), inclusive, around the pieces in ``keep``."""
        keep = np.asarray(keep, int)
        return (int(self.top[keep].min()), int(self.bottom[keep].max()),
                int(self.left[keep].min()), int(self.right[keep].max()))


def connected_components(mask: np.ndarray) -> Components:
    """The 8-connected pieces of a boolean (H, W) image."""
    mask = np.asarray(mask, bool)
    height, width = mask.shape
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)          # exclusive; the same runs, in the same order
    n = len(rows)
    labels = np.zeros((height, width), np.int32)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Components(labels, empty, empty, empty, empty, empty, empty)

    # Runs of row r + 1 touching run a of row r: start <= end_a (exclusive end: diagonal counts)
    # and end >= start_a. Runs are sorted by (row, start), and so by (row, end) too.
    stride = width + 2
    start_keys, end_keys = rows * stride + starts, rows * stride + ends
    below = (rows + 1) * stride
    first = np.searchsorted(end_keys, below + starts, side="left")
    last = np.searchsorted(start_keys, below + ends, side="right")
    counts = np.maximum(last - first, 0)
    a = np.repeat(np.arange(n), counts)
    b = np.repeat(first, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)

    run_label = _propagate(n, a, b)
    _, component = np.unique(run_label, return_inverse=True)
    component = component.ravel()
    lengths = ends - starts
    labels.ravel()[np.flatnonzero(mask)] = np.repeat(component + 1, lengths)

    k = int(component.max()) + 1
    area = np.bincount(component, weights=lengths, minlength=k).astype(np.int64)
    top = np.full(k, height, np.int64)
    bottom = np.full(k, -1, np.int64)
    left = np.full(k, width, np.int64)
    right = np.full(k, -1, np.int64)
    np.minimum.at(top, component, rows)
    np.maximum.at(bottom, component, rows)
    np.minimum.at(left, component, starts)
    np.maximum.at(right, component, ends - 1)
    on_edge = (np.where((rows == 0) | (rows == height - 1), lengths, 0)
               + (starts == 0) + (ends == width))
    edge_pixels = np.bincount(component, weights=on_edge, minlength=k).astype(np.int64)
    return Components(labels, area, top, bottom, left, right, edge_pixels)


def _propagate(n, a, b):
    """The smallest run index in each run's component, for the undirected edges (a, b)."""
    label = np.arange(n)
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, label[a], low)      # hook each root to the smallest root it touches
        np.minimum.at(new, label[b], low)
        while True:                            # pointer jumping: every run points at its root
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new
