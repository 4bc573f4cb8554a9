"""Train every recipe as `digitlab train` does and compare with the tutorials' results.

    python benchmarks/recipes.py                 # every recipe, the full runs (about 20 minutes)
    python benchmarks/recipes.py keras-mlp cnn   # only these
    python benchmarks/recipes.py --quick         # a smoke run: a few steps each
    python benchmarks/recipes.py best --keep runs   # keep the model (to ship it as the default)

Writes benchmarks/results/recipes.md (and recipes.json): recipe, the tutorial's result, digitlab's
test accuracy, the bar the project set for it, training seconds, PASS/FAIL against the bar, and when
the row was measured and how busy the machine was. Running some rows replaces those rows and keeps
the others.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digitlab.recipes import RECIPES
from digitlab.runs import RunConfig
from digitlab.training import train_run

RESULTS = Path(__file__).resolve().parent / "results"

# (label, recipe, overrides, the bar digitlab must reach, what the bar means)
RUNS = [
    ("keras-mlp", "keras-mlp", {}, 0.978, "test accuracy >= 0.978 after 5 epochs"),
    ("scratch-sgd", "scratch-sgd", {}, None, "no result given by the tutorial"),
    ("keras-128", "keras-128", {}, None, "no result given by the tutorial"),
    ("tf-fullbatch", "tf-fullbatch", {}, None, "the tutorial prints its accuracy every 10 steps"),
    ("numpy-relu", "numpy-relu", {}, 0.915, "test accuracy >= 0.915 with the tutorial's settings"),
    ("tf-sigmoid", "tf-sigmoid", {}, None, "the tutorial's batch accuracy ~0.93-0.95"),
    ("two-layer", "two-layer", {}, 0.95, "test accuracy >= 0.95 after 20000 steps"),
    ("cnn", "cnn", {}, 0.98, "test accuracy >= 0.98 after its 1000 steps"),
    ("cnn, 3 epochs", "cnn", {"epochs": 3}, 0.99, "test accuracy >= 0.99 after 3 epochs"),
    ("prelu-mlp", "prelu-mlp", {}, 0.970, "test accuracy >= 0.970 (tutorial 97.39%)"),
    ("prelu-mlp-lr0.01", "prelu-mlp-lr0.01", {}, 0.920, "test accuracy >= 0.920 (tutorial 92.61%)"),
    ("best", "best", {}, 0.995, "test accuracy >= 0.995 in <= 15 minutes"),
]
BEST_SECONDS = 15 * 60


def run_one(label, recipe, overrides, bar, quick, out):
    if quick:
        overrides = {"train_samples": 2000, "epochs": 1} if RECIPES[recipe].steps is None else {"steps": 20}
    started = time.perf_counter()
    result = train_run(RunConfig(recipe, seed=0, **overrides), out=out, verbose=not quick, progress_bar=False)
    wall = time.perf_counter() - started
    passed = None
    if bar is not None and not quick:
        passed = result.test_accuracy >= bar and (recipe != "best" or result.seconds <= BEST_SECONDS)
    return {"label": label, "recipe": recipe, "overrides": overrides,
            "tutorial_result": RECIPES[recipe].tutorial_result, "test_accuracy": result.test_accuracy,
            "bar": bar, "train_seconds": round(result.seconds, 1), "wall_seconds": round(wall, 1),
            "passed": passed, "measured": time.strftime("%Y-%m-%d %H:%M"),
            "load_average": round(os.getloadavg()[0], 1)}


def merged_with_earlier(rows):
    """The rows just measured, and the earlier rows of recipes.json for the labels not rerun."""
    earlier = RESULTS / "recipes.json"
    by_label = {row["label"]: row for row in json.loads(earlier.read_text())} if earlier.exists() else {}
    by_label.update({row["label"]: row for row in rows})
    return [by_label[label] for label, *_ in RUNS if label in by_label]  # rows of runs since dropped go


def write_results(rows):
    lines = [
        "# Recipes: digitlab against the tutorials",
        "",
        f"Produced by `python benchmarks/recipes.py [LABEL ...]` on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}; a row is rerun by naming its label.",
        "Each recipe trains as `digitlab train --recipe NAME` does, seed 0, on the 60,000 MNIST training "
        "images, and is tested on the 10,000 test images. Training seconds exclude loading and the report, "
        "but include the test evaluations that a recipe prints (every epoch, or at a step-based recipe's "
        "report interval); they are only as quiet as the machine was: the last column gives the 1-minute "
        "load average on this 2-core machine when the row ended (the run's own two threads make about 2).",
        "The `cnn` bars are out of reach of the tutorial's settings in any framework: PyTorch trained from "
        "the same initial weights reaches the same accuracy (`benchmarks/results/cnn_parity_1000.md`, "
        "`cnn_parity_3600.md`).",
        "",
        "| recipe | tutorial's result | digitlab test accuracy | bar | training s | | measured (load) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        verdict = {True: "PASS", False: "FAIL", None: ""}[row["passed"]]
        bar = f">= {row['bar']}" if row["bar"] is not None else "-"
        load = row.get("load_average")
        when = f"{row.get('measured', '?')} ({load if load is not None else 'not recorded'})"
        lines.append(f"| {row['label']} | {row['tutorial_result']} | {row['test_accuracy']:.4f} | {bar} "
                     f"| {row['train_seconds']:.1f} | {verdict} | {when} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recipes.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "recipes.json").write_text(json.dumps(rows, indent=2) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labels", nargs="*", help="run only these rows (by recipe name)")
    parser.add_argument("--quick", action="store_true", help="a few steps each: checks the script")
    parser.add_argument("--keep", metavar="DIR", help="keep the run folders (models, reports) in DIR")
    arguments = parser.parse_args()
    chosen = [run for run in RUNS if not arguments.labels or run[0] in arguments.labels or run[1] in arguments.labels]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        out = arguments.keep or scratch
        for label, recipe, overrides, bar, _ in chosen:
            print(f"== {label}", flush=True)
            rows.append(run_one(label, recipe, overrides, bar, arguments.quick, out))
            print(json.dumps(rows[-1]), flush=True)
    if not arguments.quick:
        write_results(merged_with_earlier(rows))
    failed = [row["label"] for row in rows if row["passed"] is False]
    print("FAILED: " + ", ".join(failed) if failed else "every bar met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
