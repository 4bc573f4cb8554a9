"""The command line, run as a user runs it: the installed `digitlab` script in a subprocess."""

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitlab.data.mnist import MNIST_DIR


def _one_line_error(result):
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "an error must say what went wrong"
    return lines[-1]


def test_dry_run_trains_tests_and_writes_the_run_folder(cli, tmp_path):
    result = cli("train", "--dry-run", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("keras-mlp-")
    assert {"config.json", "history.json", "model.safetensors", "report.html"} <= {p.name for p in run_dir.iterdir()}
    assert str(run_dir) in result.stdout
    config = json.loads((run_dir / "config.json").read_text())
    assert config["recipe"]["name"] == "keras-mlp" and config["settings"]["dry_run"] is True


def test_the_same_seed_gives_the_same_accuracy(cli, tmp_path):
    arguments = ("train", "--epochs", "1", "--train-samples", "3000", "--seed", "7", "--quiet")
    first = cli(*arguments, "--out", tmp_path / "a")
    second = cli(*arguments, "--out", tmp_path / "b")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    accuracy_line = [line for line in first.stdout.splitlines() if line.startswith("test accuracy")]
    assert accuracy_line and accuracy_line[0].split()[2] == second.stdout.split()[2]
    other = cli(*arguments[:-2], "8", "--quiet", "--out", tmp_path / "c")
    assert other.returncode == 0
    histories = [json.loads(next((tmp_path / d).iterdir()).joinpath("history.json").read_text())
                 for d in "abc"]
    assert histories[0] == histories[1] != histories[2]


@pytest.mark.parametrize("arguments, mentions", [
    (("train", "--recipe", "no-such-recipe"), "no-such-recipe"),
    (("train", "--epochs", "0"), "--epochs"),
    (("train", "--epochs", "-3"), "--epochs"),
    (("train", "--lr", "0"), "--lr"),
    (("train", "--batch-size", "many"), "--batch-size"),
    (("train", "--lr", "nan"), "--lr"),
    (("train", "--lr", "inf"), "--lr"),
    (("train", "--seed", "-1"), "--seed"),
    (("train", "--recipe", "memristor", "--steps", "5"), "--steps"),
    (("analog", "train", "--lr", "nan"), "--lr"),
    (("analog", "train", "--seed", "-1"), "--seed"),
])
def test_usage_mistakes_exit_2_with_a_clear_message(cli, tmp_path, arguments, mentions):
    result = cli(*arguments, "--out", tmp_path)
    assert result.returncode == 2
    assert mentions in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir()), "a refused command writes nothing"


def _mnist_copy(tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(MNIST_DIR, folder)
    return folder


def test_a_truncated_idx_file_is_a_runtime_error_naming_the_file(cli, tmp_path):
    folder = _mnist_copy(tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    content = gzip.decompress(labels.read_bytes())
    labels.write_bytes(gzip.compress(content[:5000]))
    result = cli("train", "--dry-run", "--out", tmp_path / "runs", env={"DIGITLAB_MNIST_DIR": folder})
    assert result.returncode == 1
    message = _one_line_error(result)
    assert message.startswith("error:") and "t10k-labels-idx1-ubyte" in message
    assert not (tmp_path / "runs").exists()


def test_a_corrupt_gzip_file_is_a_runtime_error(cli, tmp_path):
    folder = _mnist_copy(tmp_path)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100_000])
    result = cli("train", "--dry-run", "--out", tmp_path / "runs", env={"DIGITLAB_MNIST_DIR": folder})
    assert result.returncode == 1
    assert "train-images-idx3-ubyte" in _one_line_error(result)


def test_a_checksum_mismatch_says_which_file_and_what_to_do(cli, tmp_path):
    folder = _mnist_copy(tmp_path)
    labels = folder / "train-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[100] = (content[100] + 1) % 10  # still a valid label: only the checksum can tell
    labels.write_bytes(gzip.compress(bytes(content)))
    result = cli("train", "--dry-run", "--out", tmp_path / "runs", env={"DIGITLAB_MNIST_DIR": folder})
    assert result.returncode == 1
    message = _one_line_error(result)
    assert "train-labels-idx1-ubyte" in message and "sha256" in message.lower()
    assert "reinstall" in message.lower() or "replace" in message.lower()


def test_evaluate_refuses_a_file_that_is_not_a_digitlab_model(cli, tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_text("certainly not a model")
    result = cli("evaluate", "--model", fake)
    assert result.returncode == 1
    message = _one_line_error(result)
    assert str(fake) in message and "not a digitlab model file" in message


def test_evaluate_reports_the_accuracy_train_printed(cli, tmp_path):
    trained = cli("train", "--dry-run", "--quiet", "--out", tmp_path)
    assert trained.returncode == 0, trained.stderr
    model = next(tmp_path.iterdir()) / "model.safetensors"
    result = cli("evaluate", "--model", model)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout and "10,000" in result.stdout


def test_recipes_lists_the_default_recipe_and_its_tutorial_result(cli):
    result = cli("recipes")
    assert result.returncode == 0
    assert "keras-mlp" in result.stdout and "0.9795" in result.stdout


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "digitlab", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "train" in result.stdout


def test_ctrl_c_saves_a_checkpoint_and_resume_ends_as_the_uninterrupted_run(cli, tmp_path):
    import signal
    from pathlib import Path

    from safetensors.numpy import load_file

    arguments = ["train", "--epochs", "12", "--train-samples", "2000", "--test-samples", "500", "--seed", "3"]
    script = Path(sys.executable).parent / "digitlab"
    process = subprocess.Popen([str(script), *arguments, "--out", str(tmp_path / "stopped")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:  # wait until training is under way
        if line.startswith("epoch 2/"):
            break
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=300)
    assert process.returncode == 130, errors
    assert "Traceback" not in errors and "digitlab train --resume" in errors
    (run_dir,) = (tmp_path / "stopped").iterdir()
    assert (run_dir / "checkpoint.safetensors").is_file()

    resumed = cli("train", "--resume", run_dir, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    whole = cli(*arguments, "--quiet", "--out", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    (whole_dir,) = (tmp_path / "whole").iterdir()
    expected, final = load_file(whole_dir / "model.safetensors"), load_file(run_dir / "model.safetensors")
    assert expected.keys() == final.keys()
    for name in expected:
        np.testing.assert_array_equal(final[name], expected[name])
    accuracy = [output.stdout.splitlines()[0].split(" (")[0] for output in (resumed, whole)]
    assert accuracy[0] == accuracy[1] and accuracy[0].startswith("test accuracy")


def test_resume_of_a_folder_that_is_not_a_run_is_a_clear_error(cli, tmp_path):
    result = cli("train", "--resume", tmp_path)
    assert result.returncode == 1
    assert "not a run folder" in _one_line_error(result)


def test_the_memristor_recipe_runs_through_train_and_is_listed(cli, tmp_path):
    listed = cli("recipes")
    assert "memristor" in listed.stdout
    result = cli("train", "--recipe", "memristor", "--dry-run", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "linear" in result.stdout and "nonlinear" in result.stdout
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("memristor-") and (run_dir / "report.html").is_file()


def test_the_memristor_recipe_takes_train_options_it_understands(cli, tmp_path):
    result = cli("train", "--recipe", "memristor", "--dry-run", "--test-samples", "300", "--lr", "0.1",
                 "--batch-size", "16", "--out", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    (run_dir,) = tmp_path.iterdir()
    setup = json.loads((run_dir / "results.json").read_text())["setup"]
    assert (setup["test_samples"], setup["learning_rate"], setup["batch_size"]) == (300, 0.1, 16)


def test_a_file_where_the_run_folder_should_go_is_one_line_and_exit_1(cli, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    for arguments in (("train", "--dry-run", "--out", tmp_path / "taken" / "runs"),
                      ("show", "samples", "--out", tmp_path / "taken" / "samples.png")):
        result = cli(*arguments)
        assert result.returncode == 1
        message = _one_line_error(result)
        assert str(tmp_path / "taken") in message and "a file stands where a folder is needed" in message


def test_a_run_that_diverges_before_an_epoch_ends_says_there_is_no_checkpoint(cli, tmp_path):
    result = cli("train", "--lr", "1e30", "--train-samples", "500", "--test-samples", "100", "--epochs", "1",
                 "--out", tmp_path, "--quiet")
    assert result.returncode == 1
    assert "became nan at step" in result.stderr and "RuntimeWarning" not in result.stderr
    assert "no checkpoint" in _one_line_error(result)


def test_a_figure_to_a_name_not_ending_in_png_is_a_usage_mistake(cli, tmp_path):
    result = cli("show", "samples", "--out", tmp_path / "samples.jpg")
    assert result.returncode == 2 and "does not end in .png" in result.stderr
    assert not any(tmp_path.iterdir())


def test_train_says_what_it_changed_from_the_recipe(cli, tmp_path):
    result = cli("train", "--dry-run", "--epochs", "7", "--lr", "0.01", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("training keras-mlp: ")
    assert lines[1] == "  changed: a dry run of one epoch of two batches, learning rate 0.01"


def test_a_dry_run_says_how_many_test_images_its_accuracy_is_on(cli, tmp_path):
    result = cli("train", "--dry-run", "--quiet", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.match(r"test accuracy \d\.\d{4} on 500 test images \(loss", result.stdout)


def test_output_whose_reader_has_gone_ends_quietly():
    digitlab = Path(sys.executable).parent / "digitlab"
    # `true` exits at once, long before digitlab has started and writes: its writes find no reader
    result = subprocess.run(["bash", "-c", f"'{digitlab}' recipes | true"], capture_output=True, text=True,
                            timeout=120)
    assert result.stderr == ""


def test_backend_chooses_cpu_or_gpu_and_device_stays_as_its_hidden_old_name(cli, tmp_path):
    help_text = cli("train", "--help").stdout
    assert "--backend [cpu|gpu]" in help_text and "--device" not in help_text
    for option in ("--backend", "--device"):
        result = cli("train", "--dry-run", option, "cpu", "--out", tmp_path / option.strip("-"))
        assert result.returncode == 0, result.stderr
        run_dir = next((tmp_path / option.strip("-")).iterdir())
        assert json.loads((run_dir / "config.json").read_text())["settings"]["backend"] == "cpu"


def test_the_cli_knows_recipes_only_from_the_registry():
    import digitlab.cli

    folder = Path(digitlab.cli.__file__).parent
    for module in folder.glob("*.py"):
        assert "\"memristor\"" not in module.read_text() and "'memristor'" not in module.read_text(), module.name


def test_a_device_aware_recipe_refuses_what_it_cannot_do(cli, tmp_path):
    for option in (["--steps", "5"], ["--backend", "gpu"]):
        result = cli("train", "--recipe", "memristor", *option, "--out", tmp_path)
        assert result.returncode == 2 and "trains in epochs on the CPU" in result.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_train_looks_its_recipe_up_once(tmp_path, recipe_lookups):
    from click.testing import CliRunner

    import digitlab.training  # noqa: F401  (loaded, so that its get_recipe is counted too)
    from digitlab.cli import main

    result = CliRunner().invoke(main, ["train", "--recipe", "cnn", "--dry-run", "--epochs", "2", "--out",
                                       str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "  changed: a dry run of one epoch of two batches" in result.output
    assert recipe_lookups == ["cnn"]


def test_an_override_the_recipe_cannot_take_is_a_runtime_error_and_writes_nothing(cli, tmp_path):
    result = cli("train", "--steps", "5", "--out", tmp_path)
    assert result.returncode == 1
    assert _one_line_error(result) == "error: keras-mlp trains in epochs, not steps: use --epochs"
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
