"""A device comparison as a run: train the same network on each device and write a run folder.

``compare(["ideal", "linear", "ag-si"], AnalogSetup(epochs=5))`` is what ``digitlab analog train``
does. The folder ``runs/analog-<rule>-<time>/`` gets ``results.json`` (the setup, each device's
parameters and accuracy per epoch), ``accuracy.png``, ``curves.png`` and ``report.html``.
"""

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tqdm.auto import tqdm

import digitlab
from digitlab.analog import plots
from digitlab.analog.presets import get_device
from digitlab.analog.report import text_table, write_report
from digitlab.analog.setup import DEFAULT_SETUP, AnalogSetup
from digitlab.analog.training import compare_devices
from digitlab.data import load_data
from digitlab.files import write_json
from digitlab.nn.batching import num_batches
from digitlab.runs import RESULTS, make_run_dir

DRY_RUN_BATCHES = 2       # --dry-run: two batches of one epoch per device, tested on 500 images
DRY_RUN_TEST_IMAGES = 500


@dataclass
class Comparison:
    folder: Path
    setup: AnalogSetup
    runs: list
    report: Path
    seconds: float

    def table(self) -> str:
        return text_table(self.runs)


def compare(devices, setup=DEFAULT_SETUP, out="runs", name=None, progress=None, dry_run=False,
            data=None) -> Comparison:
    """Train ``setup`` on every device (presets, device files or Devices) and write the run folder.

    ``progress``: tqdm bars per device on stderr (None: when stderr is a terminal).
    """
    devices = [get_device(device) for device in devices]  # a bad name fails before any work
    max_batches = None
    if dry_run:
        setup = setup.with_changes(epochs=1, test_samples=min(setup.test_samples or DRY_RUN_TEST_IMAGES,
                                                               DRY_RUN_TEST_IMAGES))
        max_batches = DRY_RUN_BATCHES
    enabled = sys.stderr.isatty() if progress is None else progress
    train_size = min(setup.train_samples or 60000, 60000)
    total = setup.epochs * min(num_batches(train_size, setup.batch_size), max_batches or 1 << 30)

    def bar(device):
        return tqdm(total=total, desc=f"{device.name:>12}", unit="batch", leave=True, disable=not enabled,
                    file=sys.stderr, mininterval=0.5)

    started = datetime.now(UTC)
    clock = time.perf_counter()
    runs = compare_devices(devices, setup, data or load_data(), progress_factory=bar, max_batches=max_batches)
    seconds = time.perf_counter() - clock

    folder = make_run_dir(out, name or f"analog-{setup.rule}", started)
    figures = {"accuracy": plots.accuracy_per_epoch(runs, folder / "accuracy.png",
                                                    title=f"Test accuracy per epoch, rule {setup.rule}"),
               "curves": plots.device_curves(devices, folder / "curves.png")
               if any(not device.ideal for device in devices) else None}
    write_json(folder / RESULTS, {
        "setup": setup.to_dict(), "dry_run": dry_run, "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 3), "runs": [run.to_dict() for run in runs],
        "versions": {"digitlab": digitlab.__version__}})
    report = write_report(folder, folder.name, setup, runs, figures)
    return Comparison(folder, setup, runs, report, seconds)
