"""load_digit_model: the model files digitlab's tools accept, and the ones they refuse by name."""

import numpy as np
import pytest

from digitlab.errors import ModelFileError
from digitlab.models import load_digit_model
from digitlab.nn import Conv2D, Dense, Flatten, Sequential
from digitlab.predict import DEFAULT_MODEL


def saved(tmp_path, layers, input_shape, name="model.safetensors"):
    model = Sequential(layers, input_shape=input_shape).build(seed=0)
    path = tmp_path / name
    model.save(path)
    return path, model


def test_the_shipped_model_and_a_flat_mlp_are_digit_models(tmp_path):
    assert load_digit_model(DEFAULT_MODEL).output_shape == (10,)
    path, _ = saved(tmp_path, [Dense(10, activation="softmax")], (784,))
    assert load_digit_model(path).input_shape == (784,)


def test_a_model_for_other_inputs_is_refused_naming_its_shape(tmp_path):
    path, _ = saved(tmp_path, [Conv2D(2, 3), Flatten(), Dense(10, activation="softmax")], (1, 32, 32))
    with pytest.raises(ModelFileError, match=r"reads inputs shaped \(1, 32, 32\), not a 28x28 digit") as error:
        load_digit_model(path)
    assert str(path) in str(error.value)


def test_a_model_with_other_than_ten_outputs_is_refused(tmp_path):
    path, _ = saved(tmp_path, [Dense(5, activation="softmax")], (784,))
    with pytest.raises(ModelFileError, match=r"outputs shaped \(5,\), not one score for each of the ten digits"):
        load_digit_model(path)


def test_a_model_whose_weights_diverged_is_refused_naming_them(tmp_path):
    model = Sequential([Dense(10, activation="softmax")], input_shape=(784,)).build(seed=0)
    model.layers[0].params["bias"][3] = np.nan
    path = tmp_path / "diverged.safetensors"
    model.save(path)
    with pytest.raises(ModelFileError, match=r"NaN or infinite values \(dense_\d+\.bias\)"):
        load_digit_model(path)
