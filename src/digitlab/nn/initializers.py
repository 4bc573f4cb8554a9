"""Weight initialisers: each takes a shape and a numpy Generator and returns a float32 array.

Fans follow Keras: a Dense kernel (fan_in, fan_out); a Conv2D kernel (out, in, kh, kw) has
fan_in = in*kh*kw and fan_out = out*kh*kw.
"""

import math

import numpy as np


def fans(shape) -> tuple[int, int]:
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    size = int(np.prod(shape))
    return size, size


def glorot_uniform(shape, rng):
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


# A normal truncated at two standard deviations has 0.8796 of the untruncated spread; the
# variance-scaling initialisers divide by it so that the weights end with the std they promise.
_TRUNCATED_STD = 0.87962566103423978


def glorot_normal(shape, rng):
    fan_in, fan_out = fans(shape)
    return truncated_normal(math.sqrt(2 / (fan_in + fan_out)) / _TRUNCATED_STD)(shape, rng)


def he_normal(shape, rng):
    fan_in, _ = fans(shape)
    return truncated_normal(math.sqrt(2 / fan_in) / _TRUNCATED_STD)(shape, rng)


def he_uniform(shape, rng):
    fan_in, _ = fans(shape)
    limit = math.sqrt(6 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def scaled_normal(shape, rng):
    """randn / sqrt(fan_in): the from-scratch tutorials' choice (LeCun normal, untruncated)."""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) / math.sqrt(fan_in)).astype(np.float32)


def zeros(shape, rng=None):
    return np.zeros(shape, np.float32)


def ones(shape, rng=None):
    return np.ones(shape, np.float32)


class Configured:
    """An initialiser made with arguments (``normal(0.05)``): the function, and the config that makes
    it again when a saved model is loaded."""

    def __init__(self, function, config: dict):
        self.function, self.config = function, config

    def __call__(self, shape, rng=None):
        return self.function(shape, rng)


def normal(std=0.01, mean=0.0):
    def init(shape, rng):
        return (mean + std * rng.standard_normal(shape)).astype(np.float32)

    return Configured(init, {"name": "normal", "std": std, "mean": mean})


def truncated_normal(std=0.05):
    """Normal(0, std) redrawn beyond two standard deviations, as TensorFlow and Keras do."""

    def init(shape, rng):
        values = rng.standard_normal(shape)
        outside = np.abs(values) > 2
        while outside.any():
            values[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(values) > 2
        return (std * values).astype(np.float32)

    return Configured(init, {"name": "truncated_normal", "std": std})


def uniform(limit):
    """Uniform in [-limit, limit] (PyTorch's Linear uses limit = 1/sqrt(fan_in) for both tensors)."""

    def init(shape, rng):
        return rng.uniform(-limit, limit, shape).astype(np.float32)

    return Configured(init, {"name": "uniform", "limit": limit})


def constant(value=0.0):
    def init(shape, rng=None):
        return np.full(shape, value, np.float32)

    return Configured(init, {"name": "constant", "value": value})


_BY_NAME = {
    f.__name__: f
    for f in (glorot_uniform, glorot_normal, he_normal, he_uniform, scaled_normal, zeros, ones)
}
_BY_NAME["xavier_uniform"] = glorot_uniform
_BY_NAME["xavier_normal"] = glorot_normal
_FACTORIES = {"normal": normal, "truncated_normal": truncated_normal, "uniform": uniform,
              "constant": constant}


def get(spec):
    """An initialiser from a name ("he_normal"), a config dict, or the function itself."""
    if callable(spec):
        return spec
    if isinstance(spec, str) and spec in _BY_NAME:
        return _BY_NAME[spec]
    if isinstance(spec, dict) and spec.get("name") in _FACTORIES:
        arguments = {k: v for k, v in spec.items() if k != "name"}
        return _FACTORIES[spec["name"]](**arguments)
    if isinstance(spec, dict) and spec.get("name") in _BY_NAME:
        return _BY_NAME[spec["name"]]
    known = sorted(_BY_NAME) + sorted(_FACTORIES)
    raise ValueError(f"unknown initialiser {spec!r}; known: {', '.join(known)}")


def config_of(initializer):
    """The JSON-able description of an initialiser, so a saved model can name it."""
    if isinstance(initializer, Configured):
        return initializer.config
    return getattr(initializer, "config", None) or {"name": initializer.__name__}
