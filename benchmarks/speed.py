"""Speed of digitlab against PyTorch on this machine, measured side by side in one run.

    .venv/bin/python benchmarks/speed.py [--quick] [--rounds 11] [--cnn-steps N] [--backend cpu|gpu]

Measures the float32 matrix-product peak (NumPy and PyTorch), one training epoch of the `keras-mlp`
and `cnn` recipes in digitlab (through `get_recipe(...).make_model` and `Sequential.fit`) and in the
same model built in PyTorch (same weights, batch, optimizer; threads = cores), alternating the two,
inference throughput on the 10,000 test images, and the peak memory of `digitlab train`. Checks the
targets of issue 7 and writes benchmarks/results/speed.md and speed.json (speed-quick.* with
--quick). Without PyTorch (the `bench` extra) it still measures digitlab and says the peer is missing.
"""

import argparse
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from digitlab.data import load_data
from digitlab.nn import backend
from digitlab.recipes import get_recipe

try:
    import torch
except ImportError:
    torch = None

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_IMAGES = 60_000
MB = 1e6  # memory is reported in MB of 10^6 bytes (the stricter reading of the 600 MB target)

# Per image, the matrix products an epoch really needs (elementwise work, ~1%, is not counted):
# forward 2*K*N per layer, the weight gradient the same, the input gradient the same for every
# layer but the first (its input, the image, needs no gradient).
MLP_FORWARD = 2 * (784 * 512 + 512 * 10)
MLP_FLOPS = 2 * MLP_FORWARD + 2 * 512 * 10
MLP_FORMULA = "2*B*(784*512 + 512*10) forward + the same for weight gradients + 2*B*512*10 for layer 2's input gradient"
CONV1, CONV2 = 2 * 28 * 28 * 32 * (5 * 5 * 1), 2 * 14 * 14 * 64 * (5 * 5 * 32)
FC1, FC2 = 2 * 3136 * 1024, 2 * 1024 * 10
CNN_FLOPS = 2 * (CONV1 + CONV2 + FC1 + FC2) + (CONV2 + FC1 + FC2)
CNN_FORMULA = ("forward 2*B*(28*28*32*25 + 14*14*64*800 + 3136*1024 + 1024*10) + the same for weight gradients "
               "+ 2*B*(14*14*64*800 + 3136*1024 + 1024*10) for the input gradients of all but conv1")

TARGETS = {  # issue 7: what speed.md must show
    "mlp_ratio": "keras-mlp epoch <= 0.6x PyTorch's",
    "mlp_peak": "keras-mlp epoch at >= 50% of NumPy's measured float32 matmul peak",
    "cnn_ratio": "cnn epoch <= 1.0x PyTorch's",
    "mlp_inference": "keras-mlp inference >= 200,000 images/s",
    "train_memory": "peak memory of `digitlab train` (default recipe) <= 600 MB",
}


def log(line=""):
    print(line, flush=True)


# ----------------------------------------------------------------------------- the machine and its peak


def gpu_available():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def synchronize(device):
    if device == "gpu":
        import cupy
        cupy.cuda.Device().synchronize()
        if torch is not None:
            torch.cuda.synchronize()


def machine_info(device):
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from threadpoolctl import threadpool_info

    blas = "; ".join(f"{p['internal_api']} {p['version']} ({p.get('architecture')}, {p['num_threads']} threads)"
                     for p in threadpool_info() if p["user_api"] == "blas")
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "numpy_blas": blas, "torch": torch.__version__ if torch is not None else None, "device": device,
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()]}
    if torch is not None:
        found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
        info["torch_blas"] = found.group(1) if found else "unknown"
        info["torch_threads"] = torch.get_num_threads()
    if device == "gpu":
        import cupy
        info["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                   cwd=Path(__file__).parent, check=True).stdout.strip()
        info["digitlab_commit"] = described
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


def matmul_peak(device, size, repeats):
    """Best GFLOP/s of size x size @ size x size in float32: NumPy (CuPy on a GPU) and PyTorch."""
    flops = 2 * size**3
    xp = backend.xp()
    a = xp.asarray(np.random.default_rng(0).random((size, size), dtype=np.float32))
    out = xp.empty_like(a)
    best = {}
    for name in ("numpy", "torch"):
        if name == "torch":
            if torch is None:
                continue
            ta = torch.as_tensor(backend.to_numpy(a), device="cuda" if device == "gpu" else "cpu")
            out_t = torch.empty_like(ta)

            def product(ta=ta, out_t=out_t):
                return torch.mm(ta, ta, out=out_t)
        else:
            def product():
                return xp.matmul(a, a, out=out)
        product()
        times = []
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            product()
            synchronize(device)
            times.append(time.perf_counter() - start)
        best[name] = flops / min(times) / 1e9
    return best


# ----------------------------------------------------------------------------- the models in PyTorch


def torch_twin(name, model, device):
    """The recipe's model in PyTorch, starting from the digitlab model's very weights."""
    nn = torch.nn
    if name == "keras-mlp":
        net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    else:  # MaxPool2d(2) is the same as "same" pooling here: 28 and 14 are even
        net = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))
    ours = [layer for layer in model.layers if layer.params]
    theirs = [module for module in net if isinstance(module, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        for layer, module in zip(ours, theirs, strict=True):
            kernel = backend.to_numpy(layer.params["kernel"])
            module.weight.copy_(torch.from_numpy(kernel.T if kernel.ndim == 2 else kernel))
            module.bias.copy_(torch.from_numpy(backend.to_numpy(layer.params["bias"])))
    net = net.to("cuda" if device == "gpu" else "cpu")
    if name == "keras-mlp":  # Keras' RMSprop: w -= lr * g / (sqrt(s) + eps)
        optimizer = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, eps=1e-7)
    return net, optimizer


def torch_params(net):
    return sum(p.numel() for p in net.parameters())


def same_outputs(model, net, x, x_t):
    """Largest difference between the two models' probabilities on a few test images."""
    ours = model.predict_proba(x[:100])
    with torch.inference_mode():
        net.eval()
        theirs = torch.softmax(net(x_t[:100]), dim=1).cpu().numpy()
    return float(np.abs(ours - theirs).max())


# ----------------------------------------------------------------------------- timed work


def digitlab_train(name, x, y, batch_size, steps, device):
    model = get_recipe(name).make_model(seed=0)
    synchronize(device)
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=batch_size, seed=0, steps_per_epoch=steps)
    synchronize(device)
    return time.perf_counter() - start, model


def torch_train(name, model, x_t, y_t, batch_size, steps, device):
    """PyTorch's usual loop; like digitlab's fit it tracks the loss and the correct count."""
    net, optimizer = torch_twin(name, model, device)
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()
    generator = torch.Generator().manual_seed(0)
    synchronize(device)
    start = time.perf_counter()
    order = torch.randperm(len(x_t), generator=generator).to(x_t.device)
    loss_sum = correct = 0.0
    for step in range(steps):
        index = order[step * batch_size:(step + 1) * batch_size]
        xb, yb = x_t[index], y_t[index]
        logits = net(xb)
        loss = loss_fn(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(yb)
        correct += (logits.argmax(1) == yb).sum().item()
    synchronize(device)
    return time.perf_counter() - start


def digitlab_inference(model, x, device):
    synchronize(device)
    start = time.perf_counter()
    model.predict_proba(x)
    synchronize(device)
    return time.perf_counter() - start


def torch_inference(net, x_t, batch_size, device):
    synchronize(device)
    start = time.perf_counter()
    with torch.inference_mode():
        net.eval()
        torch.cat([torch.softmax(net(x_t[i:i + batch_size]), dim=1) for i in range(0, len(x_t), batch_size)]).cpu()
    synchronize(device)
    return time.perf_counter() - start


# PyTorch's OpenMP threads go on spinning on the cores for a while after its work is done, and
# slow down whatever runs next (digitlab's keras-mlp inference: 195,000 images/s right after
# PyTorch's, 222,000 a third of a second later). Each timing starts after this pause, untimed.
SETTLE_SECONDS = 0.5


def alternate(rounds, ours, theirs):
    """Run the two timings in turn, rounds times, swapping which goes first each round."""
    times = {"digitlab": [], "torch": [], "load_average": []}
    for round_ in range(rounds):
        order = [("digitlab", ours), ("torch", theirs)]
        for who, timed in order if round_ % 2 == 0 else order[::-1]:
            if timed is not None:
                time.sleep(SETTLE_SECONDS)
                times[who].append(timed())
                log(f"    round {round_ + 1}: {who:<8} {times[who][-1]:.3f} s   "
                    f"(load average {os.getloadavg()[0]:.1f})")
        times["load_average"].append(round(os.getloadavg()[0], 2))
    return times


def paired_ratio(ours, theirs):
    """The median over rounds of digitlab's time / PyTorch's in the same round. This machine's speed
    drifts by a third over minutes; the two sides of one round run back to back and see the same."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def train_benchmark(name, data, x_test, tensors, args, peak):
    recipe = get_recipe(name)
    batch = recipe.batch_size
    (x, y), device = data, args.backend
    full_steps = math.ceil(TRAIN_IMAGES / batch)
    steps = min(args.cnn_steps if name == "cnn" else args.mlp_steps or full_steps, full_steps)
    flops = (CNN_FLOPS if name == "cnn" else MLP_FLOPS) * TRAIN_IMAGES
    log(f"\n== {name}: one epoch, batch {batch}, {full_steps} steps"
        + (f" (timing {steps} steps, extrapolated)" if steps < full_steps else ""))
    warm_up = min(steps, 5 if name == "cnn" else 20)
    _, model = digitlab_train(name, x, y, batch, warm_up, device)
    result = {"batch_size": batch, "steps_per_epoch": full_steps, "steps_timed": steps,
              "extrapolated": steps < full_steps, "flops_per_epoch": flops,
              "flop_formula": CNN_FORMULA if name == "cnn" else MLP_FORMULA,
              "params": {"digitlab": model.count_params()}}
    theirs = None
    if tensors is not None:
        x_t, y_t, x_test_t = tensors
        net, _ = torch_twin(name, model, device)
        result["params"]["torch"] = torch_params(net)
        result["max_output_difference"] = same_outputs(model, net, x_test, x_test_t)
        if result["params"]["torch"] != result["params"]["digitlab"]:
            raise SystemExit(f"{name}: the PyTorch model has {result['params']['torch']} parameters, "
                             f"digitlab's {result['params']['digitlab']}: not the same model")
        torch_train(name, model, x_t, y_t, batch, warm_up, device)

        def theirs():
            return torch_train(name, model, x_t, y_t, batch, steps, device)
    counts = result["params"]
    log(f"    parameters: digitlab {counts['digitlab']:,}, "
        + (f"PyTorch {counts['torch']:,}" if "torch" in counts else "no PyTorch"))
    if "max_output_difference" in result:
        log(f"    same weights, same outputs: largest probability difference {result['max_output_difference']:.2e}")
    times = alternate(args.rounds, lambda: digitlab_train(name, x, y, batch, steps, device)[0], theirs)
    scale = full_steps / steps
    result["load_average_per_round"] = times.pop("load_average")
    for who, samples in times.items():
        if samples:
            epoch = statistics.median(samples) * scale
            result[who] = {"seconds_per_epoch": epoch, "samples_s": samples, "gflops": flops / epoch / 1e9}
    ours = result["digitlab"]
    ours["fraction_of_numpy_peak"] = ours["gflops"] / peak["numpy"]
    if "torch" in result:
        result["ratio"] = paired_ratio(times["digitlab"], times["torch"])
        result["torch"]["fraction_of_torch_peak"] = result["torch"]["gflops"] / peak["torch"]
    log(f"    digitlab {ours['seconds_per_epoch']:.2f} s/epoch ({ours['gflops']:.1f} GFLOP/s, "
        f"{ours['fraction_of_numpy_peak']:.0%} of NumPy's peak)"
        + (f"; PyTorch {result['torch']['seconds_per_epoch']:.2f} s/epoch; ratio {result['ratio']:.2f}"
           if "torch" in result else "; PyTorch not installed"))
    return result, model


# A pass over the test set can be as short as 50 ms, which one burst of another process on this
# shared machine can double: each round takes the fastest of a few passes, as timeit does, on both
# sides alike (as many as fit in about INFERENCE_ROUND_SECONDS, at most 5).
INFERENCE_ROUND_SECONDS = 0.25


def fastest_of(passes, timed):
    return lambda: min(timed() for _ in range(passes))


def inference_benchmark(name, model, x_test, x_test_t, args):
    batch = 1000  # predict_proba's default
    net = torch_twin(name, model, args.backend)[0] if x_test_t is not None else None
    digitlab_inference(model, x_test[:batch], args.backend)
    if net is not None:
        torch_inference(net, x_test_t[:batch], batch, args.backend)
    one_pass = digitlab_inference(model, x_test, args.backend)
    passes = max(1, min(5, int(INFERENCE_ROUND_SECONDS / one_pass)))
    log(f"\n== {name}: inference on {len(x_test):,} test images, batch {batch}, the fastest of {passes} "
        f"pass{'es' if passes > 1 else ''} a round")
    times = alternate(args.rounds, fastest_of(passes, lambda: digitlab_inference(model, x_test, args.backend)),
                      fastest_of(passes, lambda: torch_inference(net, x_test_t, batch, args.backend))
                      if net is not None else None)
    result = {"images": len(x_test), "batch_size": batch, "passes_per_round": passes,
              "load_average_per_round": times.pop("load_average")}
    for who, samples in times.items():
        if samples:
            result[who] = {"images_per_s": len(x_test) / statistics.median(samples), "samples_s": samples}
    if "torch" in result:
        result["ratio"] = 1 / paired_ratio(times["digitlab"], times["torch"])
    log(f"    digitlab {result['digitlab']['images_per_s']:,.0f} images/s"
        + (f"; PyTorch {result['torch']['images_per_s']:,.0f} images/s" if "torch" in result else ""))
    return result


# A clean parent for `digitlab train`, so RUSAGE_CHILDREN sees that one process and nothing else.
_MEASURE = """import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "seconds": time.perf_counter() - start, "output": done.stdout + done.stderr,
                  "max_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"""


def train_memory(quick):
    script = Path(sys.executable).with_name("digitlab")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "digitlab"]
    arguments = ["train", "--quiet"] + (["--dry-run"] if quick else [])
    log(f"\n== peak memory of `{shlex.join(['digitlab', *arguments])}` (in a temporary folder)")
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-c", _MEASURE, *command, *arguments, "--out", folder],
                              capture_output=True, text=True, cwd=folder, check=True)
    measured = json.loads(done.stdout)
    if measured["rc"] != 0:
        raise SystemExit(f"digitlab train failed ({measured['rc']}):\n{measured['output']}")
    accuracy = re.search(r"test accuracy ([\d.]+)", measured["output"])
    result = {"command": shlex.join(["digitlab", *arguments]), "max_rss_mb": measured["max_rss_kb"] * 1024 / MB,
              "seconds": measured["seconds"], "test_accuracy": float(accuracy.group(1)) if accuracy else None,
              "dry_run": quick}
    log(f"    max RSS {result['max_rss_mb']:.0f} MB, {result['seconds']:.1f} s, "
        f"test accuracy {result['test_accuracy']}")
    return result


# ----------------------------------------------------------------------------- targets and reports


def check_targets(results):
    training, inference, memory = results["training"], results["inference"], results.get("train_memory")
    rows = []

    def add(key, value, ok, shown):
        status = "SKIP" if value is None else ("PASS" if ok else "FAIL")
        rows.append({"target": TARGETS[key], "value": value, "measured": shown, "status": status})

    mlp, cnn = training["keras-mlp"], training["cnn"]
    ratio = mlp.get("ratio")
    add("mlp_ratio", ratio, ratio is not None and ratio <= 0.6, f"{ratio:.2f}x" if ratio else "no PyTorch")
    fraction = mlp["digitlab"]["fraction_of_numpy_peak"]
    add("mlp_peak", fraction, fraction >= 0.5, f"{fraction:.0%}")
    ratio = cnn.get("ratio")
    add("cnn_ratio", ratio, ratio is not None and ratio <= 1.0, f"{ratio:.2f}x" if ratio else "no PyTorch")
    rate = inference["keras-mlp"]["digitlab"]["images_per_s"]
    add("mlp_inference", rate, rate >= 200_000, f"{rate:,.0f} images/s")
    value = memory["max_rss_mb"] if memory and not memory["dry_run"] else None
    add("train_memory", value, value is not None and value <= 600,
        f"{value:.0f} MB" if value is not None else ("dry run only (--quick)" if memory else "skipped"))
    return rows


def busy_warning(results):
    """A warning when other work loaded the machine, else None. The benchmark's own threads keep
    the 1-minute load average near the core count, so only a load above cores + 1 (or above 1 at the
    start, before the benchmark's own work) means someone else was running."""
    m = results["machine"]
    loads = [m["load_average_at_end"][0]]
    loads += [v for part in ("training", "inference") for r in results[part].values()
              for v in r["load_average_per_round"]]
    if m["load_average_at_start"][0] <= 1 and max(loads) <= m["cores"] + 1:
        return None
    loads.append(m["load_average_at_start"][0])
    return (f"the machine was busy (1-minute load average up to {max(loads):.1f} on {m['cores']} cores): "
            "these timings are far from its quiet figures and do not settle the targets; rerun when it is idle")


def markdown(results):
    m, peak = results["machine"], results["peak_gflops"]
    warning = busy_warning(results)
    lines = [f"# digitlab speed: {results['date']}", "",
             f"Command: `{results['command']}`"
             + (" (a quick smoke run: numbers are indicative only)" if results["quick"] else ""),
             f"Run time: {results['seconds']:.0f} s", ""] + ([f"**Warning: {warning}.**", ""] if warning else []) + [
             "## Machine", "", "| | |", "| --- | --- |"]
    for key, label in [("cpu", "CPU"), ("cores", "cores"), ("device", "device"), ("gpu", "GPU"), ("python", "Python"),
                       ("numpy", "NumPy"), ("numpy_blas", "NumPy's BLAS"), ("torch", "PyTorch"),
                       ("torch_blas", "PyTorch's BLAS"), ("torch_threads", "PyTorch threads"),
                       ("digitlab_commit", "digitlab commit"), ("load_average_at_start", "load average at start"),
                       ("load_average_at_end", "load average at end")]:
        if key in m:
            lines.append(f"| {label} | {m[key] if m[key] is not None else 'not installed'} |")
    lines += ["", f"## Float32 matrix-product peak ({peak['size']}x{peak['size']} @ {peak['size']}x{peak['size']}, "
              f"best of {peak['repeats']}, at the start and the end)", "", "| | GFLOP/s |", "| --- | --- |",
              f"| NumPy | {peak['numpy']:.1f} |",
              f"| PyTorch | {peak['torch']:.1f} |" if "torch" in peak else "| PyTorch | not installed |",
              "", "## Training: one epoch (60,000 images), median of the rounds", "",
              "| recipe | batch | steps timed | params (digitlab / PyTorch) | digitlab s/epoch | PyTorch s/epoch "
              "| digitlab / PyTorch | digitlab GFLOP/s | % of NumPy peak | PyTorch GFLOP/s | % of PyTorch peak |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in results["training"].items():
        t = r.get("torch")
        d, t = r["digitlab"], r.get("torch")
        steps = f"{r['steps_timed']} of {r['steps_per_epoch']}" + (" (extrapolated)" if r["extrapolated"] else "")
        params = f"{r['params']['digitlab']:,} / " + (f"{r['params']['torch']:,}" if t else "-")
        cells = [name, r["batch_size"], steps, params, f"{d['seconds_per_epoch']:.2f}",
                 f"{t['seconds_per_epoch']:.2f}" if t else "-", f"{r['ratio']:.2f}x" if t else "-",
                 f"{d['gflops']:.1f}", f"{d['fraction_of_numpy_peak']:.0%}",
                 f"{t['gflops']:.1f}" if t else "-", f"{t['fraction_of_torch_peak']:.0%}" if t else "-"]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    lines += [""]
    for name, r in results["training"].items():
        rounds = "; ".join(("PyTorch " if who == "torch" else "digitlab ")
                           + ", ".join(f"{v:.2f}" for v in r[who]["samples_s"]) + " s"
                           for who in ("digitlab", "torch") if who in r)
        same = (f"; same initial weights, largest output difference {r['max_output_difference']:.1e}"
                if "max_output_difference" in r else "")
        lines.append(f"- {name}: rounds timed ({r['steps_timed']} steps each): {rounds}; load average after each "
                     f"round {r['load_average_per_round']}{same}")
    lines += ["", "FLOPs counted (B = images; matrix products only, elementwise work not counted):", ""]
    lines += [f"- {name}: {r['flop_formula']} = {r['flops_per_epoch'] / 1e9:.1f} GFLOP an epoch"
              for name, r in results["training"].items()]
    lines += ["", "## Inference (`predict_proba` on the 10,000 test images; PyTorch under `torch.inference_mode`)", "",
              "| recipe | images | batch | digitlab images/s | PyTorch images/s | digitlab / PyTorch |",
              "| --- | --- | --- | --- | --- | --- |"]
    for name, r in results["inference"].items():
        t = r.get("torch")
        lines.append(f"| {name} | {r['images']:,} | {r['batch_size']} | {r['digitlab']['images_per_s']:,.0f} | "
                     + (f"{t['images_per_s']:,.0f} | {r['ratio']:.2f}x |" if t else "- | - |"))
    memory = results.get("train_memory")
    lines += ["", "## Peak memory of a training run", ""]
    lines += [f"`{memory['command']}`: max RSS {memory['max_rss_mb']:.0f} MB (10^6 bytes), {memory['seconds']:.1f} s, "
              f"test accuracy {memory['test_accuracy']}"] if memory else [
        "measured in the CPU run only" if results["machine"]["device"] == "gpu" else "skipped (--skip-train-memory)"]
    lines += ["", "## Targets (issue 7)", "", "```"] + (
        [] if results["targets"] else ["none: the targets are for the CPU"])
    lines += [f"{row['status']}  {row['target']}: {row['measured']}" for row in results["targets"]] + ["```", ""]
    lines += ["## How it is measured", ""] + [f"- {note}" for note in results["notes"]] + [""]
    return "\n".join(lines)


NOTES = [
    "digitlab trains through its public API: `get_recipe(name).make_model(seed=0)` then "
    "`model.fit(x_train, y_train, epochs=1, batch_size=..., seed=0)` on the uint8 images of `load_data()`, "
    "converted per batch as `fit` does; model creation is not timed. While a model trains or predicts, digitlab "
    "runs NumPy's BLAS on one thread and splits its large operations into one part per core itself "
    "(`digitlab.nn.accel.threads`); the BLAS line above gives the thread count outside that.",
    "PyTorch runs the same architecture (nn.Linear / nn.Conv2d(padding=2) / nn.MaxPool2d(2)) starting from digitlab's "
    "own initial weights (keras-mlp: Glorot uniform, zero biases; cnn: truncated normal 0.1, biases 0.1), "
    "with CrossEntropyLoss on logits, torch.optim.RMSprop(lr=1e-3, alpha=0.9, eps=1e-7) or "
    "torch.optim.Adam(lr=1e-4, eps=1e-7), batches gathered from a float32 tensor prepared once, "
    "torch.set_num_threads(os.cpu_count()); its loop calls loss.item() and counts correct answers each step, "
    "as fit does.",
    "Adam's epsilon sits in slightly different places (Keras: outside the bias-corrected sqrt; PyTorch: inside): "
    "the same work, negligibly different numbers.",
    "Each round times digitlab and PyTorch in turn (which goes first alternates), after a warm-up of "
    "20 keras-mlp or 5 cnn steps each, "
    f"and each timing starts {SETTLE_SECONDS} s after the last one ended: PyTorch's OpenMP threads keep spinning "
    "for a while after its work and would slow down whatever ran next. "
    "Seconds per epoch are the median of the rounds; with fewer steps timed than an epoch holds, the timed seconds "
    "scaled by steps per epoch / steps timed. The ratio is the median of the rounds' own ratios: this machine's "
    "speed drifts by up to a third over minutes (the same cnn steps took 58 and 77 ms minutes apart, nothing else "
    "running), so many short rounds, each comparing two runs made back to back, measure the ratio better than a "
    "few epoch-long ones.",
    "Achieved GFLOP/s = FLOPs counted / seconds per epoch; the peak is the best float32 matrix product seen "
    "at the start or the end of the run. The cnn's FLOPs are those of a direct convolution, as PyTorch's "
    "counts would be: digitlab computes its second convolution through the DFT (`digitlab.nn.accel.fourier`), "
    "which does about a quarter of that arithmetic, so its GFLOP/s there is an effective rate, the work a "
    "direct convolution would have had to do that fast.",
    "Inference: digitlab's `predict_proba` takes the uint8 images and converts each batch of 1000; PyTorch takes "
    "batches of 1000 from the float32 tensor prepared once and applies softmax. A pass over the test set can be "
    "as short as 50 ms, so each round times as many passes as fit in about "
    f"{INFERENCE_ROUND_SECONDS} s (at most 5) and keeps the fastest, for both sides alike.",
    "The 1-minute load average is recorded at the start, after each round and at the end: on a shared machine whose "
    "load exceeds its cores, multi-threaded BLAS calls wait for descheduled threads and the timings swing widely.",
    "Peak memory: `digitlab train` (the console script next to sys.executable) in a subprocess under a clean "
    "parent, read from getrusage(RUSAGE_CHILDREN).ru_maxrss.",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 round, 1/10 of an mlp epoch, 60 cnn steps, 2,000 test images for "
                             "the cnn's inference, `digitlab train --dry-run`; writes speed-quick.*")
    parser.add_argument("--rounds", type=int, help="timed rounds of each side [default: 11, 1 with --quick]")
    parser.add_argument("--cnn-steps", type=int, help="cnn steps to time in each round, scaled to an epoch "
                                                      "[default: 120, a tenth of an epoch; 60 with --quick]")
    parser.add_argument("--mlp-steps", type=int, help="keras-mlp steps to time [default: 469, a full epoch; "
                                                      "47 with --quick]")
    parser.add_argument("--backend", "--device", choices=("cpu", "gpu"), default="cpu",  # --device: its old name
                        help="gpu: digitlab on CuPy and PyTorch on CUDA, where both and a GPU are present")
    parser.add_argument("--skip-train-memory", action="store_true", help="do not measure `digitlab train`")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for speed.md and speed.json")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 11)
    args.cnn_steps = args.cnn_steps or (60 if args.quick else 120)
    args.mlp_steps = args.mlp_steps or (47 if args.quick else None)
    if args.backend == "gpu":
        if not gpu_available():
            log("--backend gpu: no GPU present (or CuPy is not installed: the `gpu` extra): skipping")
            return 0
        backend.set_backend("gpu")
        if torch is not None and not torch.cuda.is_available():
            log("this PyTorch has no CUDA: measuring digitlab on the GPU alone")
            globals()["torch"] = None
    started = time.perf_counter()
    if torch is not None:
        torch.set_num_threads(os.cpu_count())
        torch.manual_seed(0)
    command = shlex.join(["python", "benchmarks/speed.py", *(sys.argv[1:] if argv is None else argv)])
    results = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "command": command,
               "quick": args.quick, "machine": machine_info(args.backend)}
    load = results["machine"]["load_average_at_start"]
    log(f"digitlab speed benchmark on {results['machine']['cpu']} ({results['machine']['cores']} cores), "
        f"backend {args.backend}, load average {load}")
    if load[0] > 0.5:
        log("other processes are using the CPU: the timings will be noisy")
    if torch is None:
        log("PyTorch is not installed (pip install -e '.[bench]'): measuring digitlab alone, no peer to compare")
    size, repeats = (8192 if args.backend == "gpu" else 2048), (5 if args.quick else 10)
    first = matmul_peak(args.backend, size, repeats)
    log("matmul peak at start: " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in first.items()))

    (x_train, y_train), (x_test, _) = load_data()
    tensors = None
    if torch is not None:
        where = "cuda" if args.backend == "gpu" else "cpu"

        def as_float(images):
            return (torch.from_numpy(images).float().div_(255)).to(where)
        tensors = (as_float(x_train), torch.from_numpy(y_train.astype(np.int64)).to(where), as_float(x_test))

    def view(name, images):  # PyTorch's input shape for each model
        return images.reshape(len(images), 784) if name == "keras-mlp" else images.reshape(len(images), 1, 28, 28)

    training, models = {}, {}
    for name in ("keras-mlp", "cnn"):
        shaped = (view(name, tensors[0]), tensors[1], view(name, tensors[2])) if tensors is not None else None
        training[name], models[name] = train_benchmark(name, (x_train, y_train), x_test, shaped, args, first)
    inference = {}
    for name in ("keras-mlp", "cnn"):
        images = len(x_test) if name == "keras-mlp" or not args.quick else 2000
        x_t = view(name, tensors[2][:images]) if tensors is not None else None
        inference[name] = inference_benchmark(name, models[name], x_test[:images], x_t, args)

    last = matmul_peak(args.backend, size, repeats)
    log("matmul peak at end: " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in last.items()))
    peak = {k: max(first[k], last[k]) for k in first}
    for r in training.values():  # re-express the fractions against the best peak of the run
        r["digitlab"]["fraction_of_numpy_peak"] = r["digitlab"]["gflops"] / peak["numpy"]
        if "torch" in r:
            r["torch"]["fraction_of_torch_peak"] = r["torch"]["gflops"] / peak["torch"]
    results["peak_gflops"] = {**peak, "size": size, "repeats": repeats, "at_start": first, "at_end": last}
    results["training"], results["inference"] = training, inference
    if not args.skip_train_memory and args.backend == "cpu":
        results["train_memory"] = train_memory(args.quick)
    results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    results["targets"] = check_targets(results) if args.backend == "cpu" else []
    results["notes"] = NOTES
    results["seconds"] = time.perf_counter() - started

    log("\n== targets (issue 7)" + (" -- quick run, indicative only" if args.quick else ""))
    for row in results["targets"]:
        log(f"{row['status']}  {row['target']}: {row['measured']}")
    if busy_warning(results):
        log(f"warning: {busy_warning(results)}")
    for name, r in training.items():
        log(f"FLOPs, {name}: {r['flop_formula']} = {r['flops_per_epoch'] / 1e9:.1f} GFLOP an epoch")
    stem = ("speed-quick" if args.quick else "speed") + ("-gpu" if args.backend == "gpu" else "")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.md").write_text(markdown(results))
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    log(f"\nwrote {args.out / (stem + '.md')} and {stem}.json in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
