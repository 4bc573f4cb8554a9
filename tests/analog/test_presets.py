"""The published devices carry NeuroSim's parameters (its reference, section 5.3)."""

import math

import pytest

from digitlab.analog.device import asymptote
from digitlab.analog.device_file import save_device
from digitlab.analog.presets import NEUROSIM_ACCURACY, PRESETS, get_device, parse_devices
from digitlab.errors import ConfigError

# name: levels LTP/LTD, A in pulses LTP/LTD, B/dG LTP/LTD, Gmax, Gmin, c2c in weight units
SECTION_5_3 = {
    "ag-si": (97, 100, 48.42, -20.03, 1.15592, -0.00684, 3.846e-8, 3.077e-9, 0.070),
    "taox-hfox": (128, 128, 4040.6, -255.66, 32.069, -1.5389, 1.000e-5, 1.000e-6, 0.074),
    "pcmo": (50, 50, 15.03, -5.013, 1.03727, -0.00005, 4.348e-8, 6.357e-9, 0.020),
    "alox-hfo2": (40, 40, 25.17, -82.53, 1.25642, -1.60350, 5.917e-5, 1.336e-5, 0.100),
    "gst-pcm": (100, 100, 1262.6, 49.92, 13.132, 1.15592, 2.123e-4, 1.072e-5, 0.030),
    "epiram": (64, 64, 161.27, -161.27, 3.05286, -2.05286, 1.235e-5, 2.459e-7, 0.040),
    "hzo-fefet": (32, 32, 22.47, 27.16, 1.31695, 1.44467, 1.788e-6, 3.973e-8, 0.010),
}


@pytest.mark.parametrize("name", SECTION_5_3)
def test_published_devices_match_neurosims_derived_parameters(name):
    levels, levels_ltd, a_ltp, a_ltd, b_ltp, b_ltd, g_max, g_min, sigma = SECTION_5_3[name]
    device = PRESETS[name]
    assert (device.levels, device.ltd_levels) == (levels, levels_ltd)
    assert device.a_ltp * device.levels == pytest.approx(a_ltp, rel=2e-3)
    assert device.a_ltd * device.ltd_levels == pytest.approx(a_ltd, rel=2e-3)
    assert asymptote(device.a_ltp) == pytest.approx(b_ltp, rel=1e-3, abs=1e-5)
    assert asymptote(device.a_ltd) == pytest.approx(b_ltd, rel=1e-3, abs=1e-5)
    assert device.g_max == pytest.approx(g_max, rel=1e-3)
    assert device.g_min == pytest.approx(g_min, rel=1e-3)
    assert 2 * device.c2c == pytest.approx(sigma, rel=1e-6)
    assert name in NEUROSIM_ACCURACY


def test_ideal_and_linear_are_there():
    assert PRESETS["ideal"].ideal
    linear = PRESETS["linear"]
    assert linear.linear and linear.levels == 100 and linear.c2c == 0 and linear.labels == (0, 0)


def test_devices_by_name_or_file(tmp_path):
    assert get_device("Ag-Si") is PRESETS["ag-si"]
    path = save_device(PRESETS["pcmo"].with_changes(name="mine"), tmp_path / "mine.json")
    ideal, mine = parse_devices(f"ideal, {path}")
    assert ideal.ideal and mine.name == "mine" and math.isclose(mine.a_ltp, PRESETS["pcmo"].a_ltp)
    with pytest.raises(ConfigError, match="unknown device 'agsi'.*ag-si"):
        get_device("agsi")
    with pytest.raises(ConfigError, match="no devices"):
        parse_devices(" , ")
