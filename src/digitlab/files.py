"""Writing files so that nothing is ever half-written: a temporary file, fsync, then rename."""

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path):
    """A binary file to write ``path`` through: ``path`` gets all of it when the block ends, or,
    if the block raises, keeps what it had (the temporary file beside it is removed)."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), 0o644)  # mkstemp makes 0600; these files are for sharing
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder):
    """Make a rename in ``folder`` durable (POSIX; where a folder cannot be opened, nothing to do)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write(path, payload: bytes):
    """Write bytes so that ``path`` holds either its old content or the whole new one."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as file:
        file.write(payload)


def write_json(path, value):
    atomic_write(path, (json.dumps(value, indent=2) + "\n").encode())
