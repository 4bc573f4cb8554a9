"""The one training loop (nn/fit.py): History is its first callback, a run stopped mid-epoch goes on
from ``model.progress`` as if never stopped, and no other module of digitlab loops over batches."""

import ast
from pathlib import Path

import numpy as np

import digitlab
from digitlab.nn import SGD, Adam, Callback, Dense, Dropout, History, Sequential
from digitlab.nn.fit import fit

SOURCE = Path(digitlab.__file__).parent


def data(seed, n=40):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 6)).astype(np.float32), rng.integers(0, 3, n)


def network():
    model = Sequential([Dense(16, activation="relu"), Dropout(0.2), Dense(3, activation="softmax")], input_shape=(6,))
    return model.compile(Adam(0.01), "categorical_crossentropy")


def test_history_is_a_callback_that_has_recorded_the_epoch_before_the_others_hear_of_it():
    seen = []

    class Look(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, list(self.model.progress["epochs_done"]), list(self.model.progress["history"]["loss"])))

    x, y = data(0)
    history = network().fit(x, y, epochs=2, batch_size=8, seed=0, callbacks=[Look()])
    assert isinstance(history, History) and isinstance(history, Callback)
    assert [(epoch, done) for epoch, done, _ in seen] == [(0, [0]), (1, [0, 1])]
    assert seen[-1][2] == history["loss"]


def test_a_run_stopped_mid_epoch_goes_on_from_its_progress_to_the_same_weights():
    x, y = data(1)

    class StopAt(Callback):
        def on_batch_end(self, batch, logs=None):
            if self.model.step == 7:
                self.model.interrupted = True

    whole = network()
    whole.build(seed=0)
    expected = whole.fit(x, y, epochs=3, batch_size=8, seed=np.random.default_rng(5))

    stopped = network()
    stopped.build(seed=0)
    rng = np.random.default_rng(5)
    partial = stopped.fit(x, y, epochs=3, batch_size=8, seed=rng, callbacks=[StopAt()])
    assert partial.epoch == [0] and stopped.progress == {**stopped.progress, "epoch": 1, "batch": 2}
    again = fit(stopped, x, y, epochs=3, batch_size=8, seed=rng, resume=stopped.progress)
    assert again.history == expected.history and again.epoch == [0, 1, 2]
    for name, value in whole.get_weights().items():
        np.testing.assert_array_equal(stopped.get_weights()[name], value)


def test_analog_training_goes_through_the_one_loop(monkeypatch):
    from digitlab.analog import AnalogSetup
    from digitlab.analog.training import train_on_device

    calls = []
    original = Sequential.fit

    def counted(self, *arguments, **keywords):
        calls.append(keywords.get("epochs"))
        return original(self, *arguments, **keywords)

    monkeypatch.setattr(Sequential, "fit", counted)
    rng = np.random.default_rng(2)
    images, labels = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)
    run = train_on_device("ag-si", AnalogSetup(hidden=(8,), epochs=2, batch_size=16, rule="tutorial"),
                          ((images, labels), (images[:20], labels[:20])))
    assert calls == [2] and len(run.accuracy) == 2 and run.pulses > 0


def test_nothing_but_the_loop_steps_a_model():
    """Every other kind of training plugs into nn/fit.py (NeuroSim's per-image hardware loop is the one
    documented exception, and steps no Sequential)."""
    stepping = []
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "train_step" and isinstance(node.ctx, ast.Load):
                stepping.append(path.relative_to(SOURCE).as_posix())
    assert stepping == ["nn/fit.py"]


def test_sgd_steps_in_the_loop_reach_the_weights_the_loop_was_given():
    x, y = data(3, n=8)
    model = Sequential([Dense(3)], input_shape=(6,)).compile(SGD(0.5), "softmax_cross_entropy")
    model.build(seed=0)
    before = model.get_weights()["dense_0.kernel"]
    history = fit(model, x, y, epochs=1, batch_size=8, seed=0)
    assert model.step == 1 and history.epoch == [0]
    assert not np.array_equal(before, model.get_weights()["dense_0.kernel"])
