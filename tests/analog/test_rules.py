"""Update rules: each moves weights the way training asked, within the range and on the device's
levels; NeuroSim's loses sub-pulse changes, the mixed-precision rule keeps and corrects them."""

import numpy as np
import pytest

from digitlab.analog.presets import PRESETS
from digitlab.analog.rules import MixedPrecision, OneStatePerEpoch, PulsePerStep, get_rule, nominal_pulses
from digitlab.analog.synapses import Synapses
from digitlab.errors import ConfigError

RULES = [OneStatePerEpoch, PulsePerStep, MixedPrecision]


def layer(name="ag-si", shape=(6,), start=0.0, noise=False, seed=0, w_max=1.0):
    device = PRESETS[name] if noise else PRESETS[name].with_changes(c2c=0.0)
    synapses = Synapses(device, shape, w_max=w_max, rng=np.random.default_rng(seed))
    synapses.program(np.full(shape, start, np.float32))
    return synapses


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
@pytest.mark.parametrize("name", ["ag-si", "pcmo", "hzo-fefet", "linear"])
def test_every_rule_moves_each_weight_the_way_it_was_asked(rule, name):
    synapses = layer(name)
    before = synapses.read()
    delta = np.array([0.2, -0.2, 0.05, -0.05, 0.0, 0.3], np.float32)
    rule().update(synapses, delta)
    moved = synapses.read() - before
    assert np.all(moved * delta >= 0), "no weight moves against the change asked for"
    big = np.abs(delta) >= 0.2
    assert np.all(moved[big] * delta[big] > 0), "a change worth a pulse is written"
    assert moved[delta == 0] == 0


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_weights_never_leave_the_devices_range(rule):
    synapses = layer("epiram", shape=(1000,), noise=True, w_max=0.5)
    rng = np.random.default_rng(3)
    chosen = rule()
    for _ in range(30):
        chosen.update(synapses, rng.normal(0, 0.5, 1000).astype(np.float32))
        weights = synapses.read()
        assert np.all(weights >= -0.5) and np.all(weights <= 0.5)
    if rule is OneStatePerEpoch:
        return
    quiet = layer("epiram", shape=(3,), w_max=0.5)
    chosen.update(quiet, np.full(3, 100, np.float32))
    np.testing.assert_allclose(quiet.read(), 0.5, atol=0.005)  # a huge ask saturates at the top


@pytest.mark.parametrize("rule", [OneStatePerEpoch, PulsePerStep], ids=lambda r: r.name)
def test_on_a_linear_device_weights_stay_on_its_levels(rule):
    synapses = layer("linear", shape=(200,))
    synapses.program(np.round(np.linspace(-1, 1, 200) * 50) / 50)
    rng = np.random.default_rng(0)
    for _ in range(20):
        rule().update(synapses, rng.normal(0, 0.1, 200).astype(np.float32))
    levels = (synapses.read() + 1) * 50
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-4)


def test_the_tutorial_rule_moves_exactly_one_level_whatever_the_change():
    synapses = layer("linear", shape=(4,))
    OneStatePerEpoch().update(synapses, np.array([1e-6, 0.9, -3.0, 0.0], np.float32))
    np.testing.assert_allclose(synapses.read(), [0.02, 0.02, -0.02, 0.0], atol=1e-6)


def test_neurosim_rounds_to_whole_pulses_and_loses_the_rest():
    synapses = layer("linear", shape=(5,))  # 100 levels over a span of 2: one pulse is 0.02
    delta = np.array([0.009, 0.011, 0.05, -0.031, -0.0099], np.float32)
    np.testing.assert_array_equal(nominal_pulses(synapses, delta), [0, 1, 3, -2, 0])
    for _ in range(10):
        PulsePerStep().update(synapses, np.full(5, 0.009, np.float32))
    np.testing.assert_array_equal(synapses.read(), 0)   # ten sub-threshold changes: nothing written
    ag_si = layer("ag-si", shape=(2,))                  # 97 pulses up, 100 down over the span
    np.testing.assert_array_equal(nominal_pulses(ag_si, np.array([2 / 97 * 3, -2 / 100 * 3], np.float32)), [3, -3])


def test_mixed_precision_adds_up_sub_pulse_changes():
    neurosim, mixed = layer("ag-si", (1,)), layer("ag-si", (1,))
    rule = MixedPrecision()
    for _ in range(30):
        PulsePerStep().update(neurosim, np.array([0.01], np.float32))
        rule.update(mixed, np.array([0.01], np.float32))
    assert neurosim.read()[0] == 0                        # each 0.01 is under half a pulse (0.0103)
    step = 2 / 97
    assert mixed.read()[0] == pytest.approx(0.3, abs=step)  # the sum was written, to within a pulse


def test_mixed_precision_does_not_drift_on_an_asymmetric_device():
    """Equal ups and downs: NeuroSim's rule drifts (Ag:a-Si's steps differ up and down); the mixed
    rule counts pulses on the device's own curve and corrects what it over- or undershot."""
    neurosim, mixed = layer("ag-si", (1,), start=0.6), layer("ag-si", (1,), start=0.6)
    rule = MixedPrecision()
    for sign in [1, -1] * 100:
        delta = np.array([0.06 * sign], np.float32)
        PulsePerStep().update(neurosim, delta)
        rule.update(mixed, delta)
    assert abs(neurosim.read()[0] - 0.6) > 0.3
    assert abs(mixed.read()[0] - 0.6) < 0.05


def test_mixed_precision_corrects_write_noise_but_not_below_its_floor():
    synapses = layer("ag-si", (2000,), noise=True, seed=5)
    rule = MixedPrecision(noise_floor=1.0)
    target = np.random.default_rng(1).uniform(-0.6, 0.6, 2000).astype(np.float32)
    rule.update(synapses, target)
    rms = lambda: float(np.sqrt(np.mean((synapses.read() - target) ** 2)))  # noqa: E731
    first = rms()                          # one big write: sigma x sqrt(pulses) of noise
    pulses = []
    for _ in range(8):                     # nothing more asked: the residuals correct the noise
        written = synapses.pulses_applied
        rule.update(synapses, np.zeros(2000, np.float32))
        pulses.append(synapses.pulses_applied - written)
    sigma = 2 * synapses.device.c2c        # one pulse's write noise in weight units (0.07)
    assert rms() < 0.3 * first and rms() < sigma
    assert pulses[-1] < 0.1 * pulses[0]    # errors under the noise are left alone: writing stops


def test_rules_on_flat_indices_match_the_whole_array():
    for rule in (PulsePerStep(), MixedPrecision()):
        whole, part = layer("pcmo", (3, 4)), layer("pcmo", (3, 4))
        delta = np.zeros((3, 4), np.float32)
        where = np.array([1, 6, 11])
        delta.reshape(-1)[where] = [0.3, -0.2, 0.05]
        rule.update(whole, delta)
        type(rule)().update(part, delta.reshape(-1)[where], where)
        np.testing.assert_allclose(whole.read(), part.read(), atol=1e-6)


def test_rules_are_found_by_name():
    assert isinstance(get_rule("mixed"), MixedPrecision)
    assert get_rule("tutorial").per_epoch and not get_rule("neurosim").per_epoch
    with pytest.raises(ConfigError, match="tutorial, neurosim, mixed"):
        get_rule("magic")
