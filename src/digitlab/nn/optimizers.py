"""Optimizers: ``step(layers)`` updates every parameter in place from its gradient.

Each keeps its state (momentum, running averages) per parameter, keyed by "layer/param", so it can
be saved and restored with the model. Defaults are Keras' (RMSprop and Adam epsilon 1e-7).
``weight_decay`` is decoupled, as in Keras and AdamW: each step also shrinks every kernel (not
biases or slopes) by lr * weight_decay * w.
"""

import numpy as np

from digitlab.nn import parallel
from digitlab.nn.backend import elementwise_kernel
from digitlab.nn.checks import number

# Parameters at least this large (1 MB of float32, a core's L2 cache here) are updated in parts, one
# per core (see parallel.py). A smaller one stays in the cache of the core that runs the layers:
# updating half of it on another core would move that half there, and the next forward pass would
# pay more to fetch it back than the split saved (a one-image step of the scratch-sgd recipe, with
# a 78,400-value kernel, took 345 microseconds instead of 184).
SPLIT_PARAMETER_SIZE = 1 << 18


class Optimizer:
    @property
    def slots(self) -> tuple[str, ...]:
        """The names of the state arrays kept for each parameter."""
        return ()

    def __init__(self, learning_rate, weight_decay=0.0):
        name = type(self).__name__
        # 0 is allowed: it freezes the weights, and a schedule may decay the rate down to it.
        self.learning_rate = number(learning_rate, f"{name} learning_rate", ">= 0 and finite")
        self.weight_decay = number(weight_decay, f"{name} weight_decay", ">= 0 and finite")
        self.iterations = 0
        self.state = {}      # what a resumed run needs: moments, velocities
        self._scratch = {}   # reusable work arrays, one per parameter shape

    def step(self, layers):
        self.iterations += 1
        for layer in layers:
            for key, param in layer.params.items():
                slot = f"{layer.name or id(layer)}/{key}"
                if self.weight_decay and param.ndim > 1:
                    param -= (self.learning_rate * self.weight_decay) * param
                self.update(param, layer.grads[key], slot)

    def update(self, param, grad, slot):
        """One parameter's step: ``rule`` applied to it, its gradient and its state arrays
        (a large parameter in parts, one per core: see SPLIT_PARAMETER_SIZE; on a GPU, ``gpu_rule``)."""
        if not isinstance(param, np.ndarray) and self._gpu_rule_applies():
            self._gpu_update(param, grad, slot)
            return
        arrays = [param, grad, self._work_array(param)] + [self._buffer(slot, name, param) for name in self.slots]
        # Parts are slices of the flattened arrays; flattening a non-contiguous one would copy it,
        # and the update would be lost in the copy.
        contiguous = all(array.flags.c_contiguous for array in arrays)
        if param.size < SPLIT_PARAMETER_SIZE or not contiguous:
            self.rule(*arrays)
            return
        flat = [array.reshape(-1) for array in arrays]
        pieces = parallel.parts(param.size, param.size * 10 * parallel.ELEMENT_NS, param)  # about ten passes
        parallel.run(lambda piece: self.rule(*(array[piece] for array in flat)), pieces)

    def rule(self, param, grad, work, *state):
        """Update ``param`` in place; ``work`` is scratch space, ``state`` the arrays named in slots.

        Element-wise only: the arrays may be any matching slices of the whole ones."""
        raise NotImplementedError

    # On a GPU every NumPy call is a kernel launch of its own, which costs more than the arithmetic
    # of a parameter: there ``rule`` is one CUDA kernel, ``gpu_rule``, the same update written in C
    # for one element. It reads ``grad`` and the scalars of ``gpu_scalars`` (computed here in double
    # precision, as ``rule`` has them) and updates ``param`` and the slots in place. An optimizer
    # without a ``gpu_rule`` of its own (a subclass that changes ``rule`` only, say) runs ``rule``.
    @property
    def gpu_rule(self) -> str | None:
        return None

    def gpu_scalars(self) -> dict[str, float]:
        return {}

    def _gpu_rule_applies(self):
        def defined_by(name):
            return next(cls for cls in type(self).__mro__ if name in vars(cls))
        return self.gpu_rule is not None and issubclass(defined_by("gpu_rule"), defined_by("rule"))

    def _gpu_update(self, param, grad, slot):
        scalars = self.gpu_scalars()
        inputs = ", ".join(["T grad"] + [f"T {name}" for name in scalars])
        outputs = ", ".join(["T param"] + [f"T {name}" for name in self.slots])
        kernel = elementwise_kernel(inputs, outputs, self.gpu_rule, f"digitlab_{type(self).__name__.lower()}")
        # Python floats, not NumPy's: a scalar then takes the arrays' type, T.
        kernel(grad, *map(float, scalars.values()), param, *[self._buffer(slot, name, param) for name in self.slots])

    def _buffer(self, slot, name, like):
        """A zero-initialised state array for one parameter, created on first use."""
        buffers = self.state.setdefault(slot, {})
        if name not in buffers:
            buffers[name] = np.zeros_like(like)
        return buffers[name]

    def _work_array(self, like):
        """A scratch array shaped like ``like``, reused across steps so updates allocate nothing."""
        key = (like.shape, like.dtype)
        if key not in self._scratch:
            self._scratch[key] = np.empty_like(like)
        return self._scratch[key]

    def config(self):
        return {"learning_rate": self.learning_rate, "weight_decay": self.weight_decay}

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({arguments})"


class SGD(Optimizer):
    """w -= lr * g; with momentum, v = momentum * v - lr * g and w += v (Nesterov: look ahead)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.momentum = number(momentum, "SGD momentum", "in [0, 1)")
        self.nesterov = nesterov

    @property
    def slots(self):
        return ("velocity",) if self.momentum else ()

    def gpu_scalars(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": float(self.nesterov)}

    @property
    def gpu_rule(self):
        if not self.momentum:
            return "param -= learning_rate * grad;"
        return """velocity = momentum * velocity - learning_rate * grad;
                  param += nesterov != 0 ? momentum * velocity - learning_rate * grad : velocity;"""

    def rule(self, param, grad, step, velocity=None):
        np.multiply(grad, self.learning_rate, out=step)
        if velocity is None:
            param -= step
            return
        velocity *= self.momentum
        velocity -= step
        if self.nesterov:  # w += momentum * v - lr * g
            param += np.subtract(self.momentum * velocity, step, out=step)
        else:
            param += velocity

    def config(self):
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """s = rho * s + (1 - rho) * g^2;  w -= lr * g / (sqrt(s) + epsilon)."""

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.rho = number(rho, "RMSprop rho", "in [0, 1)")
        self.epsilon = number(epsilon, "RMSprop epsilon", "> 0 and finite")

    slots = ("mean_square",)
    gpu_rule = """mean_square = rho * mean_square + one_minus_rho * grad * grad;
                  param -= learning_rate * grad / (sqrt(mean_square) + epsilon);"""

    def gpu_scalars(self):
        return {"learning_rate": self.learning_rate, "rho": self.rho, "one_minus_rho": 1 - self.rho,
                "epsilon": self.epsilon}

    def rule(self, param, grad, step, mean_square):
        np.multiply(grad, grad, out=step)
        step *= 1 - self.rho
        mean_square *= self.rho
        mean_square += step
        np.sqrt(mean_square, out=step)
        step += self.epsilon
        np.divide(grad, step, out=step)
        step *= self.learning_rate
        param -= step

    def config(self):
        return {**super().config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    """Running averages m of g and v of g^2; w -= lr_t * m / (sqrt(v) + epsilon), where
    lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) corrects both averages' start at zero."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.beta_1 = number(beta_1, "Adam beta_1", "in [0, 1)")
        self.beta_2 = number(beta_2, "Adam beta_2", "in [0, 1)")
        self.epsilon = number(epsilon, "Adam epsilon", "> 0 and finite")

    slots = ("mean", "mean_square")
    gpu_rule = """mean = beta_1 * mean + one_minus_beta_1 * grad;
                  mean_square = beta_2 * mean_square + one_minus_beta_2 * grad * grad;
                  param -= step_size * mean / (sqrt(mean_square) + epsilon);"""

    def gpu_scalars(self):
        return {"step_size": self.step_size, "beta_1": self.beta_1, "one_minus_beta_1": 1 - self.beta_1,
                "beta_2": self.beta_2, "one_minus_beta_2": 1 - self.beta_2, "epsilon": self.epsilon}

    @property
    def step_size(self):
        """The learning rate corrected for both averages' start at zero, at this step."""
        t = self.iterations
        return self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)

    def rule(self, param, grad, step, mean, mean_square):
        np.multiply(grad, 1 - self.beta_1, out=step)
        mean *= self.beta_1
        mean += step
        np.multiply(grad, grad, out=step)
        step *= 1 - self.beta_2
        mean_square *= self.beta_2
        mean_square += step
        np.sqrt(mean_square, out=step)
        step += self.epsilon
        np.divide(mean, step, out=step)
        step *= float(self.step_size)
        param -= step

    def config(self):
        return {**super().config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(spec) -> Optimizer:
    """An optimizer from a name ("rmsprop", with Keras' defaults) or an Optimizer instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in OPTIMIZERS:
        return OPTIMIZERS[spec.lower()]()
    raise ValueError(f"unknown optimizer {spec!r}; known: {', '.join(OPTIMIZERS)}")
