"""A training run: a recipe trained on MNIST, tested, and written to its own run folder.

``train_run("keras-mlp")`` is what ``digitlab train`` does: it returns a RunResult and leaves
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
from digitlab.nn.checks import number, whole_number
from digitlab.recipes import DEFAULT_RECIPE, get_recipe
from digitlab.reporting.evaluation import evaluate
from digitlab.reporting.report import write_report
from digitlab.runs import CHECKPOINT, CONFIG, HISTORY, MODEL, make_run_dir

DRY_RUN_BATCHES = 2     # --dry-run: a smoke test of the whole pipeline, not a training
DRY_RUN_TEST_IMAGES = 500




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


def train_run(recipe=DEFAULT_RECIPE, *, epochs=None, steps=None, batch_size=None, learning_rate=None,
              seed=0, out="runs", verbose=True, progress_bar=None, dry_run=False, train_samples=None,
              test_samples=None, backend="cpu", callbacks=()):
    """Train ``recipe`` (a name, or a registered Recipe) on MNIST and test it; every argument left
    None keeps the recipe's value.

    ``backend="gpu"`` runs the engine on CuPy. A checkpoint is written at every epoch's end, and on
    Ctrl-C after the current batch; a run stopped either way goes on with ``resume_run(run_dir)``.
    """
    use_backend(backend)
    for name, value in (("epochs", epochs), ("steps", steps), ("batch size", batch_size),
                        ("train samples", train_samples), ("test samples", test_samples)):
        if value is not None:
            whole_number(value, name)
    if learning_rate is not None:
        number(learning_rate, "learning rate", "> 0 and finite")
    whole_number(seed, "seed", least=0)
    chosen = get_recipe(recipe)  # a registered Recipe or its name; a bad one is refused here
    chosen.with_overrides(epochs=epochs, steps=steps)  # as is a bad override
    recipe = chosen.name
    settings = {"recipe": recipe, "epochs": epochs, "steps": steps, "batch_size": batch_size,
                "learning_rate": learning_rate, "seed": seed, "dry_run": dry_run,
                "train_samples": train_samples, "test_samples": test_samples, "backend": backend}
    load_data()  # a damaged dataset is reported before a run folder is made
    run_dir = make_run_dir(out, recipe, datetime.now(UTC))
    write_json(run_dir / CONFIG, {"settings": settings})
    return _train(settings, run_dir, None, verbose, progress_bar, callbacks)


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
        settings = json.loads(config_path.read_text())["settings"]
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{config_path} is damaged ({error}): the run cannot be resumed") from None
    # a run folder written before the CPU/GPU switch was called "backend" says "device"
    use_backend(settings.get("backend", settings.get("device", "cpu")))
    return _train(settings, run_dir, checkpoint, verbose, progress_bar, callbacks)


def _train(settings, run_dir, checkpoint, verbose, progress_bar, extra_callbacks):
    (x_train, y_train), (x_test, y_test) = load_data()
    if settings["train_samples"]:
        x_train, y_train = x_train[:settings["train_samples"]], y_train[:settings["train_samples"]]
    recipe = get_recipe(settings["recipe"]).with_overrides(
        epochs=settings["epochs"], steps=settings["steps"], batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"], train_size=len(x_train))
    if settings.get("test_samples"):
        x_test, y_test = x_test[:settings["test_samples"]], y_test[:settings["test_samples"]]
    epochs, steps_per_epoch, max_steps = recipe.schedule(len(x_train))
    if settings["dry_run"]:
        epochs, steps_per_epoch, max_steps = 1, DRY_RUN_BATCHES, DRY_RUN_BATCHES
        x_test, y_test = x_test[:DRY_RUN_TEST_IMAGES], y_test[:DRY_RUN_TEST_IMAGES]

    init_rng, train_rng = np.random.default_rng(settings["seed"]).spawn(2)
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
    config = {
        "settings": settings,
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
               metadata={"recipe": config["recipe"], "result": {"test_accuracy": test_accuracy}})
    write_json(run_dir / HISTORY, {"epoch": history.epoch, **history.history})
    write_json(run_dir / CONFIG, config)
    report = write_report(run_dir, model, evaluate(model, x_test, y_test),
                          history={"epoch": history.epoch, **history.history}, config=config,
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
