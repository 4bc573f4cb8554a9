"""The model digitlab's tools read digits with: a model file, checked for what they need of it.

``digitlab.nn.load_model`` rebuilds any model a file describes. predict, evaluate, show, serve and
export's check feed it MNIST-sized digits and read ten probabilities back, so they load through
``load_digit_model``, which refuses, naming the file, a model that cannot do that, rather than
letting it fail half-way or answer nonsense.
"""

import numpy as np

from digitlab.errors import ModelFileError
from digitlab.nn import load_model

DIGIT_PIXELS = 28 * 28
CLASSES = 10


def load_digit_model(path):
    """The model saved at ``path``; ModelFileError unless it is a digit classifier."""
    model = load_model(path)
    check_digit_model(model, path)
    return model


def check_digit_model(model, source):
    """Refuse a model that does not read a 28x28 digit, give a score for each of the ten digits,
    or that holds weights which are not finite numbers (a run that diverged)."""
    if int(np.prod(model.input_shape)) != DIGIT_PIXELS:
        raise ModelFileError(f"{source}: the model reads inputs shaped {tuple(model.input_shape)}, not a 28x28 "
                             "digit: use a model trained on MNIST-sized images")
    if tuple(model.output_shape) != (CLASSES,):
        raise ModelFileError(f"{source}: the model gives outputs shaped {tuple(model.output_shape)}, not one "
                             "score for each of the ten digits: use a model trained on MNIST's ten classes")
    broken = [f"{layer.name}.{key}" for layer in model.layers
              for key, weights in {**layer.params, **layer.buffers}.items() if not np.isfinite(weights).all()]
    if broken:
        raise ModelFileError(f"{source}: its weights hold NaN or infinite values ({', '.join(broken)}): the run "
                             "that wrote it diverged; train it again")
