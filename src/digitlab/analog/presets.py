"""Published devices, by name: the table of MLP+NeuroSim V3.0 (its manual's Table II), plus
``ideal`` (float weights) and ``linear`` (100 evenly spaced levels, no noise).

Levels are the table's "# states" (Ag:a-Si: 97 up, 100 down, as NeuroSim's code has it; GST PCM's
"100-120" is 100); Gmax = 1 / R_ON, Gmin = Gmax / (ON/OFF); c2c is the table's sigma ("<1 %" taken as
1 %). A comes from the nonlinearity labels the way NeuroSim's ``getParamA`` reads them, so GST PCM's
0.105 uses the row of 0.10. See shared/neurosim_reference.md, sections 1.2 and 5.
"""

import math

from digitlab.analog.device import Device
from digitlab.analog.nonlinearity import neurosim_a
from digitlab.errors import ConfigError

_TABLE_II = "NeuroSim V3.0 manual, Table II"


def _published(name, reference, levels, nl_ltp, nl_ltd, r_on, on_off, c2c, levels_ltd=None):
    g_max = 1.0 / r_on
    return Device(name=name, levels=levels, levels_ltd=levels_ltd, a_ltp=neurosim_a(nl_ltp),
                  a_ltd=neurosim_a(nl_ltd), g_min=g_max / on_off, g_max=g_max, c2c=c2c,
                  source=f"{reference}; NL {nl_ltp}/{nl_ltd} ({_TABLE_II})")


PRESETS = {device.name: device for device in [
    Device(name="ideal", ideal=True, source="float weights: no device"),
    Device(name="linear", levels=100, a_ltp=math.inf, a_ltd=-math.inf, g_min=1e-7, g_max=1e-6,
           source="100 evenly spaced levels, no noise"),
    _published("ag-si", "Ag:a-Si, Jo et al., Nano Lett. 2010", 97, 2.4, -4.88, 26e6, 12.5, 0.035,
               levels_ltd=100),
    _published("taox-hfox", "TaOx/HfOx, Wu et al., VLSI 2018", 128, 0.04, -0.63, 100e3, 10, 0.037),
    _published("pcmo", "PCMO, Park et al., IEDM 2013", 50, 3.68, -6.76, 23e6, 6.84, 0.01),
    _published("alox-hfo2", "AlOx/HfO2, Woo et al., EDL 2016", 40, 1.94, -0.61, 16.9e3, 4.43, 0.05),
    _published("gst-pcm", "GST PCM, Kuzum et al. 2011", 100, 0.105, 2.4, 4.71e3, 19.8, 0.015),
    _published("epiram", "EpiRAM Ag:SiGe, Choi et al. 2018", 64, 0.5, -0.5, 81e3, 50.2, 0.02),
    _published("hzo-fefet", "HZO FeFET, Jerry et al., IEDM 2017", 32, 1.75, 1.46, 559.28e3, 45, 0.005),
]}

# MLP+NeuroSim V3.0's online-learning accuracy for each device (Table II, percent; 2019 release).
NEUROSIM_ACCURACY = {"ag-si": 72, "taox-hfox": 80, "pcmo": 33, "alox-hfo2": 20, "gst-pcm": 89,
                     "epiram": 92, "hzo-fefet": 88}
NEUROSIM_SOFTWARE_ACCURACY = "96-97"  # the manual's pure-software 400-100-10 network


def get_device(spec) -> Device:
    """A Device from a preset name or the path of a device file (``*.json``)."""
    if isinstance(spec, Device):
        return spec
    name = str(spec).strip()
    if name.lower() in PRESETS:
        return PRESETS[name.lower()]
    if name.lower().endswith(".json"):
        from digitlab.analog.device_file import load_device

        return load_device(name)
    raise ConfigError(f"unknown device {name!r}: give a preset ({', '.join(PRESETS)}) "
                      f"or a device file ending in .json")


def parse_devices(text) -> list[Device]:
    """Devices from a comma-separated list (``"ideal,linear,ag-si,my_device.json"``)."""
    names = [part.strip() for part in str(text).split(",") if part.strip()]
    if not names:
        raise ConfigError("no devices given: list presets or device files, separated by commas")
    return [get_device(name) for name in names]
