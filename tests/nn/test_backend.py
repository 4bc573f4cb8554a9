"""The array seam: NumPy here, CuPy on a GPU. The GPU tests run only where a CUDA GPU and CuPy are."""

import json
import sys
import types

import numpy as np
import pytest

from digitlab.nn import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    PReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    load_model,
    losses,
    optimizers,
)
from digitlab.nn.accel import updates
from digitlab.nn.backend import as_float32, get_backend, set_backend, strided_view, to_device, to_numpy


def _has_gpu():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, or no driver: either way no GPU to test on
        return False


gpu = pytest.mark.skipif(not _has_gpu(), reason="needs CuPy and a CUDA GPU")


def test_uint8_images_become_float32_in_0_1_without_float64():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    converted = as_float32(pixels)
    assert converted.dtype == np.float32 and converted[0, 0] == 0 and converted[-1, -1] == 1
    np.testing.assert_allclose(converted, pixels / 255, atol=3e-8)


@pytest.mark.parametrize("images", [np.zeros((2, 4), np.int64), np.zeros((2, 4), bool), np.full((2, 4), "7")])
def test_images_that_are_neither_uint8_nor_floats_are_refused(images):
    with pytest.raises(TypeError, match="uint8 pixels .* or floats"):
        as_float32(images)


def test_a_strided_view_reads_the_arrays_memory_and_cannot_write_it():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    step = array.itemsize
    pairs = strided_view(array, (3, 3, 2), (4 * step, step, step))  # each row's neighbouring pairs
    np.testing.assert_array_equal(pairs[2, 1], [9, 10])
    assert np.shares_memory(pairs, array)
    with pytest.raises(ValueError, match="read-only"):
        pairs[0, 0, 0] = 1


def test_an_unknown_device_is_refused():
    with pytest.raises(ValueError, match="cpu"):
        set_backend("tpu")
    assert get_backend() == "cpu"


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU")
def test_asking_for_a_gpu_without_one_says_what_is_missing():
    with pytest.raises(RuntimeError, match="GPU|CuPy"):
        set_backend("gpu")
    assert get_backend() == "cpu"


def test_a_cuda_driver_cupy_cannot_use_is_reported_with_what_to_do(monkeypatch):
    def no_driver():
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    runtime = types.SimpleNamespace(getDeviceCount=no_driver)
    fake_cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime))
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    with pytest.raises(RuntimeError, match="cudaErrorInsufficientDriver.*--backend cpu"):
        set_backend("gpu")
    assert get_backend() == "cpu"


def test_train_on_a_missing_gpu_is_a_one_line_error(cli, tmp_path):
    if _has_gpu():
        pytest.skip("this machine has a GPU")
    result = cli("train", "--dry-run", "--backend", "gpu", "--out", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "CuPy" in result.stderr or "GPU" in result.stderr


def _small_cnn():
    return Sequential([Conv2D(4, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                       Dense(10, activation="softmax")], input_shape=(1, 8, 8))


@pytest.fixture
def on_device():
    """``on_device(device, function)``: ``function()`` with the engine on ``device``, NumPy results."""
    def run(device, function):
        set_backend(device)
        try:
            return _numpy_tree(function())
        finally:
            set_backend("cpu")
    return run


def _numpy_tree(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_numpy_tree(item) for item in value)
    if isinstance(value, dict):
        return {key: _numpy_tree(item) for key, item in value.items()}
    return value if isinstance(value, (int, float, str, type(None))) else to_numpy(value)


def _assert_same(gpu_result, cpu_result, tolerance=1e-4):
    if isinstance(cpu_result, (list, tuple)):
        for ours, theirs in zip(gpu_result, cpu_result, strict=True):
            _assert_same(ours, theirs, tolerance)
    elif isinstance(cpu_result, dict):
        assert gpu_result.keys() == cpu_result.keys()
        for key in cpu_result:
            _assert_same(gpu_result[key], cpu_result[key], tolerance)
    elif cpu_result is None:
        assert gpu_result is None
    else:
        assert isinstance(gpu_result, (np.ndarray, float, int)), type(gpu_result)
        assert np.shape(gpu_result) == np.shape(cpu_result)
        np.testing.assert_allclose(gpu_result, cpu_result, rtol=tolerance, atol=tolerance)


LAYER_CASES = [
    (lambda: Dense(7, activation="relu"), (5,)),
    (lambda: Conv2D(3, 3, padding="same"), (2, 7, 6)),
    (lambda: Conv2D(4, (3, 2), strides=2, padding="valid", use_bias=False), (3, 9, 8)),
    (lambda: MaxPool2D(2), (3, 8, 6)),
    (lambda: MaxPool2D(3, strides=2, padding="same"), (2, 7, 7)),
    (lambda: BatchNormalization(), (3, 4, 4)),
    (lambda: BatchNormalization(), (6,)),
    (lambda: Dropout(0.4), (12,)),
    (lambda: PReLU(per_channel=True), (3, 4, 4)),
    (lambda: ReLU(), (9,)),
    (lambda: Sigmoid(), (9,)),
    (lambda: Tanh(), (9,)),
    (lambda: Softmax(), (9,)),
    (lambda: Flatten(), (2, 3, 3)),
]


@gpu
@pytest.mark.parametrize("make, input_shape", LAYER_CASES)
def test_every_layer_gives_the_cpus_values_and_gradients_on_the_gpu(on_device, make, input_shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, *input_shape)).astype(np.float32)

    def forward_and_backward():
        layer = make()
        layer.build(input_shape, np.random.default_rng(4))
        layer.input_gradient = True
        y = layer.forward(to_device(x), training=True)
        dy = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
        dx = layer.backward(to_device(dy))
        return y, dx, dict(layer.grads)

    gpu_result = on_device("gpu", forward_and_backward)
    assert all(array.dtype == np.float32 for array in [gpu_result[0], gpu_result[1], *gpu_result[2].values()])
    _assert_same(gpu_result, on_device("cpu", forward_and_backward))


@gpu
@pytest.mark.parametrize("name", ["softmax_cross_entropy", "categorical_crossentropy", "mse", "binary_crossentropy"])
@pytest.mark.parametrize("one_hot", [False, True])
def test_every_loss_gives_the_cpus_value_and_gradient_on_the_gpu(on_device, name, one_hot):
    rng = np.random.default_rng(6)
    outputs = rng.uniform(0.05, 0.95, (8, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 8)
    targets = np.eye(10, dtype=np.float32)[labels] if one_hot else labels

    def value_and_gradient():
        loss = losses.get(name)
        return loss.forward(to_device(outputs), to_device(targets)), loss.backward()

    _assert_same(on_device("gpu", value_and_gradient), on_device("cpu", value_and_gradient))


@gpu
@pytest.mark.parametrize("optimizer", [lambda: optimizers.SGD(0.1), lambda: optimizers.SGD(0.1, momentum=0.9),
                                       lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
                                       lambda: optimizers.RMSprop(weight_decay=0.01), lambda: optimizers.Adam()])
def test_every_optimizer_takes_the_cpus_steps_on_the_gpu_small_and_large_parameters(on_device, optimizer):
    # Small and large (over SPLIT_PARAMETER_SIZE) parameters, with each optimizer's one-kernel update.
    sizes = {"small": (3, 4), "large": (updates.SPLIT_PARAMETER_SIZE // 64 + 1, 64)}

    def three_steps():
        rng = np.random.default_rng(7)
        layer = Dense(1)
        layer.name = "dense"
        layer.params = {key: to_device(rng.standard_normal(shape).astype(np.float32)) for key, shape in sizes.items()}
        layer.grads = {key: to_device(rng.standard_normal(shape).astype(np.float32)) for key, shape in sizes.items()}
        chosen = optimizer()
        for _ in range(3):
            chosen.step([layer])
        return dict(layer.params)

    _assert_same(on_device("gpu", three_steps), on_device("cpu", three_steps), tolerance=1e-5)


@gpu
@pytest.mark.parametrize("inputs", ["moved once", "moved a batch at a time", "already on the gpu"])
def test_the_same_training_on_the_gpu_matches_the_cpu(inputs):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (64, 1, 8, 8)).astype(np.uint8), rng.integers(0, 10, 64)
    # fit moves NumPy data to the GPU once, unless each batch is augmented on the way (on the CPU)
    augment = (lambda images, rng: images) if inputs == "moved a batch at a time" else None
    results = []
    for device in ("cpu", "gpu"):
        set_backend(device)
        try:
            model = _small_cnn().build(seed=1).compile("adam")
            moved = device == "gpu" and inputs == "already on the gpu"
            model.fit(to_device(x) if moved else x, to_device(y) if moved else y, epochs=2, batch_size=16, seed=2,
                      augment=augment)
            results.append(model.predict_proba(x))
        finally:
            set_backend("cpu")
    assert isinstance(results[1], np.ndarray)
    np.testing.assert_allclose(results[1], results[0], atol=1e-4)


@gpu
def test_a_model_trained_on_the_gpu_saves_and_loads_on_the_cpu(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (32, 1, 8, 8)).astype(np.uint8), rng.integers(0, 10, 32)
    set_backend("gpu")
    try:
        model = _small_cnn().build(seed=1).compile("adam")
        model.fit(x, y, epochs=1, batch_size=16, seed=2)
        on_gpu = model.predict_proba(x)
        model.save(tmp_path / "model.safetensors")
    finally:
        set_backend("cpu")
    loaded = load_model(tmp_path / "model.safetensors")
    assert all(isinstance(value, np.ndarray) for layer in loaded.layers for value in layer.params.values())
    np.testing.assert_allclose(loaded.predict_proba(x), on_gpu, atol=1e-5)


@gpu
def test_train_on_the_gpu_from_the_command_line(cli, tmp_path):
    result = cli("train", "--dry-run", "--backend", "gpu", "--recipe", "cnn", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout.lower()
    run_dir = next(tmp_path.iterdir())
    assert (run_dir / "model.safetensors").is_file() and (run_dir / "report.html").is_file()
    assert json.loads((run_dir / "config.json").read_text())["settings"]["backend"] == "gpu"
