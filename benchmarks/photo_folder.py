"""Accuracy of `digitlab predict` on a folder of real, labelled photos of digits.

    .venv/bin/python benchmarks/photo_folder.py FOLDER [--model PATH] [--out RESULTS.md]

The issue's measure (at least 95% on real photos of digits written by other people) needs such
a set, which this machine does not have. Lay it out either as subfolders named by the digit
(FOLDER/7/any-name.jpg) or as files whose names start with the digit and an underscore
(FOLDER/7_anna_03.jpg). Prints and writes the accuracy, the naive resize's for comparison, the
files that could not be read and the most frequent confusions.
"""

import argparse
import io
import re
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.predict import DEFAULT_MODEL, get_model, predict_files, probabilities

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def labelled_files(folder):
    """(path, digit) for every picture whose digit the folder layout tells."""
    found = []
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() not in SUFFIXES:
            continue
        if path.parent.name in tuple("0123456789"):
            found.append((path, int(path.parent.name)))
        elif re.match(r"^[0-9]_", path.name):
            found.append((path, int(path.name[0])))
    return found


def naive(path):
    """The tutorials' way; a file Pillow cannot open gives a blank image (counted wrong)."""
    try:
        grey = Image.open(io.BytesIO(path.read_bytes())).convert("L").resize((28, 28))
    except (OSError, ValueError):
        return np.zeros((28, 28), np.float32)
    return (255 - np.asarray(grey, np.float32)) / 255


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--out", type=Path, help="also write the results to this Markdown file")
    arguments = parser.parse_args(argv)
    files = labelled_files(arguments.folder)
    if not files:
        raise SystemExit(f"{arguments.folder}: no labelled pictures (see --help for the layout)")
    model = get_model(arguments.model)
    paths, labels = [p for p, _ in files], np.array([d for _, d in files])
    results = predict_files(paths, model)
    read = [(r.digit, label) for r, label in zip(results, labels, strict=True) if r.ok]
    failed = [r for r in results if not r.ok]
    accuracy = sum(d == t for d, t in read) / len(files)          # an unread file counts as wrong
    baseline = float((probabilities(np.stack([naive(p) for p in paths]), model).argmax(1) == labels).mean())
    confusions = Counter((t, d) for d, t in read if d != t).most_common(5)
    lines = [
        f"# Real photos: {arguments.folder}",
        "",
        f"{len(files)} labelled pictures, model `{Path(arguments.model).name}`.",
        "",
        f"- digitlab predict: {accuracy:.4f} ({len(failed)} not read, counted wrong)",
        f"- naive resize to 28x28 and invert: {baseline:.4f}",
        "- most frequent confusions (true -> read): "
        + (", ".join(f"{t} -> {d} ({n})" for (t, d), n in confusions) or "none"),
    ]
    lines += [f"- not read: {r.error}" for r in failed[:20]]
    text = "\n".join(lines) + "\n"
    print(text)
    if arguments.out:
        arguments.out.write_text(text)


if __name__ == "__main__":
    main()
