"""Class labels: integer digits to one-hot rows."""

from __future__ import annotations

import numpy as np

from digitlab.errors import DataError


def one_hot(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Return float32 one-hot rows for integer `labels`: shape `labels.shape + (num_classes,)`.

    `one_hot([3, 0])` is `[[0,0,0,1,0,0,0,0,0,0], [1,0,0,0,0,0,0,0,0,0]]`. Every label must be an
    integer in 0..num_classes-1; anything else raises `DataError`.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise DataError(f"one_hot needs integer class labels, got a {labels.dtype} array.")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)].flat[0]
        raise DataError(f"one_hot: label {bad} is outside 0..{num_classes - 1} (num_classes={num_classes}).")
    return np.eye(num_classes, dtype=np.float32)[labels]
