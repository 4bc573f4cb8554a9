"""The ``memristor`` recipe: seed 001's experiment as one call.

Seed 001 (section 5) trains a 784-128-10 ReLU network without biases whose weights are the states of
memristors with 100 levels, starting from a random level each: one epoch of Keras SGD (learning rate
0.01, batches of 32), then every weight moves one level in the direction training moved it, 20 times;
once with a linear device and once with a nonlinear one, and it plots both accuracy curves. Its
nonlinear device is ``G(p) = (1 - exp(p/0.8)) / (1 - exp(1/0.8))`` on p in [0, 1], used both up and
down (the run calls its LTP function for both): in NeuroSim's sign convention that is A = -0.8 in both
directions, a curve that starts flat and steepens, walked up and down.

Its bug is fixed: the tutorial steps layer 2 with layer 1's states; here each layer has its own.

    from digitlab.analog.memristor import run_memristor
    comparison = run_memristor(epochs=20)          # what `digitlab analog train --recipe memristor` does
"""

from digitlab.analog.device import Device
from digitlab.analog.presets import PRESETS
from digitlab.analog.setup import AnalogSetup
from digitlab.analog.training import build_network

SEED_001_NONLINEAR = Device(
    name="nonlinear-a0.8", levels=100, a_ltp=-0.8, a_ltd=-0.8, g_min=0.0, g_max=1.0,
    source="tutorial 001: G = (1 - exp(p/0.8)) / (1 - exp(1/0.8)), 100 levels, walked up and down")

MEMRISTOR_SETUP = AnalogSetup(
    hidden=(128,),          # 784-128-10
    activation="relu",
    use_bias=False,         # the tutorial's Dense(..., use_bias=False)
    rule="tutorial",        # a float epoch, then one level per weight
    epochs=20,              # EPOCHS = 20
    batch_size=32,          # Keras' default batch
    learning_rate=0.01,     # Keras' default SGD
    w_max=1.0,              # weights 2 (P/100 - 0.5), in [-1, 1]
    init="levels",          # P = int(100 rand + 0.5): a random level per device
)
MEMRISTOR_DEVICES = (PRESETS["linear"], SEED_001_NONLINEAR)
DESCRIPTION = ("784-128 ReLU-10, no bias, 100-level memristors, one level per epoch: linear vs "
               "nonlinear (A 0.8), 20 epochs")


def build_memristor_network():
    """The tutorial's network, unbuilt: 784-128 ReLU-10 softmax, no biases (for a Recipe's ``build``)."""
    return build_network(MEMRISTOR_SETUP)


def run_memristor(out="runs", epochs=None, seed=None, train_samples=None, devices=None, progress=None,
                  dry_run=False, data=None):
    """Run seed 001's experiment and write its run folder; returns the Comparison.

    Every argument left None keeps the tutorial's choice.
    """
    # Imported here: digitlab.recipes reads this module, and every CLI command starts faster without
    # the figures' matplotlib.
    from digitlab.analog.experiment import compare

    setup = MEMRISTOR_SETUP.with_changes(epochs=epochs, seed=seed, train_samples=train_samples)
    return compare(devices or MEMRISTOR_DEVICES, setup, out=out, name="memristor", progress=progress,
                   dry_run=dry_run, data=data)
