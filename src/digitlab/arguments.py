"""Checks of the numbers a user passes in, each raising ConfigError that says what was wrong."""

import math
import numbers

from digitlab.errors import ConfigError


def check_positive(name, value):
    """``value`` must be None (unset) or a number above zero: not 0, not NaN, not infinite."""
    if value is not None and not (value > 0 and math.isfinite(value)):  # NaN fails every comparison
        raise ConfigError(f"{name} must be a positive number, got {value}")


def check_seed(seed):
    """A seed is a whole number from 0 up, as NumPy's generators take them."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ConfigError(f"seed must be a whole number from 0 up, got {seed!r}")
