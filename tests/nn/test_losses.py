"""Losses: backward() against central differences of forward() in float64, values against direct
formulas, and softmax cross-entropy finite for any logits."""

import numpy as np
import pytest

from digitlab.nn import losses
from digitlab.nn.losses import BinaryCrossEntropy, CategoricalCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy

REDUCTIONS = ["mean", "sum"]
N, K = 4, 5


def labels(rng, n=N, k=K):
    return rng.integers(0, k, n)


def one_hot(indices, k=K):
    return np.eye(k)[indices]


def probabilities(rng, n=N, k=K):
    """Rows of probabilities well inside (1e-7, 1 - 1e-7), where the clip is inactive."""
    p = rng.uniform(0.2, 1.0, (n, k))
    return p / p.sum(axis=1, keepdims=True)


# ============================================================================ gradient checks


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "one_hot"])
def test_softmax_cross_entropy_gradient(loss_gradcheck, reduction, sparse):
    rng = np.random.default_rng(0)
    targets = labels(rng)
    loss_gradcheck(SoftmaxCrossEntropy(reduction), 3 * rng.standard_normal((N, K)),
                   targets if sparse else one_hot(targets))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_gradient_with_soft_targets(loss_gradcheck, reduction):
    rng = np.random.default_rng(1)
    loss_gradcheck(SoftmaxCrossEntropy(reduction), rng.standard_normal((N, K)), probabilities(rng))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "one_hot"])
def test_categorical_cross_entropy_gradient(loss_gradcheck, reduction, sparse):
    rng = np.random.default_rng(2)
    targets = labels(rng)
    loss_gradcheck(CategoricalCrossEntropy(reduction), probabilities(rng),
                   targets if sparse else one_hot(targets))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("targets_kind", ["real", "sparse"])
def test_mean_squared_error_gradient(loss_gradcheck, reduction, targets_kind):
    rng = np.random.default_rng(3)
    targets = rng.standard_normal((N, K)) if targets_kind == "real" else labels(rng)
    loss_gradcheck(MeanSquaredError(reduction), rng.standard_normal((N, K)), targets)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("soft", [False, True], ids=["binary_targets", "soft_targets"])
def test_binary_cross_entropy_gradient(loss_gradcheck, reduction, soft):
    rng = np.random.default_rng(4)
    targets = rng.uniform(0, 1, (N, 3)) if soft else rng.integers(0, 2, (N, 3)).astype(np.float64)
    loss_gradcheck(BinaryCrossEntropy(reduction), rng.uniform(0.05, 0.95, (N, 3)), targets)


# ============================================================================ values


def log_softmax(z):
    z = np.asarray(z, np.float64)
    return z - z.max(-1, keepdims=True) - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_equals_a_direct_computation(reduction):
    rng = np.random.default_rng(5)
    logits, targets = 2 * rng.standard_normal((N, K)), labels(rng)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    per_sample = -np.log(probs[np.arange(N), targets])
    expected = per_sample.mean() if reduction == "mean" else per_sample.sum()
    loss = SoftmaxCrossEntropy(reduction)
    assert loss.forward(logits, targets) == pytest.approx(expected, rel=1e-12)
    assert loss.forward(logits, one_hot(targets)) == pytest.approx(expected, rel=1e-12)
    scale = 1 / N if reduction == "mean" else 1
    np.testing.assert_allclose(loss.backward(), (probs - one_hot(targets)) * scale, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "one_hot"])
def test_softmax_cross_entropy_is_finite_for_huge_logits(dtype, sparse):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [1e4, -1e4, -1e4]], dtype)
    targets = np.array([1, 0, 2, 0])
    loss = SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.forward(logits, targets if sparse else one_hot(targets, 3))
        grad = loss.backward()
    assert np.isfinite(value)
    assert grad.dtype == dtype and np.isfinite(grad).all()
    # Sample 0 is wrong by 2e4, sample 1 is wrong by 2e4 (plus log 2), 2 is uniform, 3 is right.
    expected = (2e4 + (2e4 + np.log(2)) + np.log(3) + 0.0) / 4
    assert value == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(grad * 4, np.exp(log_softmax(logits)) - one_hot(targets, 3), atol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_categorical_cross_entropy_equals_a_direct_computation(reduction):
    rng = np.random.default_rng(6)
    probs, targets = probabilities(rng), labels(rng)
    per_sample = -np.log(probs[np.arange(N), targets])
    expected = per_sample.mean() if reduction == "mean" else per_sample.sum()
    assert CategoricalCrossEntropy(reduction).forward(probs, targets) == pytest.approx(expected, rel=1e-12)


def test_categorical_cross_entropy_clips_zero_probabilities():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    loss = CategoricalCrossEntropy()
    value = loss.forward(probs, np.array([1, 1]))
    assert np.isfinite(value) and value == pytest.approx(-np.log(1e-7) / 2, rel=1e-3)
    assert np.isfinite(loss.backward()).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mean_squared_error_averages_over_outputs_as_keras(reduction):
    predictions = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    targets = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    per_sample = np.array([(0 + 4 + 9) / 3, (1 + 1 + 1) / 3])
    expected = per_sample.mean() if reduction == "mean" else per_sample.sum()
    assert MeanSquaredError(reduction).forward(predictions, targets) == pytest.approx(expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_equals_a_direct_computation(reduction):
    p = np.array([[0.9, 0.2], [0.4, 0.7]])
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    per_sample = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(axis=1)
    expected = per_sample.mean() if reduction == "mean" else per_sample.sum()
    assert BinaryCrossEntropy(reduction).forward(p, t) == pytest.approx(expected, rel=1e-12)


def test_binary_cross_entropy_is_finite_at_0_and_1():
    loss = BinaryCrossEntropy()
    value = loss.forward(np.array([[0.0, 1.0]], np.float32), np.array([[1.0, 0.0]], np.float32))
    assert np.isfinite(value) and np.isfinite(loss.backward()).all()


@pytest.mark.parametrize("cls", [SoftmaxCrossEntropy, CategoricalCrossEntropy, MeanSquaredError,
                                 BinaryCrossEntropy])
def test_losses_keep_float32(cls):
    rng = np.random.default_rng(7)
    predictions = probabilities(rng).astype(np.float32)
    targets = one_hot(labels(rng)).astype(np.float32)
    loss = cls()
    assert isinstance(loss.forward(predictions, targets), float)
    assert loss.backward().dtype == np.float32


def test_sum_is_batch_size_times_mean():
    rng = np.random.default_rng(8)
    logits, targets = rng.standard_normal((N, K)), labels(rng)
    for cls in (SoftmaxCrossEntropy, MeanSquaredError):
        mean, total = cls("mean"), cls("sum")
        assert total.forward(logits, targets) == pytest.approx(N * mean.forward(logits, targets))
        np.testing.assert_allclose(total.backward(), N * mean.backward())


# ============================================================================ lookup


def test_losses_by_name():
    assert type(losses.get("categorical_crossentropy")) is CategoricalCrossEntropy
    assert type(losses.get("sparse_categorical_crossentropy")) is CategoricalCrossEntropy
    assert type(losses.get("softmax_cross_entropy")) is SoftmaxCrossEntropy
    assert type(losses.get("mse")) is MeanSquaredError
    assert type(losses.get("mean_squared_error")) is MeanSquaredError
    assert type(losses.get("binary_crossentropy")) is BinaryCrossEntropy
    instance = MeanSquaredError("sum")
    assert losses.get(instance) is instance
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("hinge")


def test_reduction_must_be_mean_or_sum():
    with pytest.raises(ValueError, match="reduction"):
        SoftmaxCrossEntropy("none")
    assert repr(MeanSquaredError("sum")) == "MeanSquaredError(reduction='sum')"
