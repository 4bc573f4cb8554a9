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
