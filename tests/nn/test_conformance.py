"""Every layer kind and every optimizer, both ways: the textbook ops (``with ops.reference():``) and
the fast versions that nn/accel registers (the default). Each layer's gradients against central
finite differences in float64, its config round trip, float32 in and out, its input (and dy) left
untouched; and the fast version giving the reference's numbers on batches big enough that the
engine's threads really split the work and conv really takes the Fourier path where it would."""

import copy

import numpy as np
import pytest

from digitlab.nn import ops
from digitlab.nn.accel import conv as fast_conv
from digitlab.nn.accel import threads, updates
from digitlab.nn.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    layer_from_config,
)
from digitlab.nn.optimizers import SGD, Adam, RMSprop

MODES = ["fast", "reference"]

# id: (make the layer, input shape (no batch axis), inputs: "normal", "distinct" (no ties for
# max pooling) or "away" (no ReLU kink within the finite differences' step))
SMALL = {
    "dense": (lambda: Dense(4), (5,), "normal"),
    "dense-no-bias-relu": (lambda: Dense(4, activation="relu", use_bias=False), (5,), "away"),
    "dense-softmax": (lambda: Dense(4, activation="softmax"), (5,), "normal"),
    "conv-3x3-valid": (lambda: Conv2D(3, 3), (2, 5, 6), "normal"),
    "conv-3x3-same": (lambda: Conv2D(3, 3, padding="same"), (2, 5, 6), "normal"),
    "conv-stride-2-valid": (lambda: Conv2D(2, 3, strides=2), (2, 6, 5), "normal"),
    "conv-stride-2-same-no-bias": (lambda: Conv2D(2, 3, 2, "same", use_bias=False), (2, 5, 6), "normal"),
    "conv-2x3-same-tanh": (lambda: Conv2D(3, (2, 3), padding="same", activation="tanh"), (1, 5, 6), "normal"),
    "conv-even-kernel-stride-2": (lambda: Conv2D(2, 2, 2, "same"), (1, 5, 5), "normal"),
    "conv-1x1-relu": (lambda: Conv2D(2, 1, activation="relu"), (3, 3, 3), "away"),
    "conv-5x5-same-wider-than-image": (lambda: Conv2D(2, 5, padding="same"), (2, 4, 4), "normal"),
    "pool-2": (lambda: MaxPool2D(2), (2, 4, 6), "distinct"),
    "pool-2-odd-image": (lambda: MaxPool2D(2), (2, 5, 5), "distinct"),
    "pool-2-same": (lambda: MaxPool2D(2, padding="same"), (2, 5, 7), "distinct"),
    "pool-3-stride-2-overlapping": (lambda: MaxPool2D(3, 2), (1, 7, 7), "distinct"),
    "pool-3-stride-1-same-overlapping": (lambda: MaxPool2D(3, 1, "same"), (2, 5, 6), "distinct"),
    "pool-2-stride-3-gaps": (lambda: MaxPool2D(2, 3), (1, 8, 8), "distinct"),
    "flatten": (lambda: Flatten(), (2, 3, 3), "normal"),
    "dropout": (lambda: Dropout(0.4), (3, 4), "normal"),
    "batchnorm-vectors": (lambda: BatchNormalization(), (4,), "normal"),
    "batchnorm-images": (lambda: BatchNormalization(), (2, 3, 3), "normal"),
    "relu": (lambda: ReLU(), (3, 4, 4), "away"),
    "sigmoid": (lambda: Sigmoid(), (6,), "normal"),
    "tanh": (lambda: Tanh(), (6,), "normal"),
    "softmax": (lambda: Softmax(), (6,), "normal"),
    "prelu": (lambda: PReLU(), (2, 3, 3), "away"),
    "prelu-per-channel": (lambda: PReLU(per_channel=True), (2, 3, 3), "away"),
}

# Batches big enough to split over the cores; "fourier": conv2d must take the Fourier path.
LARGE = {
    "dense-784-512": (lambda: Dense(512, activation="relu"), (784,), 128),
    "conv-1-32-5x5-same": (lambda: Conv2D(32, 5, padding="same", activation="relu"), (1, 28, 28), 16),
    "conv-32-64-5x5-same-fourier": (lambda: Conv2D(64, 5, padding="same"), (32, 14, 14), 16),
    "conv-stride-2-no-bias": (lambda: Conv2D(16, 3, 2, "same", use_bias=False), (8, 28, 28), 16),
    "pool-2": (lambda: MaxPool2D(2), (32, 28, 28), 16),
    "pool-3-stride-2-same": (lambda: MaxPool2D(3, 2, "same"), (32, 28, 28), 16),
    "relu": (lambda: ReLU(), (32, 14, 14), 64),
    "flatten": (lambda: Flatten(), (32, 7, 7), 64),
    "dropout": (lambda: Dropout(0.5), (1024,), 64),
    "batchnorm": (lambda: BatchNormalization(), (32, 14, 14), 16),
    "sigmoid": (lambda: Sigmoid(), (1024,), 64),
    "tanh": (lambda: Tanh(), (1024,), 64),
    "softmax": (lambda: Softmax(), (10,), 64),
    "prelu": (lambda: PReLU(per_channel=True), (32, 14, 14), 16),
}
SPLITS = {"dense-784-512", "conv-1-32-5x5-same", "conv-32-64-5x5-same-fourier", "conv-stride-2-no-bias", "pool-2",
          "pool-3-stride-2-same", "relu"}


def inputs(kind, shape, rng):
    if kind == "distinct":  # a permutation of values 0.1 apart
        return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0
    if kind == "away":
        return rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.standard_normal(shape)


def built(make, input_shape, dtype, seed=0):
    """A layer built for ``input_shape`` in ``dtype``, its biases, slopes and scales non-trivial."""
    layer = make()
    layer.build(input_shape, np.random.default_rng(seed))
    layer.astype(dtype)
    rng = np.random.default_rng(seed + 1)
    for key in ("bias", "alpha", "gamma", "beta"):
        if key in layer.params:
            layer.params[key][...] = rng.uniform(0.5, 1.5, layer.params[key].shape)
    return layer


def run(layer, x, dy):
    """Forward and backward on a copy of ``layer`` (running statistics and Dropout's generator
    start the same every time): [y, dx, every gradient]."""
    layer = copy.deepcopy(layer)
    if hasattr(layer, "rng"):
        layer.rng = np.random.default_rng(7)
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    return [np.array(y), np.array(dx)] + [np.array(layer.grads[key]) for key in sorted(layer.grads)], layer


@pytest.fixture(params=MODES)
def mode(request):
    if request.param == "reference":
        with ops.reference():
            yield request.param
    else:
        yield request.param


@pytest.mark.parametrize("case", SMALL)
def test_gradients_match_central_differences_in_float64(gradcheck, mode, case):
    make, input_shape, kind = SMALL[case]
    rng = np.random.default_rng(3)
    layer = built(make, input_shape, np.float64)
    x = inputs(kind, (3, *input_shape), rng)
    replay = (lambda: setattr(layer, "rng", np.random.default_rng(7))) if isinstance(layer, Dropout) else None
    gradcheck(layer, x, rng, training=True, before_forward=replay)


@pytest.mark.parametrize("case", SMALL)
def test_config_round_trip_rebuilds_the_same_layer(case):
    make, input_shape, kind = SMALL[case]
    layer = built(make, input_shape, np.float32)
    layer.activation = None  # Sequential saves an activation= as a layer of its own, after this one
    again = layer_from_config({"class": type(layer).__name__, "config": layer.config()})
    assert again.config() == layer.config() and type(again) is type(layer)
    again.build(input_shape, np.random.default_rng(1))
    for key in layer.params:
        again.params[key][...] = layer.params[key]
    x = inputs(kind, (2, *input_shape), np.random.default_rng(4)).astype(np.float32)
    np.testing.assert_array_equal(again.forward(x), layer.forward(x))


@pytest.mark.parametrize("case", SMALL)
def test_float32_in_float32_out_and_the_inputs_left_untouched(mode, case):
    make, input_shape, kind = SMALL[case]
    rng = np.random.default_rng(5)
    layer = built(make, input_shape, np.float32)
    x = inputs(kind, (3, *input_shape), rng).astype(np.float32)
    dy = rng.standard_normal(layer.output_shape(input_shape)).astype(np.float32)
    dy = np.broadcast_to(dy, (3, *dy.shape)).copy()
    x_before, dy_before = x.copy(), dy.copy()
    results, trained = run(layer, x, dy)
    assert all(result.dtype == np.float32 for result in results), [result.dtype for result in results]
    assert all(value.dtype == np.float32 for value in trained.params.values())
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dy, dy_before)


@pytest.fixture
def splits(monkeypatch):
    """Inside the engine's threads, on at least two workers; records how many parts each split made."""
    monkeypatch.setattr(threads, "WORKERS", max(threads.WORKERS, 2))
    counts = []
    run_parts = threads.run

    def counted(function, slices):
        counts.append(len(slices))
        return run_parts(function, slices)

    monkeypatch.setattr(threads, "run", counted)
    with threads.engine_threads():
        yield counts


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-11)], ids=["float32", "float64"])
@pytest.mark.parametrize("case", LARGE)
def test_the_fast_versions_give_the_reference_numbers(splits, case, dtype, rtol):
    make, input_shape, batch = LARGE[case]
    rng = np.random.default_rng(6)
    layer = built(make, input_shape, dtype)
    kind = "distinct" if isinstance(layer, MaxPool2D) else "normal"
    x = inputs(kind, (batch, *input_shape), rng).astype(dtype)
    dy = rng.standard_normal((batch, *layer.output_shape(input_shape))).astype(dtype)
    with ops.reference():
        expected, textbook = run(layer, x, dy)
    got, fast = run(layer, x, dy)
    if isinstance(layer, (Conv2D, MaxPool2D)):  # each way really ran
        assert type(textbook.saved) in (ops.ConvSaved, ops.PoolSaved)
        assert type(fast.saved) not in (ops.ConvSaved, ops.PoolSaved)
    if case in SPLITS:
        assert max(splits, default=1) > 1, "the fast version should have split the work"
    if "fourier" in case:
        assert isinstance(fast.saved, fast_conv.FourierSaved)
        rtol = rtol * 10  # the transforms round a little more than im2col's one product
    for want, have in zip(expected, got, strict=True):
        assert have.dtype == dtype
        scale = np.abs(want).max(initial=0)
        np.testing.assert_allclose(have, want, rtol=rtol, atol=rtol * scale)


OPTIMIZERS = {
    "sgd": lambda: SGD(0.1),
    "sgd-momentum": lambda: SGD(0.1, momentum=0.9),
    "sgd-nesterov": lambda: SGD(0.1, momentum=0.9, nesterov=True),
    "sgd-weight-decay": lambda: SGD(0.1, momentum=0.9, weight_decay=0.01),
    "rmsprop": lambda: RMSprop(),
    "rmsprop-weight-decay": lambda: RMSprop(0.01, rho=0.8, weight_decay=0.01),
    "adam": lambda: Adam(),
    "adam-weight-decay": lambda: Adam(0.01, weight_decay=0.01),
}


class Stub:
    """What an optimizer needs of a layer: a name, params and grads. The kernel is large enough to
    be updated in parts, one per core."""

    def __init__(self, dtype, rng):
        self.name = "stub"
        self.params = {"kernel": rng.standard_normal((updates.SPLIT_PARAMETER_SIZE // 64 + 1, 64)).astype(dtype),
                       "bias": rng.standard_normal(64).astype(dtype)}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}


def steps(make, dtype, count=3):
    """``count`` steps of a fresh optimizer on a fresh Stub: (the stub, the optimizer, the gradients)."""
    rng = np.random.default_rng(8)
    layer, optimizer = Stub(dtype, rng), make()
    for _ in range(count):
        for grad in layer.grads.values():
            grad[...] = rng.standard_normal(grad.shape)
        given = {key: grad.copy() for key, grad in layer.grads.items()}
        optimizer.step([layer])
        for key in given:  # the step reads the gradient, never writes it
            np.testing.assert_array_equal(layer.grads[key], given[key])
    return layer, optimizer


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)], ids=["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_takes_the_reference_steps_fast(splits, name, dtype, rtol):
    with ops.reference():
        expected, reference = steps(OPTIMIZERS[name], dtype)
    assert not splits
    got, fast = steps(OPTIMIZERS[name], dtype)
    assert max(splits) > 1, "the large kernel should have been updated in parts"
    for key in expected.params:
        assert got.params[key].dtype == dtype
        np.testing.assert_allclose(got.params[key], expected.params[key], rtol=rtol, atol=rtol)
    slots = {"stub/kernel", "stub/bias"} if fast.slots else set()  # plain SGD keeps no state
    assert fast.state.keys() == reference.state.keys() == slots
    for slot, buffers in reference.state.items():
        assert list(fast.state[slot]) == list(buffers) == list(fast.slots)
        for buffer, value in buffers.items():
            assert fast.state[slot][buffer].dtype == dtype
            np.testing.assert_allclose(fast.state[slot][buffer], value, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_config_round_trips(name):
    optimizer = OPTIMIZERS[name]()
    again = type(optimizer)(**optimizer.config())
    assert again.config() == optimizer.config() and repr(again) == repr(optimizer)
