"""Convolution by blocked im2col: a few images at a time gives what the whole batch at once gives."""

import numpy as np
import pytest

from digitlab.nn import Conv2D
from digitlab.nn.accel import im2col

CASES = [
    # filters, kernel_size, strides, padding, use_bias, input (C, H, W)
    (3, 3, 1, "valid", True, (2, 5, 6)),
    (3, 3, 1, "same", True, (2, 5, 6)),
    (2, 3, 2, "valid", True, (2, 6, 5)),
    (2, 3, 2, "same", False, (2, 5, 6)),
]


@pytest.mark.parametrize("filters, kernel_size, strides, padding, use_bias, input_shape", CASES)
def test_conv2d_a_few_images_at_a_time_gives_the_same_values_and_gradients(
        gradcheck, monkeypatch, filters, kernel_size, strides, padding, use_bias, input_shape):
    rng = np.random.default_rng(5)
    layer = Conv2D(filters, kernel_size, strides, padding, use_bias=use_bias)
    layer.build(input_shape, np.random.default_rng(0))
    layer.astype(np.float64)
    x = rng.standard_normal((5, *input_shape))
    whole = layer.forward(x).copy()
    image_bytes = np.prod(whole.shape[2:]) * np.prod(kernel_size) * input_shape[0] * x.itemsize
    monkeypatch.setattr(im2col, "COLUMNS_BLOCK_BYTES", 2 * image_bytes)
    assert len(im2col.blocks(slice(0, 5), image_bytes, x)) == 3  # blocks of 2, 2 and 1 images
    np.testing.assert_allclose(layer.forward(x), whole, rtol=1e-12, atol=1e-12)
    gradcheck(layer, x, rng)
