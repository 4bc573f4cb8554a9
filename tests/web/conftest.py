"""Shared helpers for the web tests: digits drawn as a person draws them, and a real server.

pytest runs with ``--import-mode=importlib``, so the helpers are handed to the tests as fixtures.
A digit is a list of strokes, each a list of (x, y) points in a unit box (x right, y down); the
API tests render them with Pillow, the browser test draws them with the mouse.
"""

import io
import math
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

DIGITLAB = Path(sys.executable).parent / "digitlab"


def _ellipse(cx, cy, rx, ry, turns=1.08, points=48, start=-math.pi / 2):
    """A loop drawn from the top, anticlockwise as most people write a 0, closing a bit past the start."""
    return [(cx + rx * math.cos(start - 2 * math.pi * turns * i / points),
             cy + ry * math.sin(start - 2 * math.pi * turns * i / points)) for i in range(points + 1)]


DIGITS = {
    1: [[(0.56, 0.10), (0.53, 0.50), (0.50, 0.90)]],
    7: [[(0.22, 0.14), (0.50, 0.13), (0.80, 0.14), (0.64, 0.45), (0.48, 0.90)]],
    0: [_ellipse(0.5, 0.5, 0.27, 0.40)],
}


def place(strokes, left, top, width, height):
    """Strokes in a unit box moved into the box (left, top, width, height) in pixels."""
    return [[(left + x * width, top + y * height) for x, y in stroke] for stroke in strokes]


def render(strokes, size=(280, 280), brush=0.075, ink=(23, 24, 28), paper=(255, 255, 255)):
    """PNG bytes of the strokes (in pixels) drawn with a round brush, as the page's canvas draws."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, paper)
    pen = ImageDraw.Draw(image)
    width = max(1, round(brush * size[1]))
    for stroke in strokes:
        pen.line(stroke, fill=ink, width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=ink)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def digit_png(digit, size=160):
    """One digit, filling most of a square sheet."""
    return render(place(DIGITS[digit], 0.15 * size, 0.12 * size, 0.7 * size, 0.76 * size), (size, size))


def number_png(digits, height=128):
    """Several digits side by side on a sheet 2.5 times as wide as it is high."""
    width = int(2.5 * height)
    cell = width / len(digits)
    strokes = []
    for index, digit in enumerate(digits):
        strokes += place(DIGITS[digit], index * cell + 0.12 * cell, 0.15 * height, 0.62 * cell,
                         0.7 * height)
    return render(strokes, (width, height))


@pytest.fixture(scope="session")
def drawings():
    """The helpers above, for the tests: DIGITS, place, render, digit_png, number_png."""
    return {"DIGITS": DIGITS, "place": place, "render": render, "digit_png": digit_png,
            "number_png": number_png}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """`digitlab serve --port 0` run as a user runs it; yields its URL, stops it afterwards."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    log = tmp_path_factory.mktemp("serve") / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen([str(DIGITLAB), "serve", "--port", "0"], stdout=subprocess.PIPE,
                                   stderr=stderr, text=True)
    try:
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if not found:
            process.kill()
            process.wait()
            raise AssertionError(f"digitlab serve printed {line!r}; stderr: {log.read_text()}")
        url = found.group(0)
        _wait_until_up(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)
