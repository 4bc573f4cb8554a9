"""Shared helpers for the engine's tests: central finite differences in float64.

pytest runs with ``--import-mode=importlib``, so the helpers are handed to the tests as fixtures
rather than imported.
"""

import numpy as np
import pytest

EPS = 1e-6
TOLERANCE = 1e-6


def numerical_gradient(f, array, eps=EPS):
    """d f() / d array by central differences, perturbing ``array`` in place (and restoring it)."""
    grad = np.zeros_like(array, dtype=np.float64)
    flat = array.reshape(-1)
    assert np.shares_memory(flat, array), "the array must be contiguous to be perturbed in place"
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad.flat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric, tiny=1e-12):
    """max |a - n| / max(max|a| + max|n|, tiny): 0 when they agree, 1 when they share nothing."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)
    scale = np.abs(analytic).max(initial=0) + np.abs(numeric).max(initial=0)
    return float(np.abs(analytic - numeric).max(initial=0) / max(scale, tiny))


def check_layer_gradients(layer, x, rng, training=False, before_forward=None, tolerance=TOLERANCE):
    """Check dx and every parameter gradient of a built float64 ``layer`` at input ``x``.

    The scalar is f = sum(forward(x) * G) with a random upstream gradient G. ``before_forward``
    runs before every forward pass (to replay Dropout's mask). Returns the errors by name.
    """
    assert x.dtype == np.float64
    for key, value in layer.params.items():
        assert value.dtype == np.float64, f"{key} is {value.dtype} after astype(float64)"

    def forward():
        if before_forward is not None:
            before_forward()
        return layer.forward(x, training)

    x_before = x.copy()
    y = forward()
    np.testing.assert_array_equal(x, x_before, err_msg="forward modified its input")
    upstream = rng.standard_normal(y.shape)
    upstream_before = upstream.copy()
    dx = np.array(layer.backward(upstream), copy=True)
    np.testing.assert_array_equal(upstream, upstream_before, err_msg="backward modified dy in place")
    assert dx.shape == x.shape
    analytic = {"x": dx, **{key: np.array(g, copy=True) for key, g in layer.grads.items()}}
    assert set(layer.grads) == set(layer.params)

    def f():
        return float((forward() * upstream).sum())

    errors = {"x": relative_error(analytic["x"], numerical_gradient(f, x))}
    for key, param in layer.params.items():
        assert analytic[key].shape == param.shape, key
        errors[key] = relative_error(analytic[key], numerical_gradient(f, param))
    bad = {key: error for key, error in errors.items() if not error < tolerance}
    assert not bad, f"{layer!r}: relative errors above {tolerance}: {bad}"
    return errors


def check_loss_gradient(loss, predictions, targets, tolerance=TOLERANCE):
    """backward() against central differences of forward() at float64 ``predictions``."""
    assert predictions.dtype == np.float64
    value = loss.forward(predictions, targets)
    assert np.isfinite(value)
    analytic = np.array(loss.backward(), copy=True)
    assert analytic.shape == predictions.shape
    numeric = numerical_gradient(lambda: loss.forward(predictions, targets), predictions)
    error = relative_error(analytic, numeric)
    assert error < tolerance, f"{loss!r}: relative error {error}"
    return error


@pytest.fixture
def gradcheck():
    """``gradcheck(layer, x, rng, ...)``: see ``check_layer_gradients``."""
    return check_layer_gradients


@pytest.fixture
def loss_gradcheck():
    """``loss_gradcheck(loss, predictions, targets)``: see ``check_loss_gradient``."""
    return check_loss_gradient


@pytest.fixture
def numgrad():
    return numerical_gradient


@pytest.fixture
def rel_error():
    return relative_error
