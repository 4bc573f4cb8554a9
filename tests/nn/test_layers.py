"""Layers: every backward pass against central finite differences in float64, every forward pass
against a direct (loop) computation, and float32 kept end to end."""

import copy
import math

import numpy as np
import pytest

from digitlab.nn.layers import (
    LAYERS,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    activation_layer,
    layer_from_config,
)


def built64(layer, input_shape, seed=0):
    """``layer`` built for ``input_shape`` and cast to float64, as the gradient checks need."""
    layer.build(input_shape, np.random.default_rng(seed))
    return layer.astype(np.float64)


def away_from_zero(rng, shape, low=0.1, high=1.0):
    """Random values with |v| in [low, high]: no kink of ReLU/PReLU within eps."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(rng, shape, spacing=0.1):
    """A random permutation of distinct values, ``spacing`` apart: max pooling without ties."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * spacing - 1.0


# ============================================================================ gradient checks


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_gradients(gradcheck, use_bias, activation):
    rng = np.random.default_rng(1)
    layer = built64(Dense(4, activation=activation, use_bias=use_bias), (5,))
    if use_bias:  # a non-zero bias, so that its effect is checked too
        layer.params["bias"][...] = rng.standard_normal(4)
    x = rng.standard_normal((3, 5))
    errors = gradcheck(layer, x, rng)
    assert set(errors) == ({"x", "kernel", "bias"} if use_bias else {"x", "kernel"})


def test_prelu_is_refused_as_an_activation_argument():
    """A PReLU slope inside Dense(activation=) would never be trained or saved: it must be a layer."""
    with pytest.raises(ValueError, match="PReLU"):
        Dense(4, activation="prelu")


CONV_CASES = [
    # filters, kernel_size, strides, padding, use_bias, input (C, H, W)
    (3, 3, 1, "valid", True, (2, 5, 6)),
    (3, 3, 1, "same", True, (2, 5, 6)),
    (2, 3, 2, "valid", True, (2, 6, 5)),
    (2, 3, 2, "same", False, (2, 5, 6)),
    (3, (2, 3), 1, "valid", True, (1, 5, 6)),
    (3, (3, 2), 1, "same", False, (2, 4, 5)),
    (2, (2, 3), 2, "same", True, (2, 5, 7)),
    (2, 2, 2, "same", True, (1, 5, 5)),  # an even kernel: "same" pads more after than before
    (2, 1, 1, "valid", False, (3, 3, 3)),
]


@pytest.mark.parametrize("filters, kernel_size, strides, padding, use_bias, input_shape", CONV_CASES)
def test_conv2d_gradients(gradcheck, filters, kernel_size, strides, padding, use_bias, input_shape):
    rng = np.random.default_rng(3)
    layer = built64(Conv2D(filters, kernel_size, strides, padding, use_bias=use_bias), input_shape)
    if use_bias:
        layer.params["bias"][...] = rng.standard_normal(filters)
    x = rng.standard_normal((2, *input_shape))
    errors = gradcheck(layer, x, rng)
    assert set(errors) == ({"x", "kernel", "bias"} if use_bias else {"x", "kernel"})


def test_conv2d_with_activation_gradients(gradcheck):
    rng = np.random.default_rng(4)
    layer = built64(Conv2D(2, 3, padding="same", activation="tanh"), (2, 4, 4))
    gradcheck(layer, rng.standard_normal((2, 2, 4, 4)), rng)


POOL_CASES = [
    # pool_size, strides, padding, input (C, H, W)
    (2, None, "valid", (2, 4, 6)),
    (2, None, "valid", (2, 5, 5)),   # the last row and column fall outside every window
    (2, None, "same", (2, 5, 7)),    # odd sizes: padded by one after
    (3, 2, "valid", (1, 7, 7)),      # overlapping windows
    (3, 1, "same", (2, 5, 6)),       # overlapping windows with padding on both sides
    (3, 2, "same", (1, 6, 5)),
    (2, 3, "valid", (1, 8, 8)),      # stride larger than the window: some inputs in no window
]


@pytest.mark.parametrize("pool_size, strides, padding, input_shape", POOL_CASES)
def test_maxpool2d_gradients(gradcheck, pool_size, strides, padding, input_shape):
    rng = np.random.default_rng(5)
    layer = built64(MaxPool2D(pool_size, strides, padding), input_shape)
    gradcheck(layer, distinct(rng, (2, *input_shape)), rng)


def test_flatten_gradients(gradcheck):
    rng = np.random.default_rng(6)
    gradcheck(built64(Flatten(), (2, 3, 4)), rng.standard_normal((3, 2, 3, 4)), rng)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5])
def test_dropout_gradients_with_a_fixed_mask(gradcheck, rate):
    rng = np.random.default_rng(7)
    layer = built64(Dropout(rate), (4, 5))
    saved = copy.deepcopy(layer.rng)

    def replay_mask():  # every forward pass draws the same mask
        layer.rng = copy.deepcopy(saved)

    x = rng.standard_normal((3, 4, 5))
    gradcheck(layer, x, rng, training=True, before_forward=replay_mask)
    if rate:
        assert (layer.forward(x, training=True) == 0).any()


def test_dropout_backward_uses_the_mask_of_its_forward():
    rng = np.random.default_rng(8)
    layer = Dropout(0.5)
    layer.build((50,), rng)
    x = rng.standard_normal((4, 50))
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy * (y / x))


def test_relu_gradients(gradcheck):
    rng = np.random.default_rng(9)
    gradcheck(built64(ReLU(), (3, 4)), away_from_zero(rng, (2, 3, 4)), rng)


@pytest.mark.parametrize("cls", [Sigmoid, Tanh, Softmax])
def test_smooth_activation_gradients(gradcheck, cls):
    rng = np.random.default_rng(10)
    gradcheck(built64(cls(), (6,)), 2 * rng.standard_normal((4, 6)), rng)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("input_shape", [(5,), (3, 4, 4)], ids=["vectors", "images"])
def test_prelu_gradients(gradcheck, per_channel, input_shape):
    rng = np.random.default_rng(11)
    layer = built64(PReLU(per_channel=per_channel), input_shape)
    expected_alpha_shape = ((input_shape[0],) + (1,) * (len(input_shape) - 1)) if per_channel else (1,)
    assert layer.params["alpha"].shape == expected_alpha_shape
    layer.params["alpha"][...] = rng.uniform(0.1, 0.5, expected_alpha_shape)
    errors = gradcheck(layer, away_from_zero(rng, (3, *input_shape)), rng)
    assert set(errors) == {"x", "alpha"}


# ============================================================================ forward passes


def naive_same_padding(size, kernel, stride):
    """TensorFlow's rule, written out: output ceil(size / stride), the odd pixel padded after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def naive_conv2d(x, kernel, bias, stride, padding):
    n, c, h, w = x.shape
    f, _, kh, kw = kernel.shape
    if padding == "same":
        (top, bottom), (left, right) = naive_same_padding(h, kh, stride), naive_same_padding(w, kw, stride)
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out_h = (x.shape[2] - kh) // stride + 1
    out_w = (x.shape[3] - kw) // stride + 1
    y = np.zeros((n, f, out_h, out_w))
    for b in range(n):
        for o in range(f):
            for i in range(out_h):
                for j in range(out_w):
                    patch = x[b, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    y[b, o, i, j] = (patch * kernel[o]).sum() + (bias[o] if bias is not None else 0)
    return y


def naive_maxpool(x, size, stride, padding):
    n, c, h, w = x.shape
    if padding == "same":
        (top, bottom), (left, right) = naive_same_padding(h, size, stride), naive_same_padding(w, size, stride)
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf)
    out_h = (x.shape[2] - size) // stride + 1
    out_w = (x.shape[3] - size) // stride + 1
    y = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            y[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return y


@pytest.mark.parametrize("filters, kernel_size, strides, padding, use_bias, input_shape", CONV_CASES)
def test_conv2d_forward_matches_a_direct_convolution(filters, kernel_size, strides, padding, use_bias,
                                                     input_shape):
    rng = np.random.default_rng(12)
    layer = built64(Conv2D(filters, kernel_size, strides, padding, use_bias=use_bias), input_shape)
    if use_bias:
        layer.params["bias"][...] = rng.standard_normal(filters)
    x = rng.standard_normal((2, *input_shape))
    y = layer.forward(x)
    expected = naive_conv2d(x, layer.params["kernel"], layer.params.get("bias"), strides, padding)
    assert y.shape == expected.shape == (2, *layer.output_shape(input_shape))
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    if padding == "same":
        assert y.shape[2:] == (math.ceil(input_shape[1] / strides), math.ceil(input_shape[2] / strides))


@pytest.mark.parametrize("pool_size, strides, padding, input_shape", POOL_CASES)
def test_maxpool2d_forward_matches_a_direct_max(pool_size, strides, padding, input_shape):
    rng = np.random.default_rng(13)
    layer = built64(MaxPool2D(pool_size, strides, padding), input_shape)
    x = rng.standard_normal((2, *input_shape))
    y = layer.forward(x)
    expected = naive_maxpool(x, pool_size, strides or pool_size, padding)
    assert y.shape == expected.shape == (2, *layer.output_shape(input_shape))
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("pool_size, strides", [(2, None), (3, 2), (2, 3)])
def test_maxpool2d_gives_a_tied_window_one_gradient_at_its_first_maximum(pool_size, strides):
    # ReLU before pooling makes all-zero windows common: each must pass its gradient on once.
    layer = MaxPool2D(pool_size, strides)
    x = np.zeros((1, 1, 7, 7), np.float32)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    step = strides or pool_size
    expected = np.zeros_like(x)
    expected[0, 0, :step * y.shape[2]:step, :step * y.shape[3]:step] = 1
    np.testing.assert_array_equal(dx, expected)


def test_maxpool2d_on_negative_inputs_with_same_padding_never_picks_the_padding():
    layer = MaxPool2D(2, padding="same")
    x = -np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    y = layer(x)
    np.testing.assert_array_equal(y, [[[[-1, -3], [-7, -9]]]])
    dx = layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(dx, [[[[1, 0, 1], [0, 0, 0], [1, 0, 1]]]])


def test_dense_forward_is_x_times_kernel_plus_bias():
    rng = np.random.default_rng(14)
    layer = built64(Dense(3), (4,))
    layer.params["bias"][...] = [1.0, -2.0, 0.5]
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["kernel"] + layer.params["bias"])


def test_activation_forward_formulas():
    x = np.linspace(-5, 5, 21).reshape(3, 7)
    np.testing.assert_allclose(ReLU().forward(x), np.where(x > 0, x, 0))
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x))
    softmax = Softmax().forward(x)
    np.testing.assert_allclose(softmax, np.exp(x) / np.exp(x).sum(-1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(softmax.sum(-1), 1.0)


def test_prelu_forward_formula():
    layer = PReLU(alpha_init=0.2)
    x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    np.testing.assert_allclose(layer(x), [[-0.4, -0.1, 0.0, 1.5]])


def test_activations_stay_finite_for_extreme_inputs():
    x = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        sigmoid = Sigmoid().forward(x)
        softmax = Softmax().forward(x)
        tanh = Tanh().forward(x)
    for y in (sigmoid, softmax, tanh):
        assert np.isfinite(y).all()
    np.testing.assert_allclose(sigmoid[0, [0, -1]], [0.0, 1.0])
    np.testing.assert_allclose(softmax[0, -1], 1.0)


# ============================================================================ dropout


def test_dropout_is_the_identity_outside_training():
    rng = np.random.default_rng(15)
    layer = Dropout(0.5)
    layer.build((10,), rng)
    x = rng.standard_normal((4, 10)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), x)
    dy = rng.standard_normal((4, 10)).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dy), dy)


def test_dropout_drops_about_rate_and_scales_the_rest():
    rng = np.random.default_rng(16)
    layer = Dropout(0.25)
    layer.build((1000,), rng)
    x = np.ones((20, 1000), np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02


def test_dropout_masks_repeat_with_the_build_seed():
    def mask(seed):
        layer = Dropout(0.5)
        layer.build((30,), np.random.default_rng(seed))
        return layer.forward(np.ones((2, 30)), training=True)

    np.testing.assert_array_equal(mask(0), mask(0))
    assert not np.array_equal(mask(0), mask(1))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_a_rate_outside_0_1(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


# ============================================================================ argument checks


@pytest.mark.parametrize("make", [
    pytest.param(lambda: Dense(0), id="Dense(0)"),
    pytest.param(lambda: Dense(-3), id="Dense(-3)"),
    pytest.param(lambda: Dense(2.7), id="Dense(2.7)"),
    pytest.param(lambda: Dense(3.0), id="Dense(3.0)"),
    pytest.param(lambda: Dense(True), id="Dense(True)"),
    pytest.param(lambda: Dense("8"), id="Dense('8')"),
    pytest.param(lambda: Conv2D(0, 3), id="Conv2D(0, 3)"),
    pytest.param(lambda: Conv2D(8, 0), id="Conv2D(8, 0)"),
    pytest.param(lambda: Conv2D(8, (3, 0)), id="Conv2D(8, (3, 0))"),
    pytest.param(lambda: Conv2D(8, (3, 2.5)), id="Conv2D(8, (3, 2.5))"),
    pytest.param(lambda: Conv2D(8, 3, strides=0), id="Conv2D(8, 3, strides=0)"),
    pytest.param(lambda: Conv2D(8, 3, strides=None), id="Conv2D(8, 3, strides=None)"),
    pytest.param(lambda: MaxPool2D(0), id="MaxPool2D(0)"),
    pytest.param(lambda: MaxPool2D(-2), id="MaxPool2D(-2)"),
    pytest.param(lambda: MaxPool2D(2, strides=0), id="MaxPool2D(2, strides=0)"),
    pytest.param(lambda: MaxPool2D(2, strides=1.5), id="MaxPool2D(2, strides=1.5)"),
])
def test_sizes_and_strides_must_be_whole_numbers_from_1(make):
    with pytest.raises(ValueError, match="whole number >= 1"):
        make()


def test_conv2d_kernel_size_is_one_number_or_a_pair():
    with pytest.raises(ValueError, match="pair"):
        Conv2D(8, (3, 3, 3))


@pytest.mark.parametrize("make, word", [
    (lambda: Dropout("0.5"), "rate"),
    (lambda: Dropout(float("nan")), "rate"),
    (lambda: Dropout(None), "rate"),
    (lambda: BatchNormalization(momentum=2), "momentum"),
    (lambda: BatchNormalization(momentum=-0.1), "momentum"),
    (lambda: BatchNormalization(momentum="0.9"), "momentum"),
    (lambda: BatchNormalization(epsilon=0), "epsilon"),
    (lambda: BatchNormalization(epsilon=-1e-3), "epsilon"),
    (lambda: BatchNormalization(epsilon=float("inf")), "epsilon"),
], ids=["rate str", "rate nan", "rate None", "momentum 2", "momentum -0.1", "momentum str", "epsilon 0",
        "epsilon negative", "epsilon inf"])
def test_rates_must_be_numbers_in_their_range(make, word):
    with pytest.raises(ValueError, match=word):
        make()


@pytest.mark.parametrize("layer, input_shape", [
    (Conv2D(8, 50), (1, 28, 28)),
    (Conv2D(8, (3, 30), strides=2), (1, 28, 28)),
    (MaxPool2D(100), (1, 28, 28)),
    (MaxPool2D(3), (2, 2, 5)),
], ids=["conv 50 on 28", "conv 3x30 on 28", "pool 100 on 28", "pool 3 on 2x5"])
def test_a_window_larger_than_its_input_is_refused(layer, input_shape):
    """Not an empty output that builds, trains and predicts one class, nor NumPy's "negative dimensions"."""
    from digitlab.nn import Sequential

    with pytest.raises(ValueError, match=r"larger than its .* padding='same'"):
        layer.output_shape(input_shape)
    with pytest.raises(ValueError, match="larger than its"):
        Sequential([layer, Flatten(), Dense(10)], input_shape=input_shape).build(seed=0)
    with pytest.raises(ValueError, match="larger than its"):
        layer(np.zeros((1, *input_shape), np.float32))


def test_the_edge_values_that_are_valid_stay_accepted():
    assert Dropout(0).rate == 0
    assert BatchNormalization(momentum=0).momentum == 0
    assert BatchNormalization(momentum=1, epsilon=1e-12).momentum == 1
    assert Dense(1).units == 1
    assert Dense(np.int64(4)).units == 4 and type(Dense(np.int64(4)).units) is int
    assert Conv2D(np.int32(2), np.int64(3), strides=1).kernel_size == (3, 3)
    assert Conv2D(2, [1, 5]).kernel_size == (1, 5)
    assert MaxPool2D(1).strides == 1
    # A window exactly the input's size gives one position; with "same" padding any window fits.
    assert Conv2D(2, 28).output_shape((1, 28, 28)) == (2, 1, 1)
    assert Conv2D(2, (28, 1), strides=5).output_shape((1, 28, 28)) == (2, 1, 6)
    assert MaxPool2D(28).output_shape((3, 28, 28)) == (3, 1, 1)
    assert MaxPool2D(100, padding="same").output_shape((3, 28, 28)) == (3, 1, 1)
    assert Conv2D(2, 50, padding="same").output_shape((1, 28, 28)) == (2, 28, 28)
    layer = Conv2D(2, 5)
    assert layer(np.ones((1, 1, 5, 5), np.float32)).shape == (1, 2, 1, 1)


# ============================================================================ float32, shapes, errors


FLOAT32_CASES = [
    (lambda: Dense(3, activation="relu"), (4,)),
    (lambda: Conv2D(2, 3, 2, "same", activation="sigmoid"), (1, 5, 5)),
    (lambda: MaxPool2D(2, padding="same"), (2, 5, 5)),
    (Flatten, (2, 3, 3)),
    (lambda: Dropout(0.5), (6,)),
    (ReLU, (6,)), (Sigmoid, (6,)), (Tanh, (6,)), (Softmax, (6,)),
    (PReLU, (6,)), (lambda: PReLU(per_channel=True), (6,)),
]


@pytest.mark.parametrize("make, input_shape", FLOAT32_CASES)
@pytest.mark.parametrize("training", [False, True])
def test_float32_in_float32_out(make, input_shape, training):
    rng = np.random.default_rng(17)
    layer = make()
    layer.build(input_shape, rng)
    for key in layer.params:
        assert layer.params[key].dtype == np.float32
    x = rng.standard_normal((3, *input_shape)).astype(np.float32)
    y = layer.forward(x, training)
    assert y.dtype == np.float32
    assert y.shape == (3, *layer.output_shape(input_shape))
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32 and dx.shape == x.shape
    for key in layer.grads:
        assert layer.grads[key].dtype == np.float32


@pytest.mark.parametrize("make, input_shape", FLOAT32_CASES + [(BatchNormalization, (2, 3, 3)),
                                                               (BatchNormalization, (5,))])
@pytest.mark.parametrize("training", [False, True])
def test_forward_never_reads_back_what_it_keeps_for_backward(make, input_shape, training):
    """Inference runs one layer on several batches at once, one per core: a forward that kept an
    array on the layer and read it back could return another batch's. Here every array a forward
    keeps is replaced by NaNs as it is stored: the output must not change."""
    rng = np.random.default_rng(18)
    x = rng.standard_normal((3, *input_shape)).astype(np.float32)
    honest, forgetful = make(), make()
    honest.build(input_shape, np.random.default_rng(0))
    forgetful.build(input_shape, np.random.default_rng(0))
    poison = lambda self, name, value: object.__setattr__(  # noqa: E731
        self, name, np.full_like(value, np.nan) if isinstance(value, np.ndarray) else value)
    forgetful.__class__ = type(f"Forgetful{type(honest).__name__}", (type(honest),), {"__setattr__": poison})
    np.testing.assert_array_equal(forgetful.forward(x, training), honest.forward(x, training))


def test_layers_build_lazily_from_their_first_input():
    layer = Dense(3)
    assert not layer.built
    y = layer(np.ones((2, 7), np.float32))
    assert layer.built and layer.input_shape == (7,)
    assert layer.params["kernel"].shape == (7, 3) and layer.params["bias"].shape == (3,)
    assert y.shape == (2, 3)


def test_dense_refuses_unflattened_inputs():
    with pytest.raises(ValueError, match="Flatten"):
        Dense(3).build((1, 28, 28), np.random.default_rng(0))


def test_conv2d_refuses_inputs_without_channels():
    with pytest.raises(ValueError, match="channels"):
        Conv2D(3, 3).build((28, 28), np.random.default_rng(0))


@pytest.mark.parametrize("cls", [Conv2D, MaxPool2D])
def test_padding_must_be_same_or_valid(cls):
    with pytest.raises(ValueError, match="padding"):
        cls(3, 2, padding="full") if cls is Conv2D else cls(2, padding="full")


def test_activation_names():
    assert activation_layer(None) is None
    assert activation_layer("linear") is None
    assert isinstance(activation_layer("relu"), ReLU)
    relu = ReLU()
    assert activation_layer(relu) is relu
    with pytest.raises(ValueError, match="unknown activation"):
        activation_layer("swishy")


def test_layer_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        Layer().forward(np.ones((1, 2)))
    with pytest.raises(NotImplementedError):
        Layer().backward(np.ones((1, 2)))


def test_repr_shows_the_constructor_arguments():
    assert repr(Dense(3)).startswith("Dense(units=3, use_bias=True")
    assert repr(Conv2D(8, 3, padding="same")).startswith("Conv2D(filters=8, kernel_size=[3, 3], strides=1, "
                                                         "padding='same'")
    assert repr(MaxPool2D()) == "MaxPool2D(pool_size=2, strides=2, padding='valid')"
    assert repr(Dropout(0.5)) == "Dropout(rate=0.5)"
    assert repr(ReLU()) == "ReLU()"


CONFIG_CASES = [
    Dense(5, use_bias=False, kernel_initializer="he_normal"),
    Dense(5, kernel_initializer={"name": "normal", "std": 0.1, "mean": 0.0}),
    Conv2D(4, (2, 3), strides=2, padding="same", bias_initializer={"name": "constant", "value": 0.1}),
    MaxPool2D(3, 2, "same"),
    Flatten(), Dropout(0.3), ReLU(), Sigmoid(), Tanh(), Softmax(),
    PReLU(alpha_init=0.1, per_channel=True),
]


@pytest.mark.parametrize("layer", CONFIG_CASES, ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trip(layer):
    spec = {"class": type(layer).__name__, "config": layer.config()}
    rebuilt = layer_from_config(spec)
    assert type(rebuilt) is type(layer)
    assert rebuilt.config() == layer.config()
    assert set(LAYERS) >= {spec["class"]}
    # The same initialisers: the same parameters from the same seed.
    layer.build((2, 6, 6) if isinstance(layer, (Conv2D, MaxPool2D)) else (6,), np.random.default_rng(0))
    rebuilt.build(layer.input_shape, np.random.default_rng(0))
    for key in layer.params:
        np.testing.assert_array_equal(rebuilt.params[key], layer.params[key])


def test_layer_from_config_refuses_an_unknown_class():
    with pytest.raises(ValueError, match="unknown layer class"):
        layer_from_config({"class": "Attention", "config": {}})


# ============================================================================ BatchNormalization


@pytest.mark.parametrize("input_shape", [(6,), (3, 4, 5)], ids=["vectors", "images"])
def test_batch_normalization_gradients_in_training(gradcheck, input_shape):
    from digitlab.nn import BatchNormalization

    rng = np.random.default_rng(11)
    layer = built64(BatchNormalization(), input_shape)
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, layer.params["gamma"].shape)
    layer.params["beta"][...] = rng.standard_normal(layer.params["beta"].shape)
    gradcheck(layer, rng.standard_normal((4, *input_shape)) * 3 + 1, rng, training=True)


def test_batch_normalization_normalises_in_training_and_uses_running_statistics_after():
    from digitlab.nn import BatchNormalization

    rng = np.random.default_rng(12)
    layer = BatchNormalization(momentum=0.5)
    layer.build((3, 2, 2), rng)
    x = (rng.standard_normal((8, 3, 2, 2)) * 4 + 2).astype(np.float32)
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-2)
    np.testing.assert_allclose(layer.buffers["moving_mean"], 0.5 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    inference = layer.forward(x, training=False)
    expected = (x - layer.buffers["moving_mean"].reshape(-1, 1, 1)) / np.sqrt(
        layer.buffers["moving_variance"].reshape(-1, 1, 1) + layer.epsilon)
    np.testing.assert_allclose(inference, expected, rtol=1e-5, atol=1e-6)
