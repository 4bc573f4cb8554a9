"""`digitlab analog ...`: device curves, device-aware training, fitting a measured device.

Thin: parses, calls digitlab.analog, prints. Errors are digitlab's (one line, exit 1) or click's
usage errors (exit 2).
"""

import click

from digitlab.analog.rules import DESCRIPTIONS, RULES
from digitlab.analog.setup import AnalogSetup
from digitlab.cli.types import SEED, PngFile, PositiveNumber
from digitlab.recipes import DEVICE_RECIPES

DEFAULTS = AnalogSetup()


@click.group("analog", context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def analog_group():
    """Memristor synapses: device curves, device-aware training, fitting measured devices."""


@analog_group.command()
def devices():
    """List the device presets (NeuroSim's published table, ideal, linear), each with its source."""
    from digitlab.analog.presets import NEUROSIM_ACCURACY, PRESETS

    for name, device in PRESETS.items():
        published = f"  [NeuroSim: {NEUROSIM_ACCURACY[name]}%]" if name in NEUROSIM_ACCURACY else ""
        click.echo(f"{name:<10} {device.describe().split(': ', 1)[1]}{published}")
        if published:
            click.echo(f"{'':<10} {device.source}")


@analog_group.command()
@click.option("--device", "names", multiple=True, required=True,
              help="a preset (`digitlab analog devices`) or a device file; repeat it or separate by commas")
@click.option("--out", type=PngFile(), default="device_curves.png", help="the PNG to write")
def curves(names, out):
    """Plot devices' conductance against pulse number, up (LTP) and down (LTD)."""
    from digitlab.analog.plots import device_curves
    from digitlab.analog.presets import parse_devices

    chosen = parse_devices(",".join(names))
    for device in chosen:
        click.echo(device.describe())
    if all(device.ideal for device in chosen):
        raise click.UsageError("the ideal device has no curve: name a real device", ctx=click.get_current_context())
    click.echo(f"wrote {device_curves(chosen, out)}")


@analog_group.command()
@click.option("--devices", "names", default=None,
              help="presets or device files, comma-separated [default: ideal,linear,ag-si; "
                   "with --recipe, the recipe's]")
@click.option("--recipe", type=click.Choice(list(DEVICE_RECIPES)),
              help="run a device-aware recipe (`digitlab recipes` lists them)")
@click.option("--rule", type=click.Choice(list(RULES)), default=None,
              help="how updates become pulses: " + "; ".join(f"{k}: {v}" for k, v in DESCRIPTIONS.items())
              + f" [default: {DEFAULTS.rule}]")
@click.option("--epochs", type=click.IntRange(min=1), help=f"passes over the data [default: {DEFAULTS.epochs}]")
@click.option("--batch-size", type=click.IntRange(min=1), help=f"[default: {DEFAULTS.batch_size}]")
@click.option("--lr", type=PositiveNumber(),
              help=f"SGD learning rate [default: {DEFAULTS.learning_rate}]")
@click.option("--w-max", type=PositiveNumber(),
              help=f"device weights span [-w_max, w_max] [default: {DEFAULTS.w_max}]")
@click.option("--seed", type=SEED, default=None, help="seed for the weights, shuffling and noise [default: 0]")
@click.option("--train-samples", type=click.IntRange(min=1), help="train on only the first N training images")
@click.option("--test-samples", type=click.IntRange(min=1), help="test on only the first N test images")
@click.option("--out", type=click.Path(file_okay=False), default="runs", help="folder for run folders")
@click.option("--dry-run", is_flag=True, help="one epoch of two batches per device: checks everything")
@click.option("--quiet", "-q", is_flag=True, help="no progress bars")
def train(names, recipe, rule, epochs, batch_size, lr, w_max, seed, train_samples, test_samples, out, dry_run,
          quiet):
    """Train the same network on each device; write curves, a table and an HTML report."""
    from digitlab.analog.experiment import compare
    from digitlab.analog.presets import parse_devices

    if recipe:
        chosen_recipe = DEVICE_RECIPES[recipe]
        setup, chosen, name = chosen_recipe.setup, list(chosen_recipe.devices), chosen_recipe.name
        click.echo(f"{name} (tutorial {chosen_recipe.source}): {chosen_recipe.description}")
    else:
        setup, chosen, name = DEFAULTS, ["ideal", "linear", "ag-si"], None
    if names is not None:
        chosen = parse_devices(names)
    setup = setup.with_changes(rule=rule, epochs=epochs, batch_size=batch_size, learning_rate=lr,
                               w_max=w_max, seed=seed, train_samples=train_samples, test_samples=test_samples)
    click.echo(f"training {setup.describe()}")
    comparison = compare(chosen, setup, out=out, name=name, progress=False if quiet else None,
                         dry_run=dry_run)
    click.echo(comparison.table())
    click.echo(f"report: {comparison.report}")


@analog_group.command()
@click.argument("measured", type=click.Path(dir_okay=False))
@click.option("--save", "save_path", type=click.Path(dir_okay=False),
              help="write the fitted device to this file (.json), usable by `analog train --devices`")
@click.option("--name", default=None, help="the device's name [default: the CSV's name]")
@click.option("--out", type=click.Path(file_okay=False), default=".", help="folder for the fit's figure")
def fit(measured, save_path, name, out):
    """Fit the device model to a measured pulse response (CSV: pulse,conductance[,direction])."""
    from pathlib import Path

    from digitlab.analog.device_file import save_device
    from digitlab.analog.fitting import fit_device
    from digitlab.analog.measured import read_measurement
    from digitlab.analog.plots import fit_figure

    if save_path and not save_path.lower().endswith(".json"):
        raise click.BadParameter("the device file's name must end in .json", param_hint="--save")
    measurement = read_measurement(measured)
    result = fit_device(measurement, name=name or Path(measured).stem)
    for label, sweep in (("LTP", result.ltp), ("LTD", result.ltd)):
        a = "inf (linear)" if sweep.a in (float("inf"), float("-inf")) else f"{sweep.a:.4g}"
        click.echo(f"{label}: A = {a}  NL label {sweep.label:g}  {sweep.levels} pulses  "
                   f"G {sweep.g_min:.4g}..{sweep.g_max:.4g} S  fit rms {sweep.rms_error:.2%}  "
                   f"step noise {sweep.c2c:.2%}")
    click.echo(f"device: {result.device.describe()}")
    click.echo(f"wrote {fit_figure(measurement, result, Path(out) / (Path(measured).stem + '_fit.png'))}")
    if save_path:
        click.echo(f"saved {save_device(result.device, save_path, fit=result.summary())}")
