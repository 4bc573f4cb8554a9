"""tools/check_architecture.py: the rooms hold today, and the checker really catches what it names."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("check_architecture", ROOT / "tools" / "check_architecture.py")
check_architecture = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_architecture)


def test_every_rule_holds_for_the_package():
    assert check_architecture.check() == []


def test_a_cycle_is_found_and_a_chain_is_not():
    assert check_architecture.find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert check_architecture.find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_a_breach_of_the_rooms_a_private_import_and_a_long_file_are_reported(tmp_path, monkeypatch):
    package = tmp_path / "digitlab"
    (package / "nn").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nn" / "__init__.py").write_text("")
    (package / "nn" / "model.py").write_text("from digitlab.predict import read\nfrom digitlab.files import _secret\n")
    (package / "predict.py").write_text("x = 1\n" * 401)
    (package / "files.py").write_text("_secret = 1\n")
    monkeypatch.setattr(check_architecture, "SOURCE", package)
    problems = "\n".join(check_architecture.check())
    assert "the nn room may not import digitlab.predict" in problems
    assert "imports the private name _secret" in problems
    assert "predict.py: 401 lines" in problems


def test_a_layer_file_that_imports_the_speed_room_or_outgrows_its_budget_is_reported(tmp_path, monkeypatch):
    package = tmp_path / "digitlab"
    for folder in ("nn/layers", "nn/accel"):
        (package / folder).mkdir(parents=True)
    for init in ("", "nn/", "nn/layers/", "nn/accel/"):
        (package / f"{init}__init__.py").write_text("")
    (package / "nn" / "accel" / "threads.py").write_text("x = 1\n")
    (package / "nn" / "ops.py").write_text("x = 1\n")
    (package / "nn" / "layers" / "dense.py").write_text("from digitlab.nn.accel import threads\n")
    (package / "nn" / "layers" / "conv.py").write_text("import digitlab.nn.accel.threads\n" + "x = 1\n" * 150)
    (package / "nn" / "optimizers.py").write_text("from digitlab.nn import accel\n")
    (package / "nn" / "model.py").write_text("from digitlab.nn.accel import threads\n")  # allowed: not the textbook
    monkeypatch.setattr(check_architecture, "SOURCE", package)
    problems = check_architecture.check()
    speed = [problem for problem in problems if "never imports digitlab.nn.accel" in problem]
    assert sorted(problem.split(":")[0].split("/digitlab/")[1] for problem in speed) == [
        "nn/layers/conv.py", "nn/layers/dense.py", "nn/optimizers.py"]
    assert any("conv.py: 151 lines, over the budget of 150" in problem for problem in problems)
