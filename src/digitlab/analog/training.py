"""Device-aware training: a digitlab network whose Dense kernels live on memristive devices.

The loop reads top to bottom: for each batch, the engine does forward, loss and backward as ever;
the optimizer (plain SGD) proposes each kernel's change, the layer's update rule turns it into pulses
on the devices, and the kernel becomes what the devices now hold (written in place, only where they
changed). So the forward pass always sees the device weights. With a per-epoch rule (seed 001's), the
float steps run for a whole epoch before the devices are written once. Biases, if a model has them,
stay in float (they would live in digital periphery).
"""

import time
from dataclasses import dataclass, field

import numpy as np

from digitlab.analog.device import Device, curve
from digitlab.analog.presets import get_device
from digitlab.analog.rules import get_rule
from digitlab.analog.setup import DEFAULT_SETUP, AnalogSetup
from digitlab.analog.weights import DeviceWeights
from digitlab.data import load_data
from digitlab.nn import SGD, Dense, Sequential
from digitlab.nn.accel import threads
from digitlab.nn.backend import as_float32
from digitlab.nn.batching import batch_indices


@dataclass
class DeviceRun:
    """One device's training: test accuracy and loss after each epoch."""
    device: Device
    rule: str
    accuracy: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    seconds: float = 0.0          # the whole run, tests included
    train_seconds: float = 0.0    # the training steps and device writes only
    pulses: int = 0

    @property
    def final(self) -> float:
        return self.accuracy[-1] if self.accuracy else float("nan")

    def to_dict(self) -> dict:
        return {"device": self.device.to_dict(), "rule": self.rule, "accuracy": self.accuracy,
                "loss": self.loss, "seconds": round(self.seconds, 3),
                "train_seconds": round(self.train_seconds, 3), "pulses": self.pulses}


def build_network(setup: AnalogSetup) -> Sequential:
    layers = [Dense(units, activation=setup.activation, use_bias=setup.use_bias) for units in setup.hidden]
    layers.append(Dense(10, activation="softmax", use_bias=setup.use_bias))
    return Sequential(layers, input_shape=(784,))


@threads.engine_threads()
def train_on_device(device, setup=DEFAULT_SETUP, data=None, progress=None, max_batches=None) -> DeviceRun:
    """Train ``setup``'s network with its kernels on ``device``; test after every epoch.

    ``data``: ((x_train, y_train), (x_test, y_test)) as ``load_data`` gives them (loaded if None).
    ``progress(batches_done)`` is called as training goes; ``max_batches`` cuts each epoch short
    (a smoke test).
    """
    device = get_device(device)
    rule = get_rule(setup.rule)
    (x_train, y_train), (x_test, y_test) = data or load_data()
    x_train, y_train = x_train[:setup.train_samples], y_train[:setup.train_samples]
    x_test, y_test = x_test[:setup.test_samples], y_test[:setup.test_samples]
    init_rng, shuffle_rng, noise_rng = np.random.default_rng(setup.seed).spawn(3)

    model = build_network(setup)
    model.build(seed=init_rng)
    dense = [layer for layer in model.layers if "kernel" in layer.params]
    weights = {f"{layer.name}/kernel": DeviceWeights(
        device, rule, _initial(layer.params["kernel"], device, setup, init_rng), setup.w_max, rng=noise_rng,
        clip=False, out=layer.params["kernel"]) for layer in dense}
    per_step = not device.ideal and not rule.per_epoch
    model.compile(_DeviceSGD(setup.learning_rate, weights if per_step else {}), "categorical_crossentropy")

    run = DeviceRun(device, rule.name)
    started = time.perf_counter()
    for _ in range(setup.epochs):
        clock = time.perf_counter()
        epoch_start = {slot: stored.values.copy() for slot, stored in weights.items()} if (
            not device.ideal and rule.per_epoch) else None
        for batch, index in enumerate(batch_indices(len(x_train), setup.batch_size, shuffle_rng)):
            model.train_step(as_float32(x_train[index]).reshape(len(index), 784), y_train[index])
            if progress:
                progress(1)
            if max_batches and batch + 1 >= max_batches:
                break
        if epoch_start is not None:  # the epoch ran in float: now the devices take one step
            for slot, stored in weights.items():
                stored.apply(stored.values - epoch_start[slot])
                stored.reread()
        run.train_seconds += time.perf_counter() - clock
        loss, accuracy = model.evaluate(x_test, y_test)
        run.loss.append(float(loss))
        run.accuracy.append(float(accuracy))
    run.seconds = time.perf_counter() - started
    run.pulses = sum(stored.pulses for stored in weights.values())
    return run


class _DeviceSGD(SGD):
    """Plain SGD whose steps on device kernels go to the devices: the step's change is handed to
    the layer's DeviceWeights (rule and devices decide what happens), which write the kernel in
    place. Other parameters (biases) take the float step."""

    def __init__(self, learning_rate, devices):
        super().__init__(learning_rate)
        self.devices = devices  # "layer/kernel" -> DeviceWeights

    def update(self, param, grad, slot):
        stored = self.devices.get(slot)
        if stored is None:
            super().update(param, grad, slot)
        else:
            stored.apply(np.float32(-self.learning_rate) * grad)


def _initial(kernel, device, setup, rng):
    """The weights to program first: the initialiser's, or (seed 001) a random level per device."""
    if setup.init == "model" or device.ideal:
        return np.clip(kernel, -setup.w_max, setup.w_max)
    level = rng.integers(0, device.levels + 1, kernel.shape) / device.levels
    return (setup.w_max * (2 * curve(level, device.a_ltp) - 1)).astype(np.float32)


def compare_devices(devices, setup=DEFAULT_SETUP, data=None, progress_factory=None, max_batches=None):
    """Train ``setup`` on each device in turn; returns their DeviceRuns (same seed for each)."""
    data = data or load_data()
    runs = []
    for device in devices:
        device = get_device(device)
        bar = progress_factory(device) if progress_factory else None
        try:
            runs.append(train_on_device(device, setup, data, progress=bar.update if bar else None,
                                        max_batches=max_batches))
        finally:
            if bar:
                bar.close()
    return runs
