"""The report: one self-contained HTML file that holds every section and loads nothing from outside."""

import base64
import io
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from digitlab.data import load_data
from digitlab.recipes import get_recipe
from digitlab.reporting.evaluation import evaluate
from digitlab.reporting.report import evaluate_run, render_html, write_report
from digitlab.runs import RunConfig
from digitlab.training import train_run

SECTIONS = ("summary", "curves", "predictions", "per-class", "confusion", "mistakes", "filters",
            "recipe", "data")


class _Page(HTMLParser):
    """Every tag, every URL-bearing attribute and the text of a page."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.urls, self.ids, self.text, self.styles = [], [], set(), [], []
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data", "background", "formaction"):
                self.urls.append(value or "")
            if name == "id":
                self.ids.add(value)
            if name == "style":
                self.styles.append(value or "")

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)


@pytest.fixture(scope="module")
def trained():
    """A keras-mlp trained for 126 steps on a slice: quick, and good enough to make a few mistakes."""
    (x_train, y_train), (x_test, y_test) = load_data()
    model = get_recipe("keras-mlp").make_model(seed=0)
    fitted = model.fit(x_train[:2000], y_train[:2000], epochs=2, batch_size=32,
                       validation_data=(x_test[:400], y_test[:400]), seed=0)
    history = {"epoch": fitted.epoch, **fitted.history}
    config = {"recipe": get_recipe("keras-mlp").to_dict(), "seed": 0, "train_samples": 2000,
              "test_samples": 400, "seconds": 1.5, "dry_run": False}
    return model, evaluate(model, x_test[:400], y_test[:400]), history, config, (x_train[:25], y_train[:25])


@pytest.fixture(scope="module")
def report(trained, tmp_path_factory):
    model, evaluation, history, config, samples = trained
    folder = tmp_path_factory.mktemp("run")
    path = write_report(folder, model, evaluation, history=history, config=config, samples=samples)
    return path, path.read_text(encoding="utf-8"), evaluation


def test_the_report_holds_every_section(report, trained):
    path, html, evaluation = report
    page = _Page(html)
    assert path.name == "report.html"
    assert set(SECTIONS) <= page.ids
    text = " ".join(" ".join(page.text).split())
    assert f"{100 * evaluation.accuracy:.1f}% of 400 test digits right; {evaluation.wrong} wrong" in text
    assert "784-512 ReLU-10 softmax" in text and "rmsprop" in text and "learning rate" in text
    assert "total parameters: 407,050" in text   # the model summary
    assert "1.5 s" in text                        # the training time
    assert "Precision" in text and f"{evaluation.f1[0]:.3f}" in text
    top_true, top_said, count = evaluation.top_confusions(1)[0]
    assert f"{top_true} read as {top_said} ({count}" in text


def test_the_figures_are_embedded_pngs_and_written_beside_the_report(report):
    path, html, _ = report
    page = _Page(html)
    images = [url for url in page.urls if url.startswith("data:image/png;base64,")]
    assert len(images) == 6
    for url in images:
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
            assert image.format == "PNG" and image.size[0] >= 300
    for name in ("curves", "predictions", "confusion", "mistakes", "filters", "samples"):
        assert (path.parent / f"{name}.png").is_file()


def test_the_report_loads_nothing_from_outside(report):
    _, html, _ = report
    page = _Page(html)
    for url in page.urls:
        assert url.startswith(("data:", "#")), f"an external resource: {url[:80]}"
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(page.tags)
    for style in page.styles:
        assert "url(" not in style and "@import" not in style
    assert "http://" not in html and "https://" not in html


def test_anything_from_data_is_escaped(trained):
    model, evaluation, history, config, _ = trained
    hostile = {**config, "recipe": {**config["recipe"], "name": "<b>bold</b>",
                                    "description": "<script>alert('x')</script> & more"},
               "stopped_on_nan": "<img src=x onerror=alert(1)>"}
    figures = dict.fromkeys(("curves", "predictions", "confusion", "mistakes", "filters", "samples"))
    html = render_html("<run & name>", model, evaluation, figures, history, hostile)
    page = _Page(html)
    assert "script" not in page.tags and "b" not in page.tags and "img" not in page.tags
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert "&lt;run &amp; name&gt;" in html


def test_a_model_without_history_gets_a_report_that_says_so(trained, tmp_path):
    model, evaluation, _, _, samples = trained
    html = write_report(tmp_path, model, evaluation, samples=samples).read_text()
    assert "No history.json was found" in html and "names no recipe" in html
    assert not (tmp_path / "curves.png").exists()


def test_evaluate_run_reports_on_the_full_test_set_with_the_runs_history(tmp_path):
    result = train_run(RunConfig("keras-mlp", dry_run=True), out=tmp_path, verbose=False)
    assert result.report == result.run_dir / "report.html" and result.report.is_file()
    assert "two batches" in result.report.read_text()
    evaluation, report = evaluate_run(result.run_dir / "model.safetensors", out=tmp_path / "evaluated")
    assert report == tmp_path / "evaluated" / "report.html"
    assert evaluation.count == 10_000 and evaluation.confusion.sum() == 10_000
    html = report.read_text()
    assert "of 10,000 test digits right" in html and "Only one epoch was trained" in html
    history = json.loads((result.run_dir / "history.json").read_text())
    assert np.isclose(history["val_accuracy"][0], result.test_accuracy)


def test_the_runs_arguments_may_sit_under_settings(trained):
    model, evaluation, history, config, _ = trained
    nested = {key: value for key, value in config.items() if key not in ("seed", "dry_run")}
    nested["settings"] = {"recipe": "keras-mlp", "seed": 7, "dry_run": True}
    figures = dict.fromkeys(("curves", "predictions", "confusion", "mistakes", "filters", "samples"))
    text = " ".join(_Page(render_html("run", model, evaluation, figures, history, nested)).text)
    assert "This was a dry run" in text and "784-512 ReLU-10 softmax" in text
    assert "<dt>seed</dt><dd>7</dd>" in render_html("run", model, evaluation, figures, history, nested)
