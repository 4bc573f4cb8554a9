"""Device files: saved and read back exactly; bad ones refused with the file and the reason."""

import json
import math

import pytest

from digitlab.analog.device_file import load_device, save_device
from digitlab.analog.presets import PRESETS
from digitlab.errors import DataError


def test_a_device_round_trips_through_its_file(tmp_path):
    for name in ("ag-si", "linear", "hzo-fefet"):
        device = PRESETS[name]
        path = save_device(device, tmp_path / f"{name}.json", fit={"ltp": {"a": 0.5}})
        assert load_device(path) == device
    payload = json.loads((tmp_path / "linear.json").read_text())
    assert payload["format"] == "digitlab-device" and payload["device"]["a_ltp"] is None


def test_a_minimal_file_takes_its_name_from_the_file(tmp_path):
    path = tmp_path / "my_memristor.json"
    path.write_text(json.dumps({"format": "digitlab-device", "version": 1, "device": {
        "levels": 64, "a_ltp": 0.5, "a_ltd": None, "g_min": 1e-7, "g_max": 1e-6}}))
    device = load_device(path)
    assert device.name == "my_memristor" and math.isinf(device.a_ltd) and device.c2c == 0


def _file(**device):
    facts = {"levels": 64, "a_ltp": 0.5, "a_ltd": -0.5, "g_min": 1e-7, "g_max": 1e-6}
    facts.update(device)
    return json.dumps({"format": "digitlab-device", "version": 1,
                       "device": {k: v for k, v in facts.items() if v != "drop"}})


@pytest.mark.parametrize("text, mentions", [
    ("{not json", "not a JSON device file"),
    ('{"device": {}}', "not a digitlab device file"),
    ('[1, 2]', "not a digitlab device file"),
    ('{"format": "digitlab-device", "version": 7, "device": {}}', "version 7"),
    ('{"format": "digitlab-device", "version": 1, "device": 3}', "must be an object"),
    (_file(g_max="drop", levels="drop"), "lacks levels, g_max"),
    (_file(g_min=-1e-7), "g_min must be a finite number >= 0"),
    (_file(g_min=2e-6), "g_max .* must be above g_min"),
    (_file(levels=0), "levels must be a whole number"),
    (_file(levels=10**12), "levels must be a whole number of pulses from 1 to 100,000"),
    (_file(a_ltp="big"), "a_ltp must be a number"),
    (_file(a_ltp=0), "a_ltp must be a non-zero number"),
    (_file(colour="red"), "unknown device parameters"),
    (_file().replace("0.5,", "NaN,", 1), "NaN is not allowed"),
])
def test_bad_device_files_are_refused_saying_what_is_wrong(tmp_path, text, mentions):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataError, match=mentions) as caught:
        load_device(path)
    assert str(path) in str(caught.value)


def test_a_missing_device_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such device file"):
        load_device(tmp_path / "nowhere.json")
