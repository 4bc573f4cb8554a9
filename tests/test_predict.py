"""digitlab.predict with the model that ships with the package, on camera-style photos."""

import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from digitlab.data import load_data
from digitlab.data.photos import camera_photos, render_row
from digitlab.nn import Dense, Sequential
from digitlab.photo.preprocess import preprocess
from digitlab.predict import (
    DEFAULT_MODEL,
    Failure,
    NumberReading,
    Prediction,
    default_model,
    plot_predictions,
    predict_file,
    predict_files,
    predict_images,
    probabilities,
    read_number,
    read_numbers,
)

CAMERA_SET = 200


@pytest.fixture(scope="module")
def camera_set():
    return camera_photos(CAMERA_SET, seed=0)


@pytest.fixture(scope="module")
def mnist_test():
    _, (x_test, y_test) = load_data()
    return x_test, y_test


def naive(photo):
    """The tutorials' way: shrink the whole picture to 28x28 and invert it."""
    grey = Image.open(io.BytesIO(photo)).convert("L").resize((28, 28))
    return (255 - np.asarray(grey, np.float32)) / 255


def test_camera_photos_are_read_right_95_percent_of_the_time(camera_set):
    photos, labels = camera_set
    images = np.stack([preprocess(photo) for photo in photos])
    accuracy = float((probabilities(images).argmax(axis=1) == labels).mean())
    baseline = float((probabilities(np.stack([naive(p) for p in photos])).argmax(axis=1) == labels).mean())
    print(f"camera photos: preprocess + shipped model {accuracy:.3f}, naive resize + invert {baseline:.3f}")
    assert accuracy >= 0.95
    assert baseline < accuracy


def test_the_camera_set_is_the_same_every_time():
    first, labels = camera_photos(3, seed=0)
    again, _ = camera_photos(3, seed=0)
    other, _ = camera_photos(3, seed=1)
    assert first == again and first != other
    assert list(labels) == [7, 2, 1]
    assert all(Image.open(io.BytesIO(photo)).format == "JPEG" for photo in first)


def test_a_prediction_carries_what_the_network_saw(camera_set):
    photos, labels = camera_set
    result = predict_file(photos[0], top=4)
    assert isinstance(result, Prediction) and result.ok
    assert result.digit == labels[0] and result.source == "<image bytes>"
    assert result.image.shape == (28, 28) and result.probabilities.shape == (10,)
    assert len(result.top) == 4 and result.top[0] == (result.digit, result.probability)
    assert [p for _, p in result.top] == sorted((p for _, p in result.top), reverse=True)
    assert result.probabilities.sum() == pytest.approx(1, abs=1e-4)
    facts = result.to_dict()
    assert json.loads(json.dumps(facts)) == facts
    assert result.summary().startswith(f"<image bytes>: {result.digit} (")


def test_pictures_read_in_several_threads_at_once_give_what_one_at_a_time_gives(camera_set, mnist_test):
    """The web server reads its requests side by side, all on one model (that no forward pass reads
    back what it keeps is checked exactly in tests/nn/test_layers.py; here, the whole path)."""
    photos, _ = camera_set
    x_test, _ = mnist_test
    rows = [render_row(x_test[start:start + 3], np.random.default_rng(start)) for start in range(0, 24, 3)]

    def read(picture):
        if picture in rows:
            return [digit.probabilities for digit in read_number(picture).digits]
        return [predict_file(picture).probabilities]

    pictures = list(photos[:24]) + rows
    alone = [read(picture) for picture in pictures]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(read, pictures))
    for ours, expected in zip(together, alone, strict=True):
        np.testing.assert_array_equal(ours, expected)


def test_predict_files_reads_the_good_and_reports_the_bad(camera_set, tmp_path):
    photos, labels = camera_set
    good = tmp_path / "seven.jpg"
    good.write_bytes(photos[0])
    bad = tmp_path / "notes.txt"
    bad.write_text("no picture here")
    results = predict_files([good, bad, tmp_path / "missing.png", photos[1]])
    assert [type(r) for r in results] == [Prediction, Failure, Failure, Prediction]
    assert results[0].digit == labels[0] and results[3].digit == labels[1]
    assert results[0].source == str(good)
    assert "not an image" in results[1].error and "no such file" in results[2].error
    assert results[1].summary() == f"error: {results[1].error}" and not results[1].ok


def test_a_model_can_be_given_as_a_path_or_an_object(camera_set, tmp_path):
    photos, _ = camera_set
    by_default = predict_file(photos[2])
    by_path = predict_file(photos[2], model=DEFAULT_MODEL)
    by_object = predict_file(photos[2], model=default_model())
    assert by_default.digit == by_path.digit == by_object.digit
    np.testing.assert_allclose(by_default.probabilities, by_path.probabilities, rtol=1e-5)


def test_a_model_that_gives_logits_gets_a_softmax(mnist_test):
    model = Sequential([Dense(10)], input_shape=(784,)).build(seed=0)
    probs = probabilities(mnist_test[0][:5] / np.float32(255), model)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
    assert (probs >= 0).all()


def test_predict_images_takes_mnist_arrays(mnist_test):
    x_test, y_test = mnist_test
    results = predict_images(x_test[:10] / np.float32(255))
    assert [r.digit for r in results] == list(y_test[:10])


def test_uint8_pixels_are_scaled_as_the_model_was_trained(mnist_test):
    x_test, _ = mnist_test
    scaled = x_test[:50] / np.float32(255)
    np.testing.assert_allclose(probabilities(x_test[:50]), probabilities(scaled), atol=1e-6)
    assert [r.digit for r in predict_images(x_test[:50])] == [r.digit for r in predict_images(scaled)]


def test_images_of_another_size_are_refused_naming_the_shape():
    with pytest.raises(ValueError, match=r"must be 28x28.*\(2, 32, 32\)"):
        predict_images(np.zeros((2, 32, 32), np.float32))


def test_one_path_is_one_picture_and_a_non_picture_is_a_type_error(camera_set, tmp_path):
    path = tmp_path / "seven.jpg"
    path.write_bytes(camera_set[0][0])
    (result,) = predict_files(str(path))
    assert isinstance(result, Prediction) and result.source == str(path)
    (reading,) = read_numbers(path)
    assert isinstance(reading, NumberReading)
    with pytest.raises(TypeError, match="an image is a path, bytes"):
        predict_file(None)


def test_read_number_reads_a_row_of_digits_left_to_right(mnist_test):
    x_test, y_test = mnist_test
    rng = np.random.default_rng(11)
    for indices in ([0, 1, 2, 3], [4, 7, 9], [18, 12, 61, 90]):
        photo = render_row(x_test[indices], rng)
        reading = read_number(photo)
        assert isinstance(reading, NumberReading)
        assert reading.text == "".join(str(d) for d in y_test[indices])
        assert 0 < reading.probability <= min(p.probability for p in reading.digits)
        lefts = [p.box[2] for p in reading.digits]
        assert lefts == sorted(lefts)
        facts = reading.to_dict()
        assert facts["number"] == reading.text and len(facts["digits"]) == len(indices)
        assert set(facts["digits"][0]) == {"digit", "probability", "top", "box"}


def test_read_numbers_reports_a_bad_file(tmp_path):
    results = read_numbers([tmp_path])
    assert isinstance(results[0], Failure) and "folder" in results[0].error


def test_plot_predictions_writes_a_png(camera_set, tmp_path):
    photos, _ = camera_set
    sources = [photos[0], photos[1], tmp_path / "missing.png"]
    path = plot_predictions(predict_files(sources), sources, tmp_path / "figures" / "predictions.png")
    with Image.open(path) as figure:
        assert figure.format == "PNG" and figure.height > 2 * 150


def test_importing_predict_loads_no_model_and_no_plotting():
    code = ("import sys, digitlab.predict as p; "
            "print(p.default_model.cache_info().currsize, 'matplotlib' in sys.modules, "
            "'digitlab.data.mnist' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False"]
