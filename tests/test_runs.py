"""Run folders: their names, new ones, the newest model among them, and the RunConfig config.json keeps."""

import json
import os
from datetime import datetime

import numpy as np
import pytest

from digitlab.errors import ConfigError, ModelFileError
from digitlab.runs import RunConfig, is_dry_run, latest_model, make_run_dir


def test_run_folders_never_collide(tmp_path):
    moment = datetime(2026, 1, 2, 3, 4, 5)
    first, second = make_run_dir(tmp_path, "keras-mlp", moment), make_run_dir(tmp_path, "keras-mlp", moment)
    assert first.name == "keras-mlp-20260102-030405" and second.name == "keras-mlp-20260102-030405-2"


def test_the_latest_model_is_the_newest_run(tmp_path):
    with pytest.raises(ModelFileError, match="digitlab train"):
        latest_model(tmp_path / "runs")
    for age, name in ((200, "keras-mlp-20260101-000000"), (100, "cnn-20250101-000000")):
        model = tmp_path / "runs" / name / "model.safetensors"
        model.parent.mkdir(parents=True)
        model.write_bytes(b"x")
        os.utime(model, (model.stat().st_atime - age,) * 2)
    assert latest_model(tmp_path / "runs").parent.name == "cnn-20250101-000000"
    dry = tmp_path / "runs" / "keras-mlp-20260103-000000"
    dry.mkdir()
    (dry / "model.safetensors").write_bytes(b"x")
    (dry / "config.json").write_text(json.dumps({"settings": {"dry_run": True}}))
    assert latest_model(tmp_path / "runs").parent.name == "cnn-20250101-000000", "a dry run is not a model to use"


def test_a_run_folder_without_a_readable_config_is_not_a_dry_run(tmp_path):
    assert not is_dry_run(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    assert not is_dry_run(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"settings": {"dry_run": True}}))
    assert is_dry_run(tmp_path)


# ---------------------------------------------------------------------------- RunConfig


@pytest.mark.parametrize("changes, message", [
    ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
    ({"epochs": 2.0}, "epochs must be a whole number >= 1, got 2.0"),
    ({"steps": -5}, "steps must be a whole number >= 1, got -5"),
    ({"batch_size": True}, "batch size must be a whole number >= 1, got True"),
    ({"train_samples": "100"}, "train samples must be a whole number >= 1, got '100'"),
    ({"test_samples": 0}, "test samples must be a whole number >= 1, got 0"),
    ({"learning_rate": 0.0}, "learning rate must be a number > 0 and finite, got 0.0"),
    ({"learning_rate": float("nan")}, "learning rate must be a number > 0 and finite, got nan"),
    ({"learning_rate": float("inf")}, "learning rate must be a number > 0 and finite, got inf"),
    ({"seed": -1}, "seed must be a whole number >= 0, got -1"),
    ({"dry_run": "yes"}, "dry_run must be True or False, got 'yes'"),
    ({"backend": "tpu"}, "unknown backend 'tpu': choose 'cpu' or 'gpu'"),
])
def test_a_run_config_refuses_each_bad_value_naming_it(changes, message):
    with pytest.raises(ConfigError) as refused:
        RunConfig("keras-mlp", **changes)
    assert str(refused.value) == message


def test_a_run_config_names_its_recipe_by_a_name():
    with pytest.raises(ConfigError, match="recipe must be a recipe's name, got a dict"):
        RunConfig({"name": "cnn"})
    with pytest.raises(TypeError):
        RunConfig("cnn", 5)  # every setting but the recipe is given by name: RunConfig("cnn", epochs=5)


def test_a_run_config_keeps_numpy_numbers_as_python_ones_for_config_json():
    config = RunConfig("cnn", epochs=np.int64(2), learning_rate=np.float32(0.5), seed=np.uint8(3))
    assert json.loads(json.dumps(config.to_dict()))["epochs"] == 2
    assert type(config.epochs) is int and type(config.learning_rate) is float and type(config.seed) is int


def test_a_run_config_goes_into_config_json_and_back_unchanged():
    config = RunConfig("cnn", epochs=3, steps=None, batch_size=64, learning_rate=1e-4, seed=7, dry_run=True,
                       train_samples=1000, test_samples=200, backend="cpu")
    settings = json.loads(json.dumps(config.to_dict()))
    assert list(settings) == ["recipe", "epochs", "steps", "batch_size", "learning_rate", "seed", "dry_run",
                              "train_samples", "test_samples", "backend"]  # config.json's order, as before
    assert RunConfig.from_dict(settings) == config
    assert RunConfig.from_dict({"recipe": "cnn"}) == RunConfig("cnn")


def test_settings_from_before_the_backend_was_named_are_read():
    old = {**RunConfig("keras-mlp", seed=2).to_dict(), "device": "cpu"}
    del old["backend"]
    assert RunConfig.from_dict(old) == RunConfig("keras-mlp", seed=2, backend="cpu")


def test_settings_that_are_not_a_run_config_are_refused():
    with pytest.raises(ConfigError, match=r"unknown run settings \['colour'\]"):
        RunConfig.from_dict({"recipe": "cnn", "colour": "blue"})
    with pytest.raises(ConfigError, match="name no recipe"):
        RunConfig.from_dict({"epochs": 1})
    with pytest.raises(ConfigError, match="seed must be"):
        RunConfig.from_dict({"recipe": "cnn", "seed": -3})
