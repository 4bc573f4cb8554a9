"""Recipes: the tutorials' models and hyper-parameters by name, so their results can be compared.

A recipe is a frozen dataclass: the model builder, the optimizer, the loss and how long to train.
``digitlab train --recipe NAME`` runs one; ``digitlab recipes`` lists them.
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from digitlab.analog.memristor import DESCRIPTION as MEMRISTOR_DESCRIPTION
from digitlab.analog.memristor import MEMRISTOR_DEVICES, MEMRISTOR_SETUP
from digitlab.analog.setup import AnalogSetup
from digitlab.errors import ConfigError
from digitlab.nn import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    PReLU,
    ReLU,
    Sequential,
    initializers,
    losses,
    optimizers,
)


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
    loss: str = "categorical_crossentropy"  # a name in digitlab.nn.losses.LOSSES
    loss_reduction: str = "mean"     # or "sum" over the batch, as some tutorials minimise
    batch_size: int = 128
    epochs: int = 5                  # passes over the training set, or, for step-based recipes,
    steps: int | None = None         # ... this many steps in all,
    report_every: int | None = None  # ... reporting every so many steps (the tutorial's interval)
    with_replacement: bool = False   # draw each batch at random with replacement
    shuffle: bool = True
    augment: bool = False            # shift, rotate, scale, slant and thicken each training batch
    cosine_decay: bool = False       # learning rate from its value down to 0 on a half cosine
    notes: str = ""                  # where the recipe departs from the tutorial, and why

    def make_optimizer(self, learning_rate=None):
        cls = optimizers.OPTIMIZERS[self.optimizer]
        return cls(learning_rate=learning_rate or self.learning_rate, **self.optimizer_options)

    def make_model(self, seed=0):
        """The recipe's model, built (weights drawn with ``seed``) and compiled."""
        model = self.build()
        model.build(seed=seed)
        model.compile(self.make_optimizer(), losses.LOSSES[self.loss](reduction=self.loss_reduction))
        return model

    def schedule(self, train_size):
        """(epochs, steps_per_epoch, max_steps) for Sequential.fit on ``train_size`` images."""
        if self.steps is None:
            return self.epochs, None, None
        return math.ceil(self.steps / self.report_every), self.report_every, self.steps

    def with_overrides(self, epochs=None, steps=None, train_size=60_000, **overrides):
        """A copy with some hyper-parameters changed (those given as None keep the recipe's).

        For a step-based recipe, ``epochs`` means passes over the ``train_size`` training images.
        """
        if self.steps is not None and epochs is not None and steps is None:
            steps = epochs * math.ceil(train_size / (overrides.get("batch_size") or self.batch_size))
        if self.steps is None and steps is not None:
            raise ConfigError(f"{self.name} trains in epochs, not steps: use --epochs")
        changes = {k: v for k, v in {**overrides, "epochs": epochs, "steps": steps}.items() if v is not None}
        if self.steps is not None:
            changes.pop("epochs", None)
        return replace(self, **changes)

    def to_dict(self):
        """The recipe as JSON-able facts (saved beside every run)."""
        facts = asdict(self)
        facts.pop("build")
        return facts


# --------------------------------------------------------------------------- the tutorials' models

def _mlp(*hidden, activation="relu", kernel="glorot_uniform", bias="zeros", use_bias=True):
    """784 inputs, the hidden layers, 10 softmax outputs."""
    layers = [Dense(units, activation=activation, kernel_initializer=kernel, bias_initializer=bias,
                    use_bias=use_bias) for units in hidden]
    layers.append(Dense(10, activation="softmax", kernel_initializer=kernel, bias_initializer=bias,
                        use_bias=use_bias))
    return Sequential(layers, input_shape=(784,))


def _tutorial_cnn():
    """Seed 004's TensorFlow CNN: two 5x5 'same' convolutions with 2x2 pooling, fc1024, dropout 0.5."""
    weights, biases = initializers.truncated_normal(0.1), initializers.constant(0.1)
    conv = dict(padding="same", activation="relu", kernel_initializer=weights, bias_initializer=biases)
    return Sequential([
        Conv2D(32, 5, **conv), MaxPool2D(2, padding="same"),
        Conv2D(64, 5, **conv), MaxPool2D(2, padding="same"),
        Flatten(),
        Dense(1024, activation="relu", kernel_initializer=weights, bias_initializer=biases),
        Dropout(0.5),
        Dense(10, activation="softmax", kernel_initializer=weights, bias_initializer=biases),
    ], input_shape=(1, 28, 28))


def _prelu_mlp():
    """Seed 004's PyTorch net: Linear(784, 256), PReLU (one slope, 0.25), Linear(256, 10), with
    PyTorch's default init U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases."""
    first, second = initializers.uniform(1 / math.sqrt(784)), initializers.uniform(1 / math.sqrt(256))
    return Sequential([
        Dense(256, kernel_initializer=first, bias_initializer=first), PReLU(0.25),
        Dense(10, activation="softmax", kernel_initializer=second, bias_initializer=second),
    ], input_shape=(784,))


def _best_cnn():
    """digitlab's own: three conv blocks (conv, batch norm, ReLU, 2x2 pool) and a batch-normed fc256."""
    conv = dict(padding="same", use_bias=False, kernel_initializer="he_normal")
    return Sequential([
        Conv2D(32, 5, **conv), BatchNormalization(), ReLU(), MaxPool2D(2),
        Conv2D(64, 3, **conv), BatchNormalization(), ReLU(), MaxPool2D(2),
        Conv2D(128, 3, **conv), BatchNormalization(), ReLU(), MaxPool2D(2, padding="same"),
        Flatten(),
        Dense(256, use_bias=False, kernel_initializer="he_normal"), BatchNormalization(), ReLU(),
        Dropout(0.3),
        Dense(10, activation="softmax"),
    ], input_shape=(1, 28, 28))


_PRELU_NOTES = ("The tutorial's batch size is not shown (875 batches an epoch); 64 is used, 9 epochs as "
                "printed. Softmax + cross-entropy is PyTorch's CrossEntropyLoss on logits.")

RECIPES = {
    recipe.name: recipe
    for recipe in [
        Recipe(
            name="keras-mlp", source="000",
            description="784-512 ReLU-10 softmax, RMSprop (Keras defaults), batch 128, 5 epochs",
            tutorial_result="test accuracy 0.9795",
            build=lambda: _mlp(512),
        ),
        Recipe(
            name="scratch-sgd", source="000",
            description="784-100 ReLU-10, Xavier uniform, softmax CE, SGD on one random sample a step",
            tutorial_result="none given (the tutorial stops before training)",
            build=lambda: _mlp(100),
            optimizer="sgd", learning_rate=0.01, batch_size=1, steps=60_000, report_every=10_000,
            with_replacement=True,
            notes="The tutorial gives no hidden size or learning rate: 100 and 0.01 are ours.",
        ),
        Recipe(
            name="keras-128", source="001",
            description="784-128 ReLU-10 softmax, Adam 1e-3, batch 32, 5 epochs",
            tutorial_result="none given",
            build=lambda: _mlp(128),
            optimizer="adam", batch_size=32, epochs=5,
        ),
        Recipe(
            name="tf-fullbatch", source="001",
            description="784-128 sigmoid-256 sigmoid-10 softmax, normal(0.05) init, "
                        "Adam on all 60,000 images a step, 100 steps",
            tutorial_result="test accuracy printed every 10 steps",
            build=lambda: _mlp(128, 256, activation="sigmoid", kernel=initializers.normal(0.05)),
            optimizer="adam", batch_size=60_000, steps=100, report_every=10,
            notes="The tutorial makes a new Adam at every step, which resets its moments (a bug); "
                  "here one Adam runs the whole training.",
        ),
        Recipe(
            name="numpy-relu", source="002",
            description="784-100 ReLU-10 softmax, randn/sqrt(fan_in) weights, randn biases, "
                        "SGD 0.01, batch 100, 10 epochs",
            tutorial_result="test accuracy 0.9203 after 10 epochs",
            build=lambda: _mlp(100, kernel="scaled_normal", bias=initializers.normal(1.0)),
            optimizer="sgd", learning_rate=0.01, batch_size=100, epochs=10, shuffle=False,
            notes="Batches in file order, unshuffled, as the tutorial slices them.",
        ),
        Recipe(
            name="tf-sigmoid", source="003",
            description="784-128 sigmoid-256 sigmoid-10 softmax, normal(0.05) init, "
                        "SGD 0.001 on summed CE, batch 256, 3000 steps",
            tutorial_result="batch accuracy ~0.93-0.95 by step 3000",
            build=lambda: _mlp(128, 256, activation="sigmoid", kernel=initializers.normal(0.05)),
            optimizer="sgd", learning_rate=0.001, loss_reduction="sum",
            batch_size=256, steps=3000, report_every=100,
        ),
        Recipe(
            name="two-layer", source="004",
            description="784-50 sigmoid-10 softmax, 0.01*randn init, "
                        "SGD 0.1, batch 100 drawn with replacement, 20000 steps",
            tutorial_result="train/test accuracy curves over 20000 steps",
            build=lambda: _mlp(50, activation="sigmoid", kernel=initializers.normal(0.01)),
            optimizer="sgd", learning_rate=0.1, batch_size=100, steps=20_000, report_every=600,
            with_replacement=True,
        ),
        Recipe(
            name="cnn", source="004",
            description="conv5x5x32-pool-conv5x5x64-pool-fc1024-dropout 0.5-fc10, Adam 1e-4, batch 50, 1000 steps",
            tutorial_result="batch accuracy 0.98 by step 700",
            build=_tutorial_cnn,
            optimizer="adam", learning_rate=1e-4, batch_size=50, steps=1000, report_every=100,
        ),
        Recipe(
            name="prelu-mlp", source="004",
            description="784-256 PReLU-10, PyTorch init, SGD 0.1, batch 64, 9 epochs",
            tutorial_result="test accuracy 97.39% after 9 epochs",
            build=_prelu_mlp,
            optimizer="sgd", learning_rate=0.1, batch_size=64, epochs=9, notes=_PRELU_NOTES,
        ),
        Recipe(
            name="prelu-mlp-lr0.01", source="004",
            description="prelu-mlp with the tutorial's second learning rate, SGD 0.01",
            tutorial_result="test accuracy 92.61% after 9 epochs",
            build=_prelu_mlp,
            optimizer="sgd", learning_rate=0.01, batch_size=64, epochs=9, notes=_PRELU_NOTES,
        ),
        Recipe(
            name="best", source="ours",
            description="3 conv blocks with batch norm, fc256, dropout; "
                        "augmented digits, Adam with cosine decay, 10 epochs",
            tutorial_result="(ours) at least 0.995 in at most 15 minutes on a 2-core CPU",
            build=_best_cnn,
            optimizer="adam", learning_rate=2e-3, batch_size=128, epochs=10, augment=True,
            cosine_decay=True,
            notes="Augmentation also prepares the model for people's own photos (digitlab predict).",
        ),
    ]
}

DEFAULT_RECIPE = "keras-mlp"


def get_recipe(name) -> Recipe:
    """The recipe called ``name``; a registered Recipe itself is also taken."""
    if isinstance(name, Recipe):
        if RECIPES.get(name.name) != name:
            raise ConfigError(f"a changed recipe cannot be passed by itself: give its name, {name.name!r}, "
                              "and the changes as arguments (epochs, steps, batch_size, learning_rate)")
        return name
    if not isinstance(name, str) or name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; `digitlab recipes` lists them: {', '.join(RECIPES)}")
    return RECIPES[name]


@dataclass(frozen=True)
class DeviceRecipe:
    """A tutorial whose network trains on memristor devices rather than in float: ``digitlab analog
    train`` runs it (``digitlab train --recipe NAME`` hands it over), on the CPU, in epochs."""
    name: str
    source: str
    description: str
    tutorial_result: str
    setup: AnalogSetup
    devices: tuple

    def refuse(self, config, resume=None):
        """A ConfigError naming what a device-aware run cannot do, if ``config`` (a digitlab.runs.RunConfig)
        or a ``resume`` folder asks for it."""
        if config.steps or resume or config.backend != "cpu":
            raise ConfigError(f"the {self.name} recipe trains in epochs on the CPU: --steps, --backend and "
                              "--resume do not apply to it")


DEVICE_RECIPES = {
    recipe.name: recipe
    for recipe in [
        DeviceRecipe(name="memristor", source="001", description=MEMRISTOR_DESCRIPTION,
                     tutorial_result="accuracy curves, linear above nonlinear",
                     setup=MEMRISTOR_SETUP, devices=MEMRISTOR_DEVICES),
    ]
}
