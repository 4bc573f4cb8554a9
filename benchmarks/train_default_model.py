"""Train the interim model that ships with the package: src/digitlab/models/default.safetensors.

    .venv/bin/python benchmarks/train_default_model.py [--epochs 8] [--seed 0] [--out PATH]

A small CNN (conv3x3x32-pool-conv3x3x64-pool-fc128-dropout-fc10) trained on the 60,000 MNIST
training images with digitlab.data.augment (shifts, rotations, scalings, slant, stroke thickness),
Adam with the learning rate on a half cosine from epoch to epoch. About a minute an epoch on 2
quiet cores with the engine as it is. `digitlab predict` uses this file when no --model is given; the `best`
recipe's weights will replace it.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from digitlab.data import load_data
from digitlab.data.augment import augment
from digitlab.nn import Adam, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Sequential

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "digitlab" / "models" / "default.safetensors"


def build_model():
    return Sequential([
        Conv2D(32, 3, activation="relu"), MaxPool2D(2),
        Conv2D(64, 3, activation="relu"), MaxPool2D(2),
        Flatten(), Dense(128, activation="relu"), Dropout(0.3), Dense(10, activation="softmax"),
    ], input_shape=(1, 28, 28))


def train(epochs=8, batch_size=128, learning_rate=1e-3, seed=0, out=DEFAULT_OUT, log=print,
          train_samples=None):
    (x_train, y_train), (x_test, y_test) = load_data()
    if train_samples:
        x_train, y_train, x_test, y_test = (x_train[:train_samples], y_train[:train_samples],
                                            x_test[:train_samples], y_test[:train_samples])
    init_rng, shuffle_rng, augment_rng = np.random.default_rng(seed).spawn(3)
    model = build_model().build(seed=init_rng)
    optimizer = Adam(learning_rate=learning_rate)
    model.compile(optimizer, "categorical_crossentropy")
    started = time.perf_counter()
    for epoch in range(epochs):
        optimizer.learning_rate = learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        order = shuffle_rng.permutation(len(x_train))
        loss_sum = correct = 0.0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            xb = augment(x_train[index], augment_rng)[:, None]
            loss, batch_correct = model.train_step(xb, y_train[index])
            loss_sum += loss * len(index)
            correct += batch_correct
        test_loss, test_accuracy = model.evaluate(x_test[:, None], y_test)
        log(f"epoch {epoch + 1}/{epochs}  loss {loss_sum / len(order):.4f}  "
            f"accuracy {correct / len(order):.4f}  test accuracy {test_accuracy:.4f}  "
            f"({time.perf_counter() - started:.0f} s)")
    metadata = {
        "recipe": {"name": "default-interim", "description": "conv32-pool-conv64-pool-fc128-fc10, "
                   f"augmented MNIST, Adam {learning_rate} on a cosine, batch {batch_size}, {epochs} epochs, "
                   f"seed {seed}",
                   "script": "benchmarks/train_default_model.py"},
        "result": {"test_accuracy": test_accuracy, "test_loss": test_loss,
                   "seconds": round(time.perf_counter() - started, 1)},
    }
    model.save(out, metadata=metadata)
    log(f"wrote {out}: {json.dumps(metadata['result'])}")
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--train-samples", type=int, help="a quick smoke run on the first N images")
    arguments = parser.parse_args(argv)
    train(epochs=arguments.epochs, seed=arguments.seed, out=arguments.out,
          log=lambda line: print(line, flush=True), train_samples=arguments.train_samples)


if __name__ == "__main__":
    sys.exit(main())
