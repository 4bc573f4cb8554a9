"""Reading a user's text file with one clear error for each way it can fail, and writing files
so that nothing is ever half-written: a temporary file, fsync, then rename."""

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from digitlab.errors import DataError


def read_text(path, what="file") -> str:
    """The text of ``path`` (UTF-8, a leading byte-order mark dropped); a DataError naming the file
    and ``what`` it should be ("CSV file", "device file") when it is missing, a folder or not text."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what} (file not found). Check the path.") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a {what}. Pass the path of the file itself.") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: cannot read it: not a text file (byte {error.start} is not UTF-8). "
                        f"Pass a {what}.") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the {what} ({error.strerror or error}).") from None


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
