"""`digitlab train` writes a report, `digitlab evaluate` and `digitlab show` run as a user runs them."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _one_line_error(result):
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


def _printed_path(result, label):
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(f"{label}: ")]
    return line.split(": ", 1)[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One dry run through the CLI: its run folder, with a model that makes plenty of mistakes."""
    out = tmp_path_factory.mktemp("runs")
    digitlab = Path(sys.executable).parent / "digitlab"   # the `cli` fixture, for a module-wide run
    trained = subprocess.run([str(digitlab), "train", "--dry-run", "--quiet", "--out", str(out)],
                             capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    report = _printed_path(trained, "report")
    (folder,) = out.iterdir()
    assert report == str(folder / "report.html") and "<!DOCTYPE html>" in (folder / "report.html").read_text()
    return folder


def test_train_writes_the_report_and_figures_and_prints_the_path(run_dir):
    names = {path.name for path in run_dir.iterdir()}
    assert {"report.html", "curves.png", "predictions.png", "confusion.png", "mistakes.png",
            "filters.png", "samples.png"} <= names


def test_evaluate_prints_scores_and_a_confusion_matrix_that_agree(cli, run_dir, tmp_path):
    result = cli("evaluate", "--model", run_dir / "model.safetensors", "--out", tmp_path / "eval")
    assert result.returncode == 0, result.stderr
    accuracy = re.search(r"^test accuracy (\d\.\d{4}) on 10,000 images", result.stdout, re.M).group(1)
    lines = result.stdout.splitlines()
    start = lines.index("rows: the true digit; columns: the network's answer") + 2
    confusion = np.array([[int(cell.replace(",", "")) for cell in line.split()[1:]]
                          for line in lines[start:start + 10]])
    assert confusion.shape == (10, 10) and confusion.sum() == 10_000
    assert f"{np.trace(confusion) / confusion.sum():.4f}" == accuracy
    per_class = [line.split() for line in lines if re.match(r"^\s+\d  ", line)][:10]
    assert [row[0] for row in per_class] == [str(digit) for digit in range(10)]
    assert [int(row[-1].replace(",", "")) for row in per_class] == list(confusion.sum(axis=1))
    report = tmp_path / "eval" / "report.html"
    assert _printed_path(result, "report") == str(report) and report.is_file()
    assert "of 10,000 test digits right" in report.read_text()
    with Image.open(tmp_path / "eval" / "confusion.png") as image:
        assert image.format == "PNG" and image.size[0] >= 300


def test_evaluate_without_model_takes_the_newest_run(cli, run_dir, tmp_path):
    for name, age in (("keras-mlp-20260101-000000", 100), ("keras-mlp-20260102-000000", 0)):
        copy = tmp_path / "runs" / name
        copy.mkdir(parents=True)
        shutil.copy(run_dir / "model.safetensors", copy)
        shutil.copy(run_dir / "history.json", copy)
        model = copy / "model.safetensors"
        os.utime(model, (model.stat().st_mtime - age,) * 2)
    result = cli("evaluate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    newest = os.path.join("runs", "keras-mlp-20260102-000000")
    assert _printed_path(result, "model") == os.path.join(newest, "model.safetensors")
    assert (tmp_path / newest / "report.html").is_file()
    assert not (tmp_path / "runs" / "keras-mlp-20260101-000000" / "report.html").exists()


def test_evaluate_with_no_run_anywhere_says_what_to_do(cli, tmp_path):
    result = cli("evaluate", cwd=tmp_path)
    assert result.returncode == 1
    assert "no model found" in _one_line_error(result) and "digitlab train" in result.stderr


@pytest.mark.parametrize("command", [("evaluate",), ("show", "predictions")])
def test_a_file_that_is_not_a_model_is_refused_in_one_line(cli, tmp_path, command):
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"\x00" * 64)
    result = cli(*command, "--model", fake)
    assert result.returncode == 1
    assert "not a digitlab model file" in _one_line_error(result)
    assert not (tmp_path / "report.html").exists()


def test_show_samples_needs_no_model(cli, tmp_path):
    result = cli("show", "samples", "--n", "10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "samples.png"
    with Image.open(tmp_path / "samples.png") as image:
        assert image.format == "PNG" and image.size[0] >= 300 and image.size[1] < image.size[0]


@pytest.mark.parametrize("figure", ["predictions", "mistakes", "filters"])
def test_show_draws_each_figure_of_a_model(cli, run_dir, tmp_path, figure):
    out = tmp_path / f"{figure}-6.png"
    result = cli("show", figure, "--model", run_dir / "model.safetensors", "--n", "6", "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    with Image.open(out) as image:
        assert image.format == "PNG" and 200 <= image.size[0] <= 3000


@pytest.mark.parametrize("arguments, mentions", [
    (("show", "everything"), "everything"),
    (("show", "samples", "--n", "0"), "--n"),
    (("show",), "Missing argument"),
])
def test_show_usage_mistakes_exit_2(cli, tmp_path, arguments, mentions):
    result = cli(*arguments, cwd=tmp_path)
    assert result.returncode == 2 and mentions in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())
