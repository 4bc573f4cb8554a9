"""A measured pulse response: a device's conductance after each of a train of pulses, from a CSV.

    pulse,conductance,direction
    0,3.1e-9,ltp
    1,4.9e-9,ltp
    ...
    0,3.8e-8,ltd
    ...

``pulse`` and ``conductance`` (siemens) are required; ``direction`` (ltp/ltd, also
potentiation/depression, up/down, set/reset, +/-) says which sweep a row belongs to. Without it, the
rows are one sweep up then one down, split at the highest conductance. Pulse numbers must rise within
each sweep; a sweep's pulses count from its first row. Extra columns are ignored, as are blank lines
and lines starting with ``#``.
"""

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from digitlab.errors import DataError
from digitlab.files import read_text

_DIRECTIONS = {"ltp": "ltp", "potentiation": "ltp", "up": "ltp", "set": "ltp", "+": "ltp", "p": "ltp",
               "ltd": "ltd", "depression": "ltd", "down": "ltd", "reset": "ltd", "-": "ltd", "d": "ltd"}
MIN_POINTS = 3


@dataclass
class Sweep:
    pulses: np.ndarray       # pulses since the sweep's first row (float64, rising from 0)
    conductance: np.ndarray  # siemens


@dataclass
class Measurement:
    ltp: Sweep
    ltd: Sweep
    source: str = ""


def read_measurement(path) -> Measurement:
    """Read and check a pulse-response CSV; a bad file raises DataError naming the file and line."""
    return parse_measurement(read_text(path, "file of pulse responses"), str(path))


def parse_measurement(text, source="the CSV") -> Measurement:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{source}: the file is empty: it needs a header (pulse,conductance[,direction]) "
                        f"and a row per measured pulse")
    header_number, header = lines[0]
    columns = [name.strip().lower() for name in next(csv.reader(io.StringIO(header)))]
    missing = [name for name in ("pulse", "conductance") if name not in columns]
    if missing:
        raise DataError(f"{source}: line {header_number}: missing column(s) {', '.join(missing)}; the "
                        f"header must name pulse,conductance[,direction], got {','.join(columns)}")
    if len(lines) == 1:
        raise DataError(f"{source}: no data rows under the header")
    where = {name: columns.index(name) for name in ("pulse", "conductance", "direction") if name in columns}
    rows = []
    for number, line in lines[1:]:
        cells = next(csv.reader(io.StringIO(line)))
        if len(cells) < len(columns):
            raise DataError(f"{source}: line {number}: {len(cells)} values, the header has {len(columns)}")
        pulse = _number(cells[where["pulse"]], "pulse", source, number)
        conductance = _number(cells[where["conductance"]], "conductance", source, number)
        if conductance < 0:
            raise DataError(f"{source}: line {number}: negative conductance {conductance:g} S; "
                            f"conductances are in siemens and must be >= 0")
        direction = None
        if "direction" in where:
            label = cells[where["direction"]].strip().lower()
            if label not in _DIRECTIONS:
                raise DataError(f"{source}: line {number}: direction {label!r} is neither ltp nor ltd")
            direction = _DIRECTIONS[label]
        rows.append((number, pulse, conductance, direction))
    if "direction" in where:
        sweeps = {key: [row for row in rows if row[3] == key] for key in ("ltp", "ltd")}
    else:
        top = max(range(len(rows)), key=lambda i: rows[i][2])
        sweeps = {"ltp": rows[:top + 1], "ltd": rows[top:]}
    return Measurement(ltp=_sweep(sweeps["ltp"], "ltp", source), ltd=_sweep(sweeps["ltd"], "ltd", source),
                       source=source)


def _number(cell, column, source, number):
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{source}: line {number}: {column} {cell.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{source}: line {number}: {column} must be finite, got {cell.strip()!r}")
    return value


def _sweep(rows, name, source) -> Sweep:
    word = "potentiation (LTP)" if name == "ltp" else "depression (LTD)"
    if len(rows) < MIN_POINTS:
        raise DataError(f"{source}: the {word} sweep has {len(rows)} point(s); fitting needs at least "
                        f"{MIN_POINTS} (without a direction column, rows rise to the highest conductance "
                        f"and then fall)")
    numbers = [row[0] for row in rows]
    pulses = np.array([row[1] for row in rows])
    conductance = np.array([row[2] for row in rows])
    falls = np.flatnonzero(np.diff(pulses) <= 0)
    if falls.size:
        line = numbers[falls[0] + 1]
        raise DataError(f"{source}: line {line}: pulse numbers must rise within the {word} sweep "
                        f"({pulses[falls[0]]:g} is followed by {pulses[falls[0] + 1]:g})")
    rising = conductance[-1] > conductance[0]
    if rising != (name == "ltp"):
        trend = "rises" if rising else "does not rise"
        raise DataError(f"{source}: the {word} sweep's conductance {trend} from {conductance[0]:g} S to "
                        f"{conductance[-1]:g} S; potentiation must raise it and depression lower it")
    return Sweep(pulses=pulses - pulses[0], conductance=conductance)
