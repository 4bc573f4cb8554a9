"""A run's figures: which data each one is drawn from, by name.

``draw(kind, path, ...)`` draws one of FIGURES from a run's evaluation, model, history or training
digits (the drawing itself is in digitlab.reporting.plots); ``draw_figure(kind, model_path)`` is what
``digitlab show KIND`` does.
"""

from pathlib import Path

from digitlab.data import load_data
from digitlab.errors import ConfigError
from digitlab.models import load_digit_model
from digitlab.reporting import plots
from digitlab.reporting.evaluation import evaluate
from digitlab.runs import latest_model

FIGURES = ("curves", "predictions", "confusion", "mistakes", "filters", "samples")
DEFAULT_COUNT = {"samples": 25, "predictions": 15, "mistakes": 15, "filters": 32}


def draw(kind, path, *, evaluation=None, model=None, history=None, samples=None, n=None):
    """Draw one figure ``kind`` (a name in FIGURES) to ``path``; returns the path, or None when
    there is nothing to draw (no history, no drawable first layer)."""
    n = n or DEFAULT_COUNT.get(kind)
    if kind == "samples":
        images, labels = samples
        return plots.sample_grid(images[:n], labels[:n], path)
    if kind == "predictions":
        return plots.prediction_grid(evaluation.images[:n], evaluation.probabilities[:n],
                                     evaluation.labels[:n], path)
    if kind == "mistakes":
        chosen = evaluation.most_confident_mistakes(n)
        return plots.mistakes_grid(evaluation.images[chosen], evaluation.labels[chosen],
                                   evaluation.probabilities[chosen], path)
    if kind == "confusion":
        return plots.confusion_heatmap(evaluation.confusion, path)
    if kind == "curves":
        return plots.training_curves(history, path) if history and history.get("loss") else None
    if kind == "filters":
        kernel = plots.first_layer_kernel(model)
        return plots.weight_images(kernel, path, count=n) if kernel is not None else None
    raise ConfigError(f"unknown figure {kind!r}: one of {', '.join(FIGURES)}")


def draw_figure(kind, model_path=None, out=None, n=None):
    """``digitlab show KIND``: draw one figure from the model at ``model_path`` [default: the newest
    in ./runs; the training digits need none] to ``out`` [default: KIND.png beside the model, or
    in the current folder for samples]."""
    if kind == "samples":
        (x_train, y_train), _ = load_data()
        return draw(kind, out or Path(f"{kind}.png"), samples=(x_train, y_train), n=n)
    model_path = model_path or latest_model()
    model = load_digit_model(model_path)
    _, (x_test, y_test) = load_data()
    if kind == "predictions":   # only the first n digits are drawn: predict only those
        count = n or DEFAULT_COUNT[kind]
        x_test, y_test = x_test[:count], y_test[:count]
    evaluation = evaluate(model, x_test, y_test) if kind in ("predictions", "mistakes") else None
    path = draw(kind, out or Path(model_path).parent / f"{kind}.png", evaluation=evaluation,
                model=model, n=n)
    if path is None:
        raise ConfigError(f"{model_path}: its first layer is neither a Dense layer on 784 pixels nor a "
                          f"Conv2D, so it has no weights to draw as images")
    return path
