"""The analog figures, each written to a PNG in the style of ``digitlab.reporting.plots``: devices' LTP/LTD
curves (seed 001's scatter plots, for any device), accuracy per epoch for several devices on one
figure, and a measured pulse response beside its fit."""

import math

import numpy as np
from matplotlib.ticker import MaxNLocator

from digitlab.analog.device import curve
from digitlab.reporting.plots import new_figure, save_png

_MARKERS = "osD^vP*Xh<>p"


def device_curves(devices, path):
    """LTP and LTD of each device: conductance (a fraction of its range) against pulse number."""
    devices = [device for device in devices if not device.ideal]
    figure = new_figure(10, 4.2, left=0.7, right=0.2, top=0.4, bottom=0.55, wspace=0.18)
    ltp, ltd = figure.subplots(1, 2, sharey=True)
    for index, device in enumerate(devices):
        marker = _MARKERS[index % len(_MARKERS)]
        label_ltp, label_ltd = device.labels
        for axes, levels, values, label in (
                (ltp, device.levels, device.ltp_curve, label_ltp),
                (ltd, device.ltd_levels, device.ltd_curve, label_ltd)):
            pulses = np.arange(levels + 1)
            shown = pulses[:: max(1, levels // 40)]   # at most ~40 points a curve, as a scatter
            fraction = (values(shown) - device.g_min) / (device.g_max - device.g_min)
            axes.plot(shown, fraction, marker, markersize=4, linestyle="-", linewidth=0.8,
                      label=f"{device.name} (NL {label:g}, {levels} levels)")
    for axes, title, xlabel in ((ltp, "Potentiation (LTP) from Gmin", "LTP pulses"),
                                (ltd, "Depression (LTD) from Gmax", "LTD pulses")):
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    ltp.set_ylabel("(G - Gmin) / (Gmax - Gmin)")
    return save_png(figure, path)


def accuracy_per_epoch(runs, path, title="Test accuracy per epoch"):
    """Each device's test accuracy after every epoch, one line per device."""
    figure = new_figure(8, 4.5, left=0.75, right=0.2, top=0.4, bottom=0.55)
    axes = figure.subplots()
    for index, run in enumerate(runs):
        epochs = np.arange(1, len(run.accuracy) + 1)
        axes.plot(epochs, np.asarray(run.accuracy) * 100, _MARKERS[index % len(_MARKERS)] + "-",
                  markersize=4, label=run.device.name)
    axes.set_title(title)
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=9)
    return save_png(figure, path)


def fit_figure(measurement, fit, path):
    """The measured sweeps (points) and the fitted curves (lines), in siemens."""
    figure = new_figure(10, 4.2, left=0.8, right=0.2, top=0.4, bottom=0.55, wspace=0.25)
    panels = figure.subplots(1, 2)
    device = fit.device
    for axes, sweep, fitted, name, depression in (
            (panels[0], measurement.ltp, fit.ltp, "LTP", False),
            (panels[1], measurement.ltd, fit.ltd, "LTD", True)):
        axes.plot(sweep.pulses, sweep.conductance, "o", markersize=3.5, label="measured")
        pulses = np.linspace(0, sweep.pulses[-1], 200)
        x = pulses / sweep.pulses[-1]
        shape = curve(1 - x if depression else x, fitted.a)
        a_text = "inf" if math.isinf(fitted.a) else f"{fitted.a:.3g}"
        axes.plot(pulses, fitted.g_min + (fitted.g_max - fitted.g_min) * shape, "-", linewidth=2,
                  label=f"fit: A = {a_text} (NL {fitted.label:g}), rms {fitted.rms_error:.1%}")
        for level in (device.g_min, device.g_max):
            axes.axhline(level, color="#9a9a9a", linewidth=0.8, linestyle="--")
        axes.set_title(f"{name}: {fitted.levels} pulses")
        axes.set_xlabel("pulse")
        axes.set_ylabel("conductance (S)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    return save_png(figure, path)
