"""Scores and confusions checked against numbers worked out by hand, and the text tables."""


import numpy as np
import pytest

from digitlab.data import load_data
from digitlab.recipes import get_recipe
from digitlab.reporting.evaluation import Evaluation, confusion_matrix, evaluate


def _evaluation(labels, answers, confidence):
    probabilities = np.full((len(labels), 10), 0.0)
    probabilities[np.arange(len(labels)), answers] = confidence
    labels = np.asarray(labels)
    return Evaluation(probabilities, labels, confusion_matrix(labels, np.asarray(answers)))


@pytest.fixture
def small():
    # six digits: two 3s read right, a 3 read as 8 (sure 0.9), an 8 read right, a 5 read as 3 (0.6)
    # and a 5 read as 8 (0.95)
    return _evaluation([3, 3, 3, 8, 5, 5], [3, 3, 8, 8, 3, 8], [0.8, 0.7, 0.9, 0.99, 0.6, 0.95])


def test_scores_match_the_hand_worked_counts(small):
    assert small.count == 6 and small.wrong == 3 and small.accuracy == pytest.approx(0.5)
    assert small.precision[3] == pytest.approx(2 / 3) and small.recall[3] == pytest.approx(2 / 3)
    assert small.precision[8] == pytest.approx(1 / 3) and small.recall[8] == pytest.approx(1.0)
    assert small.f1[8] == pytest.approx(2 * (1 / 3) / (4 / 3))
    assert small.precision[5] == small.recall[5] == small.f1[5] == 0  # never predicted: 0, not NaN
    assert small.confusion.sum() == 6 and small.confusion[5, 8] == 1


def test_the_most_confident_mistakes_come_first(small):
    assert list(small.most_confident_mistakes()) == [5, 2, 4]
    assert list(small.most_confident_mistakes(2)) == [5, 2]
    perfect = _evaluation([1, 2], [1, 2], [0.9, 0.9])
    assert len(perfect.most_confident_mistakes()) == 0 and perfect.top_confusions() == []


def test_the_top_confusions_are_counted_pairs(small):
    assert small.top_confusions(5) == [(3, 8, 1), (5, 3, 1), (5, 8, 1)]


def test_the_headline_and_tables_say_the_same_numbers(small):
    assert small.headline() == "50.0% of 6 test digits right; 3 wrong"
    table = small.per_class_table().splitlines()
    assert table[0].split() == ["digit", "precision", "recall", "F1", "digits"]
    assert table[1 + 3].split() == ["3", "0.6667", "0.6667", "0.6667", "3"]
    assert table[-1].split()[0] == "mean" and table[-1].split()[-1] == "6"
    rows = small.confusion_table().splitlines()[2:]
    parsed = np.array([[int(cell.replace(",", "")) for cell in row.split()[1:]] for row in rows])
    np.testing.assert_array_equal(parsed, small.confusion)


def test_evaluating_a_trained_model_agrees_with_its_own_evaluate():
    (x_train, y_train), (x_test, y_test) = load_data()
    model = get_recipe("keras-mlp").make_model(seed=0)
    model.fit(x_train[:1000], y_train[:1000], epochs=1, batch_size=50, seed=0)
    evaluation = evaluate(model, x_test[:500], y_test[:500])
    _, accuracy = model.evaluate(x_test[:500], y_test[:500])
    assert evaluation.accuracy == pytest.approx(accuracy) and evaluation.accuracy > 0.6
    assert evaluation.confusion.sum() == 500 and evaluation.images.shape == (500, 28, 28)
    assert evaluation.probabilities.shape == (500, 10)
