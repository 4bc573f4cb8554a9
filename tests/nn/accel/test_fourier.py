"""Convolution through the DFT: its transforms against numpy.fft, its values and gradients against
im2col's and against finite differences, and the rule that picks it."""

import numpy as np
import pytest

from digitlab.nn import Conv2D
from digitlab.nn.accel import conv as fast_conv
from digitlab.nn.accel import fourier, threads

STRIDE_1_CASES = [
    # filters, kernel_size, padding, use_bias, input (C, H, W)
    (3, 3, "same", True, (2, 5, 6)),
    (3, (2, 3), "valid", True, (1, 5, 6)),
    (3, (3, 2), "same", False, (2, 4, 5)),
    (2, 2, "same", True, (1, 5, 5)),   # an even kernel: "same" pads more after than before
    (2, 1, "valid", False, (3, 3, 3)),
    (2, 5, "same", True, (2, 4, 4)),   # a kernel wider than the image
]


class Convolution(Conv2D):
    """A Conv2D that convolves by ``algorithm`` (accel/conv.py's ALGORITHM, while it runs)."""

    def __init__(self, algorithm, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.algorithm = algorithm

    def forward(self, x, training=False):
        with fast_conv.algorithm(self.algorithm):
            return super().forward(x, training)

    @property
    def by_fourier(self):
        return isinstance(self.saved, fast_conv.FourierSaved)


def conv(filters, kernel_size, padding, use_bias, input_shape, algorithm, dtype=np.float64):
    layer = Convolution(algorithm, filters, kernel_size, padding=padding, use_bias=use_bias)
    layer.build(input_shape, np.random.default_rng(0))
    layer.astype(dtype)
    if use_bias:
        layer.params["bias"][...] = np.random.default_rng(1).standard_normal(filters)
    return layer


def results(layer, x, dy_seed=2):
    y = layer.forward(x, training=True).copy()
    dx = layer.backward(np.random.default_rng(dy_seed).standard_normal(y.shape).astype(x.dtype))
    return [y, dx.copy()] + [grad.copy() for grad in layer.grads.values()]


@pytest.mark.parametrize("width, height, size", [(5, 6, (8, 9)), (3, 4, (4, 4)), (1, 1, (3, 2))])
def test_the_transform_is_numpy_rfft2_and_its_inverse_gives_the_values_back(width, height, size):
    rng = np.random.default_rng(0)
    values = rng.standard_normal((width, height, 3))  # (width, height, m), as the transforms read
    rows, columns = size
    transforms = fourier._real_transform(np.arange(width), columns), fourier._complex_transform(np.arange(height), rows)
    spectrum = fourier._spectrum(values, transforms).reshape(columns // 2 + 1, rows, 2, 3)
    expected = np.fft.rfft2(values.transpose(2, 1, 0), s=size)  # (m, height frequencies, width frequencies)
    np.testing.assert_allclose(spectrum[:, :, 0].transpose(2, 1, 0), expected.real, atol=1e-12)
    np.testing.assert_allclose(spectrum[:, :, 1].transpose(2, 1, 0), expected.imag, atol=1e-12)
    inverses = (fourier._complex_inverse(np.arange(height), rows),
                fourier._real_inverse(np.arange(width), columns) / (rows * columns))
    np.testing.assert_allclose(fourier._values(spectrum.reshape(columns // 2 + 1, 2 * rows, 3), inverses), values,
                               atol=1e-12)


@pytest.mark.parametrize("filters, kernel_size, padding, use_bias, input_shape", STRIDE_1_CASES)
def test_fourier_gradients_match_finite_differences(gradcheck, filters, kernel_size, padding, use_bias, input_shape):
    rng = np.random.default_rng(3)
    layer = conv(filters, kernel_size, padding, use_bias, input_shape, "fourier")
    x = rng.standard_normal((2, *input_shape))
    gradcheck(layer, x, rng)
    assert layer.by_fourier


@pytest.mark.parametrize("filters, kernel_size, padding, use_bias, input_shape", STRIDE_1_CASES + [
    (64, 5, "same", True, (32, 14, 14)),  # the cnn recipe's second convolution
])
def test_fourier_gives_im2col_values_and_gradients(filters, kernel_size, padding, use_bias, input_shape):
    x = np.random.default_rng(4).standard_normal((3, *input_shape)).astype(np.float32)
    by_windows = results(conv(filters, kernel_size, padding, use_bias, input_shape, "im2col", np.float32), x)
    by_fourier = results(conv(filters, kernel_size, padding, use_bias, input_shape, "fourier", np.float32), x)
    for expected, got in zip(by_windows, by_fourier, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-5 * np.abs(expected).max())


def test_auto_takes_fourier_where_it_does_much_less_work_and_im2col_elsewhere():
    cnn_second = conv(64, 5, "same", True, (32, 14, 14), "auto", np.float32)
    cnn_first = conv(32, 5, "same", True, (1, 28, 28), "auto", np.float32)
    assert fourier.pays((14, 14), (5, 5), ((2, 2), (2, 2)), 32, 64)
    assert not fourier.pays((28, 28), (5, 5), ((2, 2), (2, 2)), 1, 32)
    cnn_second.forward(np.zeros((1, 32, 14, 14), np.float32))
    cnn_first.forward(np.zeros((1, 1, 28, 28), np.float32))
    assert cnn_second.by_fourier and not cnn_first.by_fourier


def test_fourier_is_not_used_for_strides_or_when_asked_for_im2col():
    strided = Convolution("fourier", 64, 5, strides=2, padding="same")
    strided.build((32, 14, 14), np.random.default_rng(0))
    strided.forward(np.zeros((1, 32, 14, 14), np.float32))
    asked = conv(64, 5, "same", True, (32, 14, 14), "im2col", np.float32)
    asked.forward(np.zeros((1, 32, 14, 14), np.float32))
    assert not strided.by_fourier and not asked.by_fourier


def test_an_unknown_algorithm_is_refused_by_name():
    layer = conv(2, 3, "same", False, (1, 5, 5), "fft", np.float32)
    with pytest.raises(ValueError, match="'auto', 'im2col' or 'fourier', got 'fft'"):
        layer.forward(np.zeros((1, 1, 5, 5), np.float32))


def test_split_into_parts_gives_the_unsplit_values_and_gradients(monkeypatch):
    x = np.random.default_rng(5).standard_normal((7, 3, 6, 5))
    layer = conv(4, 3, "same", True, (3, 6, 5), "fourier")
    whole = results(layer, x)
    monkeypatch.setattr(threads, "MIN_PART_NS", 1e-9)
    monkeypatch.setattr(threads, "WORKERS", 3)
    with threads.engine_threads():
        split = results(layer, x)
    for expected, got in zip(whole, split, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_each_forward_hands_its_own_spectra_to_backward():
    """As Layer's contract (layer.py): inference may run one layer on several batches at once, and
    layers of the same shapes share one FourierConvolution, so it keeps nothing of a batch."""
    rng = np.random.default_rng(6)
    first, second = (rng.standard_normal((3, 2, 5, 6)).astype(np.float32) for _ in range(2))
    layer, other = (conv(3, 3, "same", True, (2, 5, 6), "fourier", np.float32) for _ in range(2))
    expected = results(layer, first)
    layer.forward(first, training=True)
    other.forward(second, training=True)  # the same shapes: the same transform matrices
    assert layer.saved.transform is other.saved.transform
    dy = np.random.default_rng(2).standard_normal(expected[0].shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dy), expected[1])


def test_an_empty_batch_gives_empty_results():
    layer = conv(4, 3, "same", True, (3, 6, 5), "fourier", np.float32)
    y = layer.forward(np.zeros((0, 3, 6, 5), np.float32), training=True)
    dx = layer.backward(y)
    assert y.shape == (0, 4, 6, 5) and dx.shape == (0, 3, 6, 5)
    assert not layer.grads["kernel"].any() and not layer.grads["bias"].any()


def test_a_new_image_size_or_dtype_gets_its_own_transforms():
    layer = conv(2, 3, "same", False, (1, 5, 5), "fourier", np.float32)
    small = layer.forward(np.ones((1, 1, 5, 5), np.float32))
    large = layer.forward(np.ones((1, 1, 7, 6), np.float32))
    assert small.shape == (1, 2, 5, 5) and large.shape == (1, 2, 7, 6)
    assert large.dtype == np.float32
    reference = conv(2, 3, "same", False, (1, 5, 5), "im2col", np.float32)
    np.testing.assert_allclose(large, reference.forward(np.ones((1, 1, 7, 6), np.float32)), atol=1e-5)
