"""A memristive synapse device: its conductance against pulse number, up (LTP) and down (LTD).

The saturating-exponential model of NeuroSim (and seed 001). On a device with P levels, p
potentiation pulses from Gmin give

    G(p) = B (1 - exp(-p / (A P))) + Gmin,     B = (Gmax - Gmin) / (1 - exp(-1/A))

so p = P reaches Gmax; A is the normalised curvature (A -> infinity is a straight line). Depression
uses the same form with its own A and its own number of levels, read from Gmax downwards. Signs follow
NeuroSim: A > 0 on LTP bends the curve down (big steps near Gmin, saturating near Gmax); A < 0 on LTD
saturates towards Gmin (big steps near Gmax); A > 0 on LTD makes depression start slowly and speed up,
the LTP curve walked back down (GST PCM, HZO FeFET, seed 001's device).

Applying n pulses from any conductance is a jump towards the curve's asymptote (the closed form of
"find p on the curve, step it, read G back"):

    LTP: G' = G + (Gasym - G) (1 - exp(-n / (A P)))        Gasym = Gmin + B

then clipped to [Gmin, Gmax]. ``Device`` holds the parameters; ``Synapses`` (synapses.py) applies them
to a layer of weights.
"""

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from digitlab.analog.nonlinearity import label_from_a
from digitlab.errors import ConfigError

LINEAR_A = 1e9  # an infinite A inside the arithmetic: exact to about 1e-9 of the range
# The most levels a device may have. Published devices have a few hundred, the finest a few
# thousand; the simulator keeps tables a level long, so a mistyped 10**12 would ask for terabytes.
MAX_LEVELS = 100_000


@dataclass(frozen=True)
class Device:
    name: str = "device"
    levels: int = 100              # pulses from Gmin to Gmax (NeuroSim's maxNumLevel, its table's "# states")
    levels_ltd: int | None = None  # pulses from Gmax back to Gmin, when not the same as `levels`
    a_ltp: float = math.inf        # normalised A of potentiation (> 0 saturating; inf linear)
    a_ltd: float = -math.inf       # normalised A of depression, NeuroSim's sign (< 0 saturating)
    g_min: float = 1e-7            # siemens
    g_max: float = 1e-6            # siemens
    c2c: float = 0.0               # cycle-to-cycle write noise: std of a write, x (Gmax - Gmin) x sqrt(pulses)
    d2d: float = 0.0               # device-to-device spread: relative std of each device's A, Gmin, Gmax
    pair: bool = False             # a weight on two devices, G+ - G-, both only ever potentiated
    r_access: float = 0.0          # ohms in series with the device when read (NeuroSim's 1T1R: 15 kOhm)
    ideal: bool = False            # no device at all: float weights, the reference for the others
    source: str = ""               # where the numbers come from

    def __post_init__(self):
        problems = [] if isinstance(self.name, str) else [f"name must be text, got {self.name!r}"]
        for name in ("pair", "ideal"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("levels", "levels_ltd"):
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and float(value).is_integer()
                                          and 1 <= value <= MAX_LEVELS):
                problems.append(f"{name} must be a whole number of pulses from 1 to {MAX_LEVELS:,}, got {value!r}")
        for name in ("a_ltp", "a_ltd"):
            value = getattr(self, name)
            if not _is_number(value) or math.isnan(value) or value == 0:
                problems.append(f"{name} must be a non-zero number (infinite for linear), got {value!r}")
        for name in ("g_min", "g_max", "c2c", "d2d", "r_access"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                problems.append(f"{name} must be a finite number >= 0, got {value!r}")
        if not problems and not self.g_max > self.g_min:
            problems.append(f"g_max ({self.g_max:g} S) must be above g_min ({self.g_min:g} S)")
        if problems:
            raise ConfigError(f"device {self.name!r}: " + "; ".join(problems))
        object.__setattr__(self, "levels", int(self.levels))
        if self.levels_ltd is not None:
            object.__setattr__(self, "levels_ltd", int(self.levels_ltd))

    # ------------------------------------------------------------------ facts

    @property
    def ltd_levels(self) -> int:
        return self.levels if self.levels_ltd is None else self.levels_ltd

    @property
    def on_off(self) -> float:
        return self.g_max / self.g_min if self.g_min > 0 else math.inf

    @property
    def labels(self) -> tuple[float, float]:
        """The published-style nonlinearity labels (LTP, LTD), e.g. (2.4, -4.88) for Ag:a-Si."""
        return label_from_a(self.a_ltp), label_from_a(self.a_ltd)

    @property
    def linear(self) -> bool:
        return math.isinf(self.a_ltp) and math.isinf(self.a_ltd)

    def describe(self) -> str:
        """One line: levels, nonlinearity, range and noise."""
        if self.ideal:
            return f"{self.name}: float weights (no device)"
        levels = f"{self.levels}" if self.levels_ltd is None else f"{self.levels}/{self.levels_ltd}"
        ltp, ltd = self.labels
        text = (f"{self.name}: {levels} levels, NL {ltp:g}/{ltd:g} (A {_a_text(self.a_ltp)}/"
                f"{_a_text(self.a_ltd)}), G {self.g_min:.3g}..{self.g_max:.3g} S, c2c {self.c2c:.1%}")
        if self.d2d:
            text += f", d2d {self.d2d:.1%}"
        return text + (", differential pair" if self.pair else "")

    def with_changes(self, **changes) -> "Device":
        return replace(self, **changes)

    # ------------------------------------------------------------------ the curves

    def ltp_curve(self, pulses) -> np.ndarray:
        """Conductance (S) after ``pulses`` potentiation pulses from Gmin (0..levels)."""
        x = np.clip(np.asarray(pulses, np.float64), 0, self.levels) / self.levels
        return self.g_min + (self.g_max - self.g_min) * curve(x, self.a_ltp)

    def ltd_curve(self, pulses) -> np.ndarray:
        """Conductance (S) after ``pulses`` depression pulses from Gmax (0..ltd_levels)."""
        x = 1 - np.clip(np.asarray(pulses, np.float64), 0, self.ltd_levels) / self.ltd_levels
        return self.g_min + (self.g_max - self.g_min) * curve(x, self.a_ltd)

    # ------------------------------------------------------------------ as plain data

    def to_dict(self) -> dict:
        """JSON-able parameters (an infinite A is written as null)."""
        facts = asdict(self)
        for name in ("a_ltp", "a_ltd"):
            if math.isinf(facts[name]):
                facts[name] = None
        return facts

    @classmethod
    def from_dict(cls, facts: dict) -> "Device":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(facts) - known)
        if unknown:
            raise ConfigError(f"unknown device parameters {unknown}; known: {', '.join(sorted(known))}")
        facts = dict(facts)
        for name, linear in (("a_ltp", math.inf), ("a_ltd", -math.inf)):
            if name in facts and facts[name] is None:
                facts[name] = linear
        return cls(**facts)


def curve(x, a):
    """The normalised curve (1 - exp(-x/a)) / (1 - exp(-1/a)) on x in [0, 1]; x itself for a = inf."""
    a = effective_a(a)
    return np.expm1(-np.asarray(x) / a) / math.expm1(-1.0 / a)


def effective_a(a):
    """A as used in arithmetic: an infinite A becomes LINEAR_A of the same sign."""
    return math.copysign(LINEAR_A, a) if math.isinf(a) else float(a)


def asymptote(a):
    """Where the curve of normalised A heads, in units of the range above Gmin: 1 / (1 - exp(-1/a))."""
    return 1.0 / -math.expm1(-1.0 / effective_a(a))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _a_text(a):
    return "inf" if math.isinf(a) else f"{a:.3g}"
