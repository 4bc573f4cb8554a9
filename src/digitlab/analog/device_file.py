"""Device files: a device's parameters as JSON, written by ``digitlab analog fit --save`` and read
wherever a device can be named (``digitlab analog train --devices ideal,my_device.json``).

    {"format": "digitlab-device", "version": 1,
     "device": {"name": "my-device", "levels": 97, "a_ltp": 0.5, "a_ltd": -0.2,
                "g_min": 3.1e-9, "g_max": 3.8e-8, "c2c": 0.035, ...},
     "fit": {...how it was fitted, if it was...}}

``a_ltp``/``a_ltd`` are NeuroSim's normalised A (null for a straight line); ``levels``, ``a_ltp``,
``a_ltd``, ``g_min`` and ``g_max`` are required, the rest default as in ``Device``.
"""

import json
import math
from pathlib import Path

from digitlab.analog.device import Device
from digitlab.errors import ConfigError, DataError
from digitlab.files import read_text, write_json

FORMAT = "digitlab-device"
VERSION = 1
REQUIRED = ("levels", "a_ltp", "a_ltd", "g_min", "g_max")


def save_device(device: Device, path, fit: dict | None = None) -> Path:
    """Write ``device`` to ``path`` as a device file (atomically); returns the path."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "device": device.to_dict()}
    if fit is not None:
        payload["fit"] = fit
    write_json(path, payload)
    return path


def load_device(path) -> Device:
    """Read and check a device file; a bad one raises DataError saying what is wrong."""
    path = Path(path)
    text = read_text(path, "device file")
    try:
        payload = json.loads(text, parse_constant=_no_constants)
    except (json.JSONDecodeError, ValueError) as error:
        raise DataError(f"{path}: not a JSON device file ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{path}: not a digitlab device file (its \"format\" must be {FORMAT!r}; "
                        f"`digitlab analog fit MEASURED.csv --save {path.name}` writes one)")
    if payload.get("version") != VERSION:
        raise DataError(f"{path}: device file version {payload.get('version')!r} is not supported "
                        f"(this digitlab reads version {VERSION})")
    facts = payload.get("device")
    if not isinstance(facts, dict):
        raise DataError(f"{path}: the \"device\" entry must be an object of parameters")
    missing = [name for name in REQUIRED if name not in facts]
    if missing:
        raise DataError(f"{path}: the device lacks {', '.join(missing)}")
    for name in ("a_ltp", "a_ltd"):
        value = facts[name]
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                  or not math.isfinite(value)):
            raise DataError(f"{path}: {name} must be a number (or null for a straight line), got {value!r}")
    facts = {"name": path.stem, **facts}
    try:
        return Device.from_dict(facts)
    except (ConfigError, TypeError) as error:
        raise DataError(f"{path}: {error}") from None


def _no_constants(name):
    raise ValueError(f"{name} is not allowed in a device file")
