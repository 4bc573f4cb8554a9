"""Fitting the device model to a measured pulse response: A for LTP and LTD, levels, Gmin, Gmax, and
an estimate of the cycle-to-cycle noise.

Each sweep is fitted on its own, as NeuroSim's ``nonlinear_fit.m`` does: pulses are normalised by the
sweep's length (its levels), and ``G = Gmin + (Gmax - Gmin) g(x; A)`` is fitted by least squares. For
a given A the model is linear in Gmin and Gmax, so they are solved exactly and only the curvature
u = 1/A is searched (a grid, then golden-section refinement). The device gets one range for both
directions, as NeuroSim's simulator uses: the larger fitted Gmin and the smaller fitted Gmax.

The write noise is estimated from pulse-to-pulse scatter: each measured step is compared with the
step the fitted curve predicts from the measured point before it.
"""

import math
from dataclasses import dataclass

import numpy as np

from digitlab.analog.device import Device, curve
from digitlab.analog.measured import Measurement, Sweep
from digitlab.analog.nonlinearity import label_from_a
from digitlab.errors import DataError

LINEAR_U = 1e-6
U_LIMIT = 60.0           # |1/A| searched: A down to 1/60 (NeuroSim's table reaches 0.023)
_GRID = np.linspace(-U_LIMIT, U_LIMIT, 1201)
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass
class SweepFit:
    a: float              # normalised A, NeuroSim's sign (inf: a straight line)
    g_min: float          # siemens
    g_max: float
    levels: int           # pulses the sweep spans
    rms_error: float      # of the fit, as a fraction of Gmax - Gmin
    c2c: float            # write noise estimate, fraction of Gmax - Gmin per pulse

    @property
    def label(self) -> float:
        return label_from_a(self.a)


@dataclass
class DeviceFit:
    ltp: SweepFit
    ltd: SweepFit
    device: Device

    def summary(self) -> dict:
        """JSON-able facts of the fit (saved in the device file)."""
        facts = {}
        for name, fit in (("ltp", self.ltp), ("ltd", self.ltd)):
            facts[name] = {"a": None if math.isinf(fit.a) else fit.a, "label": fit.label,
                           "g_min": fit.g_min, "g_max": fit.g_max, "levels": fit.levels,
                           "rms_error": fit.rms_error, "c2c": fit.c2c}
        return facts


def fit_sweep(sweep: Sweep, depression=False) -> SweepFit:
    """Fit one sweep (LTP rising from Gmin, or LTD falling from Gmax)."""
    levels = int(round(sweep.pulses[-1]))
    if levels < 1:
        raise DataError("a sweep must span at least one pulse")
    x = sweep.pulses / sweep.pulses[-1]
    if depression:
        x = 1 - x                                      # position on the curve: Gmax at 1, Gmin at 0
    g = np.asarray(sweep.conductance, np.float64)
    scale = g.max() - g.min()
    if scale <= 0:
        raise DataError("the conductance never changes in a sweep: nothing to fit")
    y = (g - g.min()) / scale

    errors = np.array([_least_squares(x, y, u)[2] for u in _GRID])
    best = int(np.argmin(errors))
    low, high = _GRID[max(best - 1, 0)], _GRID[min(best + 1, len(_GRID) - 1)]
    u = _golden(lambda v: _least_squares(x, y, v)[2], low, high)
    offset, size, error = _least_squares(x, y, u)
    if size <= 0:
        raise DataError("the fitted curve runs the wrong way: check the sweep's direction")
    a = 1.0 / u if abs(u) > LINEAR_U else math.inf  # A past a million: a straight line
    if math.isinf(a) and depression:
        a = -math.inf
    g_min, g_max = g.min() + scale * offset, g.min() + scale * (offset + size)
    fitted = SweepFit(a=float(a), g_min=float(g_min), g_max=float(g_max), levels=levels,
                      rms_error=math.sqrt(error / len(y)) / size, c2c=0.0)
    fitted.c2c = _step_noise(x, (y - offset) / size, a, levels)
    return fitted


def fit_device(measurement: Measurement, name="fitted") -> DeviceFit:
    """Fit both sweeps and make the device (one range for both directions, as NeuroSim does)."""
    ltp = fit_sweep(measurement.ltp)
    ltd = fit_sweep(measurement.ltd, depression=True)
    g_min, g_max = max(ltp.g_min, ltd.g_min, 0.0), min(ltp.g_max, ltd.g_max)
    if g_max <= g_min:
        raise DataError(f"the LTP sweep ({ltp.g_min:g}..{ltp.g_max:g} S) and the LTD sweep "
                        f"({ltd.g_min:g}..{ltd.g_max:g} S) share no conductance range")
    device = Device(name=name, levels=ltp.levels, levels_ltd=None if ltd.levels == ltp.levels else ltd.levels,
                    a_ltp=ltp.a, a_ltd=ltd.a, g_min=g_min, g_max=g_max,
                    c2c=round(max(ltp.c2c, ltd.c2c), 6), source=f"fitted to {measurement.source}")
    return DeviceFit(ltp=ltp, ltd=ltd, device=device)


def _least_squares(x, y, u):
    """Best offset and size for y ~ offset + size * g(x; 1/u), and the squared error."""
    shape = x if abs(u) < 1e-9 else np.expm1(-u * x) / math.expm1(-u)
    design = np.stack([np.ones_like(shape), shape], axis=1)
    (offset, size), *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - offset - size * shape
    return float(offset), float(size), float(residual @ residual)


def _golden(function, low, high, tolerance=1e-7):
    """The minimum of a unimodal function on [low, high]."""
    a, b = low, high
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = function(c), function(d)
    while b - a > tolerance:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = function(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = function(d)
    return (a + b) / 2


def _step_noise(x, y, a, levels):
    """Std per sqrt(pulse) of the measured steps about the fitted curve's steps from the same points."""
    if len(y) < 3:
        return 0.0
    moves = np.diff(x)                                   # signed: depression walks x down
    predicted = curve(np.clip(_inverse(np.clip(y[:-1], 0, 1), a) + moves, 0, 1), a)
    pulses = np.maximum(np.abs(moves) * levels, 1e-12)
    return float(np.std((y[1:] - predicted) / np.sqrt(pulses)))


def _inverse(y, a):
    """x such that curve(x, a) = y."""
    if math.isinf(a):
        return y
    return -a * np.log1p(y * math.expm1(-1.0 / a))
