"""Golden numbers: analog runs recorded before the engine and its training loop were redesigned
(commit 2a84796), held after it. A change here is a change in what the simulator computes: it needs
a reason, not a new recording."""

import numpy as np
import pytest

from digitlab.analog import AnalogSetup
from digitlab.analog.memristor import MEMRISTOR_DEVICES, MEMRISTOR_SETUP
from digitlab.analog.neurosim import NeuroSimSetup, train_neurosim
from digitlab.analog.training import train_on_device
from digitlab.data import load_data

# (rule, device): test accuracy and loss after each of 2 epochs, and the pulses sent.
RECORDED = {
    ("tutorial", "ag-si"): ([0.6633333333333333, 0.79], [1.614646553993225, 1.0348692834377289], 133909),
    ("neurosim", "pcmo"): ([0.51, 0.5433333333333333], [1.5657085180282593, 1.38719242811203], 28323),
    ("mixed", "ag-si"): ([0.74, 0.7433333333333333], [0.8889588117599487, 0.7610771656036377], 161223),
    ("mixed", "ideal"): ([0.6933333333333334, 0.7866666666666666], [0.9808551967144012, 0.6203075349330902], 0),
}


@pytest.fixture(scope="module")
def data():
    return load_data()


@pytest.mark.parametrize("rule, device", list(RECORDED))
def test_device_aware_training_gives_the_recorded_numbers(data, rule, device):
    accuracy, loss, pulses = RECORDED[rule, device]
    run = train_on_device(device, AnalogSetup(rule=rule, epochs=2, train_samples=600, test_samples=300, seed=3),
                          data)
    assert run.accuracy == accuracy
    np.testing.assert_allclose(run.loss, loss, rtol=1e-6)
    assert run.pulses == pulses


def test_the_memristor_recipe_gives_the_recorded_numbers(data):
    setup = MEMRISTOR_SETUP.with_changes(epochs=2, train_samples=600, test_samples=300)
    run = train_on_device(MEMRISTOR_DEVICES[1], setup, data)
    assert run.accuracy == [0.08333333333333333, 0.08666666666666667]
    np.testing.assert_allclose(run.loss, [2.3053890466690063, 2.301490306854248], rtol=1e-6)
    assert run.pulses == 2789


@pytest.mark.parametrize("rule, accuracy, pulses", [
    ("neurosim", [0.2491, 0.2551], 55012),
    ("mixed", [0.2522, 0.3512], 101537),
])
def test_the_neurosim_reproduction_gives_the_recorded_numbers(rule, accuracy, pulses):
    result = train_neurosim("ag-si", rule, NeuroSimSetup(epochs=2, images_per_epoch=300, seed=2))
    assert result.accuracy == accuracy
    assert result.pulses == pulses
