"""The shipped model on digits written by people who are not MNIST's writers: a proxy.

    .venv/bin/python benchmarks/other_writers.py [--csv PATH/digits.csv.gz]

The issue asks for 95% on real photos of other people's handwriting; no such set is on this
machine. The nearest thing a package ships is scikit-learn's copy of the UCI "optical
recognition of handwritten digits" test set (1,797 digits by the 13 test writers of a separate
collection from MNIST, written on NIST forms), but only as 8x8 counts of ink pixels (0..16) in
4x4 blocks of a 32x32 bitmap: far coarser than a photo. Each 8x8 picture goes through digitlab.photo.preprocess (or, for
comparison, is only stretched to 28x28) and the shipped model.

scikit-learn is not a digitlab dependency: install it anywhere and pass its
`sklearn/datasets/data/digits.csv.gz` with --csv, or run this where `import sklearn` works.
Writes benchmarks/results/other_writers.md.
"""

import argparse
import gzip
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.photo.preprocess import preprocess
from digitlab.predict import DEFAULT_MODEL, get_model, probabilities

RESULTS = Path(__file__).resolve().parent / "results" / "other_writers.md"


def find_csv(path):
    if path:
        return Path(path)
    try:
        import sklearn
    except ImportError:
        raise SystemExit("needs scikit-learn's digits.csv.gz: pass --csv PATH or install scikit-learn") from None
    return Path(sklearn.__file__).parent / "datasets" / "data" / "digits.csv.gz"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="scikit-learn's sklearn/datasets/data/digits.csv.gz")
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    arguments = parser.parse_args(argv)
    path = find_csv(arguments.csv)
    with gzip.open(path, "rt") as file:
        table = np.loadtxt(file, delimiter=",")
    images = (table[:, :64].reshape(-1, 8, 8) / 16).astype(np.float32)
    labels = table[:, 64].astype(int)
    model = get_model(arguments.model)

    seen = np.stack([preprocess(image) for image in images])
    predicted = probabilities(seen, model).argmax(axis=1)
    stretched = np.stack([np.asarray(Image.fromarray(image, "F").resize((28, 28), Image.Resampling.BILINEAR))
                          for image in images])
    scores = {
        "digitlab.photo.preprocess": float((predicted == labels).mean()),
        "stretched to 28x28, nothing else": float((probabilities(stretched, model).argmax(axis=1) == labels).mean()),
    }
    confusions = Counter((int(t), int(p)) for t, p in zip(labels, predicted, strict=True) if t != p).most_common(5)
    for name, score in scores.items():
        print(f"{name}: {score:.4f}")
    lines = [
        "# Other people's handwriting (a proxy): UCI digits, 8x8",
        "",
        f"{len(labels):,} digits by the 13 test writers of the UCI optical recognition of handwritten "
        "digits set (a separate collection from MNIST; scikit-learn's copy), each only an 8x8 grid of "
        "ink counts, read by "
        f"`{Path(arguments.model).name}`. Command: `.venv/bin/python benchmarks/other_writers.py --csv "
        "PATH/sklearn/datasets/data/digits.csv.gz`.",
        "",
        "| preprocessing | accuracy |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {score:.4f} |" for name, score in scores.items()]
    lines += [
        "",
        "Most frequent confusions (true -> read): "
        + ", ".join(f"{t} -> {p} ({n})" for (t, p), n in confusions) + ".",
        "",
        "This is not the issue's measure (real photos of other people's digits at a phone's "
        "resolution): 8x8 loses much of a digit's shape (a 9's loop often vanishes), so it is a "
        "lower bound on how the model meets new writers, not a substitute for photos.",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
