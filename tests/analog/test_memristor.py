"""The memristor recipe is seed 001's experiment, with the tutorial's numbers."""

import numpy as np

from digitlab.analog.memristor import MEMRISTOR_DEVICES, MEMRISTOR_SETUP, SEED_001_NONLINEAR, build_memristor_network


def test_the_recipe_keeps_the_tutorials_choices():
    setup = MEMRISTOR_SETUP
    assert (setup.hidden, setup.activation, setup.use_bias) == ((128,), "relu", False)
    assert (setup.rule, setup.epochs, setup.batch_size, setup.learning_rate) == ("tutorial", 20, 32, 0.01)
    assert (setup.w_max, setup.init) == (1.0, "levels")
    assert [device.name for device in MEMRISTOR_DEVICES] == ["linear", "nonlinear-a0.8"]
    assert all(device.levels == 100 and device.c2c == 0 for device in MEMRISTOR_DEVICES)


def test_the_nonlinear_device_is_the_tutorials_curve_up_and_down():
    p = np.arange(101)
    tutorial = (1 - np.exp(p / 100 / 0.8)) / (1 - np.exp(1 / 0.8))   # LTP(P) with Gmin 0, Gmax 1
    np.testing.assert_allclose(SEED_001_NONLINEAR.ltp_curve(p), tutorial, atol=1e-12)
    np.testing.assert_allclose(SEED_001_NONLINEAR.ltd_curve(p), tutorial[::-1], atol=1e-12)


def test_the_network_is_784_128_10_without_biases():
    model = build_memristor_network()
    model.build(seed=0)
    assert model.count_params() == 784 * 128 + 128 * 10
