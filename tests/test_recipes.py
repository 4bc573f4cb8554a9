"""Recipes build the tutorials' models and learn."""

import numpy as np
import pytest

from digitlab.data import load_data
from digitlab.errors import ConfigError
from digitlab.recipes import DEFAULT_RECIPE, RECIPES, get_recipe


def test_the_default_recipe_is_the_keras_tutorials_mlp():
    recipe = get_recipe(DEFAULT_RECIPE)
    model = recipe.make_model(seed=0)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "ReLU", "Dense", "Softmax"]
    assert model.count_params() == 784 * 512 + 512 + 512 * 10 + 10
    optimizer = model.optimizer
    assert type(optimizer).__name__ == "RMSprop"
    assert (optimizer.learning_rate, optimizer.rho, optimizer.epsilon) == (1e-3, 0.9, 1e-7)
    assert (recipe.batch_size, recipe.epochs) == (128, 5)


def test_an_unknown_recipe_names_the_known_ones():
    with pytest.raises(ConfigError, match="keras-mlp"):
        get_recipe("nope")


def test_a_registered_recipe_stands_for_its_name_and_anything_else_is_refused():
    assert get_recipe(get_recipe("cnn")) is get_recipe("cnn")
    with pytest.raises(ConfigError, match="give its name, 'cnn', and the changes as arguments"):
        get_recipe(get_recipe("cnn").with_overrides(epochs=1))
    with pytest.raises(ConfigError, match="unknown recipe"):
        get_recipe({"name": "cnn"})


def test_epochs_of_a_step_based_recipe_are_passes_over_the_images_it_trains_on():
    assert get_recipe("cnn").with_overrides(epochs=2).steps == 2 * 1200
    assert get_recipe("cnn").with_overrides(epochs=2, train_size=200).steps == 2 * 4   # batches of 50
    assert get_recipe("cnn").with_overrides(epochs=1, train_size=201, batch_size=100).steps == 3


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_builds_and_learns_on_a_slice(name):
    recipe = RECIPES[name]
    (x_train, y_train), _ = load_data()
    x, y = x_train[:256], y_train[:256]
    model = recipe.make_model(seed=0)
    before = model.evaluate(x, y)[0]
    model.fit(x, y, epochs=3, batch_size=32, seed=0)
    after = model.evaluate(x, y)[0]
    assert np.isfinite(after) and after < before


def test_to_dict_is_json_able():
    import json

    facts = get_recipe("keras-mlp").to_dict()
    assert json.loads(json.dumps(facts))["name"] == "keras-mlp"
