"""`digitlab predict`, run as a user runs it: the installed script in a subprocess."""

import json

import numpy as np
import pytest
from PIL import Image

from digitlab.data import load_data
from digitlab.data.photos import camera_photos, render_row


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three camera-style photos (a 7, a 2 and a 1) and one of each kind of bad file."""
    folder = tmp_path_factory.mktemp("pictures")
    pictures, labels = camera_photos(3, seed=0)
    paths = []
    for index, picture in enumerate(pictures):
        path = folder / f"digit{index}.jpg"
        path.write_bytes(picture)
        paths.append(path)
    bad = {
        "not_an_image": folder / "notes.png",
        "truncated": folder / "truncated.jpg",
        "directory": folder / "a_folder",
        "blank": folder / "blank.png",
        "bomb": folder / "bomb.png",
        "missing": folder / "missing.jpg",
    }
    bad["not_an_image"].write_text("this is not a picture")
    bad["truncated"].write_bytes(pictures[0][:len(pictures[0]) // 2])
    bad["directory"].mkdir()
    Image.new("L", (200, 150), 250).save(bad["blank"])
    Image.new("1", (10_000, 9_000)).save(bad["bomb"])      # 90 megapixels in a few kB
    return paths, list(labels), bad


def _stderr_lines(result):
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_one_photo(cli, photos):
    paths, labels, _ = photos
    result = cli("predict", paths[0])
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith(f"{paths[0]}: {labels[0]} (") and "%)" in line and "next" in line
    assert len(line.split("next")[1].split(",")) == 2            # --top 3: two more guesses


def test_bad_files_get_one_line_each_and_the_others_are_still_read(cli, photos):
    paths, labels, bad = photos
    files = [paths[0], *bad.values(), paths[1]]
    result = cli("predict", *files)
    assert result.returncode == 1
    lines = _stderr_lines(result)
    assert len(lines) == len(bad)
    expected = {
        "not_an_image": "not an image", "truncated": "truncated", "directory": "folder",
        "blank": "no digit found", "bomb": "pixels", "missing": "no such file",
    }
    for line, (kind, path) in zip(lines, bad.items(), strict=True):
        assert line.startswith(f"error: {path}: ") and expected[kind] in line, (kind, line)
    read = result.stdout.strip().splitlines()
    assert [line.split(": ")[1].split()[0] for line in read] == [str(labels[0]), str(labels[1])]


def test_json_output(cli, photos):
    paths, labels, bad = photos
    result = cli("predict", "--json", "--top", "5", paths[0], bad["missing"], paths[2])
    assert result.returncode == 1
    results = json.loads(result.stdout)
    assert [r["file"] for r in results] == [str(paths[0]), str(bad["missing"]), str(paths[2])]
    first = results[0]
    assert set(first) == {"file", "digit", "probability", "top"}
    assert first["digit"] == labels[0] and 0 < first["probability"] <= 1
    assert len(first["top"]) == 5 and first["top"][0] == {"digit": first["digit"],
                                                           "probability": first["probability"]}
    assert set(results[1]) == {"file", "error"} and "no such file" in results[1]["error"]
    assert len(_stderr_lines(result)) == 1


def test_top_sets_how_many_guesses(cli, photos):
    paths, _, _ = photos
    one = cli("predict", "--top", "1", paths[1])
    assert one.returncode == 0 and "next" not in one.stdout
    assert cli("predict", "--top", "0", paths[1]).returncode == 2


def test_plot_writes_a_png(cli, photos, tmp_path):
    paths, _, bad = photos
    figure = tmp_path / "out" / "predictions.png"
    result = cli("predict", "--plot", figure, paths[0], paths[1], bad["blank"])
    assert result.returncode == 1
    assert str(figure) in result.stdout
    with Image.open(figure) as picture:
        assert picture.format == "PNG" and picture.width > 400


def test_number_reads_a_row_of_digits(cli, tmp_path):
    _, (x_test, y_test) = load_data()
    indices = [0, 1, 2, 3]
    path = tmp_path / "row.jpg"
    path.write_bytes(render_row(x_test[indices], np.random.default_rng(11)))
    expected = "".join(str(d) for d in y_test[indices])
    result = cli("predict", "--number", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: {expected} (")
    as_json = json.loads(cli("predict", "--number", "--json", path).stdout)
    assert as_json[0]["number"] == expected and len(as_json[0]["digits"]) == 4


def test_a_bad_model_file_is_one_line(cli, photos, tmp_path):
    paths, _, _ = photos
    fake = tmp_path / "model.safetensors"
    fake.write_text("not a model")
    result = cli("predict", "--model", fake, paths[0])
    assert result.returncode == 1
    lines = _stderr_lines(result)
    assert len(lines) == 1 and "not a digitlab model file" in lines[0]


def test_a_model_that_reads_no_28x28_digit_is_one_line(cli, photos, tmp_path):
    from digitlab.nn import Dense, Sequential

    paths, _, _ = photos
    other = tmp_path / "other.safetensors"
    Sequential([Dense(10, activation="softmax")], input_shape=(1024,)).build(seed=0).save(other)
    result = cli("predict", "--model", other, paths[0])
    assert result.returncode == 1 and result.stdout == ""
    lines = _stderr_lines(result)
    assert len(lines) == 1 and "not a 28x28 digit" in lines[0]


def test_no_files_is_a_usage_mistake(cli):
    result = cli("predict")
    assert result.returncode == 2 and "FILES" in result.stderr
