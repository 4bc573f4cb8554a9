"""Callbacks: early stopping, checkpoints, NaN guard, learning-rate schedule, progress and logs."""

import io
import math

import numpy as np
import pytest

from digitlab.nn import (
    SGD,
    Adam,
    Callback,
    Dense,
    EarlyStopping,
    EpochLog,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    Sequential,
    TerminateOnNaN,
    load_model,
)


def blobs(seed=0, n=32, features=10, classes=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, n)


def mlp():
    return Sequential([Dense(16, activation="relu"), Dense(4, activation="softmax")], input_shape=(10,))


class FakeModel:
    """What EarlyStopping needs of a model: stop_training and weights to copy and restore."""

    def __init__(self):
        self.stop_training = False
        self.weights = {"w": np.zeros(1)}

    def get_weights(self):
        return {key: value.copy() for key, value in self.weights.items()}

    def set_weights(self, weights):
        self.weights = {key: value.copy() for key, value in weights.items()}


def drive(callback, values, monitor="val_loss"):
    """Feed ``values`` to ``callback`` epoch by epoch (the weights are the epoch number) until it
    stops the fake model; returns the model and the number of epochs run."""
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    epochs = len(values)
    for epoch, value in enumerate(values):
        model.weights["w"][:] = epoch
        callback.on_epoch_end(epoch, {monitor: value})
        if model.stop_training:
            epochs = epoch + 1
            break
    callback.on_train_end()  # as Sequential.fit does, however training ends
    return model, epochs


class WeightLog(Callback):
    """The model's weights at the end of each epoch (before any later callback changes them)."""

    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


class BatchLog(Callback):
    def __init__(self):
        self.losses, self.learning_rates = [], []

    def on_batch_end(self, batch, logs=None):
        self.losses.append(logs["batch_loss"])
        self.learning_rates.append(self.model.optimizer.learning_rate)


# ============================================================================ EarlyStopping


def test_early_stopping_waits_patience_epochs_without_improvement():
    stopper = EarlyStopping(patience=3)
    model, epochs = drive(stopper, [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert epochs == 5 and stopper.stopped_epoch == 4
    assert model.weights["w"][0] == 4, "without restore_best_weights the last weights stay"


def test_early_stopping_patience_restarts_at_each_improvement():
    _, epochs = drive(EarlyStopping(patience=2), [1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.9, 0.1])
    assert epochs == 7


def test_early_stopping_restores_the_best_weights():
    model, epochs = drive(EarlyStopping(patience=2, restore_best_weights=True), [1.0, 0.4, 0.5, 0.6, 0.1])
    assert epochs == 4
    assert model.weights["w"][0] == 1


def test_early_stopping_min_delta_ignores_small_improvements():
    _, epochs = drive(EarlyStopping(patience=2, min_delta=0.1), [1.0, 0.95, 0.91, 0.5])
    assert epochs == 3


def test_early_stopping_maximises_accuracy():
    stopper = EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True)
    model, epochs = drive(stopper, [0.5, 0.9, 0.8, 0.85, 0.95], monitor="val_accuracy")
    assert epochs == 4 and model.weights["w"][0] == 1
    _, epochs = drive(EarlyStopping(monitor="score", mode="max", patience=1), [1, 2, 3, 2], monitor="score")
    assert epochs == 4


def test_early_stopping_names_a_monitor_that_fit_does_not_log():
    stopper = EarlyStopping(monitor="val_loss")
    stopper.set_model(FakeModel())
    stopper.on_train_begin()
    with pytest.raises(ValueError, match="val_loss"):
        stopper.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})


def test_early_stopping_in_a_real_fit_whose_loss_cannot_improve():
    x, y = blobs(1)
    model = mlp().compile(SGD(learning_rate=0.0), "categorical_crossentropy")
    stopper = EarlyStopping(monitor="loss", patience=2)
    history = model.fit(x, y, epochs=10, batch_size=8, shuffle=False, seed=0, callbacks=[stopper])
    assert history.epoch == [0, 1, 2]
    assert stopper.stopped_epoch == 2


def test_early_stopping_in_a_real_fit_restores_the_weights_of_the_best_epoch():
    x, y = blobs(2)
    x_val, y_val = blobs(3)  # unrelated labels: the validation loss soon rises
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    log = WeightLog()
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=50, batch_size=8, validation_data=(x_val, y_val), seed=0,
                        callbacks=[log, stopper])
    assert len(history.epoch) < 50
    best = int(np.argmin(history["val_loss"]))
    assert len(history.epoch) == best + 3
    for key, value in model.get_weights().items():
        np.testing.assert_array_equal(value, log.weights[best][key])
    assert model.evaluate(x_val, y_val)[0] == pytest.approx(history["val_loss"][best], rel=1e-6)


# ============================================================================ ModelCheckpoint


def test_model_checkpoint_writes_a_loadable_file_each_epoch(tmp_path):
    x, y = blobs(4)
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, seed=0,
              callbacks=[ModelCheckpoint(tmp_path / "model-{epoch:02d}-{loss:.3f}.safetensors")])
    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == 2 and files[0].startswith("model-01-") and files[1].startswith("model-02-")
    last = load_model(tmp_path / files[1])
    np.testing.assert_array_equal(last.predict_proba(x), model.predict_proba(x))
    assert not np.array_equal(load_model(tmp_path / files[0]).predict_proba(x), model.predict_proba(x))


def test_model_checkpoint_save_best_only_saves_only_improvements(tmp_path):
    path = tmp_path / "best.safetensors"
    model = mlp().build(seed=0)
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    saved = []
    for epoch, val_loss in enumerate([1.0, 2.0, 0.5, 0.5, 0.7, 0.4]):
        path.unlink(missing_ok=True)
        checkpoint.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val_loss})
        saved.append(path.exists())
    assert saved == [True, False, True, False, False, True]


def test_model_checkpoint_save_best_only_maximises_accuracy(tmp_path):
    path = tmp_path / "best.safetensors"
    model = mlp().build(seed=0)
    checkpoint = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    saved = []
    for epoch, accuracy in enumerate([0.5, 0.4, 0.6]):
        path.unlink(missing_ok=True)
        checkpoint.on_epoch_end(epoch, {"val_accuracy": accuracy})
        saved.append(path.exists())
    assert saved == [True, False, True]


def test_model_checkpoint_keeps_the_best_model_of_a_real_fit(tmp_path):
    x, y = blobs(5)
    x_val, y_val = blobs(6)
    path = tmp_path / "best.safetensors"
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    log = WeightLog()
    history = model.fit(x, y, epochs=8, batch_size=8, validation_data=(x_val, y_val), seed=0,
                        callbacks=[log, ModelCheckpoint(path, save_best_only=True)])
    best = int(np.argmin(history["val_loss"]))
    saved = load_model(path).get_weights()
    for key, value in log.weights[best].items():
        np.testing.assert_array_equal(saved[key], value)


# ============================================================================ TerminateOnNaN


def test_terminate_on_nan_stops_at_the_first_non_finite_batch_loss(capsys):
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((32, 10)).astype(np.float32), rng.standard_normal((32, 4)).astype(np.float32)
    model = Sequential([Dense(4)], input_shape=(10,)).compile(SGD(learning_rate=10.0), "mse")
    log, guard = BatchLog(), TerminateOnNaN()
    with np.errstate(all="ignore"):
        history = model.fit(x, y, epochs=50, batch_size=4, seed=0, callbacks=[log, guard])
    first_bad = next(step for step, loss in enumerate(log.losses, start=1) if not math.isfinite(loss))
    assert all(math.isfinite(loss) for loss in log.losses[:-1])
    assert len(log.losses) == first_bad == model.step
    assert len(history.epoch) < 50
    assert f"step {first_bad}" in guard.message
    assert guard.message in capsys.readouterr().err


def test_terminate_on_nan_lets_a_healthy_run_finish():
    x, y = blobs(8)
    guard = TerminateOnNaN()
    history = mlp().compile(Adam(0.01), "categorical_crossentropy").fit(x, y, epochs=3, batch_size=8, seed=0,
                                                                       callbacks=[guard])
    assert history.epoch == [0, 1, 2] and guard.message is None


# ============================================================================ LearningRateScheduler


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = blobs(9)
    schedule_calls = []

    def schedule(epoch, lr):
        schedule_calls.append((epoch, lr))
        return [0.1, 0.0, 0.05][epoch]

    model = mlp().compile(SGD(learning_rate=0.5), "categorical_crossentropy")
    log, weights = BatchLog(), WeightLog()
    model.fit(x, y, epochs=3, batch_size=16, seed=0,
              callbacks=[LearningRateScheduler(schedule), log, weights])
    assert schedule_calls == [(0, 0.5), (1, 0.1), (2, 0.0)]
    assert log.learning_rates == [0.1, 0.1, 0.0, 0.0, 0.05, 0.05]
    assert model.optimizer.learning_rate == 0.05
    # An epoch at rate 0 changes nothing; the others do.
    for key in weights.weights[0]:
        np.testing.assert_array_equal(weights.weights[0][key], weights.weights[1][key])
    assert any(not np.array_equal(weights.weights[1][k], weights.weights[2][k]) for k in weights.weights[1])


# ============================================================================ ProgressBar and EpochLog


def test_progress_bar_disabled_and_epoch_log_print_one_line_per_epoch(capsys):
    x, y = blobs(10)
    x_val, y_val = blobs(11, n=8)
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=4, validation_data=(x_val, y_val), seed=0,
                        callbacks=[ProgressBar(enabled=False, update_every=2), EpochLog()])
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines):
        assert line.startswith(f"epoch {epoch + 1}/3 ")
        assert f"loss {history['loss'][epoch]:.4f}" in line
        assert f"accuracy {history['accuracy'][epoch]:.4f}" in line
        assert f"test loss {history['val_loss'][epoch]:.4f}" in line
        assert f"test accuracy {history['val_accuracy'][epoch]:.4f}" in line
        assert line.endswith(" s)")
    assert captured.err == ""


def test_progress_bar_enabled_runs_and_epoch_log_writes_to_a_file(capsys):
    x, y = blobs(12)
    out = io.StringIO()
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=4, seed=0,
              callbacks=[ProgressBar(enabled=True, update_every=3), EpochLog(file=out, names={})])
    assert capsys.readouterr().out == ""
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "val_loss" not in lines[0] and "loss " in lines[0]


def test_progress_bar_defaults_to_off_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert ProgressBar().enabled is False


def test_callback_base_class_hooks_do_nothing():
    callback = Callback()
    callback.set_model("model")
    assert callback.model == "model"
    for hook in (callback.on_train_begin, callback.on_train_end):
        assert hook() is None
    for hook in (callback.on_epoch_begin, callback.on_epoch_end, callback.on_batch_end):
        assert hook(0, {}) is None
