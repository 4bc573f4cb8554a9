"""How long `digitlab predict` takes on one picture, start-up included, as a user runs it.

    .venv/bin/python benchmarks/predict_latency.py [--runs 9]

Runs the installed `digitlab` script on one camera-style photo (a 28x28 MNIST test digit
rendered as a phone photo, about 200x300 pixels) and on one 12-megapixel photo, several times
each, and writes the median wall time of each to benchmarks/results/predict_latency.md, beside
the time Python takes to start and import numpy alone (the floor under any command), and the
time the CLI's own imports take (digitlab.cli imports the recipes and the engine, with tqdm).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.data.photos import camera_photos

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "predict_latency.md"
DIGITLAB = Path(sys.executable).parent / "digitlab"


def wall_times(command, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, command))} failed:\n{done.stderr}")
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        photos, labels = camera_photos(1, seed=0)
        small = Path(folder) / "digit.jpg"
        small.write_bytes(photos[0])
        large = Path(folder) / "photo-12mp.jpg"
        picture = Image.open(small).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        picture.save(large, quality=90)
        cases = [
            ("python -c 'import numpy' (the floor)", [sys.executable, "-c", "import numpy"]),
            ("python -c 'import digitlab.cli' (the CLI's imports)", [sys.executable, "-c", "import digitlab.cli"]),
            ("digitlab --help", [DIGITLAB, "--help"]),
            (f"digitlab predict on a {Image.open(small).size[0]}x{Image.open(small).size[1]} JPEG",
             [DIGITLAB, "predict", small]),
            ("digitlab predict on a 4000x3000 JPEG", [DIGITLAB, "predict", large]),
            ("digitlab predict --json on both", [DIGITLAB, "predict", "--json", small, large]),
        ]
        wall_times(cases[1][1], 1)  # warm the disk cache
        rows = []
        for name, command in cases:
            times = wall_times(command, arguments.runs)
            rows.append((name, statistics.median(times), min(times), max(times)))
            print(f"{name}: median {statistics.median(times):.3f} s", flush=True)
    lines = [
        "# `digitlab predict` latency, start-up included",
        "",
        f"Median wall time of {arguments.runs} runs of the installed script, each a new process "
        f"(`benchmarks/predict_latency.py`), on {platform.machine()} with {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}; load average "
        f"{os.getloadavg()[0]:.1f} when it ended (other work on the machine slows every row alike).",
        "",
        "| command | median (s) | min (s) | max (s) |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {name} | {median:.3f} | {low:.3f} | {high:.3f} |" for name, median, low, high in rows]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
