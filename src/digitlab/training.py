"""A training run: a recipe trained on MNIST, tested, and written to its own run folder.

``train_run("keras-mlp")`` is what ``digitlab train`` does: it returns a RunResult and leaves
``runs/<recipe>-<time>/`` holding model.safetensors, history.json, config.json, the figures as PNG
and report.html.
"""

import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import digitlab
from digitlab.data import load_data
from digitlab.errors import ConfigError
from digitlab.evaluation import evaluate
from digitlab.files import write_json
from digitlab.nn import EpochLog, ProgressBar, Sequential, TerminateOnNaN
from digitlab.recipes import DEFAULT_RECIPE, get_recipe
from digitlab.report import write_report

DRY_RUN_BATCHES = 2     # --dry-run: a smoke test of the whole pipeline, not a training
DRY_RUN_TEST_IMAGES = 500


@dataclass
class RunResult:
    run_dir: Path
    model: Sequential
    test_loss: float
    test_accuracy: float
    history: dict
    seconds: float
    stopped_early: bool = False
    report: Path | None = None      # report.html in the run folder


def _positive(name, value):
    if value is not None and value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")


def make_run_dir(out, recipe_name, started):
    """A new folder ``out/<recipe>-<YYYYmmdd-HHMMSS>`` (suffixed -2, -3... if taken)."""
    stem = f"{recipe_name}-{started.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1, 1000):
        run_dir = Path(out) / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise ConfigError(f"could not make a new run folder under {out}: clean it up")


def train_run(recipe=DEFAULT_RECIPE, *, epochs=None, steps=None, batch_size=None, learning_rate=None,
              seed=0, out="runs", verbose=True, progress_bar=None, dry_run=False, train_samples=None):
    """Train ``recipe`` on MNIST and test it; every argument left None keeps the recipe's value."""
    for name, value in (("epochs", epochs), ("steps", steps), ("batch size", batch_size),
                        ("learning rate", learning_rate), ("train samples", train_samples)):
        _positive(name, value)
    recipe = get_recipe(recipe).with_overrides(epochs=epochs, steps=steps, batch_size=batch_size,
                                               learning_rate=learning_rate)
    (x_train, y_train), (x_test, y_test) = load_data()
    if train_samples:
        x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    epochs, steps_per_epoch, max_steps = recipe.schedule(len(x_train))
    if dry_run:
        epochs, steps_per_epoch, max_steps = 1, DRY_RUN_BATCHES, DRY_RUN_BATCHES
        x_test, y_test = x_test[:DRY_RUN_TEST_IMAGES], y_test[:DRY_RUN_TEST_IMAGES]

    init_rng, train_rng = np.random.default_rng(seed).spawn(2)
    model = recipe.make_model(seed=init_rng)
    stop_on_nan = TerminateOnNaN()
    callbacks = [ProgressBar(enabled=progress_bar if verbose else False), stop_on_nan]
    if verbose:
        callbacks.append(EpochLog(steps_per_report=steps_per_epoch if recipe.steps else None))

    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=recipe.batch_size,
                        validation_data=(x_test, y_test), callbacks=callbacks, seed=train_rng,
                        shuffle=recipe.shuffle, steps_per_epoch=steps_per_epoch,
                        with_replacement=recipe.with_replacement, max_steps=max_steps)
    seconds = time.perf_counter() - clock
    test_loss, test_accuracy = model.evaluate(x_test, y_test)

    run_dir = make_run_dir(out, recipe.name, started)
    config = {
        "recipe": recipe.to_dict(),
        "seed": seed,
        "dry_run": dry_run,
        "train_samples": len(x_train),
        "test_samples": len(x_test),
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "stopped_on_nan": stop_on_nan.message,
        "versions": {"digitlab": digitlab.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
    }
    model.save(run_dir / "model.safetensors",
               metadata={"recipe": config["recipe"], "result": {"test_accuracy": test_accuracy}})
    write_json(run_dir / "history.json", {"epoch": history.epoch, **history.history})
    write_json(run_dir / "config.json", config)
    report = write_report(run_dir, model, evaluate(model, x_test, y_test),
                          history={"epoch": history.epoch, **history.history}, config=config,
                          samples=(x_train[:25], y_train[:25]))
    return RunResult(run_dir, model, test_loss, test_accuracy, history.history, seconds,
                     stopped_early=stop_on_nan.message is not None, report=report)
