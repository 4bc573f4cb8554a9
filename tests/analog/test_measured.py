"""Measured pulse-response CSVs: both layouts read, every kind of bad file refused with a clear reason."""

import numpy as np
import pytest

from digitlab.analog.measured import read_measurement
from digitlab.errors import DataError

GOOD = """# a device, measured
pulse,conductance,direction
0,1.0e-6,ltp
1,1.5e-6,ltp
2,1.8e-6,ltp
3,2.0e-6,ltp
0,2.0e-6,ltd
1,1.4e-6,ltd
2,1.1e-6,ltd
3,1.0e-6,ltd
"""


def write(tmp_path, text, name="device.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_both_sweeps_are_read_with_a_direction_column(tmp_path):
    measurement = read_measurement(write(tmp_path, GOOD))
    np.testing.assert_array_equal(measurement.ltp.pulses, [0, 1, 2, 3])
    np.testing.assert_array_equal(measurement.ltd.conductance, [2.0e-6, 1.4e-6, 1.1e-6, 1.0e-6])


def test_without_a_direction_the_sweep_splits_at_its_top(tmp_path):
    text = "Pulse,Conductance,time\n" + "\n".join(
        f"{p},{g},{p * 0.1}" for p, g in enumerate([1, 1.5, 1.8, 2.0, 1.4, 1.1, 1.0]))
    measurement = read_measurement(write(tmp_path, text))
    np.testing.assert_array_equal(measurement.ltp.conductance, [1, 1.5, 1.8, 2.0])
    np.testing.assert_array_equal(measurement.ltd.conductance, [2.0, 1.4, 1.1, 1.0])
    np.testing.assert_array_equal(measurement.ltd.pulses, [0, 1, 2, 3])   # counted from the sweep's start


@pytest.mark.parametrize("text, mentions", [
    ("", "empty"),
    ("# only a comment\n\n", "empty"),
    ("pulse,conductance\n", "no data rows"),
    ("pulse,current\n0,1\n", "missing column.*conductance"),
    ("step,g\n0,1\n", "missing column.*pulse, conductance"),
    (GOOD.replace("1.5e-6", "high"), "line 4: conductance 'high' is not a number"),
    (GOOD.replace("2,1.8e-6", "two,1.8e-6"), "line 5: pulse 'two' is not a number"),
    (GOOD.replace("1.5e-6", "-1.5e-6"), "line 4: negative conductance"),
    (GOOD.replace("1.5e-6", "nan"), "line 4: conductance must be finite"),
    (GOOD.replace("2,1.8e-6,ltp", "1,1.8e-6,ltp"), "line 5: pulse numbers must rise.*LTP"),
    (GOOD.replace("3,1.0e-6,ltd", "1,1.0e-6,ltd"), "line 10: pulse numbers must rise.*LTD"),
    (GOOD.replace("3,2.0e-6,ltp", "3,0.5e-6,ltp"), "potentiation .* does not rise"),
    (GOOD.replace("3,1.0e-6,ltd", "3,2.5e-6,ltd"), "depression .* rises"),
    (GOOD.replace("2,1.1e-6,ltd\n3,1.0e-6,ltd\n", ""), "depression .* 2 point"),
    (GOOD.replace("0,1.0e-6,ltp", "0,1.0e-6,sideways"), "line 3: direction 'sideways'"),
    (GOOD.replace("0,1.0e-6,ltp", "0,1.0e-6"), "line 3: 2 values, the header has 3"),
])
def test_bad_files_are_refused_saying_what_is_wrong(tmp_path, text, mentions):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=mentions) as caught:
        read_measurement(path)
    assert str(path) in str(caught.value)


def test_a_missing_or_binary_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_measurement(tmp_path / "absent.csv")
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(DataError, match="cannot read"):
        read_measurement(binary)
