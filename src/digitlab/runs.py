"""Run folders: the one place that knows their names, how a new one is made and which is newest,
and what a run was asked to do (``RunConfig``, the "settings" of its config.json).

``digitlab train`` writes ``runs/<recipe>-<time>/`` and ``digitlab analog train``
``runs/analog-<rule>-<time>/``; every other part of digitlab finds a run's files through the names here.
"""

import json
from dataclasses import KW_ONLY, asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from digitlab.errors import ConfigError, ModelFileError
from digitlab.nn.checks import number, whole_number

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


BACKENDS = ("cpu", "gpu")  # where the engine runs (digitlab.nn.backend); "device" means a memristor


@dataclass(frozen=True)
class RunConfig:
    """What a training run is asked to do: a recipe by name and what to change in it. ``None`` keeps
    the recipe's own value. Checked when made, so a bad value is refused before anything runs;
    ``digitlab.training.train_run`` runs one and stores it in config.json to resume from.

    Where run folders go (``out``) is not part of it: the same run may be made anywhere.
    """
    recipe: str                       # a name in digitlab.recipes (`digitlab recipes` lists them)
    _: KW_ONLY
    epochs: int | None = None         # passes over the training images (a step-based recipe turns them into steps)
    steps: int | None = None          # training steps in all, for step-based recipes only
    batch_size: int | None = None     # samples per step
    learning_rate: float | None = None
    seed: int = 0                     # the weights, the shuffling, dropout and augmentation all follow it
    dry_run: bool = False             # one epoch of two batches, tested on 500 images: a smoke test
    train_samples: int | None = None  # train on only the first N training images
    test_samples: int | None = None   # test on only the first N test images
    backend: str = "cpu"              # "cpu", or "gpu" (CuPy and a CUDA GPU)

    def __post_init__(self):
        if not isinstance(self.recipe, str):
            raise ConfigError(f"recipe must be a recipe's name, got a {type(self.recipe).__name__}: "
                              "`digitlab recipes` lists them")
        # Each number is kept as a Python int or float (a NumPy one would not go into config.json).
        for name in ("epochs", "steps", "batch_size", "train_samples", "test_samples"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, whole_number(getattr(self, name), name.replace("_", " ")))
        if self.learning_rate is not None:
            object.__setattr__(self, "learning_rate", number(self.learning_rate, "learning rate", "> 0 and finite"))
        object.__setattr__(self, "seed", whole_number(self.seed, "seed", least=0))
        if not isinstance(self.dry_run, bool):
            raise ConfigError(f"dry_run must be True or False, got {self.dry_run!r}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}: choose 'cpu' or 'gpu'")

    def to_dict(self) -> dict:
        """The "settings" of config.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> "RunConfig":
        """The RunConfig a config.json's "settings" hold, checked as a new one is."""
        settings = dict(settings)
        if "device" in settings:  # a run folder written before the CPU/GPU switch was called "backend"
            settings.setdefault("backend", settings.pop("device"))
        unknown = settings.keys() - {field.name for field in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown run settings {sorted(unknown)}")
        if "recipe" not in settings:
            raise ConfigError("the run settings name no recipe")
        return cls(settings.pop("recipe"), **settings)

