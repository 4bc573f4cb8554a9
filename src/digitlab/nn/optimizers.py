"""Optimizers: ``step(layers)`` updates every parameter in place from its gradient.

Each keeps its state (momentum, running averages) per parameter, keyed by "layer/param", so it can
be saved and restored with the model. Defaults are Keras' (RMSprop and Adam epsilon 1e-7).
``weight_decay`` is decoupled, as in Keras and AdamW: each step also shrinks every kernel (not
biases or slopes) by lr * weight_decay * w.

Each ``rule`` is the update as its paper writes it, in plain NumPy. It runs through ``ops.update``,
whose fast version (nn/accel/updates.py) runs the same rule without allocating, split over the
cores, or as one CUDA kernel on a GPU; inside ``ops.reference()`` the rule below runs as written.
A subclass that changes ``rule`` runs its own rule, never its parent's fast version.
"""

from typing import Any

import numpy as np

from digitlab.nn import ops
from digitlab.nn.checks import number

Array = np.ndarray


class Optimizer:
    @property
    def slots(self) -> tuple[str, ...]:
        """The names of the state arrays kept for each parameter."""
        return ()

    def __init__(self, learning_rate: float, weight_decay: float = 0.0) -> None:
        name = type(self).__name__
        # 0 is allowed: it freezes the weights, and a schedule may decay the rate down to it.
        self.learning_rate = number(learning_rate, f"{name} learning_rate", ">= 0 and finite")
        self.weight_decay = number(weight_decay, f"{name} weight_decay", ">= 0 and finite")
        self.iterations = 0
        self.state: dict[str, dict[str, Array]] = {}  # what a resumed run needs: moments, velocities

    def step(self, layers: list) -> None:
        self.iterations += 1
        for layer in layers:
            for key, param in layer.params.items():
                slot = f"{layer.name or id(layer)}/{key}"
                if self.weight_decay and param.ndim > 1:
                    param -= (self.learning_rate * self.weight_decay) * param
                self.update(param, layer.grads[key], slot)

    def update(self, param: Array, grad: Array, slot: str) -> None:
        """One parameter's step: ``rule`` applied to it, its gradient and its state arrays."""
        ops.update(self, param, grad, [self._buffer(slot, name, param) for name in self.slots])

    def rule(self, *arrays: Any, **options: Any) -> None:
        """``rule(param, grad, *state)``: update ``param`` and ``state`` (the arrays named in slots)
        in place. (Any arguments here, so that each optimizer names its own state.)"""
        raise NotImplementedError

    def _buffer(self, slot: str, name: str, like: Array) -> Array:
        """A zero-initialised state array for one parameter, created on first use."""
        buffers = self.state.setdefault(slot, {})
        if name not in buffers:
            buffers[name] = np.zeros_like(like)
        return buffers[name]

    def config(self) -> dict:
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({arguments})"


class SGD(Optimizer):
    """w -= lr * g; with momentum, v = momentum * v - lr * g and w += v (Nesterov: look ahead)."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        self.momentum = number(momentum, "SGD momentum", "in [0, 1)")
        self.nesterov = nesterov

    @property
    def slots(self) -> tuple[str, ...]:
        return ("velocity",) if self.momentum else ()

    def rule(self, param: Array, grad: Array, velocity: Array | None = None) -> None:
        if velocity is None:
            param -= self.learning_rate * grad
            return
        velocity[...] = self.momentum * velocity - self.learning_rate * grad
        if self.nesterov:
            param += self.momentum * velocity - self.learning_rate * grad
        else:
            param += velocity

    def config(self) -> dict:
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """s = rho * s + (1 - rho) * g^2;  w -= lr * g / (sqrt(s) + epsilon)."""

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float = 1e-7,
                 weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        self.rho = number(rho, "RMSprop rho", "in [0, 1)")
        self.epsilon = number(epsilon, "RMSprop epsilon", "> 0 and finite")

    slots = ("mean_square",)

    def rule(self, param: Array, grad: Array, mean_square: Array) -> None:
        mean_square[...] = self.rho * mean_square + (1 - self.rho) * grad * grad
        param -= self.learning_rate * grad / (np.sqrt(mean_square) + self.epsilon)

    def config(self) -> dict:
        return {**super().config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Running averages m of g and v of g^2; w -= lr_t * m / (sqrt(v) + epsilon), where
    lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) corrects both averages' start at zero."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = number(beta_1, "Adam beta_1", "in [0, 1)")
        self.beta_2 = number(beta_2, "Adam beta_2", "in [0, 1)")
        self.epsilon = number(epsilon, "Adam epsilon", "> 0 and finite")

    slots = ("mean", "mean_square")

    @property
    def step_size(self) -> float:
        """lr_t: the learning rate corrected for both averages' start at zero, at this step."""
        t = self.iterations
        return float(self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t))

    def rule(self, param: Array, grad: Array, mean: Array, mean_square: Array) -> None:
        mean[...] = self.beta_1 * mean + (1 - self.beta_1) * grad
        mean_square[...] = self.beta_2 * mean_square + (1 - self.beta_2) * grad * grad
        param -= self.step_size * mean / (np.sqrt(mean_square) + self.epsilon)

    def config(self) -> dict:
        return {**super().config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(spec: "str | Optimizer") -> Optimizer:
    """An optimizer from a name ("rmsprop", with Keras' defaults) or an Optimizer instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in OPTIMIZERS:
        return OPTIMIZERS[spec.lower()]()
    raise ValueError(f"unknown optimizer {spec!r}; known: {', '.join(OPTIMIZERS)}")
