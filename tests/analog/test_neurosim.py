"""NeuroSim's benchmark setup: its data, its ADC read-out, and a short training on it."""

import numpy as np
import pytest

from digitlab.analog.neurosim import NeuroSimSetup, _Layer, neurosim_data, train_neurosim
from digitlab.analog.presets import PRESETS
from digitlab.analog.rules import get_rule


@pytest.fixture(scope="module")
def data():
    (x_train, y_train), (x_test, y_test) = neurosim_data()
    return (x_train[:5000], y_train[:5000]), (x_test[:1000], y_test[:1000])


def test_the_data_are_binarised_20x20_centre_crops(data):
    (x_train, y_train), (x_test, _) = data
    assert x_train.shape == (5000, 400) and x_test.shape == (1000, 400) and x_train.dtype == np.float32
    assert set(np.unique(x_train)) == {0.0, 1.0}
    assert 0.1 < x_train.mean() < 0.4          # about a fifth of the box is ink


def test_the_adc_reads_column_sums_to_within_its_step():
    setup = NeuroSimSetup()
    rng = np.random.default_rng(0)
    layer = _Layer(PRESETS["ag-si"], get_rule("neurosim"), (100, 400), setup, rng)
    x = (rng.random((50, 400)) < 0.3).astype(np.float32)
    exact = x @ layer.weights.values.T
    read = layer.forward(x)
    step = setup.readout_factor * 400 / setup.adc_levels   # 3.14 in units of the weight sum
    assert np.abs(read - exact).max() <= step + 1e-4
    assert len(np.unique(np.round(read / step, 6) % 1)) <= 2   # on the ADC's grid


@pytest.mark.parametrize("device, rule, at_least", [("ideal", "neurosim", 0.55), ("ag-si", "mixed", 0.5)])
def test_a_short_run_learns(data, device, rule, at_least):
    setup = NeuroSimSetup(epochs=2, images_per_epoch=1500)
    first = train_neurosim(device, rule, setup, data)
    assert len(first.accuracy) == 2 and first.accuracy[-1] > at_least
    again = train_neurosim(device, rule, setup, data)
    assert again.accuracy == first.accuracy and again.pulses == first.pulses
