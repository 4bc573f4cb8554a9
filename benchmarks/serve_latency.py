"""How fast `digitlab serve` answers POST /api/predict over loopback, as the page calls it.

    .venv/bin/python benchmarks/serve_latency.py [--requests 200] [--warmup 20]

Starts the installed `digitlab serve --port 0` (its own process, as a user runs it), then sends
MNIST test digits drawn the way the page sends a drawing: a 160x160 PNG, white ink on black,
one request after another on one keep-alive connection, like a browser. Each latency is the
time from sending the request to having read the whole JSON answer. Also times the library call
alone (digitlab.predict.predict_file on the same bytes, in this process) to show what HTTP adds,
and number mode on three digits in a row. Writes benchmarks/results/serve_latency.md and .json.
Target (issue 8): a median under 20 ms on this machine.
"""

import argparse
import http.client
import io
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.data import load_data

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DIGITLAB = Path(sys.executable).parent / "digitlab"
SIDE = 160                   # the page sends a single digit's drawing at 160x160
TARGET_MS = 20.0


def drawn(digit: np.ndarray, size=(SIDE, SIDE)) -> bytes:
    """An MNIST digit as the page sends a drawing: scaled up, white on black, PNG."""
    image = Image.fromarray(digit).resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def in_a_row(digits) -> bytes:
    """Several MNIST digits side by side on a 320x128 sheet, as the page's number mode sends."""
    sheet = np.concatenate([np.pad(d, ((0, 0), (4, 4))) for d in digits], axis=1)
    return drawn(sheet, (320, 128))


def start_server():
    process = subprocess.Popen([str(DIGITLAB), "serve", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    found = re.search(r"http://(127\.0\.0\.1):(\d+)/", line)
    if not found:
        process.kill()
        raise SystemExit(f"digitlab serve did not start: {line!r}")
    host, port = found.group(1), int(found.group(2))
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            connection.request("GET", "/api/health")
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                return process, connection
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("digitlab serve did not answer /api/health")


def post(connection, body, path="/api/predict"):
    started = time.perf_counter()
    connection.request("POST", path, body=body, headers={"Content-Type": "image/png"})
    response = connection.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}: {answer[:200]!r}")
    server = float(response.getheader("server-timing").split("dur=")[1]) / 1000
    return elapsed, json.loads(answer), server


def summary(seconds):
    ms = np.array(seconds) * 1000
    return {"n": len(ms), "median_ms": round(float(np.median(ms)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "mean_ms": round(float(ms.mean()), 2),
            "min_ms": round(float(ms.min()), 2), "max_ms": round(float(ms.max()), 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    arguments = parser.parse_args(argv)

    load_at_start = os.getloadavg()[0]
    _, (x_test, y_test) = load_data()
    count = arguments.requests
    bodies = [drawn(digit) for digit in x_test[:count]]
    numbers = [in_a_row(x_test[i:i + 3]) for i in range(0, 3 * 50, 3)]

    process, connection = start_server()
    try:
        for body in bodies[:arguments.warmup]:
            post(connection, body)
        times, inside, right = [], [], 0
        for body, label in zip(bodies, y_test[:count], strict=True):
            elapsed, answer, server = post(connection, body)
            times.append(elapsed)
            inside.append(server)
            right += answer["digit"] == label
        number_times = [post(connection, body, "/api/predict?mode=number")[0] for body in numbers]
    finally:
        connection.close()
        process.terminate()
        process.wait(timeout=10)

    from digitlab.predict import default_model, predict_file
    from digitlab.web.server import one_blas_thread

    one_blas_thread()                       # as the server runs it
    default_model()
    for body in bodies[:arguments.warmup]:
        predict_file(body)
    library = []
    for body in bodies:
        started = time.perf_counter()
        predict_file(body)
        library.append(time.perf_counter() - started)

    http_stats, library_stats, number_stats = summary(times), summary(library), summary(number_times)
    server_stats = summary(inside)
    machine = (f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"NumPy {np.__version__}, load average {load_at_start:.1f} at the start and "
               f"{os.getloadavg()[0]:.1f} at the end (other processes share the cores)")
    verdict = "meets" if http_stats["median_ms"] < TARGET_MS else "misses"
    rows = [("POST /api/predict, one digit (160x160 PNG)", http_stats),
            ("the same requests, the server's own time (its Server-Timing header)", server_stats),
            ("the library call alone: predict_file on the same bytes, no HTTP", library_stats),
            ("POST /api/predict?mode=number, three digits (320x128 PNG)", number_stats)]
    lines = [
        "# `digitlab serve` latency over loopback",
        "",
        f"`{Path(sys.executable).relative_to(ROOT) if ROOT in Path(sys.executable).parents else 'python'}"
        f" benchmarks/serve_latency.py --requests {count}` on {machine}. The server is "
        "`digitlab serve` in its own process; requests go one after another on one keep-alive "
        "connection, each timed from sending to having read the whole answer. The pictures are "
        f"MNIST test digits drawn as the page sends a drawing ({SIDE}x{SIDE} PNG, white ink on black).",
        "",
        "| what | requests | median (ms) | p95 (ms) | mean (ms) | min (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[f"| {name} | {s['n']} | {s['median_ms']} | {s['p95_ms']} | {s['mean_ms']} | {s['min_ms']} | {s['max_ms']} |"
          for name, s in rows],
        "",
        f"Target: a median under {TARGET_MS:.0f} ms for one digit: it **{verdict}** it "
        f"({http_stats['median_ms']} ms). Of that, {server_stats['median_ms']} ms is the server's own work "
        "(reading the PNG, preprocessing, the network, the answer's JSON and 28x28 PNG); the rest is "
        "HTTP over loopback and waiting for a core.",
        f"The server read {right} of {count} digits right ({100 * right / count:.1f}%).",
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve_latency.md").write_text("\n".join(lines))
    (RESULTS / "serve_latency.json").write_text(json.dumps(
        {"machine": machine, "target_median_ms": TARGET_MS, "predict": http_stats, "server": server_stats,
         "library": library_stats,
         "number": number_stats, "right": int(right), "requests": count}, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
