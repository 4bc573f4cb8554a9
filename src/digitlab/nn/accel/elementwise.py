"""ReLU and its gradient split over the cores (accel/threads.py): one element-wise pass each,
written into an array made once (``np.empty_like`` keeps the input's memory order, so a
convolution's channels-last output stays channels-last)."""

import numpy as np

from digitlab.nn import ops
from digitlab.nn.accel import threads


@ops.fast("relu")
def relu(x):
    y = np.empty_like(x)
    threads.over_rows(lambda rows: np.maximum(x[rows], 0, out=y[rows]), x)
    return y


@ops.fast("relu_backward")
def relu_backward(dy, y):
    dx = np.empty_like(dy)
    threads.over_rows(lambda rows: np.multiply(dy[rows], y[rows] > 0, out=dx[rows]), dy)
    return dx
