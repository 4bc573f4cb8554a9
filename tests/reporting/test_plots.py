"""Every figure is a real PNG of a sensible size, drawn from the data it was given."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from digitlab.errors import ConfigError
from digitlab.nn import Conv2D, Dense, Flatten, Sequential
from digitlab.reporting import plots

RED = np.array([0xD6, 0x27, 0x28])    # plots.PREDICTED
BLUE = np.array([0x1F, 0x77, 0xB4])   # plots.TRUE


def _png(path, min_size=(200, 100), max_size=(3000, 4000)):
    """The figure at ``path`` as an RGB array, after checking it is a PNG of a sensible size."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert min_size[0] <= width <= max_size[0] and min_size[1] <= height <= max_size[1], image.size
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels.std() > 0, "a figure is not a blank page"
    return pixels


def _pixels_of(pixels, colour):
    return int((np.abs(pixels - colour).sum(axis=-1) < 30).sum())


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (25, 28, 28)).astype(np.uint8)
    labels = np.arange(25) % 10
    return images, labels


def _sure(labels, answers, confidence=0.9):
    """Probabilities that put ``confidence`` on ``answers`` and spread the rest."""
    probabilities = np.full((len(labels), 10), (1 - confidence) / 9)
    probabilities[np.arange(len(labels)), answers] = confidence
    return probabilities


def test_the_sample_grid_shows_the_digits_it_is_given(digits, tmp_path):
    images, labels = digits
    path = plots.sample_grid(images, labels, tmp_path / "samples.png")
    assert path == tmp_path / "samples.png"
    first = _png(path)
    other = _png(plots.sample_grid(255 - images, labels, tmp_path / "other.png"))
    assert first.shape == other.shape and (first != other).any()


def test_prediction_bars_are_red_only_where_the_answer_is_wrong(digits, tmp_path):
    images, labels = digits[0][:6], digits[1][:6]
    right = _png(plots.prediction_grid(images, _sure(labels, labels), labels, tmp_path / "right.png"))
    assert _pixels_of(right, BLUE) > 100 and _pixels_of(right, RED) == 0
    answers = labels.copy()
    answers[2] = (labels[2] + 1) % 10
    one_wrong = _png(plots.prediction_grid(images, _sure(labels, answers), labels, tmp_path / "wrong.png"))
    assert _pixels_of(one_wrong, RED) > 100


def test_the_confusion_heat_map_comes_from_the_counts(tmp_path):
    confusion = np.diag(np.full(10, 90))
    confusion[4, 9] = 10
    first = _png(plots.confusion_heatmap(confusion, tmp_path / "a.png"))
    confusion[7, 1] = 25
    second = _png(plots.confusion_heatmap(confusion, tmp_path / "b.png"))
    assert first.shape == second.shape and (first != second).any()
    assert _png(plots.confusion_heatmap(np.zeros((10, 10), int), tmp_path / "empty.png")).shape


def test_a_figure_is_written_whole_as_png_or_not_at_all(tmp_path, monkeypatch):
    matrix = np.eye(10, dtype=int) * 90
    with pytest.raises(ConfigError, match="ending in .png"):
        plots.confusion_heatmap(matrix, tmp_path / "confusion.jpg")
    path = plots.confusion_heatmap(matrix, tmp_path / "confusion.png")
    before = path.read_bytes()

    def fails_half_way(self, file, **options):
        file.write(before[:100])
        raise MemoryError("out of memory while drawing")

    monkeypatch.setattr(plots.Figure, "savefig", fails_half_way)
    with pytest.raises(MemoryError):
        plots.confusion_heatmap(matrix * 2, path)
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]


def test_the_curves_come_from_the_history(tmp_path):
    history = {"epoch": [0, 1, 2], "loss": [0.5, 0.3, 0.2], "accuracy": [0.85, 0.91, 0.94],
               "val_loss": [0.35, 0.25, 0.22], "val_accuracy": [0.9, 0.93, 0.94]}
    first = _png(plots.training_curves(history, tmp_path / "a.png"))
    second = _png(plots.training_curves({**history, "val_accuracy": [0.5, 0.6, 0.7]}, tmp_path / "b.png"))
    assert (first != second).any()
    one_epoch = {"epoch": [0], "loss": [2.1], "accuracy": [0.2]}  # no test curve: drawn without it
    _png(plots.training_curves(one_epoch, tmp_path / "c.png"))


def test_the_mistakes_are_titled_and_an_empty_set_says_so(digits, tmp_path):
    images, labels = digits[0][:4], digits[1][:4]
    wrong = _png(plots.mistakes_grid(images, labels, _sure(labels, (labels + 1) % 10), tmp_path / "m.png"))
    assert _pixels_of(wrong, RED) > 0  # the confidence is written in red
    none = _png(plots.mistakes_grid(images[:0], labels[:0], np.zeros((0, 10)), tmp_path / "none.png"),
                min_size=(200, 50))
    assert none.shape != wrong.shape


def test_weights_draw_as_28x28_images_or_conv_kernels(tmp_path):
    rng = np.random.default_rng(1)
    dense = rng.normal(size=(784, 40)).astype(np.float32)
    first = _png(plots.weight_images(dense, tmp_path / "dense.png", count=16))
    second = _png(plots.weight_images(-dense, tmp_path / "flipped.png", count=16))
    assert first.shape == second.shape and (first != second).any()
    assert _pixels_of(first, (255, 255, 255)) < first.shape[0] * first.shape[1] // 2
    _png(plots.weight_images(rng.normal(size=(12, 1, 5, 5)), tmp_path / "conv.png"), min_size=(100, 50))
    with pytest.raises(ValueError, match="Dense kernel"):
        plots.weight_images(rng.normal(size=(3, 3, 3)), tmp_path / "bad.png")


def test_the_first_layer_kernel_is_found_for_dense_and_conv_models():
    mlp = Sequential([Dense(16, activation="relu"), Dense(10)], input_shape=(784,)).build(seed=0)
    assert plots.first_layer_kernel(mlp).shape == (784, 16)
    cnn = Sequential([Conv2D(4, 3, activation="relu"), Flatten(), Dense(10)], input_shape=(1, 28, 28)).build(seed=0)
    assert plots.first_layer_kernel(cnn).shape == (4, 1, 3, 3)
    other = Sequential([Dense(10)], input_shape=(20,)).build(seed=0)
    assert plots.first_layer_kernel(other) is None


def test_drawing_leaves_pyplot_and_so_the_callers_backend_alone(tmp_path):
    code = ("import sys, numpy; from digitlab.reporting import plots; "
            f"plots.confusion_heatmap(numpy.eye(10, dtype=int), {str(tmp_path / 'c.png')!r}); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
