"""NeuroSim's nonlinearity labels ("NL 2.4 / -4.88") and the normalised A they stand for.

Papers quote a device's nonlinearity as a label between -9 and 9; the curve model needs A, the
curvature of ``g(x) = (1 - exp(-x/A)) / (1 - exp(-1/A))`` on x in [0, 1] (A in pulses is A times the
number of levels). NeuroSim tabulates A for the labels 0.01 .. 9.00 (``nonlinearity_to_A.csv``, see
NONLINEARITY_SOURCE.md). A label is defined by the curve's bow: its largest height above the diagonal
y = x is ``label * 0.07 * sqrt(2)``. The sign of the label is the sign of A; label 0 is a straight line
(A infinite).
"""

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from digitlab.errors import ConfigError

TABLE_PATH = Path(__file__).with_name("nonlinearity_to_A.csv")
BOW_PER_LABEL = 0.07 * math.sqrt(2)  # height of the bow above the diagonal per unit of label


@lru_cache(maxsize=1)
def table():
    """The published table as two float64 arrays: labels 0.01..9.00 and their normalised A."""
    data = np.loadtxt(TABLE_PATH, delimiter=",", skiprows=1, dtype=np.float64)
    return data[:, 0], data[:, 1]


def bow(a):
    """The largest height of the normalised curve with curvature ``a`` (> 0) above the diagonal."""
    b = 1.0 / -math.expm1(-1.0 / a)          # the curve's asymptote, B = 1 / (1 - exp(-1/a))
    return b - a - a * math.log(b / a)       # at x* = a ln(B/a), where the slope is 1


def label_from_a(a, decimals=2):
    """The nonlinearity label of a normalised A, read off the table (the equation beyond it)."""
    a = float(a)
    if math.isnan(a) or a == 0:
        raise ConfigError(f"normalised A must be a non-zero number (or infinite for linear), got {a}")
    if math.isinf(a):
        return 0.0
    labels, values = table()
    size = abs(a)
    if values[-1] <= size <= values[0]:
        # The table falls with the label; interpolate the label in log A between neighbouring rows.
        label = float(np.interp(math.log(size), np.log(values[::-1]), labels[::-1]))
    else:
        label = bow(size) / BOW_PER_LABEL
    return math.copysign(round(label, decimals), a)


def a_from_label(label):
    """The normalised A of a nonlinearity label: the table's row for a label in hundredths, the
    defining equation (solved by bisection) for any other label. Label 0 gives math.inf (linear)."""
    label = float(label)
    if math.isnan(label) or math.isinf(label):
        raise ConfigError(f"a nonlinearity label must be a finite number, got {label}")
    if label == 0:
        return math.inf
    size = abs(label)
    hundredths = size * 100
    labels, values = table()
    if abs(hundredths - round(hundredths)) < 1e-9 and 1 <= round(hundredths) <= len(labels):
        a = float(values[round(hundredths) - 1])
    else:
        a = _solve_a(size)
    return math.copysign(a, label)


def neurosim_a(label):
    """A as NeuroSim's ``getParamA`` computes it, quirks included: the row index truncates
    ``|label| * 100`` (so 0.105 reads the row of 0.10), labels past 9 read row 9.00, and label 0
    reads row 0.01 with a negative sign."""
    labels, values = table()
    index = min(max(int(abs(label) * 100) - 1, 0), len(values) - 1)
    return float(values[index]) * (1.0 if label > 0 else -1.0)


def _solve_a(label):
    """The A > 0 whose bow is ``label * BOW_PER_LABEL`` (the bow falls as A grows)."""
    target = label * BOW_PER_LABEL
    if target >= 1:
        raise ConfigError(f"nonlinearity label {label} is out of reach: a curve's bow is below "
                          f"{1 / BOW_PER_LABEL:.2f} labels")
    low, high = 1e-4, 1e6                    # bow(1e-4) ~ 1, bow(1e6) ~ 1e-7
    for _ in range(200):
        middle = math.sqrt(low * high)
        if bow(middle) > target:
            low = middle
        else:
            high = middle
        if high / low < 1 + 1e-13:
            break
    return math.sqrt(low * high)
