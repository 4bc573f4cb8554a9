"""The training loop: every kind of training in digitlab goes through ``fit``.

It reads top to bottom: for each epoch the batches come in a new order; each batch goes forward,
through the loss, backward and into the optimizer (``model.train_step``); then the callbacks hear
of it. Everything else is a callback: the History it returns, the progress bar, the epoch log,
checkpoints, learning-rate schedules, the analog devices' writes (digitlab.analog.training).

Resuming: ``model.progress`` always says where training stands (epoch, batch, the epoch's running
totals, and the generator's state when the epoch began), and digitlab.nn.checkpoint saves it with
the generator. ``fit(resume=progress)`` with the generator as it was then replays the epoch's batch
order and skips the batches already done, so the run ends as if it had never stopped.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from digitlab.errors import ConfigError
from digitlab.nn.accel import threads
from digitlab.nn.backend import get_backend, to_device
from digitlab.nn.batching import batch_indices, num_batches, sampled_indices
from digitlab.nn.callbacks import Callback, History
from digitlab.nn.checks import samples, whole_number


@threads.engine_threads()
def fit(model: Any, x: Any, y: Any, epochs: int = 1, batch_size: int = 32,
        validation_data: tuple | None = None, callbacks: Sequence[Callback] = (), seed: Any = None,
        shuffle: bool = True, steps_per_epoch: int | None = None, with_replacement: bool = False,
        initial_epoch: int = 0, max_steps: int | None = None,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        resume: dict | None = None) -> History:
    """Train ``model`` (a compiled Sequential) for ``epochs`` passes over (x, y); see Sequential.fit."""
    x, y, rng = _checked(model, x, y, epochs, batch_size, validation_data, seed, augment)
    steps = steps_per_epoch or num_batches(len(x), batch_size)
    model.fit_params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "max_steps": max_steps}
    model.fit_rng, model.stop_training, model.interrupted = rng, False, False
    progress = resume or {"epoch": initial_epoch, "batch": 0, "totals": [0.0, 0, 0]}
    history = History(progress)
    callbacks = [history, *callbacks]
    _call(callbacks, "set_model", model)
    _call(callbacks, "on_train_begin")

    for epoch in range(progress["epoch"], epochs):
        epoch_rng_state, batches, totals = _epoch(x, batch_size, steps, rng, shuffle, with_replacement,
                                                  progress if epoch == progress["epoch"] else None)
        _call(callbacks, "on_epoch_begin", epoch)
        for batch, index in batches:
            images, labels = x[index], to_device(y[index])
            if augment:
                images = augment(images, rng)
            loss, correct = model.train_step(model.inputs(images), labels)
            totals.add(loss, correct, len(labels))
            model.progress = {"epoch": epoch, "batch": batch + 1, "totals": totals.sums(),
                              "epoch_rng_state": epoch_rng_state, **history.progress()}
            _call(callbacks, "on_batch_end", batch, {**totals.logs(), "batch_loss": loss})
            if model.interrupted:  # to be resumed from here: a partial epoch has no results
                break
            if model.stop_training or batch + 1 == steps or model.step == max_steps:
                break
        if model.interrupted:
            break

        logs = totals.logs()
        if validation_data is not None:
            logs["val_loss"], logs["val_accuracy"] = model.evaluate(*validation_data)
        model.progress = {"epoch": epoch + 1, "batch": 0, "totals": [0.0, 0, 0], **history.progress()}
        _call(callbacks, "on_epoch_end", epoch, logs)  # History first: a checkpoint then holds this epoch
        if model.stop_training or model.step == max_steps:
            break

    _call(callbacks, "on_train_end")
    return history


def _checked(model: Any, x: Any, y: Any, epochs: int, batch_size: int, validation_data: tuple | None,
             seed: Any, augment: Callable | None) -> tuple[Any, Any, np.random.Generator]:
    """The data as arrays (on the GPU if the model runs there), the model built, and the generator."""
    if model.optimizer is None:
        raise ConfigError("compile the model before fit: model.compile(optimizer, loss)")
    x, y = samples(x, y, "fit")
    whole_number(batch_size, "batch_size")
    whole_number(epochs, "epochs", least=0)
    if validation_data is not None and len(validation_data) != 2:
        raise ConfigError("validation_data is a pair (x, y)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if not model.built:
        model.build(model.input_shape or np.shape(x)[1:], rng)
    model.check_labels(y, model.input_shape)
    if get_backend() == "gpu" and augment is None:  # moved once, so that each batch is gathered on the GPU
        x, y = to_device(x), to_device(y)
    return x, y, rng


def _epoch(x: Any, batch_size: int, steps: int, rng: np.random.Generator, shuffle: bool, with_replacement: bool,
           resumed: dict | None) -> tuple[Any, Iterator[tuple[int, Any]], "_Totals"]:
    """The generator's state at the epoch's start, the epoch's (batch number, indices) still to
    train, and its running totals. ``resumed``: the progress of a run stopped inside this epoch."""
    resumed = resumed if resumed is not None and resumed["batch"] > 0 else None  # stopped inside the epoch
    state_when_stopped = rng.bit_generator.state
    if resumed is not None:  # the order comes from the generator as it was when the epoch began
        rng.bit_generator.state = resumed["epoch_rng_state"]
    epoch_rng_state = rng.bit_generator.state
    if with_replacement:
        indices = sampled_indices(len(x), batch_size, steps, rng)
    else:
        indices = batch_indices(len(x), batch_size, rng, shuffle)
    batches = enumerate(indices)
    if resumed is None:
        return epoch_rng_state, batches, _Totals()
    for _ in range(resumed["batch"]):
        next(batches)
    rng.bit_generator.state = state_when_stopped  # and the rest of its draws (augmentation) as they were
    return epoch_rng_state, batches, _Totals(*resumed["totals"])


class _Totals:
    """An epoch's running sums: loss (weighted by batch size), correct answers, samples seen."""

    def __init__(self, loss_sum: float = 0.0, correct: int = 0, seen: int = 0):
        self.loss_sum, self.correct, self.seen = loss_sum, correct, seen

    def add(self, loss: float, correct: int, samples: int) -> None:
        self.loss_sum += loss * samples
        self.correct += correct
        self.seen += samples

    def sums(self) -> list:
        return [self.loss_sum, self.correct, self.seen]

    def logs(self) -> dict:
        return {"loss": self.loss_sum / max(self.seen, 1), "accuracy": self.correct / max(self.seen, 1)}


def _call(callbacks: Sequence[Callback], hook: str, *arguments: Any) -> None:
    for callback in callbacks:
        getattr(callback, hook)(*arguments)
