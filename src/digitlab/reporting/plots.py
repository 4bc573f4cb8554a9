"""Every figure digitlab draws, each written to a PNG file.

Each function takes plain arrays and an output path, draws one figure, writes it and returns the
path. The figures are the tutorials' (a grid of training digits, test digits beside their ten
probabilities, train/test curves) and a few more (confusion matrix, most confident mistakes, the first
layer's weights).

matplotlib draws with its Agg backend. The figures are ``matplotlib.figure.Figure`` objects rendered
by the Agg canvas, never pyplot's: importing this module leaves the backend of the caller's process
(a notebook's inline plots, say) as it was, and no figure is left open in a global registry.
"""

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from digitlab.errors import ConfigError
from digitlab.files import atomic_file
from digitlab.nn.backend import to_numpy

PREDICTED = "#d62728"   # the network's answer, red as in the tutorial
TRUE = "#1f77b4"        # the true digit, blue as in the tutorial
OTHER = "#9a9a9a"       # every other digit's bar
DPI = 100


def new_figure(width, height, left=0.1, right=0.1, top=0.1, bottom=0.1, wspace=0.2, hspace=0.2):
    """A figure ``width`` x ``height`` inches with fixed margins in inches (a layout engine would
    double the drawing time); ``wspace`` and ``hspace`` as in ``subplots_adjust``."""
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                           bottom=bottom / height, wspace=wspace, hspace=hspace)
    return figure


def save_png(figure, path):
    """Write ``figure`` to ``path``, a .png file, whole or not at all; returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"{path}: figures are written as PNG: give a file name ending in .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as file:
        figure.savefig(file, format="png", facecolor="white")
    return path


def _digit(image):
    """A digit as a 28x28 array, whatever shape it came in (784, (1, 28, 28), (28, 28))."""
    return np.asarray(image).reshape(28, 28)


def _grid(count, columns):
    return max(1, -(-count // columns)), min(count, columns) or 1


def _sheet(columns, rows, cell_width, cell_height):
    """A figure of ``rows`` x ``columns`` cells drawn on one axes measured in inches, (0, 0) at
    the top left: one axes instead of one per digit keeps a grid of 50 pictures fast to draw."""
    width, height = columns * cell_width, rows * cell_height
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    return figure, axes


def _cell(index, columns, cell_width, cell_height):
    """The top-left corner, in inches, of cell ``index`` counted row by row."""
    row, column = divmod(index, columns)
    return column * cell_width, row * cell_height


def _put_digit(axes, image, left, top, size):
    """A digit as a ``size``-inch square in a thin frame, dark ink on white as in the tutorials."""
    axes.imshow(_digit(image), cmap="binary", interpolation="nearest", aspect="auto",
                extent=(left, left + size, top + size, top))
    axes.add_patch(Rectangle((left, top), size, size, fill=False, edgecolor="#444444", linewidth=0.8))


# ----------------------------------------------------------------------------- data


def sample_grid(images, labels, path, columns=5):
    """Training digits with their labels underneath (the tutorial's 5x5 grid for 25 images)."""
    rows, columns = _grid(len(images), columns)
    figure, axes = _sheet(columns, rows, 1.2, 1.45)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        left, top = _cell(index, columns, 1.2, 1.45)
        _put_digit(axes, image, left + 0.1, top + 0.08, 1.0)
        axes.text(left + 0.6, top + 1.15, str(int(label)), ha="center", va="top", fontsize=12)
    return save_png(figure, path)


# ----------------------------------------------------------------------------- predictions


def prediction_grid(images, probabilities, labels, path, columns=3):
    """Each test digit beside a bar chart of its ten probabilities: predicted bar red, true bar blue.

    Under each digit: the predicted digit, its probability and the true digit in brackets, in blue
    when the answer is right and red when it is wrong (as the tutorial drew it).
    """
    rows, columns = _grid(len(images), columns)
    figure, axes = _sheet(columns, rows, 3.3, 1.6)
    for index, (image, probs, label) in enumerate(zip(images, probabilities, labels, strict=True)):
        left, top = _cell(index, columns, 3.3, 1.6)
        probs = np.nan_to_num(np.asarray(probs, float))
        predicted, label = int(probs.argmax()), int(label)

        _put_digit(axes, image, left + 0.15, top + 0.1, 1.1)
        axes.text(left + 0.7, top + 1.25, f"{predicted} {100 * probs[predicted]:.0f}% ({label})",
                  ha="center", va="top", fontsize=10, color=TRUE if predicted == label else PREDICTED)

        colours = [OTHER] * 10
        colours[predicted], colours[label] = PREDICTED, TRUE
        baseline, positions = top + 1.2, left + 1.5 + 0.17 * np.arange(10)
        axes.bar(positions, -1.1 * probs, bottom=baseline, width=0.13, color=colours)
        axes.plot([left + 1.38, left + 3.2], [baseline, baseline], color="#444444", linewidth=0.8)
        for digit, x in enumerate(positions):
            axes.text(x, baseline + 0.05, str(digit), ha="center", va="top", fontsize=8)
    return save_png(figure, path)


def mistakes_grid(images, labels, probabilities, path, columns=5):
    """Misread digits, each titled with its true digit, the network's answer and its confidence."""
    if len(images) == 0:
        figure, axes = _sheet(1, 1, 6, 1.2)
        axes.text(3, 0.6, "No mistakes: every test digit was read right.", ha="center", va="center",
                  fontsize=13)
        return save_png(figure, path)
    rows, columns = _grid(len(images), columns)
    figure, axes = _sheet(columns, rows, 1.8, 2.0)
    for index, (image, label, probs) in enumerate(zip(images, labels, probabilities, strict=True)):
        left, top = _cell(index, columns, 1.8, 2.0)
        predicted = int(np.argmax(probs))
        axes.text(left + 0.9, top + 0.25, f"true {int(label)}, said {predicted}", ha="center",
                  va="bottom", fontsize=10)
        _put_digit(axes, image, left + 0.25, top + 0.3, 1.3)
        axes.text(left + 0.9, top + 1.67, f"{100 * float(probs[predicted]):.1f}% sure", ha="center",
                  va="top", fontsize=9, color=PREDICTED)
    return save_png(figure, path)


# ----------------------------------------------------------------------------- training


def training_curves(history, path):
    """Loss and accuracy per epoch, train and test, from a run's history.json dict.

    ``history`` has lists under ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` and the epoch
    numbers (from 0) under ``epoch``; any list that is missing is left out.
    """
    epochs = np.asarray(history.get("epoch") or range(len(history.get("loss", []))), int) + 1
    figure = new_figure(10, 3.8, left=0.6, right=0.2, top=0.35, bottom=0.5, wspace=0.2)
    panels = figure.subplots(1, 2)
    for axes, metric, title in ((panels[0], "loss", "Loss (lower is better)"),
                                (panels[1], "accuracy", "Accuracy (higher is better)")):
        for key, label, style in ((metric, "train", "o-"), (f"val_{metric}", "test", "s--")):
            values = history.get(key)
            if values:
                axes.plot(epochs[:len(values)], values, style, label=label, markersize=5)
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend()
    return save_png(figure, path)


# ----------------------------------------------------------------------------- errors


def confusion_heatmap(confusion, path):
    """The confusion matrix (rows: true digit, columns: predicted) as a heat map with its counts.

    Right answers (the diagonal) are green; confusions are red, on their own scale, so that the
    most frequent confusion stands out even when the diagonal holds a thousand times more.
    """
    confusion = np.asarray(confusion)
    size = len(confusion)
    diagonal = np.eye(size, dtype=bool)
    off_peak = max(int(confusion[~diagonal].max(initial=0)), 1)
    figure = new_figure(5.8, 5.8, left=0.7, right=0.15, top=0.55, bottom=0.15)
    axes = figure.add_subplot()
    axes.imshow(np.ma.masked_where(~diagonal, confusion), cmap="Greens",
                vmin=0, vmax=max(int(confusion.max()), 1) * 2.5)
    reds = ListedColormap(np.vstack([[1, 1, 1, 1], colormaps["Reds"](np.linspace(0.12, 1, 255))]))
    axes.imshow(np.ma.masked_where(diagonal, confusion), cmap=reds, vmin=0, vmax=off_peak)
    for (row, column), count in np.ndenumerate(confusion):
        if count == 0:
            continue
        right, dark = row == column, row != column and count > 0.6 * off_peak
        axes.text(column, row, f"{count:,}", ha="center", va="center", fontsize=9,
                  fontweight="bold" if right else "normal", color="white" if dark else "black")
    axes.set_xticks(range(size))
    axes.set_yticks(range(size))
    axes.set_xlabel("the network's answer")
    axes.set_ylabel("the true digit")
    axes.xaxis.set_label_position("top")
    axes.xaxis.tick_top()
    axes.set_xticks(np.arange(size + 1) - 0.5, minor=True)
    axes.set_yticks(np.arange(size + 1) - 0.5, minor=True)
    axes.grid(which="minor", color="#dddddd", linewidth=0.6)
    axes.tick_params(which="both", length=0)
    return save_png(figure, path)


# ----------------------------------------------------------------------------- weights


def first_layer_kernel(model):
    """The first layer's weights that can be drawn: a Dense kernel (784, units) or a Conv2D's
    kernels (filters, channels, kh, kw). None if the model has neither first."""
    for layer in model.layers:
        kernel = layer.params.get("kernel")
        if kernel is None:
            continue
        kernel = to_numpy(kernel)
        if kernel.ndim == 4 or (kernel.ndim == 2 and kernel.shape[0] == 784):
            return kernel
        return None
    return None


def weight_images(kernel, path, count=32, columns=8):
    """The first layer's weights as pictures: each Dense unit's 784 weights as a 28x28 image, or each
    Conv2D filter's kernel (averaged over its input channels). Red is a positive weight, blue a
    negative one, each picture on its own scale."""
    kernel = np.asarray(kernel, float)
    if kernel.ndim == 2:
        pictures = kernel.T[:count].reshape(-1, 28, 28)
    elif kernel.ndim == 4:
        pictures = kernel[:count].mean(axis=1)
    else:
        raise ValueError(f"expected a Dense kernel (784, units) or Conv2D kernels (f, c, kh, kw), "
                         f"got shape {kernel.shape}")
    pictures = np.nan_to_num(pictures)
    rows, columns = _grid(len(pictures), columns)
    cell = 1.1 if pictures.shape[1] >= 20 else 0.8
    figure, axes = _sheet(columns, rows, cell, cell)
    for index, picture in enumerate(pictures):
        left, top = _cell(index, columns, cell, cell)
        scale = np.abs(picture).max() or 1.0
        axes.imshow(picture, cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest",
                    aspect="auto", extent=(left + 0.03, left + cell - 0.03, top + cell - 0.03, top + 0.03))
    return save_png(figure, path)
