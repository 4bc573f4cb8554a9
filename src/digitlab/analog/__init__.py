"""Analog synapses: memristive devices, device-aware training, and fitting a device to measurements.

    from digitlab.analog import get_device, compare, AnalogSetup
    ag_si = get_device("ag-si")                        # NeuroSim's published Ag:a-Si
    result = compare(["ideal", "linear", ag_si], AnalogSetup(epochs=3, rule="mixed"))
    print(result.table())                             # and result.report: an HTML page

Modules, one idea each: ``device`` (the curve model), ``nonlinearity`` (labels <-> A), ``presets``,
``synapses`` (a layer's weights on devices), ``rules`` (tutorial, neurosim, mixed), ``setup`` and
``training`` (a digitlab network trained on devices), ``experiment`` (a comparison as a run folder),
``neurosim`` (NeuroSim's own benchmark setup), ``measured`` + ``fitting`` + ``device_file`` (your own
device), ``memristor`` (seed 001's recipe), ``plots`` and ``report``. The names below are imported
when first used, so ``import digitlab.analog`` stays light.
"""

import importlib

_EXPORTS = {
    "AnalogSetup": "setup", "Comparison": "experiment", "Device": "device", "DeviceFit": "fitting",
    "DeviceRun": "training", "PRESETS": "presets", "RULES": "rules", "Synapses": "synapses",
    "a_from_label": "nonlinearity", "compare": "experiment", "fit_device": "fitting",
    "get_device": "presets", "get_rule": "rules", "label_from_a": "nonlinearity",
    "load_device": "device_file", "read_measurement": "measured", "run_memristor": "memristor",
    "save_device": "device_file", "train_neurosim": "neurosim", "train_on_device": "training",
}
__all__ = [  # the keys of _EXPORTS, sorted
    "AnalogSetup", "Comparison", "Device", "DeviceFit", "DeviceRun", "PRESETS", "RULES", "Synapses", "a_from_label",
    "compare", "fit_device", "get_device", "get_rule", "label_from_a", "load_device", "read_measurement",
    "run_memristor", "save_device", "train_neurosim", "train_on_device",
]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'digitlab.analog' has no attribute {name!r}")
    return getattr(importlib.import_module(f"digitlab.analog.{_EXPORTS[name]}"), name)
