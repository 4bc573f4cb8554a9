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
