"""Device-aware training of a digitlab network: it learns, repeats with its seed, and each rule writes
the devices the way it says."""

import numpy as np
import pytest

from digitlab.analog.training import AnalogSetup, build_network, train_on_device
from digitlab.data import load_data
from digitlab.errors import ConfigError

SMALL = AnalogSetup(hidden=(32,), epochs=2, batch_size=32, train_samples=2000, test_samples=1000)


@pytest.fixture(scope="module")
def mnist():
    return load_data()


@pytest.mark.parametrize("device, rule, at_least", [
    ("ideal", "mixed", 0.80),
    ("linear", "mixed", 0.75),
    ("ag-si", "mixed", 0.70),
    ("linear", "neurosim", 0.5),
])
def test_a_short_training_on_devices_learns(mnist, device, rule, at_least):
    setup = SMALL.with_changes(rule=rule, learning_rate=0.1, w_max=0.3)
    run = train_on_device(device, setup, mnist)
    assert len(run.accuracy) == 2 and run.accuracy[-1] > at_least
    assert (run.pulses > 0) == (device != "ideal")


def test_the_same_seed_trains_the_same_and_another_differently(mnist):
    setup = SMALL.with_changes(epochs=1, train_samples=600)
    first, again = (train_on_device("ag-si", setup, mnist) for _ in range(2))
    other = train_on_device("ag-si", setup.with_changes(seed=1), mnist)
    assert first.accuracy == again.accuracy and first.pulses == again.pulses
    assert other.pulses != first.pulses


def test_the_tutorial_rule_moves_each_weight_at_most_one_level_per_epoch(mnist, monkeypatch):
    from digitlab.analog import training

    made = []

    class Remembered(training.DeviceWeights):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.start = self.values.copy()
            made.append(self)

    monkeypatch.setattr(training, "DeviceWeights", Remembered)
    setup = SMALL.with_changes(rule="tutorial", epochs=1, train_samples=640, w_max=1.0, init="levels",
                               learning_rate=0.01)
    run = train_on_device("linear", setup, mnist)
    assert len(made) == 2
    for weights in made:
        moved = np.abs(weights.values - weights.start)
        assert moved.max() <= 0.02 + 1e-5                    # one level of 100 over [-1, 1]
        levels = (weights.values + 1) * 50
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
    moved = sum(int((np.abs(w.values - w.start) > 1e-6).sum()) for w in made)
    assert 0.95 * run.pulses <= moved <= run.pulses      # one pulse each (those at an end stay put)


def test_biases_stay_in_float_and_the_network_has_the_asked_shape():
    model = build_network(AnalogSetup(hidden=(16, 8), use_bias=True))
    model.build(seed=0)
    shapes = [tuple(layer.params["kernel"].shape) for layer in model.layers if "kernel" in layer.params]
    assert shapes == [(784, 16), (16, 8), (8, 10)]


@pytest.mark.parametrize("changes, mentions", [
    ({"epochs": 0}, "epochs"), ({"learning_rate": 0}, "learning_rate"), ({"w_max": -1}, "w_max"),
    ({"init": "random"}, "init"), ({"rule": "magic"}, "unknown update rule"),
])
def test_a_bad_setup_is_refused(changes, mentions):
    with pytest.raises(ConfigError, match=mentions):
        AnalogSetup(**changes)
