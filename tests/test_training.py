"""A whole run through the library: train_run writes a run folder that reloads to the same model."""

import json

import numpy as np
import pytest

from digitlab.data import load_data
from digitlab.errors import ConfigError
from digitlab.nn import load_model
from digitlab.training import make_run_dir, train_run


def test_a_short_run_learns_and_its_saved_model_predicts_the_same(tmp_path):
    result = train_run(epochs=1, train_samples=5000, out=tmp_path, verbose=False, seed=3)
    assert result.test_accuracy > 0.75  # 40 steps on 5,000 images: far above chance (0.1)
    history = json.loads((result.run_dir / "history.json").read_text())
    assert history["epoch"] == [0] and len(history["val_accuracy"]) == 1
    reloaded = load_model(result.run_dir / "model.safetensors")
    _, (x_test, _) = load_data()
    np.testing.assert_array_equal(reloaded.predict_proba(x_test[:500]), result.model.predict_proba(x_test[:500]))
    assert reloaded.metadata["recipe"]["name"] == "keras-mlp"
    assert reloaded.metadata["result"]["test_accuracy"] == pytest.approx(result.test_accuracy)


def test_overrides_reach_the_recipe(tmp_path):
    result = train_run(epochs=1, batch_size=1000, learning_rate=1e-4, train_samples=2000,
                       out=tmp_path, verbose=False)
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["recipe"]["batch_size"] == 1000 and config["recipe"]["learning_rate"] == 1e-4
    assert config["train_samples"] == 2000


@pytest.mark.parametrize("arguments", [{"epochs": 0}, {"batch_size": -1}, {"learning_rate": 0.0},
                                       {"recipe": "no-such-recipe"}])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, arguments):
    with pytest.raises(ConfigError):
        train_run(out=tmp_path, verbose=False, **arguments)
    assert not any(tmp_path.iterdir())


def test_run_folders_never_collide(tmp_path):
    from datetime import datetime

    moment = datetime(2026, 1, 2, 3, 4, 5)
    first, second = make_run_dir(tmp_path, "keras-mlp", moment), make_run_dir(tmp_path, "keras-mlp", moment)
    assert first.name == "keras-mlp-20260102-030405" and second.name == "keras-mlp-20260102-030405-2"
