"""How well `digitlab predict` reads digits photographed on paper, against the tutorials' way.

    .venv/bin/python benchmarks/camera_photos.py [--count 1000] [--rows 200] [--model PATH]

The photos are MNIST *test* digits rendered by digitlab.data.photos as a phone sees paper (dark
or blue ink, thin pens, uneven light, shadows, specks, table edges, blur, noise, JPEG), seed 0.
Compared on the same photos and the same model:

- digitlab.photo.preprocess (the full pipeline), and the same without stroke thickening;
- the tutorials' way: shrink the whole photo to 28x28 and invert it.

Rows of 3-4 digits (seed 1) are read with `read_number`: whole numbers right, and digits right.
Writes benchmarks/results/camera_photos.md.
"""

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.data import load_data
from digitlab.data.photos import camera_photos, render_row
from digitlab.photo.preprocess import preprocess
from digitlab.predict import DEFAULT_MODEL, get_model, probabilities, read_number

RESULTS = Path(__file__).resolve().parent / "results" / "camera_photos.md"


def naive(photo):
    grey = Image.open(io.BytesIO(photo)).convert("L").resize((28, 28))
    return (255 - np.asarray(grey, np.float32)) / 255


def accuracy(images, labels, model):
    return float((probabilities(np.stack(images), model).argmax(axis=1) == labels).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    arguments = parser.parse_args(argv)
    model = get_model(arguments.model)

    photos, labels = camera_photos(arguments.count, seed=0)
    started = time.perf_counter()
    full = [preprocess(photo) for photo in photos]
    seconds = (time.perf_counter() - started) / len(photos)
    scores = {
        "digitlab.photo.preprocess": accuracy(full, labels, model),
        "digitlab.photo.preprocess, no stroke thickening": accuracy(
            [preprocess(photo, thicken=False) for photo in photos], labels, model),
        "naive: resize the photo to 28x28 and invert": accuracy([naive(p) for p in photos], labels, model),
    }
    for name, score in scores.items():
        print(f"{name}: {score:.4f}", flush=True)

    _, (x_test, y_test) = load_data()
    rng = np.random.default_rng(1)
    numbers_right = digits_right = digits_total = miscounted = 0
    for _ in range(arguments.rows):
        indices = rng.integers(0, len(x_test), rng.integers(3, 5))
        truth = "".join(str(d) for d in y_test[indices])
        text = read_number(render_row(x_test[indices], rng), model).text
        numbers_right += text == truth
        if len(text) == len(truth):
            digits_right += sum(a == b for a, b in zip(text, truth, strict=True))
            digits_total += len(truth)
        else:
            miscounted += 1
    print(f"rows: {numbers_right}/{arguments.rows} numbers right", flush=True)

    model_name = Path(arguments.model).name
    lines = [
        "# Reading digits photographed on paper",
        "",
        f"{arguments.count} MNIST test digits rendered as phone photos of paper "
        "(`digitlab.data.photos.camera_photos`, seed 0), read by the model "
        f"`{model_name}` ({model.metadata.get('recipe', {}).get('name', 'unknown recipe')}). "
        "Command: `.venv/bin/python benchmarks/camera_photos.py`.",
        "",
        "| preprocessing | accuracy |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {score:.4f} |" for name, score in scores.items()]
    lines += [
        "",
        f"digitlab.photo.preprocess took {1000 * seconds:.0f} ms a photo (decoding included) on this machine.",
        "",
        f"Rows of 3-4 digits (`render_row`, seed 1), read with `read_number`: "
        f"{numbers_right}/{arguments.rows} numbers entirely right ({numbers_right / arguments.rows:.3f}); "
        f"{miscounted} rows split into the wrong number of digits; in the others, "
        f"{digits_right}/{digits_total} digits right ({digits_right / max(digits_total, 1):.3f}).",
        "",
        "These are synthetic photos of MNIST digits, not photos of other people's handwriting: "
        "they measure the preprocessing, not how the model generalises to new writers.",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
