"""A layer's weights stored on memristive devices: read them, program them, pulse them.

Each weight is one device (``w = w_max (2 g - 1)``) or a differential pair (``w = w_max (g+ - g-)``),
where g is the device's conductance as a fraction of the nominal range, (G - Gmin) / (Gmax - Gmin).
A write asks for a signed number of pulses per weight: on one device, up is LTP and down is LTD; on a
pair, up potentiates G+ and down potentiates G-, and a pair whose devices both fill up is refreshed
(both reset, the weight programmed again), as PCM synapses are. Every write adds cycle-to-cycle noise,
``c2c * sqrt(pulses)`` of the range; with device-to-device spread each device has its own A, Gmin
and Gmax, drawn once. With ``r_access``, a device is read through its access transistor, which
compresses the read current of low-resistance devices.

n pulses move a state g towards the curve's asymptote c: ``g' = g + (c - g) (1 - exp(k n))``, with
c and k per direction (device.py). All of it is elementwise NumPy on float32 arrays, and a write
touches only the weights it pulses; ``where`` (flat indices) restricts any operation to some weights.
"""

from dataclasses import dataclass

import numpy as np

from digitlab.analog.device import Device, asymptote, effective_a

REFRESH_AT = 0.9  # a pair is reprogrammed when one device passes this fraction while the other holds some


@dataclass
class _Curves:
    """One device's curves (scalars) or one per weight (arrays): asymptote c, per-pulse exponent k
    and one pulse's fraction of the way to c, e = 1 - exp(k), in each direction; the device's own
    range [lo, lo + span] within the nominal one."""
    c_up: object
    k_up: object
    c_down: object
    k_down: object
    lo: object = 0.0
    span: object = 1.0

    def __post_init__(self):
        self.e_up = -np.expm1(np.float64(self.k_up) if np.isscalar(self.k_up) else self.k_up)
        self.e_down = -np.expm1(np.float64(self.k_down) if np.isscalar(self.k_down) else self.k_down)
        for name in ("c_up", "k_up", "c_down", "k_down", "e_up", "e_down"):  # float32 all through
            value = getattr(self, name)
            setattr(self, name, np.float32(value) if np.isscalar(value) else value.astype(np.float32))

    def at(self, name, where):
        value = getattr(self, name)
        return value if np.isscalar(value) or where is None else value.reshape(-1)[where]


class Synapses:
    """``shape`` weights on devices of one kind, with an update rule's state in ``self.state``."""

    def __init__(self, device: Device, shape, w_max=1.0, rng=None):
        if device.ideal:
            raise ValueError("the ideal device has no synapses: its weights are plain floats")
        self.device = device
        self.shape = tuple(shape)
        self.w_max = float(w_max)
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.count = 2 if device.pair else 1
        self.squeeze = _access_compression(device)  # 0: the read current is linear in G
        self.curves = [self._draw_curves() for _ in range(self.count)]
        self.g = np.zeros((self.count, *self.shape), np.float32)  # each device's state in its own range
        self.state = {}                                          # the update rule's arrays
        self.pulses_applied = 0                                  # pulses so far (all weights)
        self.refreshes = 0

    def _draw_curves(self):
        d = self.device
        if not d.d2d:
            return _Curves(*_constants(d.a_ltp, d.levels, d.a_ltd, d.ltd_levels))
        spread = lambda: np.exp(d.d2d * self.rng.standard_normal(self.shape))  # noqa: E731  lognormal
        a_up, a_down = effective_a(d.a_ltp) * spread(), effective_a(d.a_ltd) * spread()
        g_max, g_min = d.g_max * spread(), d.g_min * spread()
        g_max = np.maximum(g_max, g_min + 0.01 * (d.g_max - d.g_min))
        range_ = d.g_max - d.g_min
        constants = (np.asarray(v, np.float32) for v in _constants(a_up, d.levels, a_down, d.ltd_levels))
        return _Curves(*constants, lo=((g_min - d.g_min) / range_).astype(np.float32),
                       span=((g_max - g_min) / range_).astype(np.float32))

    # ------------------------------------------------------------------ reading and programming

    @property
    def pulse_span(self) -> float:
        """How far in weight one device's full sweep moves a weight: 2 w_max alone, w_max in a pair."""
        return self.w_max if self.device.pair else 2 * self.w_max

    def read(self, where=None) -> np.ndarray:
        """The weights the devices hold now: all (shaped like the layer), or those at flat indices."""
        weights = self._weights([_take(g.reshape(-1), where) for g in self.g], where)
        return weights.reshape(self.shape) if where is None else weights

    def program(self, weights):
        """Set every weight exactly (an ideal write, as for a network's initial weights)."""
        w = np.clip(np.asarray(weights, np.float32).reshape(-1) / np.float32(self.w_max), -1, 1)
        self.g.reshape(self.count, -1)[:] = self._states_for(w, None)

    def set_states(self, states):
        """Set the devices' normalised states directly (one array, or one per device of a pair)."""
        self.g[:] = np.clip(np.asarray(states, np.float32), 0, 1)

    def max_pulses(self, up=True) -> int:
        """Pulses that sweep a device's whole range in that direction (more change nothing)."""
        d = self.device
        return d.levels if up or self.count == 2 else d.ltd_levels

    # ------------------------------------------------------------------ pulses

    def pulse(self, pulses, where=None) -> np.ndarray:
        """Apply a signed number of pulses to each weight (> 0 raises it), with write noise; returns
        the flat indices of the weights written.

        ``pulses`` is shaped like the layer, or like ``where`` (flat indices of the weights to pulse).
        """
        pulses = np.asarray(pulses).reshape(-1)
        hit = np.flatnonzero(pulses)
        where = hit if where is None else np.asarray(where).reshape(-1)[hit]
        if not hit.size:
            return where
        count = pulses[hit]
        self.pulses_applied += int(np.abs(count).sum())
        if self.count == 1:
            self._move(0, where, count)
            return where
        up = count > 0
        self._move(0, where[up], count[up])
        self._move(1, where[~up], -count[~up])
        self._refresh(where)
        return where

    def after(self, pulses, where=None) -> np.ndarray:
        """The weights that ``pulses`` would give (shaped as ``pulses``), without noise or writing."""
        pulses = np.asarray(pulses)
        flat = pulses.reshape(-1)
        if self.count == 1:
            states = [self._jumped(0, flat, where)]
        else:
            states = [self._jumped(0, np.maximum(flat, 0), where), self._jumped(1, np.maximum(-flat, 0), where)]
        return self._weights(states, where).reshape(pulses.shape)

    def steps(self, where=None, now=None):
        """How much one pulse would raise and lower each weight now (flat at ``where``), no noise.
        ``now``: the weights there, if the caller has just read them."""
        now = (self.read(where) if now is None else now).reshape(-1)
        states = [_take(g.reshape(-1), where) for g in self.g]
        if self.count == 1:
            (u,), curves = states, self.curves[0]
            raised = np.minimum(u + (curves.at("c_up", where) - u) * curves.at("e_up", where), 1)
            lowered = np.maximum(u + (curves.at("c_down", where) - u) * curves.at("e_down", where), 0)
            return self._weights([raised], where) - now, now - self._weights([lowered], where)
        plus, minus = states
        more = [np.minimum(u + (c.at("c_up", where) - u) * c.at("e_up", where), 1)
                for u, c in zip(states, self.curves, strict=True)]
        return self._weights([more[0], minus], where) - now, now - self._weights([plus, more[1]], where)

    def pulses_to(self, targets, where=None, now=None) -> np.ndarray:
        """How many pulses (signed, fractional) would take each weight to ``targets`` along its
        device's curve, without noise: the exact inverse of ``after`` (targets past the range count
        to its end). ``now``: the weights there, if the caller has just read them."""
        scale = np.float32(1 / self.w_max)
        targets = np.asarray(targets, np.float32).reshape(-1) * scale
        now = (self.read(where) if now is None else now).reshape(-1) * scale
        up = targets > now
        if self.count == 1:
            goal = self._state_for(0.5 * (np.clip(targets, -1, 1) + 1), self.curves[0], where)
            return self._count(0, goal, up, where)
        plus, minus = (_take(g.reshape(-1), where) for g in self.g)
        read_plus, read_minus = (self._conductance(u, c, where)
                                 for u, c in zip((plus, minus), self.curves, strict=True))
        goal_plus = self._state_for(np.clip(targets + read_minus, 0, 1), self.curves[0], where)
        goal_minus = self._state_for(np.clip(read_plus - targets, 0, 1), self.curves[1], where)
        always_up = np.ones(targets.shape, bool)
        return np.where(up, self._count(0, goal_plus, always_up, where),
                        -self._count(1, goal_minus, always_up, where))

    def write_toward(self, targets, where, threshold=0.5):
        """Pulse the weights at flat indices ``where`` towards ``targets`` along their own curves,
        noise and all: the exact pulse count, rounded up from ``threshold`` of a pulse. Returns the
        weights before and after, and how far one more pulse would move each up and down."""
        if self.count == 1 and not self.squeeze and not self.device.d2d:
            return self._write_toward_single(np.asarray(targets, np.float32), where, threshold)
        return self._write_toward_general(targets, where, threshold)

    def _write_toward_general(self, targets, where, threshold):
        before = self.read(where)
        exact = self.pulses_to(targets, where, now=before)
        count = np.floor(np.abs(exact) + np.float32(1 - threshold))
        limit = max(self.max_pulses(True), self.max_pulses(False))
        self.pulse(np.copysign(np.minimum(count, limit), exact).astype(np.int32), where)
        after = self.read(where)
        return (before, after, *self.steps(where, after))

    def _write_toward_single(self, targets, where, threshold):
        """``write_toward`` for one plain device per weight, in one pass of few array operations."""
        d, curves, flat = self.device, self.curves[0], self.g[0].reshape(-1)
        w_max = np.float32(self.w_max)
        u = flat[where]
        before = (2 * w_max) * u - w_max
        goal = np.clip((targets / w_max + 1) * np.float32(0.5), 0, 1)
        up = goal > u
        c = np.where(up, curves.c_up, curves.c_down)
        k = np.where(up, curves.k_up, curves.k_down)
        with np.errstate(divide="ignore", invalid="ignore"):
            exact = np.log1p((goal - u) / (u - c)) / k        # from g' - c = (g - c) exp(k n)
        count = np.floor(np.where(exact > 0, exact, np.float32(0)) + np.float32(1 - threshold))
        count = np.minimum(count, np.where(up, np.float32(d.levels), np.float32(d.ltd_levels)))
        u = u + (c - u) * -np.expm1(k * count)
        if d.c2c:
            u += np.float32(d.c2c) * np.sqrt(count) * self.rng.standard_normal(u.size, dtype=np.float32)
        np.clip(u, 0, 1, out=u)
        flat[where] = u
        self.pulses_applied += int(count.sum())
        raised = np.minimum(u + (curves.c_up - u) * curves.e_up, 1)
        lowered = np.maximum(u + (curves.c_down - u) * curves.e_down, 0)
        return before, (2 * w_max) * u - w_max, (2 * w_max) * (raised - u), (2 * w_max) * (u - lowered)

    # ------------------------------------------------------------------ the arithmetic

    def _direction(self, curves, up, where):
        """Per weight, the asymptote and exponent of the direction it moves in."""
        return (np.where(up, curves.at("c_up", where), curves.at("c_down", where)).astype(np.float32),
                np.where(up, curves.at("k_up", where), curves.at("k_down", where)).astype(np.float32))

    def _count(self, which, goal, up, where):
        """Signed pulses from device ``which``'s states to ``goal`` states, LTP where ``up``."""
        u = _take(self.g[which].reshape(-1), where)
        c, k = self._direction(self.curves[which], up, where)
        with np.errstate(divide="ignore", invalid="ignore"):
            count = np.log1p((goal - u) / (u - c)) / k    # from g' - c = (g - c) exp(k n)
        count = np.where(count > 0, count, np.float32(0))   # also NaN (no way there) -> 0
        return np.where(up, count, -count)

    def _step(self, which, u, count, where):
        """States ``u`` of device ``which`` (at flat ``where``) after signed ``count`` pulses, no noise;
        and the pulses that counted (a full sweep at most)."""
        up = count > 0
        c, k = self._direction(self.curves[which], up, where)
        size = np.minimum(np.abs(count), np.where(up, self.device.levels, self.device.ltd_levels))
        size = size.astype(np.float32)
        return u + (c - u) * -np.expm1(k * size), size

    def _jumped(self, which, count, where):
        u = _take(self.g[which].reshape(-1), where)
        return np.clip(self._step(which, u, count, where)[0], 0, 1)

    def _move(self, which, where, count):
        """Pulse device ``which`` at flat indices ``where`` by signed ``count`` (no-op when empty)."""
        if not where.size:
            return
        flat = self.g[which].reshape(-1)
        u, size = self._step(which, flat[where], count, where)
        c2c = self.device.c2c
        if c2c:
            span = self.curves[which].at("span", where)
            u += (c2c / span) * np.sqrt(size) * self.rng.standard_normal(where.size, dtype=np.float32)
        flat[where] = np.clip(u, 0, 1)

    def _refresh(self, where):
        """Reprogram the pairs at ``where`` whose G+ or G- passed REFRESH_AT of its range while the
        other holds some conductance too (after a refresh, one of the two is at zero)."""
        flat = self.g.reshape(self.count, -1)
        plus, minus = flat[0, where], flat[1, where]
        full = where[(np.maximum(plus, minus) > REFRESH_AT) & (np.minimum(plus, minus) > 0)]
        if not full.size:
            return
        self.refreshes += int(full.size)
        w = self.read(full) / np.float32(self.w_max)
        flat[:, full] = self._states_for(w, full)

    def _states_for(self, w, where):
        """States (count, len(w)) that hold normalised weights ``w`` exactly, where they can."""
        if self.count == 1:
            return self._state_for(0.5 * (w + 1), self.curves[0], where)[None]
        zero = np.zeros(w.shape, np.float32)
        base_plus, base_minus = (self._conductance(zero, c, where) for c in self.curves)
        plus = np.where(w > 0, self._state_for(w + base_minus, self.curves[0], where), 0)
        minus = np.where(w < 0, self._state_for(base_plus - w, self.curves[1], where), 0)
        return np.stack([plus, minus]).astype(np.float32)

    def _conductance(self, u, curves, where):
        """What a device reads as, in units of the nominal range (through r_access, if any)."""
        if not np.isscalar(curves.span):
            u = curves.at("lo", where) + curves.at("span", where) * u
        q = self.squeeze
        return (np.float32(1 + q) * u) / (1 + np.float32(q) * u) if q else u

    def _state_for(self, target, curves, where):
        """The state whose reading is ``target`` (clipped to what the device can hold)."""
        q = self.squeeze
        g = target / (1 + q - q * target) if q else target
        if not np.isscalar(curves.span):
            g = (g - curves.at("lo", where)) / curves.at("span", where)
        return np.clip(g, 0, 1).astype(np.float32)

    def _weights(self, states, where):
        """Weights from flat device states (one array per device of the weight)."""
        w_max = np.float32(self.w_max)
        if self.count == 1:
            return (2 * w_max) * self._conductance(states[0], self.curves[0], where) - w_max
        plus, minus = (self._conductance(u, c, where) for u, c in zip(states, self.curves, strict=True))
        return w_max * (plus - minus)

    def __repr__(self):
        return f"Synapses({self.device.name!r}, shape={self.shape}, w_max={self.w_max:g})"


def _take(values, where):
    return values if where is None else values[where]


def _constants(a_up, levels_up, a_down, levels_down):
    """Asymptotes and per-pulse exponents of both directions (arrays or scalars of A)."""
    if np.isscalar(a_up) and np.isscalar(a_down):
        a_up, a_down = effective_a(a_up), effective_a(a_down)
        return (asymptote(a_up), -1.0 / (a_up * levels_up), asymptote(a_down), 1.0 / (a_down * levels_down))
    a_up, a_down = np.asarray(a_up, np.float64), np.asarray(a_down, np.float64)
    return (1 / -np.expm1(-1 / a_up), -1.0 / (a_up * levels_up),
            1 / -np.expm1(-1 / a_down), 1.0 / (a_down * levels_down))


def _access_compression(device):
    """q such that a device at fraction g of its conductance range reads as g (1 + q) / (1 + q g) of
    its current range, through r_access in series: q = r (Gmax - Gmin) / (1 + r Gmin)."""
    r = device.r_access
    return r * (device.g_max - device.g_min) / (1 + r * device.g_min)
