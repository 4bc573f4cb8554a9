"""Reading a person's digits: pictures in, digits out, with how sure the network is.

    from digitlab.predict import predict_files, read_number
    for result in predict_files(["seven.jpg", "scan.png"]):
        print(result.source, result.digit, result.probability)   # or result.error for a bad file
    reading = read_number("house_number.jpg")                      # "1984", a probability per digit

Each picture goes through ``digitlab.photo.preprocess`` (the 28x28 the network sees is kept on the
result) and then through the model: the one given, a model file, or the one that ships with the
package (``models/default.safetensors``), loaded once, when it is first needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from digitlab.errors import ImageError
from digitlab.nn.backend import as_float32
from digitlab.photo.images import describe

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default.safetensors"


@dataclass
class Prediction:
    """One digit read: the answer, its probability, the best ``top`` guesses (digit, probability)
    best first, all ten probabilities, and the 28x28 image the network saw."""

    source: str
    digit: int
    probability: float
    top: list[tuple[int, float]]
    probabilities: np.ndarray = field(repr=False)
    image: np.ndarray = field(repr=False)
    box: tuple[int, int, int, int] | None = None   # where in the picture (for a digit of a number)

    ok = True

    def to_dict(self):
        facts = {"file": self.source, "digit": self.digit, "probability": round(self.probability, 6),
                 "top": [{"digit": d, "probability": round(p, 6)} for d, p in self.top]}
        if self.box is not None:
            facts["box"] = dict(zip(("top", "bottom", "left", "right"), self.box, strict=True))
        return facts

    def summary(self) -> str:
        """One line: ``seven.jpg: 7 (98.2%)  next 1 (1.1%), 9 (0.3%)``."""
        line = f"{self.source}: {self.digit} ({_percent(self.probability)})"
        others = ", ".join(f"{d} ({_percent(p)})" for d, p in self.top[1:])
        return f"{line}  next {others}" if others else line


@dataclass
class NumberReading:
    """Several digits in a row read left to right: the number as text, each digit's Prediction,
    and the probability that all of them are right (the product of theirs)."""

    source: str
    digits: list[Prediction]

    ok = True

    @property
    def text(self) -> str:
        return "".join(str(p.digit) for p in self.digits)

    @property
    def probability(self) -> float:
        return float(np.prod([p.probability for p in self.digits]))

    def summary(self) -> str:
        """One line: ``year.jpg: 1984 (93.1%)  1 99.0%, 9 97.2%, 8 98.5%, 4 98.4%``."""
        each = ", ".join(f"{p.digit} {_percent(p.probability)}" for p in self.digits)
        return f"{self.source}: {self.text} ({_percent(self.probability)})  {each}"

    def to_dict(self):
        return {"file": self.source, "number": self.text, "probability": round(self.probability, 6),
                "digits": [{k: v for k, v in p.to_dict().items() if k != "file"} for p in self.digits]}


@dataclass
class Failure:
    """A picture that could not be read, and why (one line)."""

    source: str
    error: str

    ok = False

    def to_dict(self):
        return {"file": self.source, "error": self.error}

    def summary(self) -> str:
        return f"error: {self.error}"


def _percent(probability):
    return f"{100 * probability:.1f}%"


# ----------------------------------------------------------------------------- the model


@lru_cache(maxsize=1)
def default_model():
    """The model that ships with the package, loaded on first use and kept."""
    from digitlab.models import load_digit_model

    return load_digit_model(DEFAULT_MODEL)


def get_model(model=None):
    """``model`` itself, the model in a file at that path, or (None) the shipped default model."""
    if model is None:
        return default_model()
    if isinstance(model, (str, os.PathLike)):
        from digitlab.models import load_digit_model

        return load_digit_model(model)
    return model


def probabilities(images: np.ndarray, model=None) -> np.ndarray:
    """(N, 10) class probabilities for (N, 28, 28) MNIST-style images, uint8 pixels or floats in
    [0, 1] (softmax taken if the model gives logits)."""
    model = get_model(model)
    images = np.asarray(images)  # the model turns them into float32, uint8 pixels scaled to [0, 1], batch by batch
    if len(images) == 0:
        return np.zeros((0, 10), np.float32)
    outputs = np.asarray(model.predict_proba(images), np.float64)
    is_distribution = (outputs >= 0).all() and np.allclose(outputs.sum(axis=1), 1, atol=1e-3)
    if not is_distribution:
        outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        outputs /= outputs.sum(axis=1, keepdims=True)
    return outputs


def _prediction(source, probs, image, top, box=None):
    order = np.argsort(-probs, kind="stable")[:max(1, top)]
    return Prediction(source=source, digit=int(order[0]), probability=float(probs[order[0]]),
                      top=[(int(d), float(probs[d])) for d in order], probabilities=probs,
                      image=image, box=box)


# ----------------------------------------------------------------------------- single digits


def predict_images(images, model=None, top=3, sources=None) -> list[Prediction]:
    """Predictions for (N, 28, 28) images already in MNIST's convention: floats in [0, 1], or
    uint8 pixels."""
    images = as_float32(np.asarray(images))  # the float images are kept on the results, as the network saw them
    if images.size % (28 * 28) or images.ndim < 2:
        raise ValueError(f"images must be 28x28, (N, 28, 28) for several; got shape {images.shape}")
    images = images.reshape(-1, 28, 28)
    sources = sources or [f"image {i}" for i in range(len(images))]
    probs = probabilities(images, model)
    return [_prediction(s, p, x, top) for s, p, x in zip(sources, probs, images, strict=True)]


def predict_file(source, model=None, top=3) -> Prediction:
    """The digit in one picture; raises ImageError (NoDigitError for a picture without ink)."""
    from digitlab.photo.preprocess import preprocess

    image = preprocess(source)
    return predict_images(image[None], model, top, [describe(source)])[0]


def predict_files(sources, model=None, top=3) -> list[Prediction | Failure]:
    """Every picture's digit, in order; a picture that cannot be read gives a Failure, not an
    exception, so the others are still read. The network runs once, on all of them together."""
    from digitlab.photo.preprocess import preprocess

    sources = _several(sources)
    results: list = [None] * len(sources)
    images, where = [], []
    for index, source in enumerate(sources):
        try:
            images.append(preprocess(source))
            where.append(index)
        except ImageError as error:
            results[index] = Failure(describe(source), str(error))
    if images:
        names = [describe(sources[index]) for index in where]
        for index, prediction in zip(where, predict_images(np.stack(images), model, top, names), strict=True):
            results[index] = prediction
    return results


def _several(sources) -> list:
    """The pictures as a list: one path or one picture's bytes stands for itself, not for its characters."""
    if isinstance(sources, (str, os.PathLike, bytes, bytearray)):
        return [sources]
    return list(sources)


# ----------------------------------------------------------------------------- numbers


def read_number(source, model=None, top=3) -> NumberReading:
    """A picture of several digits in a row, read left to right; raises ImageError."""
    from digitlab.photo.preprocess import split_digits

    name = describe(source)
    pieces = split_digits(source)
    images = np.stack([image for image, _ in pieces])
    probs = probabilities(images, model)
    digits = [_prediction(name, p, image, top, box) for p, (image, box) in zip(probs, pieces, strict=True)]
    return NumberReading(name, digits)


def read_numbers(sources, model=None, top=3) -> list[NumberReading | Failure]:
    """``read_number`` for each picture; a picture that cannot be read gives a Failure."""
    results = []
    for source in _several(sources):
        try:
            results.append(read_number(source, model, top))
        except ImageError as error:
            results.append(Failure(describe(source), str(error)))
    return results


# ----------------------------------------------------------------------------- the figure


def plot_predictions(results, sources, path):
    """Each picture beside the 28x28 the network saw and its ten probabilities; a PNG at ``path``.

    ``results`` as ``predict_files`` or ``read_numbers`` return them (a number gets a row per
    digit; a Failure is drawn with its error), ``sources`` the pictures themselves (paths or
    bytes) in the same order.
    """
    rows = [(digit, source) for result, source in zip(results, sources, strict=True)
            for digit in (result.digits if isinstance(result, NumberReading) else [result])]
    results, sources = [row[0] for row in rows], [row[1] for row in rows]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from digitlab.photo.images import read_grey
    from digitlab.reporting.plots import save_png

    rows = max(len(results), 1)
    figure = Figure(figsize=(8.4, 2.2 * rows), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(rows, 3, width_ratios=(1.2, 1.0, 2.0), left=0.02, right=0.98,
                               top=1 - 0.3 / (2.2 * rows), bottom=0.45 / (2.2 * rows),
                               wspace=0.25, hspace=0.6)
    for row, (result, source) in enumerate(zip(results, sources, strict=True)):
        picture, seen, bars = (figure.add_subplot(grid[row, column]) for column in range(3))
        try:
            picture.imshow(read_grey(source), cmap="gray", vmin=0, vmax=1)
        except ImageError:
            pass
        if getattr(result, "box", None) is not None:            # this digit's place in a number
            top, bottom, left, right = result.box
            picture.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                                        fill=False, edgecolor="#d62728", linewidth=1.5))
        picture.set_title(_short(result.source), fontsize=9)
        for axes in (picture, seen):
            axes.set_xticks([])
            axes.set_yticks([])
        if not result.ok:
            seen.text(0.5, 0.5, "not read", ha="center", va="center", fontsize=9, transform=seen.transAxes)
            bars.text(0, 0.5, _wrap(result.error), va="center", fontsize=8, color="#d62728",
                      transform=bars.transAxes)
            bars.set_axis_off()
            continue
        seen.imshow(result.image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        seen.set_title("what the network saw", fontsize=9)
        colours = ["#9a9a9a"] * 10
        colours[result.digit] = "#d62728"
        bars.bar(range(10), result.probabilities, color=colours)
        bars.set_xticks(range(10))
        bars.set_ylim(0, 1)
        bars.set_title(f"{result.digit}, {100 * result.probability:.1f}% sure", fontsize=10)
        bars.tick_params(labelsize=8)
    return save_png(figure, path)


def _short(text, length=32):
    return text if len(text) <= length else "..." + text[-(length - 3):]


def _wrap(text, width=48):
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])
