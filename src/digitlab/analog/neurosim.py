"""NeuroSim's on-chip training setup (MLP+NeuroSim V3.0), to compare devices with its published table.

A 400-100-10 sigmoid network without biases on 20x20 centre crops of MNIST binarised at 0.5, trained
one image at a time (8,000 drawn with replacement per "epoch"), squared error, SGD with rates 0.4 and
0.2, weights in [-1, 1]. The forward pass is the hardware one: each layer's column currents are read
by an 8-bit ADC against a mid-range reference, and the hidden layer passes on 1 bit (a1 >= 0.5); the
backward pass uses the analog a1 and ignores the ADC, as NeuroSim does. shared/neurosim_reference.md
(sections 2-4 and 9) describes all of it; ``NeuroSimSetup`` names every choice.

Kept from NeuroSim's code: the initial weights (sevenths of [-1, 1]) mapped without +Gmin (which
shifts every weight down by 2 Gmin / (Gmax - Gmin): on low on/off devices such as AlOx/HfO2 the
network starts with every hidden unit off, and never learns; ``init_offset=False`` maps them right),
and the 2019 release's x2 read-out. Dropped: the int-conversion that sometimes loses a pulse, the
unseeded device-to-device draw, and, by default, the 15 kOhm access transistor in series with each
device when it is read (``r_access``): through it, GST PCM's 4.7 kOhm devices read so compressed that
its network never learns either, where NeuroSim's Table II reports 89 %, so the table cannot have
been made that way.

Its loop is the one documented exception to the engine's single training loop (nn/fit.py): NeuroSim
trains one image at a time through a hardware forward pass (ADC read-outs, a 1-bit hidden layer)
with its own backward rule, which is not a Sequential's forward and backward.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from digitlab.analog.device import Device
from digitlab.analog.presets import get_device
from digitlab.analog.rules import get_rule
from digitlab.analog.weights import DeviceWeights
from digitlab.data import load_data


@dataclass(frozen=True)
class NeuroSimSetup:
    hidden: int = 100                 # 400-hidden-10
    epochs: int = 125                 # NeuroSim's totalNumEpochs
    images_per_epoch: int = 8000      # drawn with replacement from the 60,000
    alpha: tuple = (0.4, 0.2)         # SGD rates of the input->hidden and hidden->output layers
    hardware: bool = True             # ADC read-out and a 1-bit hidden layer; False: float forward
    adc_levels: int = 255             # 8-bit partial sums
    readout_factor: int = 2           # NeuroSim 2019's x2 ("1-bit left shift"); 1 at its 2021 HEAD
    r_access: float = 0.0             # ohms in series when reading (NeuroSim's 1T1R has 15 kOhm; see above)
    init_offset: bool = True          # map the initial weights without +Gmin, as NeuroSim's code does
    seed: int = 0


@dataclass
class NeuroSimResult:
    device: Device
    rule: str
    accuracy: list = field(default_factory=list)   # test accuracy after each epoch
    seconds: float = 0.0
    pulses: int = 0


def neurosim_data(images_and_labels=None):
    """((x_train, y_train), (x_test, y_test)): float32 rows of 400 zeros and ones, uint8 labels."""
    (x_train, y_train), (x_test, y_test) = images_and_labels or load_data()
    crop = lambda x: (x[:, 4:24, 4:24].reshape(len(x), 400) >= 128).astype(np.float32)  # noqa: E731
    return (crop(x_train), y_train), (crop(x_test), y_test)


class _Layer:
    """A crossbar: weights (out, in) on devices, read through NeuroSim's ADC."""

    def __init__(self, device, rule, shape, setup, rng):
        initial = (rng.integers(0, 7, shape) - 3) / 3.0
        self.weights = DeviceWeights(device, rule, initial, rng=rng)
        if not device.ideal and setup.init_offset:
            offset = device.g_min / (device.g_max - device.g_min)
            self.weights.synapses.set_states(np.clip((initial + 1) / 2 - offset, 0, 1)[None])
            self.weights.values = self.weights.synapses.read()
        self.rows = shape[1]
        self.scale = setup.adc_levels / self.rows
        self.factor = setup.readout_factor
        self.hardware = setup.hardware
        self.rho = _reference_ratio(device, setup.r_access)

    def forward(self, x):
        """Column sums of the active rows (x: 0/1, one row or a batch), as the ADC reads them."""
        total = x @ self.weights.values.T
        if not self.hardware:
            return total
        active = x.sum(axis=-1, keepdims=True)
        digits = (np.floor(self.scale * (active * self.rho + 0.5 * (total + active)))
                  - np.floor(self.scale * active * (self.rho + 0.5)))
        return (self.factor / self.scale) * digits


def _reference_ratio(device, r_access):
    """Imin / (Imax - Imin): where the ADC's quantisation grid sits (0 for float weights)."""
    if device.ideal:
        return 0.0
    current = lambda g: g / (1 + g * r_access)  # noqa: E731
    low, high = current(device.g_min), current(device.g_max)
    return low / (high - low)


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5


def train_neurosim(device, rule="neurosim", setup=NeuroSimSetup(), data=None, progress=None):
    """Train the NeuroSim network on ``device`` with ``rule``; test accuracy after every epoch.

    ``progress(epoch, accuracy)`` is called after each epoch if given.
    """
    device = get_device(device)
    if not device.ideal and device.r_access != setup.r_access:
        device = device.with_changes(r_access=setup.r_access)
    rule = get_rule(rule)
    (x_train, y_train), (x_test, y_test) = data or neurosim_data()
    init_rng, draw_rng, noise_rng = np.random.default_rng(setup.seed).spawn(3)
    layer1 = _Layer(device, rule, (setup.hidden, 400), setup, init_rng)
    layer2 = _Layer(device, rule, (10, setup.hidden), setup, init_rng)
    for layer in (layer1, layer2):
        if layer.weights.synapses is not None:
            layer.weights.synapses.rng = noise_rng
    targets = np.eye(10, dtype=np.float32)
    alpha1, alpha2 = np.float32(setup.alpha[0]), np.float32(setup.alpha[1])
    result = NeuroSimResult(device, rule.name)
    started = time.perf_counter()
    row_starts = (np.arange(setup.hidden) * 400)[:, None]
    for epoch in range(setup.epochs):
        for index in draw_rng.integers(0, len(x_train), setup.images_per_epoch):
            x, y = x_train[index], targets[y_train[index]]
            active = np.flatnonzero(x)  # only the active inputs' weights change in layer 1
            a1 = _sigmoid(layer1.forward(x))
            hidden = (a1 >= 0.5).astype(np.float32) if setup.hardware else a1
            a2 = _sigmoid(layer2.forward(hidden))
            s2 = -2 * a2 * (1 - a2) * (y - a2)
            s1 = a1 * (1 - a1) * (layer2.weights.values.T @ s2)
            layer1.weights.apply(-alpha1 * np.outer(s1, x[active]), (row_starts + active).reshape(-1))
            layer2.weights.apply(-alpha2 * np.outer(s2, a1))
        result.accuracy.append(evaluate(layer1, layer2, x_test, y_test, setup.hardware))
        if progress:
            progress(epoch, result.accuracy[-1])
    result.seconds = time.perf_counter() - started
    result.pulses = layer1.weights.pulses + layer2.weights.pulses
    return result


def evaluate(layer1, layer2, x, y, hardware=True, batch=2000):
    correct = 0
    for start in range(0, len(x), batch):
        a1 = _sigmoid(layer1.forward(x[start:start + batch]))
        hidden = (a1 >= 0.5).astype(np.float32) if hardware else a1
        a2 = _sigmoid(layer2.forward(hidden))
        correct += int((a2.argmax(axis=1) == y[start:start + batch]).sum())
    return correct / len(x)
