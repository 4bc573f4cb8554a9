"""How good a trained model is, and where it goes wrong: accuracy, per-class scores, confusions.

    evaluation = evaluate_model("runs/keras-mlp-20261125-101500/model.safetensors")
    print(evaluation.headline())          # 98.2% of 10,000 test digits right; 180 wrong
    print(evaluation.per_class_table())
    print(evaluation.confusion_table())
"""

from dataclasses import dataclass, field

import numpy as np

from digitlab.data import load_data
from digitlab.models import load_digit_model


@dataclass
class Evaluation:
    probabilities: np.ndarray     # (N, 10) the model's outputs
    labels: np.ndarray            # (N,) the true digits
    confusion: np.ndarray         # (10, 10) confusion[true, predicted] counts
    images: np.ndarray | None = field(default=None, repr=False)  # (N, ...) the digits, for figures

    @property
    def predictions(self):
        return self.probabilities.argmax(axis=1)

    @property
    def count(self):
        return len(self.labels)

    @property
    def wrong(self):
        """How many digits the model misread."""
        return int(self.confusion.sum() - np.trace(self.confusion))

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

    def most_confident_mistakes(self, n=15):
        """Indices of up to ``n`` misread digits, the ones the model was surest of first."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        confidence = np.nan_to_num(self.probabilities[wrong, self.predictions[wrong]])
        return wrong[np.argsort(-confidence, kind="stable")[:n]]

    def top_confusions(self, n=3):
        """The ``n`` most frequent mistakes as (true digit, predicted digit, count), most frequent first."""
        off_diagonal = self.confusion * (1 - np.eye(len(self.confusion), dtype=self.confusion.dtype))
        order = np.argsort(-off_diagonal, axis=None, kind="stable")[:n]
        pairs = [(*np.unravel_index(index, off_diagonal.shape), off_diagonal.flat[index]) for index in order]
        return [(int(true), int(said), int(count)) for true, said, count in pairs if count > 0]

    # ------------------------------------------------------------------ as text

    def headline(self):
        """One line: how many test digits it read right and how many wrong."""
        return (f"{100 * self.accuracy:.1f}% of {self.count:,} test digits right; "
                f"{self.wrong:,} wrong")

    def per_class_table(self):
        """Precision, recall, F1 and the number of test digits of each class, as a text table."""
        support = self.confusion.sum(axis=1)
        lines = [f"{'digit':>5}  {'precision':>9}  {'recall':>7}  {'F1':>7}  {'digits':>7}"]
        for digit in range(len(self.confusion)):
            lines.append(f"{digit:>5}  {self.precision[digit]:>9.4f}  {self.recall[digit]:>7.4f}  "
                         f"{self.f1[digit]:>7.4f}  {support[digit]:>7,}")
        lines.append(f"{'mean':>5}  {self.precision.mean():>9.4f}  {self.recall.mean():>7.4f}  "
                     f"{self.f1.mean():>7.4f}  {support.sum():>7,}")
        return "\n".join(lines)

    def confusion_table(self):
        """The confusion matrix as a text table: a row per true digit, a column per answer."""
        width = max(5, len(f"{self.confusion.max():,}") + 1)
        size = len(self.confusion)
        lines = ["rows: the true digit; columns: the network's answer",
                 "true" + "".join(f"{said:>{width}}" for said in range(size))]
        for true, row in enumerate(self.confusion):
            lines.append(f"{true:>4}" + "".join(f"{count:>{width},}" for count in row))
        return "\n".join(lines)


def confusion_matrix(labels, predictions, classes=10):
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def evaluate(model, images, labels):
    probabilities = model.predict_proba(images)
    labels = np.asarray(labels, np.int64)
    return Evaluation(probabilities, labels, confusion_matrix(labels, probabilities.argmax(axis=1)),
                      images=images)


def evaluate_model(path):
    """Load the model file at ``path`` and evaluate it on the MNIST test set."""
    model = load_digit_model(path)
    _, (x_test, y_test) = load_data()
    return evaluate(model, x_test, y_test)
