"""Dropout."""

import numpy as np

from digitlab.nn.backend import to_device
from digitlab.nn.checks import number
from digitlab.nn.layer import Layer

Array = np.ndarray


class Dropout(Layer):
    """Zeroes each input with probability ``rate`` while training, scaling the rest by 1/(1-rate)."""

    def __init__(self, rate: float, name: str | None = None) -> None:
        super().__init__(name)
        self.rate = number(rate, "Dropout rate", "in [0, 1)")

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        super().build(input_shape, rng)
        self.rng = np.random.default_rng(rng.integers(2**63))

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        mask = to_device(keep.astype(x.dtype) / np.array(1 - self.rate, x.dtype))
        self.mask = mask
        return x * mask

    def backward(self, dy: Array) -> Array:
        return dy if self.mask is None else dy * self.mask

    def config(self) -> dict:
        return {"rate": self.rate}
