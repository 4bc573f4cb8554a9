"""Callbacks hook into the training loop (nn/fit.py) at the ends of batches and epochs, as in Keras.

``logs`` at an epoch's end hold "loss" and "accuracy" (averaged over the epoch's batches) and,
with validation data, "val_loss" and "val_accuracy". Setting ``model.stop_training`` ends the run
after the current batch.
"""

import math
import sys
import time
from typing import Any

from tqdm.auto import tqdm


class Callback:
    model: Any = None  # the Sequential being trained (set by fit)

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class History(Callback):
    """What ``fit`` returns: ``history["loss"]`` is the list of each epoch's loss, and so on.

    ``fit`` makes it the first of its callbacks, so it has recorded an epoch before any other
    callback hears of that epoch's end. ``progress``: a resumed run's, whose epochs it starts with."""

    def __init__(self, progress=None):
        progress = progress or {}
        self.history = {key: list(values) for key, values in progress.get("history", {}).items()}
        self.epoch = list(progress.get("epochs_done", []))

    def on_epoch_end(self, epoch, logs=None):
        self.append(epoch, logs or {})

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def progress(self):
        """What a checkpoint keeps of it (``model.progress`` holds these lists, not copies)."""
        return {"history": self.history, "epochs_done": self.epoch}

    def __getitem__(self, key):
        return self.history[key]


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss; off when stderr is not a terminal."""

    def __init__(self, enabled=None, update_every=10):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.update_every = update_every
        self.bar: Any = None  # the epoch's tqdm bar

    def on_epoch_begin(self, epoch, logs=None):
        params = self.model.fit_params
        self.bar = tqdm(total=params["steps"], desc=f"epoch {epoch + 1}/{params['epochs']}",
                        unit="batch", leave=False, disable=not self.enabled, file=sys.stderr)

    def on_batch_end(self, batch, logs=None):
        if (batch + 1) % self.update_every == 0:
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", accuracy=f"{logs['accuracy']:.4f}",
                                 refresh=False)
            self.bar.update(self.update_every)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()


class EpochLog(Callback):
    """One line per epoch on stdout: the losses, the accuracies and the seconds it took.

    With ``steps_per_report`` (step-based training) the line counts steps instead of epochs.
    """

    def __init__(self, file=None, names=None, steps_per_report=None):
        self.file = file or sys.stdout
        self.names = names or {"val_loss": "test loss", "val_accuracy": "test accuracy"}
        self.steps_per_report = steps_per_report

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        fields = "  ".join(f"{self.names.get(k, k)} {v:.4f}" for k, v in logs.items())
        params = self.model.fit_params
        if self.steps_per_report:
            total = params.get("max_steps") or params["epochs"] * self.steps_per_report
            where = f"step {min((epoch + 1) * self.steps_per_report, total)}/{total}"
        else:
            where = f"epoch {epoch + 1}/{params['epochs']}"
        print(f"{where}  {fields}  ({seconds:.1f} s)", file=self.file, flush=True)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.sign = -1 if mode == "max" or (mode == "auto" and "acc" in monitor) else 1
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights, self.stopped_epoch = math.inf, 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = self.sign * _monitored(self, logs)
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model after each epoch (or only when ``monitor`` improves), written atomically."""

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        self.path = path
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.sign = -1 if mode == "max" or (mode == "auto" and "acc" in monitor) else 1

    def on_train_begin(self, logs=None):
        self.best = math.inf

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            value = self.sign * _monitored(self, logs)
            if value >= self.best:
                return
            self.best = value
        self.model.save(str(self.path).format(epoch=epoch + 1, **logs))


def _monitored(callback, logs):
    if callback.monitor not in logs:
        raise ValueError(f"{type(callback).__name__} monitors {callback.monitor!r}, which fit does not "
                         f"log; it logs {', '.join(logs)} (validation values need validation_data)")
    return logs[callback.monitor]


class TerminateOnNaN(Callback):
    """Stop at the first batch whose loss is NaN or infinite, saying which step it was."""

    def __init__(self):
        self.message = None

    def on_batch_end(self, batch, logs=None):
        if not math.isfinite(logs["batch_loss"]):
            self.message = f"the loss became {logs['batch_loss']} at step {self.model.step}: training stopped"
            print(self.message, file=sys.stderr)
            self.model.stop_training = True


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch's start to ``schedule(epoch, lr)``."""

    def __init__(self, schedule):
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        optimizer.learning_rate = float(self.schedule(epoch, optimizer.learning_rate))


class CosineDecay(Callback):
    """After each step, set the learning rate on a half cosine from its start value down to
    ``final_fraction`` of it at ``total_steps``, after a linear warm-up of ``warmup_steps``.
    The position is the model's own step count, so a resumed run continues on the same curve."""

    def __init__(self, total_steps, warmup_steps=0, final_fraction=0.0):
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.final_fraction = final_fraction

    def on_train_begin(self, logs=None):
        self.peak = self.model.optimizer.learning_rate
        self._set()

    def on_batch_end(self, batch, logs=None):
        self._set()

    def _set(self):
        step = self.model.step
        if step < self.warmup_steps:
            fraction = (step + 1) / self.warmup_steps
        else:
            progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
            cosine = 0.5 * (1 + math.cos(math.pi * progress))
            fraction = self.final_fraction + (1 - self.final_fraction) * cosine
        self.model.optimizer.learning_rate = self.peak * fraction
