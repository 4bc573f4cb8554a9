"""Run folders: their names, new ones, and the newest model among them."""

import json
import os
from datetime import datetime

import pytest

from digitlab.errors import ModelFileError
from digitlab.runs import is_dry_run, latest_model, make_run_dir


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
