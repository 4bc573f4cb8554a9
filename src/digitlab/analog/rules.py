"""Update rules: how a weight change that training asks for becomes pulses on the devices.

A rule gets the change ``delta`` that the optimizer wants for one layer's weights and writes the
devices of that layer's ``Synapses``; what the devices really do (nonlinear, asymmetric, noisy steps)
is up to them. Any state a rule keeps lives in ``synapses.state``, so each layer has its own.

- ``tutorial``: seed 001's rule. Training runs in float for a whole epoch; then each weight moves one
  pulse in the direction its float value went (the tutorial's bug, updating layer 2 with layer 1's
  states, cannot happen: every layer has its own devices).
- ``neurosim``: NeuroSim's rule. Every step, each weight gets ``round(|delta| / span * levels)``
  pulses in the direction of ``delta``; a change worth less than half a pulse is lost.
- ``mixed``: mixed-precision updates (after Nandakumar et al., Front. Neurosci. 2020). Each weight
  keeps a float residual of the change asked for and not yet written. A weight is written when its
  residual is worth half a pulse of this device at this weight in that direction, and at least one
  sigma of a pulse's write noise (correcting less than the noise adds more noise than it removes).
  The number of pulses is read off the device's own curve (its exact inverse), so nonlinear and
  asymmetric devices get the right count; the change the write made, read back, is taken off the
  residual. Sub-pulse changes add up instead of being lost, and an over- or undershoot, or the write
  noise, is corrected by later writes.
"""

import numpy as np

from digitlab.errors import ConfigError


class Rule:
    name = ""
    per_epoch = False  # True: training runs in float and the rule writes once per epoch

    def update(self, synapses, delta, where=None):
        """Write ``synapses`` for the float weight change ``delta``: shaped like the layer, or like
        ``where``, flat indices of the only weights that change (the others' delta is zero).
        Returns the flat indices of the weights written."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class OneStatePerEpoch(Rule):
    """Seed 001: after an epoch of float training, one pulse towards where each weight went."""

    name = "tutorial"
    per_epoch = True

    def update(self, synapses, delta, where=None):
        return synapses.pulse(np.sign(delta).astype(np.int32), where)


class PulsePerStep(Rule):
    """NeuroSim: ``round(|delta| / (w_max - w_min) * levels)`` pulses, every step, nothing kept."""

    name = "neurosim"

    def update(self, synapses, delta, where=None):
        flat = delta.reshape(-1)
        # Only changes worth half a pulse get any: find them in one pass, count pulses for them.
        half_up = np.float32(0.5 * synapses.pulse_span / synapses.max_pulses(True) * (1 - 1e-6))
        half_down = np.float32(0.5 * synapses.pulse_span / synapses.max_pulses(False) * (1 - 1e-6))
        hit = np.flatnonzero((flat >= half_up) | (flat <= -half_down))
        return synapses.pulse(nominal_pulses(synapses, flat[hit]), hit if where is None else where[hit])


class MixedPrecision(Rule):
    """Mixed precision: a float residual per weight, pulsed by the device's own step size."""

    name = "mixed"

    def __init__(self, threshold=0.5, noise_floor=1.0):
        self.threshold = threshold      # pulse once the residual is worth this many of the device's steps
        self.noise_floor = noise_floor  # ... and this many sigmas of one pulse's write noise

    def update(self, synapses, delta, where=None):
        state = synapses.state
        if "residual" not in state:
            state["residual"] = np.zeros(int(np.prod(synapses.shape)), np.float32)
            self._remember_steps(synapses, None, synapses.steps())
        everything = state["residual"]
        if where is None:
            residual = everything                     # updated in place
            residual += delta.reshape(-1)
        else:
            residual = everything[where] + delta.reshape(-1)
        reach = np.float32(2 * synapses.w_max)
        np.clip(residual, -reach, reach, out=residual)
        up, low = (state[key] if where is None else state[key][where] for key in ("up", "low"))
        fire = np.flatnonzero((residual >= up) | (residual <= low))
        at = fire if where is None else where[fire]
        if fire.size:
            residual[fire] = self._write(synapses, residual[fire], at)
        if where is not None:
            everything[where] = residual
        return at

    def _write(self, synapses, residual, at):
        """Pulse the weights at flat indices ``at``; returns what is left of their residual."""
        weights = synapses.read(at)
        w_max = np.float32(synapses.w_max)
        residual = np.clip(residual, -w_max - weights, w_max - weights)  # no asking past the range
        before, after, up, down = synapses.write_toward(weights + residual, at, self.threshold)
        self._remember_steps(synapses, at, (up, down))
        return residual - (after - before)                # the change read back, noise included

    def _remember_steps(self, synapses, where, steps):
        """Keep, for each weight, the residual that makes it fire up and down (it changes only when
        the weight is written): ``threshold`` of one pulse's step there, at least ``noise_floor``
        sigmas of one pulse's write noise; never where the device cannot move that way."""
        state = synapses.state
        floor = np.float32(self.noise_floor * synapses.device.c2c * synapses.pulse_span)
        for key, sign, step in zip(("up", "low"), (1, -1), steps, strict=True):   # fire at residual >= up or <= low
            step = step.reshape(-1)
            limit = np.maximum(np.float32(self.threshold) * step, floor)
            limit[step <= 0] = np.inf
            if where is None:
                state[key] = sign * limit
            else:
                state[key][where] = sign * limit

    def __repr__(self):
        return f"MixedPrecision(threshold={self.threshold}, noise_floor={self.noise_floor})"


def nominal_pulses(synapses, delta):
    """NeuroSim's pulse count for ``delta``: half-pulses round away from zero (as its truncate())."""
    scale_up = np.float32(synapses.max_pulses(True) / synapses.pulse_span)
    scale_down = np.float32(synapses.max_pulses(False) / synapses.pulse_span)
    scale = scale_up if scale_up == scale_down else np.where(delta > 0, scale_up, scale_down)
    count = np.floor(np.abs(delta) * scale + np.float32(0.5))
    return np.copysign(count, delta).astype(np.int32)


RULES = {rule.name: rule for rule in (OneStatePerEpoch, PulsePerStep, MixedPrecision)}
DESCRIPTIONS = {
    "tutorial": "tutorial 001's: float epoch, then one pulse per weight towards the change",
    "neurosim": "NeuroSim: pulses = round(change / range x levels) every step, the rest lost",
    "mixed": "mixed precision: a float residual per weight, pulsed by the device's own step",
}


def get_rule(spec) -> Rule:
    """A rule from its name ("tutorial", "neurosim", "mixed") or a Rule instance."""
    if isinstance(spec, Rule):
        return spec
    if spec not in RULES:
        raise ConfigError(f"unknown update rule {spec!r}; known: {', '.join(RULES)}")
    return RULES[spec]()
