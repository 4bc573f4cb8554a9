"""Run folders: the one place that knows their names, how a new one is made and which is newest.

``digitlab train`` writes ``runs/<recipe>-<time>/`` and ``digitlab analog train``
``runs/analog-<rule>-<time>/``; every other part of digitlab finds a run's files through the names here.
"""

import json
from datetime import datetime
from pathlib import Path

from digitlab.errors import ConfigError, ModelFileError

MODEL = "model.safetensors"            # the trained weights, with the architecture and recipe
CHECKPOINT = "checkpoint.safetensors"  # while a run trains: what resuming needs
CONFIG = "config.json"                 # the settings, the recipe and the result
HISTORY = "history.json"               # loss and accuracy per epoch
REPORT = "report.html"                 # the self-contained page
RESULTS = "results.json"               # an analog comparison's setup and accuracies


def make_run_dir(out, name, started: datetime) -> Path:
    """A new folder ``out/<name>-<YYYYmmdd-HHMMSS>`` (suffixed -2, -3... if taken)."""
    stem = f"{name}-{started.strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1, 1000):
        run_dir = Path(out) / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise ConfigError(f"could not make a new run folder under {out}: clean it up")


def is_dry_run(run_dir) -> bool:
    """Whether the run in ``run_dir`` was a dry run, by its config.json (unreadable: not one)."""
    try:
        return bool(json.loads((Path(run_dir) / CONFIG).read_text())["settings"]["dry_run"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def latest_model(runs="runs") -> Path:
    """The newest model file in the run folders under ``runs``, dry runs (two batches) aside;
    ModelFileError if none."""
    models = [path for path in Path(runs).glob(f"*/{MODEL}") if path.is_file() and not is_dry_run(path.parent)]
    if not models:
        raise ModelFileError(f"no model found in {Path(runs)}/*/{MODEL} (dry runs aside): train one "
                             f"with `digitlab train`, or give the path of a model file")
    return max(models, key=lambda path: (path.stat().st_mtime_ns, path.parent.name))
