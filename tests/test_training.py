"""A whole run through the library: train_run writes a run folder that reloads to the same model."""

import json
import os
import signal

import numpy as np
import pytest

from digitlab.data import load_data
from digitlab.errors import ConfigError
from digitlab.nn import Callback, load_model
from digitlab.nn.checkpoint import load_checkpoint
from digitlab.recipes import get_recipe
from digitlab.runs import CHECKPOINT, RunConfig
from digitlab.training import describe_changes, resolve_recipe, resume_run, train_run


def test_a_short_run_learns_and_its_saved_model_predicts_the_same(tmp_path):
    result = train_run(RunConfig("keras-mlp", epochs=1, train_samples=5000, seed=3), out=tmp_path, verbose=False)
    assert result.test_accuracy > 0.75  # 40 steps on 5,000 images: far above chance (0.1)
    history = json.loads((result.run_dir / "history.json").read_text())
    assert history["epoch"] == [0] and len(history["val_accuracy"]) == 1
    reloaded = load_model(result.run_dir / "model.safetensors")
    _, (x_test, _) = load_data()
    np.testing.assert_array_equal(reloaded.predict_proba(x_test[:500]), result.model.predict_proba(x_test[:500]))
    assert reloaded.metadata["recipe"]["name"] == "keras-mlp"
    assert reloaded.metadata["result"]["test_accuracy"] == pytest.approx(result.test_accuracy)


def test_overrides_reach_the_recipe(tmp_path):
    result = train_run(RunConfig("keras-mlp", epochs=1, batch_size=1000, learning_rate=1e-4, train_samples=2000),
                       out=tmp_path, verbose=False)
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["recipe"]["batch_size"] == 1000 and config["recipe"]["learning_rate"] == 1e-4
    assert config["train_samples"] == 2000


@pytest.mark.parametrize("config", ["no-such-recipe", RunConfig("no-such-recipe"), RunConfig("keras-mlp", steps=5)])
def test_a_bad_recipe_or_override_is_refused_before_anything_is_written(tmp_path, config):
    with pytest.raises(ConfigError):
        train_run(config, out=tmp_path, verbose=False)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------- checkpoints and resume


class CtrlCAtStep(Callback):
    """Presses Ctrl-C (a real SIGINT to this process) right after the given training step."""

    def __init__(self, step):
        self.at = step

    def on_batch_end(self, batch, logs=None):
        if self.model.step == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def _weights(run_dir):
    return load_model(run_dir / "model.safetensors").get_weights()


@pytest.mark.parametrize("recipe, settings, stop_at", [
    ("keras-mlp", {"epochs": 3, "batch_size": 100, "train_samples": 1000}, 14),   # mid-epoch
    ("keras-mlp", {"epochs": 3, "batch_size": 100, "train_samples": 1000}, 10),   # an epoch's last batch
    # dropout, augmentation, batch norm and a cosine schedule: every kind of state a run carries
    ("best", {"epochs": 2, "batch_size": 32, "train_samples": 128}, 5),
    ("two-layer", {"steps": 30, "train_samples": 1000}, 17),                      # batches drawn with replacement
])
def test_an_interrupted_then_resumed_run_ends_bit_for_bit_as_an_uninterrupted_one(tmp_path, recipe, settings, stop_at):
    settings = {**settings, "test_samples": 300}
    config = RunConfig(recipe, seed=5, **settings)
    whole = train_run(config, out=tmp_path / "whole", verbose=False)
    stopped = train_run(config, out=tmp_path / "stopped", verbose=False, callbacks=[CtrlCAtStep(stop_at)])
    assert stopped.interrupted and stopped.model.step == stop_at
    assert (stopped.run_dir / CHECKPOINT).is_file() and not (stopped.run_dir / "model.safetensors").exists()
    resumed = resume_run(stopped.run_dir, verbose=False)
    assert resumed.run_dir == stopped.run_dir and resumed.test_accuracy == whole.test_accuracy
    assert resumed.history == whole.history
    final, expected = _weights(resumed.run_dir), _weights(whole.run_dir)
    assert final.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(final[name], expected[name], err_msg=name)
    assert not (resumed.run_dir / CHECKPOINT).exists(), "a finished run keeps no checkpoint"


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    class TwoPresses(Callback):
        def on_batch_end(self, batch, logs=None):
            if self.model.step == 2:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where pytest runs in the background (nohup ... &)
    with pytest.raises(KeyboardInterrupt):
        train_run(RunConfig("keras-mlp", epochs=1, train_samples=2000), out=tmp_path, verbose=False,
                  callbacks=[TwoPresses()])
    assert signal.getsignal(signal.SIGINT) is before, "the handler is put back"


class PoisonAtStep(Callback):
    """Makes a weight infinite after the given step, as a diverging run would."""

    def __init__(self, step):
        self.at = step

    def on_batch_end(self, batch, logs=None):
        if self.model.step == self.at:
            self.model.layers[0].params["kernel"][0, 0] = np.inf


def test_an_epoch_of_a_step_based_recipe_on_a_slice_is_one_pass_over_the_slice(tmp_path):
    result = train_run(RunConfig("scratch-sgd", epochs=2, train_samples=150, test_samples=100), out=tmp_path,
                       verbose=False)
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["recipe"]["steps"] == 300   # batches of one image


def test_a_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    result = train_run(RunConfig("keras-mlp", epochs=3, batch_size=100, train_samples=1000), out=tmp_path,
                       verbose=False, callbacks=[PoisonAtStep(15)])
    assert result.stopped_early and "step 16" in result.message
    assert not (result.run_dir / "model.safetensors").exists()
    model = get_recipe("keras-mlp").with_overrides(batch_size=100).make_model()
    progress, _, _ = load_checkpoint(result.run_dir / CHECKPOINT, model)
    assert progress["epoch"] == 1 and progress["batch"] == 0, "the checkpoint of the last finished epoch"
    assert all(np.isfinite(value).all() for value in model.get_weights().values())


def test_a_write_that_dies_midway_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    import digitlab.files

    stopped = train_run(RunConfig("keras-mlp", epochs=3, batch_size=100, train_samples=1000), out=tmp_path,
                        verbose=False, callbacks=[CtrlCAtStep(12)])
    checkpoint = stopped.run_dir / CHECKPOINT
    before = checkpoint.read_bytes()

    def dies(*arguments):
        raise SystemExit("killed while writing")

    monkeypatch.setattr(digitlab.files.os, "replace", dies)
    with pytest.raises(SystemExit):
        resume_run(stopped.run_dir, verbose=False)
    assert checkpoint.read_bytes() == before
    assert [p.name for p in stopped.run_dir.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.undo()
    model = get_recipe("keras-mlp").with_overrides(batch_size=100).make_model()
    progress, _, _ = load_checkpoint(checkpoint, model)
    assert progress["batch"] == 2


def test_resume_refuses_what_it_cannot_resume(tmp_path):
    with pytest.raises(ConfigError, match="not a run folder"):
        resume_run(tmp_path)
    finished = train_run(RunConfig("keras-mlp", dry_run=True), out=tmp_path, verbose=False)
    with pytest.raises(ConfigError, match="that run finished"):
        resume_run(finished.run_dir)


def test_a_bare_name_runs_the_recipe_as_it_is(tmp_path):
    result = train_run("prelu-mlp", out=tmp_path, verbose=False, callbacks=[CtrlCAtStep(1)])  # a whole run: stop it
    assert result.interrupted and result.run_dir.name.startswith("prelu-mlp-")
    settings = json.loads((result.run_dir / "config.json").read_text())["settings"]
    assert settings == RunConfig("prelu-mlp").to_dict()


def test_a_run_folder_from_before_the_backend_was_named_still_resumes(tmp_path):
    stopped = train_run(RunConfig("keras-mlp", epochs=1, batch_size=100, train_samples=500, test_samples=100),
                        out=tmp_path, verbose=False, callbacks=[CtrlCAtStep(2)])
    config = stopped.run_dir / "config.json"
    settings = json.loads(config.read_text())["settings"]
    assert settings.pop("backend") == "cpu"
    config.write_text(json.dumps({"settings": {**settings, "device": "cpu"}}))  # as older digitlab wrote it
    assert resume_run(stopped.run_dir, verbose=False).test_accuracy is not None


# ---------------------------------------------------------------------------- the recipe, resolved once


def test_a_run_looks_its_recipe_up_once_and_a_resumed_one_once_more(tmp_path, recipe_lookups):
    lookups = recipe_lookups
    stopped = train_run(RunConfig("cnn", epochs=1, train_samples=200, test_samples=100), out=tmp_path,
                        verbose=False, callbacks=[CtrlCAtStep(1)])
    assert lookups == ["cnn"]
    assert stopped.interrupted
    resume_run(stopped.run_dir, verbose=False)
    assert lookups == ["cnn", "cnn"]


def test_a_verbose_run_first_says_what_it_trains_and_what_it_changed(tmp_path, capsys):
    train_run(RunConfig("cnn", dry_run=True, steps=9, batch_size=20, test_samples=50), out=tmp_path,
              progress_bar=False)
    first, second = capsys.readouterr().out.splitlines()[:2]
    assert first.startswith("training cnn: conv5x5x32")
    assert second == "  changed: a dry run of one epoch of two batches, batch size 20, test samples 50"
    assert describe_changes(RunConfig("cnn", epochs=2, learning_rate=0.5)) == "epochs 2, learning rate 0.5"
    assert describe_changes(RunConfig("cnn")) == ""


def test_a_step_based_recipe_counts_epochs_over_the_training_images_it_is_given():
    recipe = resolve_recipe(RunConfig("cnn", epochs=2, batch_size=100), train_size=1000)
    assert recipe.steps == 20 and recipe.batch_size == 100
