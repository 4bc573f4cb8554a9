"""Checks of the arguments a layer or an optimizer is made with: a ValueError at once, naming the
argument, rather than a ZeroDivisionError or nonsense losses once training runs."""

import numbers

import numpy as np

# The ranges a real-valued argument may be asked to lie in, by the words the error message uses.
RANGES = {
    "in [0, 1)": lambda v: 0 <= v < 1,   # a rate, a momentum, a decay: 1 would never forget
    "in [0, 1]": lambda v: 0 <= v <= 1,
    "> 0 and finite": lambda v: 0 < v < np.inf,
    ">= 0 and finite": lambda v: 0 <= v < np.inf,
}


def whole_number(value, what):
    """``value`` as an int >= 1 (units, filters, a window's size, a stride): Python and NumPy
    integers are taken, floats only when whole (3.0); anything else, bool included, is refused."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer())
    if isinstance(value, (bool, np.bool_)) or not whole or value < 1:
        raise ValueError(f"{what} must be a whole number >= 1, got {value!r}")
    return int(value)


def number(value, what, bounds):
    """``value`` as a float if it is a real number in the range RANGES[bounds] (NaN never is);
    anything else, bool included, is refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not RANGES[bounds](value):
        raise ValueError(f"{what} must be a number {bounds}, got {value!r}")
    return float(value)
