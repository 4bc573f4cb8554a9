"""The model file format by itself: bytes and dicts in, the same out, with no Sequential involved."""

import numpy as np
import pytest

from digitlab.errors import ModelFileError
from digitlab.nn.modelfile import read_model_file, write_model_file


def test_a_file_gives_back_its_architecture_weights_and_metadata(tmp_path):
    weights = {"dense_0.kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}
    write_model_file(tmp_path / "m.safetensors", {"input_shape": [2], "layers": []}, weights, {"result": 0.5})
    tensors, metadata = read_model_file(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(tensors["dense_0.kernel"], weights["dense_0.kernel"])
    assert metadata == {"model": {"input_shape": [2], "layers": []}, "result": 0.5}


def test_metadata_may_not_take_the_format_s_own_keys(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        write_model_file(tmp_path / "m.safetensors", {}, {}, {"format": "mine"})
    assert not (tmp_path / "m.safetensors").exists()


def test_a_file_of_another_format_is_refused(tmp_path):
    write_model_file(tmp_path / "m.safetensors", {}, {}, None)
    with pytest.raises(ModelFileError, match="expected 'digitlab.checkpoint'"):
        read_model_file(tmp_path / "m.safetensors", expected_format="digitlab.checkpoint")
