"""`digitlab analog ...` run as a user runs it: the installed script in a subprocess."""

import json

import numpy as np
import pytest

from digitlab.analog.presets import PRESETS


def one_line_error(result):
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def measured_csv(path, device=PRESETS["ag-si"], noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    spread = noise * (device.g_max - device.g_min)
    rows = ["pulse,conductance,direction"]
    for p in range(device.levels + 1):
        rows.append(f"{p},{device.ltp_curve(p) + spread * rng.standard_normal():.6e},ltp")
    for p in range(device.ltd_levels + 1):
        rows.append(f"{p},{device.ltd_curve(p) + spread * rng.standard_normal():.6e},ltd")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_devices_lists_the_presets(cli):
    result = cli("analog", "devices")
    assert result.returncode == 0, result.stderr
    for name in PRESETS:
        assert name in result.stdout
    assert "NeuroSim: 72%" in result.stdout
    assert "Ag:a-Si, Jo et al., Nano Lett. 2010" in result.stdout  # each device's paper


def test_curves_draws_every_named_device(cli, tmp_path):
    out = tmp_path / "curves.png"
    result = cli("analog", "curves", "--device", "ag-si,pcmo", "--device", "hzo-fefet", "--out", out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "NL 2.4/-4.88" in result.stdout and "hzo-fefet" in result.stdout


def test_train_dry_run_writes_the_table_figures_and_a_self_contained_report(cli, tmp_path):
    result = cli("analog", "train", "--devices", "ideal,linear,ag-si", "--rule", "mixed", "--dry-run",
                 "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "final accuracy" in result.stdout and "ag-si" in result.stdout
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("analog-mixed-")
    assert sorted(p.name for p in run_dir.iterdir()) == ["accuracy.png", "curves.png", "report.html",
                                                          "results.json"]
    page = (run_dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "<script" not in page and "http" not in page
    results = json.loads((run_dir / "results.json").read_text())
    assert [run["device"]["name"] for run in results["runs"]] == ["ideal", "linear", "ag-si"]
    assert results["setup"]["rule"] == "mixed" and results["dry_run"] is True


def test_the_memristor_recipe_is_one_command(cli, tmp_path):
    result = cli("analog", "train", "--recipe", "memristor", "--dry-run", "--quiet", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "tutorial 001" in result.stdout and "nonlinear-a0.8" in result.stdout
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["setup"]["rule"] == "tutorial" and results["setup"]["init"] == "levels"
    assert [run["device"]["name"] for run in results["runs"]] == ["linear", "nonlinear-a0.8"]


def test_fit_prints_the_parameters_draws_the_fit_and_saves_a_usable_device(cli, tmp_path):
    csv = measured_csv(tmp_path / "my_device.csv")
    saved = tmp_path / "my_device.json"
    result = cli("analog", "fit", csv, "--save", saved, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    ltp = next(line for line in result.stdout.splitlines() if line.startswith("LTP: A = "))
    assert float(ltp.split()[3]) == pytest.approx(0.5, rel=0.05) and "NL label 2.4" in ltp
    assert (tmp_path / "my_device_fit.png").exists()
    device = json.loads(saved.read_text())["device"]
    assert device["name"] == "my_device" and device["a_ltd"] == pytest.approx(-0.2, rel=0.05)
    trained = cli("analog", "train", "--devices", f"linear,{saved}", "--dry-run", "--quiet",
                  "--out", tmp_path / "runs")
    assert trained.returncode == 0, trained.stderr
    assert "my_device" in trained.stdout


@pytest.mark.parametrize("arguments, mentions", [
    (("analog", "train", "--devices", "ideal,unobtainium", "--dry-run"), "unknown device 'unobtainium'"),
    (("analog", "train", "--devices", "missing.json", "--dry-run"), "no such device file"),
    (("analog", "curves", "--device", "nope"), "unknown device 'nope'"),
    (("analog", "fit", "absent.csv"), "no such file"),
])
def test_runtime_problems_exit_1_with_one_line(cli, tmp_path, arguments, mentions):
    result = cli(*arguments, cwd=tmp_path)
    assert result.returncode == 1
    assert mentions in one_line_error(result)


@pytest.mark.parametrize("text, mentions", [
    ("pulse,current\n0,1\n", "missing column(s) conductance"),
    ("pulse,conductance\n0,1e-6\n1,-2e-6\n2,3e-6\n", "negative conductance"),
    ("pulse,conductance,direction\n0,1e-6,ltp\n2,2e-6,ltp\n1,3e-6,ltp\n3,2e-6,ltd\n4,1e-6,ltd\n5,0.5e-6,ltd\n",
     "pulse numbers must rise"),
    ("", "empty"),
])
def test_a_bad_measurement_is_refused_clearly(cli, tmp_path, text, mentions):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    result = cli("analog", "fit", csv, "--out", tmp_path)
    assert result.returncode == 1
    assert mentions in one_line_error(result)
    assert not list(tmp_path.glob("*.png"))


def test_a_bad_device_file_is_refused_clearly(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "digitlab-device", "version": 1,
                               "device": {"levels": 50, "a_ltp": 0.5, "a_ltd": -0.5, "g_min": -1e-9,
                                          "g_max": 1e-6}}))
    result = cli("analog", "train", "--devices", bad, "--dry-run", "--out", tmp_path / "runs")
    assert result.returncode == 1
    assert "g_min must be a finite number >= 0" in one_line_error(result)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("arguments, mentions", [
    (("analog", "train", "--rule", "magic"), "--rule"),
    (("analog", "train", "--epochs", "0"), "--epochs"),
    (("analog", "train", "--recipe", "nope"), "--recipe"),
    (("analog", "curves",), "--device"),
    (("analog", "fit", "x.csv", "--save", "device.txt"), "--save"),
])
def test_usage_mistakes_exit_2(cli, tmp_path, arguments, mentions):
    result = cli(*arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert mentions in result.stderr and "Traceback" not in result.stderr
