"""Device-aware training: a digitlab network whose Dense kernels live on memristive devices.

It trains in the engine's one loop, ``model.fit`` (nn/fit.py), as an analog optimizer plugs into an
ordinary training loop: for each batch the engine does forward, loss and backward as ever; the
optimizer, ``DeviceSGD`` (plain SGD), proposes each kernel's change, the layer's update rule turns it
into pulses on the devices, and the kernel becomes what the devices now hold (written in place, only
where they changed). So the forward pass always sees the device weights. With a per-epoch rule (seed
001's), the float steps run for a whole epoch and the ``DeviceEpochs`` callback writes the devices
once at its end. Biases, if a model has them, stay in float (they would live in digital periphery).
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
from digitlab.nn import SGD, Callback, Dense, Sequential
from digitlab.nn.batching import num_batches


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
    per_epoch = rule.per_epoch and not device.ideal
    model.compile(DeviceSGD(setup.learning_rate, {} if per_epoch or device.ideal else weights),
                  "categorical_crossentropy")

    run = DeviceRun(device, rule.name)
    started = time.perf_counter()
    model.fit(x_train, y_train, epochs=setup.epochs, batch_size=setup.batch_size, seed=shuffle_rng,
              steps_per_epoch=max_batches and min(max_batches, num_batches(len(x_train), setup.batch_size)),
              callbacks=[DeviceEpochs(run, weights if per_epoch else {}, (x_test, y_test), progress)])
    run.seconds = time.perf_counter() - started
    run.pulses = sum(stored.pulses for stored in weights.values())
    return run


class DeviceEpochs(Callback):
    """What a device-aware run does around the training loop's epochs: a per-epoch rule's device
    writes (seed 001's: the epoch runs in float, then the devices take one step towards where it
    ended), the training time (steps and writes, not tests), and a test after every epoch, on the
    weights the devices hold."""

    def __init__(self, run: DeviceRun, per_epoch_weights: dict, test_data, progress=None):
        self.run, self.per_epoch_weights, self.test_data, self.progress = run, per_epoch_weights, test_data, progress

    def on_epoch_begin(self, epoch, logs=None):
        self.clock = time.perf_counter()
        self.epoch_start = {slot: stored.values.copy() for slot, stored in self.per_epoch_weights.items()}

    def on_batch_end(self, batch, logs=None):
        if self.progress:
            self.progress(1)

    def on_epoch_end(self, epoch, logs=None):
        for slot, stored in self.per_epoch_weights.items():
            stored.apply(stored.values - self.epoch_start[slot])
            stored.reread()
        self.run.train_seconds += time.perf_counter() - self.clock
        loss, accuracy = self.model.evaluate(*self.test_data)
        self.run.loss.append(float(loss))
        self.run.accuracy.append(float(accuracy))


class DeviceSGD(SGD):
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
