"""Shared fixtures: running the `digitlab` command as a user does, through its entry point."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

DIGITLAB = Path(sys.executable).parent / "digitlab"


def run_cli(*arguments, env=None, cwd=None, timeout=300):
    """Run the installed `digitlab` console script; returns the CompletedProcess (text output)."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run([str(DIGITLAB), *map(str, arguments)], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def recipe_lookups(monkeypatch):
    """The names digitlab.recipes.get_recipe is called with from now on, wherever a digitlab module holds it."""
    import digitlab.recipes

    calls = []
    original = digitlab.recipes.get_recipe

    def counted(name):
        calls.append(name)
        return original(name)

    for module in [module for name, module in sys.modules.items() if name.startswith("digitlab")]:
        if getattr(module, "get_recipe", None) is original:
            monkeypatch.setattr(module, "get_recipe", counted)
    return calls
