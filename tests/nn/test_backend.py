"""The array seam: NumPy here, CuPy on a GPU. The GPU tests run only where a CUDA GPU and CuPy are."""

import numpy as np
import pytest

from digitlab.nn import Conv2D, Dense, Flatten, MaxPool2D, Sequential
from digitlab.nn.backend import as_float32, get_device, set_device, to_numpy


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


def test_an_unknown_device_is_refused():
    with pytest.raises(ValueError, match="cpu"):
        set_device("tpu")
    assert get_device() == "cpu"


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU")
def test_asking_for_a_gpu_without_one_says_what_is_missing():
    with pytest.raises(RuntimeError, match="GPU|CuPy"):
        set_device("gpu")
    assert get_device() == "cpu"


def test_train_on_a_missing_gpu_is_a_one_line_error(cli, tmp_path):
    if _has_gpu():
        pytest.skip("this machine has a GPU")
    result = cli("train", "--dry-run", "--device", "gpu", "--out", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "CuPy" in result.stderr or "GPU" in result.stderr


def _small_cnn():
    return Sequential([Conv2D(4, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                       Dense(10, activation="softmax")], input_shape=(1, 8, 8))


@gpu
def test_the_same_training_on_the_gpu_matches_the_cpu():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (64, 1, 8, 8)).astype(np.uint8), rng.integers(0, 10, 64)
    results = []
    for device in ("cpu", "gpu"):
        set_device(device)
        try:
            model = _small_cnn().build(seed=1).compile("adam")
            model.fit(x, y, epochs=2, batch_size=16, seed=2)
            results.append(model.predict_proba(x))
        finally:
            set_device("cpu")
    np.testing.assert_allclose(to_numpy(results[1]), results[0], atol=1e-4)
