"""Device-aware training: a digitlab network whose Dense kernels live on memristive devices.

The loop reads top to bottom: for each batch, the engine does forward, loss, backward and the
optimizer's step in float, as ever; what the step changed in each kernel is then handed to the update
rule, which writes the layer's devices, and the kernel is replaced by what the devices now hold. So the
forward pass always sees the device weights, and every optimizer and loss of ``digitlab.nn`` works.
With a per-epoch rule (seed 001's), the float steps run for a whole epoch before the devices are
written once. Biases, if a model has them, stay in float (they would live in digital periphery).
"""

import time
from dataclasses import dataclass, field

import numpy as np

from digitlab.analog.device import Device, curve
from digitlab.analog.presets import get_device
from digitlab.analog.rules import get_rule
from digitlab.analog.setup import AnalogSetup
from digitlab.analog.weights import DeviceWeights
from digitlab.data import load_data
from digitlab.nn import SGD, Dense, Sequential
from digitlab.nn.backend import as_float32
from digitlab.nn.batching import batch_indices, num_batches


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
                "loss": self.loss, "seconds": round(self.seconds, 3), "pulses": self.pulses}


def build_network(setup: AnalogSetup) -> Sequential:
    layers = [Dense(units, activation=setup.activation, use_bias=setup.use_bias) for units in setup.hidden]
    layers.append(Dense(10, activation="softmax", use_bias=setup.use_bias))
    return Sequential(layers, input_shape=(784,))


def train_on_device(device, setup=AnalogSetup(), data=None, progress=None, max_batches=None) -> DeviceRun:
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
    model.compile(SGD(setup.learning_rate), "categorical_crossentropy")
    kernels = [layer.params["kernel"] for layer in model.layers if "kernel" in layer.params]
    weights = [DeviceWeights(device, rule, _initial(kernel, device, setup, init_rng), setup.w_max,
                             rng=noise_rng, clip=False) for kernel in kernels]
    for kernel, stored in zip(kernels, weights):
        kernel[...] = stored.values

    run = DeviceRun(device, rule.name)
    started = time.perf_counter()
    steps = num_batches(len(x_train), setup.batch_size)
    on_device = not device.ideal
    for _ in range(setup.epochs):
        clock = time.perf_counter()
        epoch_start = [kernel.copy() for kernel in kernels] if on_device and rule.per_epoch else None
        for batch, index in enumerate(batch_indices(len(x_train), setup.batch_size, shuffle_rng)):
            before = [kernel.copy() for kernel in kernels] if on_device and not rule.per_epoch else None
            model.train_step(as_float32(x_train[index]).reshape(len(index), 784), y_train[index])
            if before is not None:
                _write(kernels, weights, before)
            if progress:
                progress(1)
            if max_batches and batch + 1 >= max_batches:
                break
        if epoch_start is not None:
            _write(kernels, weights, epoch_start)
        run.train_seconds += time.perf_counter() - clock
        loss, accuracy = model.evaluate(x_test, y_test)
        run.loss.append(float(loss))
        run.accuracy.append(float(accuracy))
    run.seconds = time.perf_counter() - started
    run.pulses = sum(stored.pulses for stored in weights)
    return run


def _write(kernels, weights, before):
    """Hand each kernel's float change to its devices; the kernel becomes what they hold."""
    for kernel, stored, old in zip(kernels, weights, before):
        stored.apply(kernel - old)
        kernel[...] = stored.values


def _initial(kernel, device, setup, rng):
    """The weights to program first: the initialiser's, or (seed 001) a random level per device."""
    if setup.init == "model" or device.ideal:
        return np.clip(kernel, -setup.w_max, setup.w_max)
    level = rng.integers(0, device.levels + 1, kernel.shape) / device.levels
    return (setup.w_max * (2 * curve(level, device.a_ltp) - 1)).astype(np.float32)


def compare_devices(devices, setup=AnalogSetup(), data=None, progress_factory=None, max_batches=None):
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
