"""Losses: ``forward(predictions, targets)`` returns the loss, ``backward()`` returns dLoss/dpredictions.

Targets for the classification losses are either class indices (shape (N,)) or one-hot /
probability rows (shape (N, classes)). ``reduction`` is "mean" over the batch (Keras' and PyTorch's
default) or "sum" (what some tutorials minimise).
"""

import numpy as np

_EPSILON = 1e-7  # Keras' clip for probabilities inside a logarithm


class Loss:
    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def _scale(self, batch_size):
        return 1.0 / batch_size if self.reduction == "mean" else 1.0

    def config(self):
        return {"reduction": self.reduction}

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


def _one_hot_like(targets, predictions):
    """Targets as rows of the predictions' shape: class indices become one-hot rows."""
    if targets.ndim == predictions.ndim:
        return targets.astype(predictions.dtype, copy=False)
    classes = np.arange(predictions.shape[-1], like=predictions)  # on the predictions' device
    return (targets[:, None] == classes).astype(predictions.dtype)


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of softmax(logits): computed through log-softmax, finite for any logits."""

    def forward(self, logits, targets):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.targets = _one_hot_like(targets, logits)
        self.scale = self._scale(len(logits))
        return float(-(self.targets * log_probs).sum() * self.scale)

    def backward(self):
        return (self.probs - self.targets) * self.probs.dtype.type(self.scale)


class CategoricalCrossEntropy(Loss):
    """Cross-entropy of probabilities (the output of a Softmax layer), clipped away from 0.

    A model whose last layer is Softmax computes this fused with the softmax, from logits.
    """

    def forward(self, probs, targets):
        self.probs = np.clip(probs, _EPSILON, 1 - _EPSILON)
        self.clipped = self.probs != probs
        self.targets = _one_hot_like(targets, probs)
        self.scale = self._scale(len(probs))
        return float(-(self.targets * np.log(self.probs)).sum() * self.scale)

    def backward(self):
        # Where the clip holds, the loss no longer depends on the probability: no gradient.
        grad = -self.targets / self.probs * self.probs.dtype.type(self.scale)
        return np.where(self.clipped, 0, grad).astype(grad.dtype, copy=False)


class MeanSquaredError(Loss):
    """Squared error averaged over the outputs, then over (or summed across) the batch, as Keras."""

    def forward(self, predictions, targets):
        self.diff = predictions - _one_hot_like(targets, predictions)
        outputs = self.diff[0].size
        self.scale = self._scale(len(predictions)) / outputs
        return float((self.diff * self.diff).sum() * self.scale)

    def backward(self):
        return 2 * self.diff * self.diff.dtype.type(self.scale)


class BinaryCrossEntropy(Loss):
    """Cross-entropy of independent probabilities in (0, 1), averaged over outputs, as Keras."""

    def forward(self, probs, targets):
        self.probs = np.clip(probs, _EPSILON, 1 - _EPSILON)
        self.targets = _one_hot_like(targets, probs)
        self.scale = self._scale(len(probs)) / self.probs[0].size
        t, p = self.targets, self.probs
        return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).sum() * self.scale)

    def backward(self):
        t, p = self.targets, self.probs
        return (p - t) / (p * (1 - p)) * p.dtype.type(self.scale)


LOSSES = {
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "categorical_crossentropy": CategoricalCrossEntropy,
    "sparse_categorical_crossentropy": CategoricalCrossEntropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "binary_crossentropy": BinaryCrossEntropy,
}


def get(spec) -> Loss:
    """A loss from a name ("categorical_crossentropy") or a Loss instance."""
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, str) or spec not in LOSSES:
        raise ValueError(f"unknown loss {spec!r}; known: {', '.join(LOSSES)}")
    return LOSSES[spec]()
