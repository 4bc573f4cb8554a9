"""The device model: curve endpoints and shape, the linear limit, NeuroSim's labels <-> A, validation,
and what pulses do to a device (tests/analog/test_synapses.py has the arrays of them)."""

import math

import numpy as np
import pytest

from digitlab.analog.device import Device, asymptote, curve
from digitlab.analog.nonlinearity import BOW_PER_LABEL, a_from_label, bow, label_from_a, neurosim_a, table
from digitlab.analog.presets import PRESETS
from digitlab.errors import ConfigError

REAL = [device for device in PRESETS.values() if not device.ideal]


@pytest.mark.parametrize("device", REAL, ids=lambda d: d.name)
def test_curves_run_from_one_end_of_the_range_to_the_other(device):
    up = device.ltp_curve(np.arange(device.levels + 1))
    down = device.ltd_curve(np.arange(device.ltd_levels + 1))
    assert up[0] == pytest.approx(device.g_min, rel=1e-6) and up[-1] == pytest.approx(device.g_max, rel=1e-6)
    assert down[0] == pytest.approx(device.g_max, rel=1e-6) and down[-1] == pytest.approx(device.g_min, rel=1e-6)
    assert np.all(np.diff(up) > 0), "potentiation raises the conductance at every pulse"
    assert np.all(np.diff(down) < 0), "depression lowers it at every pulse"


def test_the_sign_of_a_decides_where_the_big_steps_are():
    saturating = Device(levels=100, a_ltp=0.5, a_ltd=-0.5)
    steps_up, steps_down = np.diff(saturating.ltp_curve(np.arange(101))), np.diff(saturating.ltd_curve(np.arange(101)))
    assert steps_up[0] > 5 * steps_up[-1]            # big near Gmin, small near Gmax
    assert -steps_down[0] > 5 * -steps_down[-1]      # big near Gmax, small near Gmin
    walked_back = Device(levels=100, a_ltp=0.5, a_ltd=0.5)  # depression walks the LTP curve back down
    np.testing.assert_allclose(walked_back.ltd_curve(np.arange(101)), walked_back.ltp_curve(np.arange(101))[::-1],
                               rtol=1e-12)


def test_a_going_to_infinity_is_the_straight_line():
    x = np.linspace(0, 1, 11)
    np.testing.assert_allclose(curve(x, math.inf), x, atol=1e-8)
    np.testing.assert_allclose(curve(x, -math.inf), x, atol=1e-8)
    for a in (1e3, -1e3):
        np.testing.assert_allclose(curve(x, a), x, atol=3e-4)
    linear = PRESETS["linear"]
    expected = linear.g_min + (linear.g_max - linear.g_min) * np.arange(101) / 100
    np.testing.assert_allclose(linear.ltp_curve(np.arange(101)), expected, rtol=1e-7)


def test_the_curve_matches_seed_001s_formula():
    a = 0.8  # seed 001: (Gmax - Gmin)(1 - exp(P/A)) / (1 - exp(1/A)) + Gmin, i.e. A = -0.8 here
    p = np.linspace(0, 1, 20)
    np.testing.assert_allclose(curve(p, -a), (1 - np.exp(p / a)) / (1 - np.exp(1 / a)), rtol=1e-12)


def test_neurosims_worked_example_for_ag_a_si():
    ag_si = PRESETS["ag-si"]
    assert ag_si.a_ltp * ag_si.levels == pytest.approx(48.4206, abs=1e-4)
    assert ag_si.a_ltd * ag_si.ltd_levels == pytest.approx(-20.0303, abs=1e-4)
    assert asymptote(ag_si.a_ltp) == pytest.approx(1.155925, abs=1e-6)   # B_LTP / (Gmax - Gmin)
    assert asymptote(ag_si.a_ltd) == pytest.approx(-0.0068355, abs=1e-6)


# ----------------------------------------------------------------------------- labels <-> A


def test_every_row_of_the_table_converts_both_ways():
    labels, values = table()
    assert len(labels) == 900 and labels[0] == 0.01 and labels[-1] == 9.0
    for label, a in zip(labels, values, strict=True):
        assert a_from_label(label) == a and a_from_label(-label) == -a
        assert label_from_a(a) == label and label_from_a(-a) == -label


def test_the_label_is_the_curves_bow_above_the_diagonal():
    labels, values = table()
    bows = np.array([bow(a) for a in values])
    np.testing.assert_allclose(bows / BOW_PER_LABEL, labels, rtol=2.2e-5)
    x = np.linspace(0, 1, 200001)  # and that is what the curve itself shows
    for label, a in ((2.4, 0.499181), (0.5, 2.519877)):
        assert (curve(x, a) - x).max() / BOW_PER_LABEL == pytest.approx(label, rel=1e-4)


def test_labels_off_the_table_use_the_equation():
    assert a_from_label(0) == math.inf and label_from_a(math.inf) == 0
    between = a_from_label(2.405)
    assert a_from_label(2.41) < between < a_from_label(2.40)
    assert bow(between) / BOW_PER_LABEL == pytest.approx(2.405, rel=1e-9)
    assert bow(a_from_label(9.5)) / BOW_PER_LABEL == pytest.approx(9.5, rel=1e-9)
    with pytest.raises(ConfigError, match="out of reach"):
        a_from_label(11)


def test_neurosims_own_lookup_keeps_its_quirks():
    assert neurosim_a(0.105) == 12.625807    # the row of 0.10: the index truncates
    assert neurosim_a(0.29) == 4.506529      # 0.29 * 100 = 28.999..., the row of 0.28
    assert neurosim_a(0) == -126.268958      # label 0 is nearly linear, negative
    assert neurosim_a(12) == 0.02281         # past 9 reads row 9.00
    assert neurosim_a(-4.88) == -0.200303


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("changes, mentions", [
    ({"g_min": 2e-6, "g_max": 1e-6}, "g_max"),
    ({"g_min": -1e-9}, "g_min"),
    ({"levels": 0}, "levels"),
    ({"levels": 2.5}, "levels"),
    ({"levels": "many"}, "levels"),
    ({"levels": 10**12}, "from 1 to 100,000"),
    ({"a_ltp": 0}, "a_ltp"),
    ({"a_ltd": float("nan")}, "a_ltd"),
    ({"c2c": -0.1}, "c2c"),
    ({"pair": "yes"}, "pair"),
])
def test_impossible_parameters_are_refused_with_the_reason(changes, mentions):
    with pytest.raises(ConfigError, match=mentions):
        Device(name="bad", **changes)


def test_devices_round_trip_through_plain_data():
    for device in PRESETS.values():
        facts = device.to_dict()
        assert Device.from_dict(facts) == device
    assert PRESETS["linear"].to_dict()["a_ltp"] is None
    with pytest.raises(ConfigError, match="unknown device parameters"):
        Device.from_dict({"name": "x", "colour": "blue"})
