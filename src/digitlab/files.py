"""Writing files so that nothing is ever half-written: a temporary file, fsync, then rename."""

import json
import os
import tempfile
from pathlib import Path


def atomic_write(path, payload: bytes):
    """Write bytes so that ``path`` holds either its old content or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o644)  # mkstemp makes 0600; these files are for sharing
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path, value):
    atomic_write(path, (json.dumps(value, indent=2) + "\n").encode())
