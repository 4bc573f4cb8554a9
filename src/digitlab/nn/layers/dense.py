"""Dense: the fully connected layer."""

from typing import Any

import numpy as np

from digitlab.nn import initializers, ops
from digitlab.nn.checks import whole_number
from digitlab.nn.layer import Layer
from digitlab.nn.layers.activations import activation_layer

Array = np.ndarray


class Dense(Layer):
    """y = x @ kernel + bias, then the activation if one is given (as in Keras)."""

    def __init__(self, units: int, activation: str | Layer | None = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 name: str | None = None) -> None:
        super().__init__(name)
        self.units = whole_number(units, "Dense units")
        self.activation = activation_layer(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def array_shapes(self, input_shape: tuple[int, ...]) -> dict:
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat inputs, got shape {tuple(input_shape)}: add Flatten()")
        return {"kernel": (input_shape[0], self.units), **({"bias": (self.units,)} if self.use_bias else {})}

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        shapes = self.array_shapes(input_shape)
        super().build(input_shape, rng)
        self.add_param("kernel", self.kernel_initializer(shapes["kernel"], rng))
        if self.use_bias:
            self.add_param("bias", self.bias_initializer(shapes["bias"], rng))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.units,)

    def forward(self, x: Array, training: bool = False) -> Array:
        self.x = x
        y = ops.matmul(x, self.params["kernel"])
        if self.use_bias:
            y += self.params["bias"]
        return self.activation.forward(y, training) if self.activation else y

    def backward(self, dy: Array) -> Array | None:
        if self.activation:
            dy = self.activation.backward(dy)
        ops.matmul(self.x.T, dy, out=self.grads["kernel"])
        if self.use_bias:
            np.sum(dy, axis=0, out=self.grads["bias"])
        return ops.matmul(dy, self.params["kernel"].T) if self.input_gradient else None

    def config(self) -> dict:
        return {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.config_of(self.kernel_initializer),
            "bias_initializer": initializers.config_of(self.bias_initializer),
        }
