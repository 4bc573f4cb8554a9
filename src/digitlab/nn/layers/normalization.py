"""Batch normalisation."""

import numpy as np

from digitlab.nn.backend import to_device
from digitlab.nn.checks import number
from digitlab.nn.layer import Layer

Array = np.ndarray


class BatchNormalization(Layer):
    """Normalise each feature (each channel of an image) over the batch, then scale and shift.

    Training uses the batch's mean and variance and keeps running averages of them, which
    inference uses instead. With x_hat = (x - mean) / std over m values per feature,
    dx = gamma / std * (dy - mean(dy) - x_hat * mean(dy * x_hat)).
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name: str | None = None) -> None:
        super().__init__(name)
        # moving = momentum * moving + (1 - momentum) * batch: 1 keeps the statistics, 0 forgets them.
        self.momentum = number(momentum, "BatchNormalization momentum", "in [0, 1]")
        self.epsilon = number(epsilon, "BatchNormalization epsilon", "> 0 and finite")

    def array_shapes(self, input_shape: tuple[int, ...]) -> dict:
        channels = (input_shape[0],)
        return {"gamma": channels, "beta": channels, "moving_mean": channels, "moving_variance": channels}

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        super().build(input_shape, rng)
        channels = input_shape[0]
        self.add_param("gamma", np.ones(channels, np.float32))
        self.add_param("beta", np.zeros(channels, np.float32))
        self.buffers["moving_mean"] = to_device(np.zeros(channels, np.float32))
        self.buffers["moving_variance"] = to_device(np.ones(channels, np.float32))

    def _per_feature(self, x: Array) -> tuple[int, ...]:
        """Reshape a (channels,) vector to broadcast against x: (C,) for vectors, (C, 1, 1) for images."""
        return (-1,) + (1,) * (x.ndim - 2)

    def forward(self, x: Array, training: bool = False) -> Array:
        axes = (0, *range(2, x.ndim))  # every axis but the feature/channel axis
        shape = self._per_feature(x)
        if training:
            mean, variance = x.mean(axis=axes), x.var(axis=axes)
            for key, batch_value in (("moving_mean", mean), ("moving_variance", variance)):
                moving = self.buffers[key]
                moving *= self.momentum
                moving += (1 - self.momentum) * batch_value.astype(moving.dtype)
        else:
            mean, variance = self.buffers["moving_mean"], self.buffers["moving_variance"]
        inverse_std = (1 / np.sqrt(variance + self.epsilon)).astype(x.dtype).reshape(shape)
        x_hat = (x - mean.astype(x.dtype).reshape(shape)) * inverse_std
        self.inverse_std, self.x_hat, self.axes = inverse_std, x_hat, axes
        return x_hat * self.params["gamma"].reshape(shape) + self.params["beta"].reshape(shape)

    def backward(self, dy: Array) -> Array:
        shape, axes = self._per_feature(dy), self.axes
        self.grads["gamma"][...] = (dy * self.x_hat).sum(axis=axes)
        self.grads["beta"][...] = dy.sum(axis=axes)
        count = dy.size // dy.shape[1]
        mean_dy = (self.grads["beta"] / count).reshape(shape)
        mean_dy_x_hat = (self.grads["gamma"] / count).reshape(shape)
        scale = self.params["gamma"].reshape(shape) * self.inverse_std
        return scale * (dy - mean_dy - self.x_hat * mean_dy_x_hat)

    def config(self) -> dict:
        return {"momentum": self.momentum, "epsilon": self.epsilon}
