"""A training run: a recipe trained on MNIST, tested, and written to its own run folder.

``train_run(RunConfig("keras-mlp", epochs=5))`` is what ``digitlab train --epochs 5`` does (a bare name,
``train_run("keras-mlp")``, runs the recipe as it is): it returns a RunResult and leaves
``runs/<recipe>-<time>/`` holding model.safetensors, history.json, config.json, the figures as PNG
and report.html; while it trains, the folder holds checkpoint.safetensors to resume from.
"""

import json
import math
import platform
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import digitlab
from digitlab.data import load_data
from digitlab.data.augment import augment
from digitlab.errors import ConfigError
from digitlab.files import write_json
from digitlab.nn import Callback, CosineDecay, EpochLog, ProgressBar, Sequential, TerminateOnNaN
from digitlab.nn.backend import set_backend
from digitlab.nn.batching import num_batches
from digitlab.nn.checkpoint import load_checkpoint, save_checkpoint
from digitlab.recipes import Recipe, get_recipe
from digitlab.reporting.evaluation import evaluate
from digitlab.reporting.report import write_report
from digitlab.runs import CHECKPOINT, CONFIG, HISTORY, MODEL, RunConfig, make_run_dir

DRY_RUN_BATCHES = 2     # --dry-run: a smoke test of the whole pipeline, not a training
DRY_RUN_TEST_IMAGES = 500
DRY_RUN_WORDS = "a dry run of one epoch of two batches"  # what the first lines call it


@dataclass
class RunResult:
    run_dir: Path
    model: Sequential
    test_loss: float | None         # None when the run did not finish
    test_accuracy: float | None
    history: dict
    seconds: float
    stopped_early: bool = False     # the loss became NaN or infinite: ``message`` says at which step
    interrupted: bool = False       # Ctrl-C: a checkpoint waits in run_dir for resume_run
    report: Path | None = None      # report.html in the run folder
    message: str | None = None
    test_images: int | None = None  # how many test images the accuracy is on


def train_run(config: RunConfig | str, *, out="runs", verbose=True, progress_bar=None, callbacks=()):
    """Train the recipe ``config`` names, with its changes, on MNIST and test it (a recipe's name
    alone runs the recipe as it is).

    Everything is checked before the run folder is made. With ``verbose`` it first prints the recipe
    and what the config changes in it. A checkpoint is written at every epoch's end, and on Ctrl-C
    after the current batch; a run stopped either way goes on with ``resume_run(run_dir)``.
    """
    config = RunConfig(config) if isinstance(config, str) else config
    use_backend(config.backend)
    data = run_data(config)  # a damaged dataset is reported before a run folder is made
    recipe = resolve_recipe(config, train_size=len(data[0][0]))  # as is a bad recipe or override
    if verbose:
        changes = describe_changes(config)
        print(f"training {recipe.name}: {recipe.description}" + (f"\n  changed: {changes}" if changes else ""),
              flush=True)
    run_dir = make_run_dir(out, recipe.name, datetime.now(UTC))
    write_json(run_dir / CONFIG, {"settings": config.to_dict()})
    return _train(config, recipe, data, run_dir, None, verbose, progress_bar, callbacks)


def resume_run(run_dir, *, verbose=True, progress_bar=None, callbacks=()):
    """Go on with the run in ``run_dir`` from its checkpoint; it ends exactly as an uninterrupted run."""
    run_dir = Path(run_dir)
    config_path, checkpoint = run_dir / CONFIG, run_dir / CHECKPOINT
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.json): give the folder `train` printed")
    if not checkpoint.is_file():
        finished = (run_dir / MODEL).is_file()
        raise ConfigError(f"{run_dir} has no checkpoint to resume from"
                          + (": that run finished" if finished else ""))
    try:
        config = RunConfig.from_dict(json.loads(config_path.read_text())["settings"])
    except (ValueError, KeyError, TypeError) as error:  # a ConfigError is a ValueError
        raise ConfigError(f"{config_path} is damaged ({error}): the run cannot be resumed") from None
    use_backend(config.backend)
    data = run_data(config)
    recipe = resolve_recipe(config, train_size=len(data[0][0]))
    return _train(config, recipe, data, run_dir, checkpoint, verbose, progress_bar, callbacks)


def resolve_recipe(config: RunConfig, train_size: int) -> Recipe:
    """The recipe ``config`` names with its changes made, for ``train_size`` training images (a
    step-based recipe counts ``epochs`` over them): the one place a run looks its recipe up."""
    return get_recipe(config.recipe).with_overrides(
        epochs=config.epochs, steps=config.steps, batch_size=config.batch_size,
        learning_rate=config.learning_rate, train_size=train_size)


def describe_changes(config: RunConfig) -> str:
    """What ``config`` changes in its recipe, in words ("epochs 7, learning rate 0.01"); "" for nothing."""
    length = [] if config.dry_run else [("epochs", config.epochs), ("steps", config.steps)]  # a dry run has its own
    changed = [f"{name} {value}" for name, value in (
        *length, ("batch size", config.batch_size), ("learning rate", config.learning_rate),
        ("train samples", config.train_samples), ("test samples", config.test_samples)) if value is not None]
    return ", ".join([DRY_RUN_WORDS, *changed] if config.dry_run else changed)


def run_data(config: RunConfig):
    """MNIST as the run sees it: ((x_train, y_train), (x_test, y_test)), cut to the samples asked for."""
    (x_train, y_train), (x_test, y_test) = load_data()
    if config.train_samples:
        x_train, y_train = x_train[:config.train_samples], y_train[:config.train_samples]
    if config.test_samples:
        x_test, y_test = x_test[:config.test_samples], y_test[:config.test_samples]
    if config.dry_run:
        x_test, y_test = x_test[:DRY_RUN_TEST_IMAGES], y_test[:DRY_RUN_TEST_IMAGES]
    return (x_train, y_train), (x_test, y_test)


def _train(config, recipe, data, run_dir, checkpoint, verbose, progress_bar, extra_callbacks):
    (x_train, y_train), (x_test, y_test) = data
    epochs, steps_per_epoch, max_steps = recipe.schedule(len(x_train))
    if config.dry_run:
        epochs, steps_per_epoch, max_steps = 1, DRY_RUN_BATCHES, DRY_RUN_BATCHES

    init_rng, train_rng = np.random.default_rng(config.seed).spawn(2)
    model = recipe.make_model(seed=init_rng)
    progress, seconds_before = None, 0.0
    if checkpoint:
        progress, train_rng.bit_generator.state, facts = load_checkpoint(checkpoint, model)
        seconds_before = facts.get("seconds", 0.0)
    stop_on_nan = TerminateOnNaN()
    callbacks = [ProgressBar(enabled=progress_bar if verbose else False), stop_on_nan]
    if recipe.cosine_decay:
        callbacks.append(CosineDecay(max_steps or epochs * num_batches(len(x_train), recipe.batch_size)))
    if verbose:
        callbacks.append(EpochLog(steps_per_report=steps_per_epoch if recipe.steps else None))
    clock = time.perf_counter()
    elapsed = lambda: seconds_before + time.perf_counter() - clock  # noqa: E731
    callbacks += [EpochCheckpoint(run_dir / CHECKPOINT, elapsed), *extra_callbacks]

    with _stop_after_batch_on_ctrl_c(model), warnings.catch_warnings():
        # A run that diverges is stopped by TerminateOnNaN, which names the step; NumPy's warnings
        # on the way there (overflow in a product, NaN in the softmax) would only bury that line.
        warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero) encountered", RuntimeWarning)
        history = model.fit(x_train, y_train, epochs=epochs, batch_size=recipe.batch_size,
                            validation_data=(x_test, y_test), callbacks=callbacks, seed=train_rng,
                            shuffle=recipe.shuffle, steps_per_epoch=steps_per_epoch,
                            with_replacement=recipe.with_replacement, max_steps=max_steps,
                            augment=augment if recipe.augment else None, resume=progress)
    seconds = elapsed()
    if model.interrupted:
        save_checkpoint(run_dir / CHECKPOINT, model, {"seconds": seconds})
        return RunResult(run_dir, model, None, None, history.history, seconds, interrupted=True)
    if stop_on_nan.message:  # the last good checkpoint stays as it is
        return RunResult(run_dir, model, None, None, history.history, seconds,
                         stopped_early=True, message=stop_on_nan.message)

    test_loss, test_accuracy = model.evaluate(x_test, y_test)
    record = {
        "settings": config.to_dict(),
        "recipe": recipe.to_dict(),
        "train_samples": len(x_train),
        "test_samples": len(x_test),
        "seconds": round(seconds, 3),
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "versions": {"digitlab": digitlab.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    model.save(run_dir / MODEL,
               metadata={"recipe": record["recipe"], "result": {"test_accuracy": test_accuracy}})
    write_json(run_dir / HISTORY, {"epoch": history.epoch, **history.history})
    write_json(run_dir / CONFIG, record)
    report = write_report(run_dir, model, evaluate(model, x_test, y_test),
                          history={"epoch": history.epoch, **history.history}, config=record,
                          samples=(x_train[:25], y_train[:25]))
    (run_dir / CHECKPOINT).unlink(missing_ok=True)  # the run is complete: nothing left to resume
    return RunResult(run_dir, model, test_loss, test_accuracy, history.history, seconds, report=report,
                     test_images=len(x_test))


def use_backend(backend):
    """Run the engine on ``backend`` ("cpu" or "gpu"), or say clearly why it cannot."""
    try:
        set_backend(backend)
    except (ValueError, RuntimeError) as error:
        raise ConfigError(str(error)) from None


class EpochCheckpoint(Callback):
    """A checkpoint at every epoch's end, with the seconds trained so far."""

    def __init__(self, path, elapsed):
        self.path, self.elapsed = path, elapsed

    def on_epoch_end(self, epoch, logs=None):
        if all(math.isfinite(value) for value in logs.values()):
            save_checkpoint(self.path, self.model, {"seconds": self.elapsed()})


@contextmanager
def _stop_after_batch_on_ctrl_c(model):
    """The first Ctrl-C lets the batch finish (then a checkpoint is saved); a second stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_ctrl_c(signal_number, frame):
        if model.interrupted:
            raise KeyboardInterrupt
        model.interrupted = True
        print("\nstopping after this batch to save a checkpoint (Ctrl-C again to stop at once)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
