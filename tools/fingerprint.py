"""Numbers that a refactor must leave as they are: a short run of every recipe (test accuracy, loss
and a hash of the trained weights), the shipped model's test accuracy and a hash of its
probabilities. Run it before and after a change and compare the two JSON files:

    python tools/fingerprint.py --out before.json     # on the old tree
    python tools/fingerprint.py --out after.json      # on the new one
    python tools/fingerprint.py --compare before.json after.json
"""

import argparse
import hashlib
import json
import sys
import tempfile

import numpy as np


def weights_hash(model) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(model.get_weights().items()):
        digest.update(name.encode() + np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()[:16]


def short_run(name, recipe, out):
    from digitlab import training
    overrides = {"train_samples": 1000, "test_samples": 500, "seed": 3}
    overrides.update({"epochs": 1} if recipe.steps is None else {"steps": 20})
    import digitlab.runs
    run_config = getattr(digitlab.runs, "RunConfig", None)
    if run_config is None:  # before RunConfig: keyword arguments
        result = training.train_run(name, out=out, verbose=False, **overrides)
    else:
        result = training.train_run(run_config(name, **overrides), out=out, verbose=False)
    return {"accuracy": result.test_accuracy, "loss": result.test_loss, "weights": weights_hash(result.model)}


def record():
    from pathlib import Path

    import digitlab.models
    from digitlab.data import load_data
    from digitlab.models import load_digit_model
    from digitlab.recipes import RECIPES

    numbers = {}
    with tempfile.TemporaryDirectory() as out:
        for name, recipe in RECIPES.items():
            numbers[name] = short_run(name, recipe, out)
            print(name, numbers[name], file=sys.stderr, flush=True)
    (_, _), (x_test, y_test) = load_data()
    model = load_digit_model(Path(digitlab.models.__file__).parent / "default.safetensors")
    probabilities = model.predict_proba(x_test)
    numbers["shipped model"] = {"accuracy": float((probabilities.argmax(1) == y_test).mean()),
                                "probabilities": hashlib.sha256(probabilities.tobytes()).hexdigest()[:16]}
    return numbers


def compare(before_path, after_path):
    before, after = (json.loads(open(path).read()) for path in (before_path, after_path))
    changed = [key for key in before if before[key] != after.get(key)]
    for key in changed:
        print(f"changed: {key}: {before[key]} -> {after.get(key)}")
    print(f"{len(before)} entries, {len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the numbers here (JSON)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    arguments = parser.parse_args()
    if arguments.compare:
        sys.exit(compare(*arguments.compare))
    numbers = record()
    text = json.dumps(numbers, indent=1)
    if arguments.out:
        open(arguments.out, "w").write(text + "\n")
    print(text)
