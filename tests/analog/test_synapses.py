"""A layer's weights on devices: reading, programming, pulses along the curves, noise, spread, pairs."""

import numpy as np
import pytest

from digitlab.analog.device import Device
from digitlab.analog.presets import PRESETS
from digitlab.analog.synapses import REFRESH_AT, Synapses


def weights_of(device, conductance):
    return 2 * (conductance - device.g_min) / (device.g_max - device.g_min) - 1


@pytest.mark.parametrize("name", ["ag-si", "pcmo", "gst-pcm", "hzo-fefet", "linear"])
def test_pulses_walk_exactly_along_the_published_curves(name):
    device = PRESETS[name].with_changes(c2c=0.0)
    synapses = Synapses(device, (1,))
    synapses.set_states(np.zeros((1, 1)))
    up = [synapses.read()[0]]
    for _ in range(device.levels):
        synapses.pulse([1])
        up.append(synapses.read()[0])
    np.testing.assert_allclose(up, weights_of(device, device.ltp_curve(np.arange(device.levels + 1))), atol=2e-6)
    down = []
    for _ in range(device.ltd_levels):
        synapses.pulse([-1])
        down.append(synapses.read()[0])
    expected = weights_of(device, device.ltd_curve(np.arange(1, device.ltd_levels + 1)))
    np.testing.assert_allclose(down, expected, atol=2e-6)


def test_n_pulses_at_once_equal_n_pulses_one_by_one():
    device = PRESETS["ag-si"].with_changes(c2c=0.0)
    at_once, one_by_one = Synapses(device, (3,)), Synapses(device, (3,))
    for synapses in (at_once, one_by_one):
        synapses.program([-0.5, 0.0, 0.7])
    at_once.pulse([5, -7, 3])
    for _ in range(7):
        one_by_one.pulse(np.array([1, -1, 1]) * (np.arange(7)[_] < np.array([5, 7, 3])))
    np.testing.assert_allclose(at_once.read(), one_by_one.read(), atol=1e-6)
    np.testing.assert_allclose(at_once.after([2, -2, 0]), _pulsed(at_once, [2, -2, 0]), atol=1e-7)


def _pulsed(synapses, pulses):
    copy = Synapses(synapses.device, synapses.shape)
    copy.g[:] = synapses.g
    copy.pulse(pulses)
    return copy.read()


def test_programming_sets_weights_exactly_within_the_range():
    for device in (PRESETS["ag-si"], PRESETS["gst-pcm"].with_changes(r_access=15e3),
                   PRESETS["epiram"].with_changes(pair=True)):
        synapses = Synapses(device, (5,), w_max=0.5)
        synapses.program([-0.9, -0.5, 0.0, 0.25, 0.9])
        np.testing.assert_allclose(synapses.read(), [-0.5, -0.5, 0.0, 0.25, 0.5], atol=1e-6)


def test_pulses_past_the_end_stop_at_gmax_and_gmin():
    synapses = Synapses(PRESETS["pcmo"], (2,))
    synapses.program([0.0, 0.0])
    synapses.pulse([1000, -1000])
    np.testing.assert_allclose(synapses.read(), [1.0, -1.0])


def test_write_noise_has_the_published_sigma_per_sqrt_pulse():
    device = PRESETS["linear"].with_changes(c2c=0.02)
    synapses = Synapses(device, (20000,), rng=np.random.default_rng(0))
    synapses.program(np.zeros(20000))
    synapses.pulse(np.full(20000, 4))
    moved = synapses.read() - 4 * 2 / device.levels   # weight units: twice the conductance fraction
    assert moved.mean() == pytest.approx(0, abs=2e-3)
    assert moved.std() == pytest.approx(2 * 0.02 * 2, rel=0.03)   # 2 (weight span) x c2c x sqrt(4)


def test_device_to_device_spread_gives_each_device_its_own_curve():
    device = PRESETS["ag-si"].with_changes(c2c=0.0, d2d=0.2)
    synapses = Synapses(device, (500,), rng=np.random.default_rng(1))
    synapses.set_states(np.zeros((1, 500)))
    start = synapses.read()
    synapses.pulse(np.full(500, 10))
    steps = synapses.read() - start
    assert steps.std() > 0.05 * steps.mean()
    assert np.all(np.abs(synapses.read()) <= 1)


def test_a_pair_potentiates_one_side_or_the_other_and_is_refreshed_when_full():
    device = Device(name="pcm", levels=50, a_ltp=0.5, a_ltd=-0.5, pair=True)
    synapses = Synapses(device, (2,))
    synapses.program([0.2, -0.2])
    synapses.pulse([3, -3])
    weights = synapses.read()
    assert weights[0] > 0.2 and weights[1] < -0.2
    plus_before, minus_before = synapses.g[0].copy(), synapses.g[1].copy()
    assert plus_before[1] == 0 and minus_before[0] == 0       # only the needed side holds conductance
    for _ in range(40):                                      # up and down: both sides fill ...
        synapses.pulse([2, 2])
        synapses.pulse([-2, -2])
    assert synapses.refreshes > 0                             # ... and are reset, keeping the weight
    assert synapses.g.max() <= 1 and np.abs(synapses.read()).max() <= 1
    assert np.minimum(synapses.g[0], synapses.g[1]).max() < REFRESH_AT


def test_access_resistance_compresses_the_read_current():
    device = PRESETS["gst-pcm"].with_changes(r_access=15e3)
    synapses = Synapses(device, (5,))
    g = np.linspace(0, 1, 5)
    synapses.set_states(g[None])
    conductance = device.g_min + g * (device.g_max - device.g_min)
    current = conductance / (1 + conductance * 15e3)
    expected = 2 * (current - current[0]) / (current[-1] - current[0]) - 1
    np.testing.assert_allclose(synapses.read(), expected, atol=1e-6)


def test_flat_indices_touch_only_those_weights():
    device = PRESETS["ag-si"].with_changes(c2c=0.0)
    dense, sparse = Synapses(device, (4, 5)), Synapses(device, (4, 5))
    start = np.linspace(-0.8, 0.8, 20).reshape(4, 5)
    dense.program(start)
    sparse.program(start)
    pulses = np.zeros((4, 5), np.int32)
    pulses[1, 2], pulses[3, 0] = 4, -6
    where = np.array([7, 15])
    dense.pulse(pulses)
    sparse.pulse(np.array([4, -6]), where)
    np.testing.assert_array_equal(dense.read(), sparse.read())
    np.testing.assert_array_equal(sparse.read(where), dense.read().reshape(-1)[where])


@pytest.mark.parametrize("name", ["ag-si", "hzo-fefet", "linear"])
def test_writing_towards_a_target_takes_the_nearest_whole_number_of_pulses(name):
    device = PRESETS[name].with_changes(c2c=0.0)
    fast, general = Synapses(device, (6,)), Synapses(device, (6,))
    start = np.array([-0.9, -0.3, 0.0, 0.2, 0.6, 0.95], np.float32)
    targets = np.array([-0.2, -0.8, 0.013, 0.9, 0.55, 2.0], np.float32)
    where = np.arange(6)
    results = []
    for synapses, write in ((fast, fast._write_toward_single), (general, general._write_toward_general)):
        synapses.program(start)
        results.append(write(targets, where, 0.5))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-6)
    before, after, up, down = results[0]
    np.testing.assert_allclose(before, start, atol=1e-6)
    distance = np.abs(after - np.clip(targets, -1, 1))
    assert np.all(distance <= 0.5 * np.maximum(up, down) + 1e-6)  # within half a pulse of the target
    assert after[-1] >= 1.0 - up[-1] - 1e-6                 # past the range: to its end
