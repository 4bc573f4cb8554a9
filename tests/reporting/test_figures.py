"""A run's figures by name: what each is drawn from, and what happens when there is nothing to draw."""

import pytest
from PIL import Image

from digitlab.errors import ConfigError
from digitlab.nn import Dense, Flatten, MaxPool2D, Sequential
from digitlab.reporting.figures import draw, draw_figure


def test_a_figure_with_nothing_to_draw_is_skipped(tmp_path):
    assert draw("curves", tmp_path / "curves.png", history=None) is None
    assert draw("curves", tmp_path / "curves.png", history={"epoch": [], "loss": []}) is None
    small = Sequential([Dense(10)], input_shape=(20,)).build(seed=0)
    assert draw("filters", tmp_path / "filters.png", model=small) is None
    assert not any(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="unknown figure"):
        draw("everything", tmp_path / "x.png")


def test_show_refuses_filters_of_a_model_without_a_drawable_first_layer(tmp_path):
    pooled_first = [MaxPool2D(), Flatten(), Dense(10, activation="softmax")]  # its Dense sees 14x14
    model = Sequential(pooled_first, input_shape=(1, 28, 28)).build(seed=0)
    model.save(tmp_path / "model.safetensors")
    with pytest.raises(ConfigError, match="no weights to draw"):
        draw_figure("filters", tmp_path / "model.safetensors")


def test_samples_default_to_the_current_folder_and_count(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = draw_figure("samples", n=5)
    assert path.name == "samples.png" and (tmp_path / "samples.png").is_file()
    with Image.open(tmp_path / "samples.png") as image:
        assert image.size == (600, 145)   # one row of five 1.2 x 1.45 inch cells at 100 dpi
