"""Retrain the model that ships with the package (src/digitlab/models/default.safetensors).

    .venv/bin/python benchmarks/train_default_model.py [--seed 0] [--runs runs] [--out PATH]
    .venv/bin/python benchmarks/train_default_model.py --epochs 1 --train-samples 2000 --out /tmp/m.safetensors

It is the `best` recipe (`digitlab train --recipe best`): the run goes into a run folder under
--runs as any `digitlab train` run does (report included), and its model.safetensors is then
copied, atomically, to --out. `digitlab predict` and `digitlab serve` use that file when no --model
is given. About 13 minutes on 2 quiet cores.
"""

import argparse
import sys
from pathlib import Path

from digitlab.files import atomic_write
from digitlab.runs import RunConfig
from digitlab.training import train_run

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "digitlab" / "models" / "default.safetensors"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="fewer epochs than the recipe's: a smoke run")
    parser.add_argument("--train-samples", type=int, help="train and test on the first N images: a smoke run")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where the run folder goes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    arguments = parser.parse_args(argv)
    config = RunConfig("best", epochs=arguments.epochs, seed=arguments.seed,
                       train_samples=arguments.train_samples, test_samples=arguments.train_samples)
    result = train_run(config, out=arguments.runs)
    if result.test_accuracy is None:
        print("training did not finish: the shipped model is unchanged", file=sys.stderr)
        return 1
    atomic_write(arguments.out, (result.run_dir / "model.safetensors").read_bytes())
    print(f"wrote {arguments.out}: test accuracy {result.test_accuracy:.4f} ({result.run_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
