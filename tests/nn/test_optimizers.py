"""Optimizers: one and two steps checked against the update rules written out by hand with plain
Python floats (Keras' conventions)."""

import math

import numpy as np
import pytest

from digitlab.nn import optimizers
from digitlab.nn.optimizers import SGD, Adam, RMSprop

W0 = [0.5, -1.0, 2.0]
G1 = [0.1, -0.2, 0.3]
G2 = [-0.4, 0.05, 0.3]


class Stub:
    """The little an optimizer needs of a layer: a name, params and grads."""

    def __init__(self, name, **params):
        self.name = name
        self.params = {key: np.array(value, np.float64) for key, value in params.items()}
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}


def run(optimizer, gradients, w0=W0):
    """Apply one step per gradient to a 1-D parameter and return its values after each step."""
    layer = Stub("dense", bias=w0)
    values = []
    for g in gradients:
        layer.grads["bias"][...] = g
        optimizer.step([layer])
        values.append(layer.params["bias"].tolist())
    return values


def assert_close(actual, expected):
    for a, e in zip(actual, expected, strict=True):
        assert a == pytest.approx(e, rel=1e-12, abs=1e-15)


# ============================================================================ by hand


def test_sgd_one_and_two_steps():
    lr = 0.1
    step1 = [w - lr * g for w, g in zip(W0, G1, strict=True)]
    step2 = [w - lr * g for w, g in zip(step1, G2, strict=True)]
    values = run(SGD(learning_rate=lr), [G1, G2])
    assert_close(values[0], step1)
    assert_close(values[1], step2)


def test_sgd_momentum_one_and_two_steps():
    lr, m = 0.1, 0.9
    w, v, expected = list(W0), [0.0] * 3, []
    for g in (G1, G2):
        v = [m * vi - lr * gi for vi, gi in zip(v, g, strict=True)]
        w = [wi + vi for wi, vi in zip(w, v, strict=True)]
        expected.append(w)
    values = run(SGD(learning_rate=lr, momentum=m), [G1, G2])
    assert_close(values[0], expected[0])
    assert_close(values[1], expected[1])
    # The first step is plain SGD; the second remembers the first.
    assert_close(values[0], [wi - lr * gi for wi, gi in zip(W0, G1, strict=True)])
    assert values[1][0] == pytest.approx(W0[0] + (-lr * 0.1) + (m * (-lr * 0.1) - lr * -0.4))


def test_sgd_nesterov_one_and_two_steps():
    lr, m = 0.1, 0.9
    w, v, expected = list(W0), [0.0] * 3, []
    for g in (G1, G2):
        v = [m * vi - lr * gi for vi, gi in zip(v, g, strict=True)]
        w = [wi + m * vi - lr * gi for wi, vi, gi in zip(w, v, g, strict=True)]
        expected.append(w)
    values = run(SGD(learning_rate=lr, momentum=m, nesterov=True), [G1, G2])
    assert_close(values[0], expected[0])
    assert_close(values[1], expected[1])
    # One step by hand, element 0: v = -0.01, w = 0.5 + 0.9 * -0.01 - 0.01.
    assert values[0][0] == pytest.approx(0.5 - 0.009 - 0.01)


def test_rmsprop_one_and_two_steps():
    lr, rho, eps = 0.01, 0.9, 1e-7
    w, s, expected = list(W0), [0.0] * 3, []
    for g in (G1, G2):
        s = [rho * si + (1 - rho) * gi * gi for si, gi in zip(s, g, strict=True)]
        w = [wi - lr * gi / (math.sqrt(si) + eps) for wi, gi, si in zip(w, g, s, strict=True)]
        expected.append(w)
    values = run(RMSprop(learning_rate=lr, rho=rho), [G1, G2])
    assert_close(values[0], expected[0])
    assert_close(values[1], expected[1])
    # The first step moves each weight by about lr / sqrt(1 - rho), whatever the gradient's size.
    assert abs(values[0][0] - W0[0]) == pytest.approx(lr / math.sqrt(0.1), rel=1e-5)


def test_adam_one_and_two_steps():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    w, m, v, expected = list(W0), [0.0] * 3, [0.0] * 3, []
    for t, g in enumerate((G1, G2), start=1):
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g, strict=True)]
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        w = [wi - lr_t * mi / (math.sqrt(vi) + eps) for wi, mi, vi in zip(w, m, v, strict=True)]
        expected.append(w)
    values = run(Adam(learning_rate=lr), [G1, G2])
    assert_close(values[0], expected[0])
    assert_close(values[1], expected[1])
    # Adam's first step is about lr * sign(g).
    for before, after, g in zip(W0, values[0], G1, strict=True):
        assert after - before == pytest.approx(-lr * math.copysign(1, g), rel=1e-4)


@pytest.mark.parametrize("make", [
    lambda: SGD(learning_rate=0.1, weight_decay=0.5),
    lambda: SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.5),
    lambda: Adam(learning_rate=0.1, weight_decay=0.5),
], ids=["sgd", "momentum", "adam"])
def test_weight_decay_shrinks_kernels_before_the_update_and_leaves_biases(make):
    lr, wd = 0.1, 0.5
    kernel0, g = [[0.5, -1.0, 2.0]], [[0.1, -0.2, 0.3]]
    decayed = Stub("dense", kernel=kernel0, bias=W0)
    plain = Stub("dense", kernel=[[w - lr * wd * w for w in kernel0[0]]], bias=W0)
    for layer in (decayed, plain):
        layer.grads["kernel"][...] = g
        layer.grads["bias"][...] = G1
    with_decay, without = make(), make()
    without.weight_decay = 0.0
    with_decay.step([decayed])
    without.step([plain])  # the same update applied to the already-shrunk kernel
    np.testing.assert_allclose(decayed.params["kernel"], plain.params["kernel"], rtol=1e-12)
    np.testing.assert_allclose(decayed.params["bias"], plain.params["bias"], rtol=1e-12)


def test_weight_decay_by_hand_with_sgd():
    lr, wd = 0.1, 0.01
    layer = Stub("dense", kernel=[[1.0, -2.0]], bias=[1.0])
    layer.grads["kernel"][...] = [[0.5, 0.5]]
    layer.grads["bias"][...] = [0.5]
    SGD(learning_rate=lr, weight_decay=wd).step([layer])
    expected = [(1.0 - lr * wd * 1.0) - lr * 0.5, (-2.0 - lr * wd * -2.0) - lr * 0.5]
    assert_close(layer.params["kernel"][0].tolist(), expected)
    assert layer.params["bias"][0] == pytest.approx(1.0 - lr * 0.5)


# ============================================================================ state and lookup


def test_state_is_kept_per_parameter_and_updated_in_place():
    first = Stub("dense_0", kernel=[[1.0, 2.0]], bias=[0.0])
    second = Stub("dense_1", kernel=[[1.0, 2.0]], bias=[0.0])
    for layer in (first, second):
        for key in layer.grads:
            layer.grads[key][...] = 1.0
    second.grads["kernel"][...] = -1.0
    kernel = first.params["kernel"]
    adam = Adam()
    adam.step([first, second])
    assert first.params["kernel"] is kernel, "parameters must be updated in place"
    assert set(adam.state) == {"dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"}
    assert {"mean", "mean_square"} <= set(adam.state["dense_0/kernel"])
    np.testing.assert_allclose(adam.state["dense_0/kernel"]["mean"], 0.1)
    np.testing.assert_allclose(adam.state["dense_1/kernel"]["mean"], -0.1)
    assert adam.iterations == 1
    adam.step([first, second])
    assert adam.iterations == 2


def test_plain_sgd_keeps_no_state():
    sgd = SGD()
    run(sgd, [G1])
    assert sgd.state == {}


def test_float32_parameters_stay_float32():
    for optimizer in (SGD(momentum=0.9, nesterov=True), RMSprop(), Adam(weight_decay=0.1)):
        layer = Stub("dense", kernel=[[1.0, 2.0]], bias=[0.5])
        for key in layer.params:
            layer.params[key] = layer.params[key].astype(np.float32)
            layer.grads[key] = np.full_like(layer.params[key], 0.5)
        optimizer.step([layer])
        for key in layer.params:
            assert layer.params[key].dtype == np.float32


@pytest.mark.parametrize("name, cls, defaults", [
    ("sgd", SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}),
    ("rmsprop", RMSprop, {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7, "weight_decay": 0.0}),
    ("adam", Adam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                    "weight_decay": 0.0}),
])
def test_names_give_keras_defaults(name, cls, defaults):
    optimizer = optimizers.get(name)
    assert type(optimizer) is cls
    assert optimizer.config() == defaults
    assert type(optimizers.get(name.upper())) is cls
    assert repr(optimizer).startswith(f"{cls.__name__}(learning_rate=0.0")


def test_get_passes_instances_through_and_refuses_unknown_names():
    adam = Adam(learning_rate=0.5)
    assert optimizers.get(adam) is adam
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.get("adagrad")
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.get(None)


@pytest.mark.parametrize("make, word", [
    (lambda: RMSprop(-1), "learning_rate"),
    (lambda: RMSprop(float("nan")), "learning_rate"),
    (lambda: SGD(float("inf")), "learning_rate"),
    (lambda: Adam(-1e-3), "learning_rate"),
    (lambda: Adam("0.1"), "learning_rate"),
    (lambda: SGD(True), "learning_rate"),
    (lambda: SGD(0.1, momentum=1), "momentum"),
    (lambda: SGD(0.1, momentum=-0.5), "momentum"),
    (lambda: RMSprop(rho=1.0), "rho"),
    (lambda: RMSprop(rho=-0.1), "rho"),
    (lambda: Adam(beta_1=1), "beta_1"),
    (lambda: Adam(beta_1=float("nan")), "beta_1"),
    (lambda: Adam(beta_2=1.5), "beta_2"),
    (lambda: RMSprop(epsilon=0), "epsilon"),
    (lambda: Adam(epsilon=-1e-7), "epsilon"),
    (lambda: Adam(epsilon=float("inf")), "epsilon"),
    (lambda: SGD(weight_decay=-0.1), "weight_decay"),
    (lambda: Adam(weight_decay=float("inf")), "weight_decay"),
    (lambda: RMSprop(weight_decay="0"), "weight_decay"),
], ids=["lr -1", "lr nan", "lr inf", "lr negative", "lr str", "lr bool", "momentum 1", "momentum negative",
        "rho 1", "rho negative", "beta_1 1", "beta_1 nan", "beta_2 1.5", "rmsprop epsilon 0", "adam epsilon negative",
        "adam epsilon inf", "weight_decay negative", "weight_decay inf", "weight_decay str"])
def test_hyper_parameters_out_of_range_are_refused_at_once(make, word):
    with pytest.raises(ValueError, match=word):
        make()


def test_the_edge_values_that_are_valid_stay_accepted():
    sgd = SGD(learning_rate=1, momentum=0, weight_decay=0)
    assert sgd.config() == {"learning_rate": 1.0, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}
    assert RMSprop(np.float32(1e-4), rho=0).rho == 0
    assert RMSprop(0).learning_rate == 0.0  # frozen weights: a test of everything else
    adam = Adam(learning_rate=np.float64(1e-9), beta_1=0, beta_2=0, epsilon=1e-30)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.0, 0.0, 1e-30)
    assert type(adam.learning_rate) is float  # NumPy scalars are saved with the model as plain floats
    run(adam, [G1])  # and such an optimizer steps


def test_base_optimizer_update_is_abstract():
    with pytest.raises(NotImplementedError):
        optimizers.Optimizer(0.1).step([Stub("dense", bias=[1.0])])
