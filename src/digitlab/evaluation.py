"""How good a trained model is, and where it goes wrong: accuracy, per-class scores, confusions."""

from dataclasses import dataclass

import numpy as np

from digitlab.data import load_data
from digitlab.nn import load_model


@dataclass
class Evaluation:
    probabilities: np.ndarray     # (N, 10) the model's outputs
    labels: np.ndarray            # (N,) the true digits
    confusion: np.ndarray         # (10, 10) confusion[true, predicted] counts

    @property
    def predictions(self):
        return self.probabilities.argmax(axis=1)

    @property
    def count(self):
        return len(self.labels)

    @property
    def accuracy(self):
        return float(np.trace(self.confusion) / self.confusion.sum())

    @property
    def precision(self):
        predicted = self.confusion.sum(axis=0)
        return np.divide(np.diag(self.confusion), predicted, out=np.zeros(10), where=predicted > 0)

    @property
    def recall(self):
        actual = self.confusion.sum(axis=1)
        return np.divide(np.diag(self.confusion), actual, out=np.zeros(10), where=actual > 0)

    @property
    def f1(self):
        both = self.precision + self.recall
        return np.divide(2 * self.precision * self.recall, both, out=np.zeros(10), where=both > 0)


def confusion_matrix(labels, predictions, classes=10):
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def evaluate(model, images, labels):
    probabilities = model.predict_proba(images)
    labels = np.asarray(labels, np.int64)
    return Evaluation(probabilities, labels, confusion_matrix(labels, probabilities.argmax(axis=1)))


def evaluate_model(path):
    """Load the model file at ``path`` and evaluate it on the MNIST test set."""
    model = load_model(path)
    _, (x_test, y_test) = load_data()
    return evaluate(model, x_test, y_test)
