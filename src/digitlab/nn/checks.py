"""Checks of the arguments the engine is given (a layer's sizes, an optimizer's rates, a batch
size, data and labels): a ConfigError, which is a ValueError, at once and naming the argument,
rather than a ZeroDivisionError or nonsense losses once training runs."""

import numbers

import numpy as np

from digitlab.errors import ConfigError

# The ranges a real-valued argument may be asked to lie in, by the words the error message uses.
RANGES = {
    "in [0, 1)": lambda v: 0 <= v < 1,   # a rate, a momentum, a decay: 1 would never forget
    "in [0, 1]": lambda v: 0 <= v <= 1,
    "> 0 and finite": lambda v: 0 < v < np.inf,
    ">= 0 and finite": lambda v: 0 <= v < np.inf,
}


def whole_number(value, what, least=1):
    """``value`` as an int >= ``least`` (units, filters, a window's size, a stride, a batch size):
    a Python or NumPy integer; a float, even 3.0, or a bool is refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < least:
        raise ConfigError(f"{what} must be a whole number >= {least}, got {value!r}")
    return int(value)


def same_length(x, y):
    """How many samples x holds, when y (None for unlabelled data) holds as many."""
    if y is not None and len(y) != len(x):
        raise ConfigError(f"x has {len(x):,} samples but y has {len(y):,}: give one label (or one-hot row) "
                          "per sample")
    return len(x)


def number(value, what, bounds):
    """``value`` as a float if it is a real number in the range RANGES[bounds] (NaN never is);
    anything else, bool included, is refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not RANGES[bounds](value):
        raise ConfigError(f"{what} must be a number {bounds}, got {value!r}")
    return float(value)


def samples(x, y, what):
    """x and y as arrays holding as many samples each, at least one."""
    x = x if hasattr(x, "dtype") else np.asarray(x)
    y = y if hasattr(y, "dtype") else np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or same_length(x, y) == 0:
        raise ConfigError(f"{what} needs at least one sample and a label for each; x has shape {x.shape}, "
                          f"y {y.shape}")
    return x, y
