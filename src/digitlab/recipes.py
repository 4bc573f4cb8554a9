"""Recipes: the tutorials' models and hyper-parameters by name, so their results can be compared.

A recipe is a frozen dataclass: the model builder, the optimizer, the loss and how long to train.
``digitlab train --recipe NAME`` runs one; ``digitlab recipes`` lists them.
"""

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from digitlab.errors import ConfigError
from digitlab.nn import Dense, Sequential, optimizers


@dataclass(frozen=True)
class Recipe:
    name: str
    source: str                      # the tutorial it comes from (a file in shared/seeds/)
    description: str                 # one line for `digitlab recipes`
    tutorial_result: str             # what the tutorial reports, to compare with
    build: Callable[[], Sequential] = field(repr=False)  # a fresh, unbuilt model
    optimizer: str = "rmsprop"       # a name in digitlab.nn.optimizers.OPTIMIZERS
    learning_rate: float = 1e-3
    optimizer_options: dict = field(default_factory=dict)  # e.g. {"momentum": 0.9}
    loss: str = "categorical_crossentropy"
    epochs: int = 5                  # passes over the training set ...
    batch_size: int = 128
    steps_per_epoch: int | None = None  # ... or, for step-based tutorials, steps between reports
    with_replacement: bool = False   # draw each batch at random with replacement
    shuffle: bool = True

    def make_optimizer(self, learning_rate=None):
        cls = optimizers.OPTIMIZERS[self.optimizer]
        return cls(learning_rate=learning_rate or self.learning_rate, **self.optimizer_options)

    def make_model(self, seed=0):
        """The recipe's model, built (weights drawn with ``seed``) and compiled."""
        model = self.build()
        model.build(seed=seed)
        model.compile(self.make_optimizer(), self.loss)
        return model

    def with_overrides(self, **overrides):
        """A copy with some hyper-parameters changed (those given as None keep the recipe's)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self):
        """The recipe as JSON-able facts (saved beside every run)."""
        facts = asdict(self)
        facts.pop("build")
        return facts


def _keras_mlp():
    return Sequential([Dense(512, activation="relu"), Dense(10, activation="softmax")],
                      input_shape=(784,))


RECIPES = {
    recipe.name: recipe
    for recipe in [
        Recipe(
            name="keras-mlp",
            source="000",
            description="784-512 ReLU-10 softmax, RMSprop (Keras defaults), batch 128, 5 epochs",
            tutorial_result="test accuracy 0.9795",
            build=_keras_mlp,
        ),
    ]
}

DEFAULT_RECIPE = "keras-mlp"


def get_recipe(name) -> Recipe:
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; `digitlab recipes` lists them: {', '.join(RECIPES)}")
    return RECIPES[name]
