"""The base of every layer: a small class with ``forward`` and ``backward``.

A layer owns ``params`` and ``grads``, two dicts with the same keys. ``forward(x, training)``
returns the output and keeps what ``backward`` needs; ``backward(dy)`` fills ``grads`` with dLoss/dParam
and returns dLoss/dx. Layers learn their input shape from the first input they see (or from
``build``), and never modify the gradient they are given. Images are NCHW.

``forward`` only writes what it keeps for ``backward``, never reads it back: inference may run one
layer on several batches at once, one per core (``Sequential.predict_proba``).
"""

import numpy as np

from digitlab.nn.backend import to_device


class Layer:
    # Sequential sets this to False on its first layer with parameters: nothing before it learns,
    # so the gradient with respect to its input (a whole matmul for Dense) is never computed.
    input_gradient = True
    activation: "Layer | None" = None  # applied after the layer's own output (Dense and Conv2D take one)

    def __init__(self, name=None):
        self.name = name
        self.params = {}
        self.grads = {}
        self.buffers = {}  # arrays that are saved with the model but not trained (running statistics)
        self.built = False
        self.input_shape = None

    def build(self, input_shape, rng):
        """Create the parameters for inputs of ``input_shape`` (without the batch axis)."""
        self.input_shape = tuple(input_shape)
        self.built = True

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def array_shapes(self, input_shape) -> dict:
        """The shape of every parameter and buffer ``build`` will make (a model file is checked
        against these before anything is allocated)."""
        return {}

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def config(self) -> dict:
        """The constructor arguments that rebuild this layer (saved with the model)."""
        return {}

    def __call__(self, x, training=False):
        if not self.built:
            self.build(x.shape[1:], np.random.default_rng())
        return self.forward(x, training)

    def astype(self, dtype):
        """Cast parameters and gradients (the gradient checks run in float64)."""
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)
            self.grads[key] = self.grads[key].astype(dtype)
        for key in self.buffers:
            self.buffers[key] = self.buffers[key].astype(dtype)
        if self.activation:
            self.activation.astype(dtype)
        return self

    def add_param(self, key, value):
        self.params[key] = to_device(value)
        self.grads[key] = np.zeros_like(self.params[key])

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({arguments})"
