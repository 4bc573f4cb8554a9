"""Dense: the fully connected layer."""

import numpy as np

from digitlab.nn import initializers, parallel
from digitlab.nn.checks import whole_number
from digitlab.nn.layer import Layer
from digitlab.nn.layers.activations import activation_layer


class Dense(Layer):
    """y = x @ kernel + bias, then the activation if one is given (as in Keras)."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", name=None):
        super().__init__(name)
        self.units = whole_number(units, "Dense units")
        self.activation = activation_layer(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def array_shapes(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat inputs, got shape {tuple(input_shape)}: add Flatten()")
        return {"kernel": (input_shape[0], self.units), **({"bias": (self.units,)} if self.use_bias else {})}

    def build(self, input_shape, rng):
        shapes = self.array_shapes(input_shape)
        super().build(input_shape, rng)
        self.add_param("kernel", self.kernel_initializer(shapes["kernel"], rng))
        if self.use_bias:
            self.add_param("bias", self.bias_initializer(shapes["bias"], rng))

    def output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, training=False):
        self.x = x
        y = parallel.matmul(x, self.params["kernel"])
        if self.use_bias:
            y += self.params["bias"]
        return self.activation.forward(y, training) if self.activation else y

    def backward(self, dy):
        if self.activation:
            dy = self.activation.backward(dy)
        parallel.matmul(self.x.T, dy, out=self.grads["kernel"])
        if self.use_bias:
            np.sum(dy, axis=0, out=self.grads["bias"])
        return parallel.matmul(dy, self.params["kernel"].T) if self.input_gradient else None

    def config(self):
        return {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.config_of(self.kernel_initializer),
            "bias_initializer": initializers.config_of(self.bias_initializer),
        }
