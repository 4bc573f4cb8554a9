"""The engine's speed, behind nn/ops.py: importing this package registers a fast version of each
hot op (``with digitlab.nn.ops.reference():`` runs the textbook ones instead).

threads      the engine's own threads: a batch's work split into one part per core (and matmul)
elementwise  ReLU and its gradient, split over the cores
pooling      max pooling by strided views, split over the cores
im2col       convolution by blocked channels-last im2col
fourier      convolution through the discrete Fourier transform, where it does less arithmetic
conv         the fast conv2d: which of the two, for which shapes (``conv.ALGORITHM``)
updates      the optimizers' rules in place, split over the cores, or as one CUDA kernel
"""

from digitlab.nn.accel import conv, elementwise, fourier, im2col, pooling, threads, updates

__all__ = ["conv", "elementwise", "fourier", "im2col", "pooling", "threads", "updates"]
