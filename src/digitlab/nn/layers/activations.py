"""Activations as layers: ReLU, Sigmoid, Tanh, Softmax and PReLU (whose slope is learned)."""

import numpy as np

from digitlab.nn import ops
from digitlab.nn.layer import Layer

Array = np.ndarray


class ReLU(Layer):
    def forward(self, x: Array, training: bool = False) -> Array:
        y = ops.relu(x)
        self.y = y  # kept for backward: y > 0 exactly where x > 0
        return y

    def backward(self, dy: Array) -> Array:
        return ops.relu_backward(dy, self.y)


class Sigmoid(Layer):
    def forward(self, x: Array, training: bool = False) -> Array:
        # 1/(1+exp(-x)) written with tanh, which never overflows.
        y = 0.5 * np.tanh(0.5 * x) + 0.5
        self.y = y
        return y

    def backward(self, dy: Array) -> Array:
        return dy * self.y * (1 - self.y)


class Tanh(Layer):
    def forward(self, x: Array, training: bool = False) -> Array:
        y = np.tanh(x)
        self.y = y
        return y

    def backward(self, dy: Array) -> Array:
        return dy * (1 - self.y * self.y)


class Softmax(Layer):
    """Probabilities over the last axis. Followed by cross-entropy, Sequential fuses the two."""

    def forward(self, x: Array, training: bool = False) -> Array:
        exps = np.exp(x - x.max(axis=-1, keepdims=True))
        y = exps / exps.sum(axis=-1, keepdims=True)
        self.y = y
        return y

    def backward(self, dy: Array) -> Array:
        return self.y * (dy - (dy * self.y).sum(axis=-1, keepdims=True))


class PReLU(Layer):
    """ReLU with a learned slope ``alpha`` for negative inputs (one shared, or one per channel)."""

    def __init__(self, alpha_init: float = 0.25, per_channel: bool = False, name: str | None = None) -> None:
        super().__init__(name)
        self.alpha_init = alpha_init
        self.per_channel = per_channel

    def array_shapes(self, input_shape: tuple[int, ...]) -> dict:
        # Per channel: axis 0 of the input (features of a vector, channels of an image).
        return {"alpha": (input_shape[0],) + (1,) * (len(input_shape) - 1) if self.per_channel else (1,)}

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        super().build(input_shape, rng)
        self.add_param("alpha", np.full(self.array_shapes(input_shape)["alpha"], self.alpha_init, np.float32))

    def forward(self, x: Array, training: bool = False) -> Array:
        self.x = x
        return np.where(x > 0, x, self.params["alpha"] * x)

    def backward(self, dy: Array) -> Array:
        negative = self.x <= 0
        slope_grad = np.where(negative, dy * self.x, 0)
        # Sum over every axis that shares one slope: all of them, or all but the channel axis (1).
        summed_axes = (0, *range(2, dy.ndim)) if self.per_channel else tuple(range(dy.ndim))
        summed = slope_grad.sum(axis=summed_axes)
        self.grads["alpha"][...] = summed.reshape(self.params["alpha"].shape)
        return np.where(negative, self.params["alpha"] * dy, dy)

    def config(self) -> dict:
        return {"alpha_init": self.alpha_init, "per_channel": self.per_channel}


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax, "prelu": PReLU}


def activation_layer(spec: str | Layer | None) -> Layer | None:
    """An activation layer from a name ("relu"), or None for no activation ("linear", None).

    Only parameter-free activations: a PReLU's slope must be a layer of its own to be trained.
    """
    if spec is None or spec == "linear":
        return None
    if spec == "prelu" or isinstance(spec, PReLU):
        raise ValueError("PReLU has a learned slope: add PReLU() as a layer of its own, not as activation=")
    if isinstance(spec, Layer):
        return spec
    if spec not in ACTIVATIONS:
        raise ValueError(f"unknown activation {spec!r}; known: {', '.join(ACTIVATIONS)}, linear")
    return ACTIVATIONS[spec]()
