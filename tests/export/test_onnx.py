"""ONNX export: onnxruntime's probabilities equal digitlab's for every layer and every recipe's model.

The whole 10,000-image check for the exported keras-mlp and cnn models is benchmarks/onnx_check.py
(its result in benchmarks/results/onnx.md); here slices of the test set keep the suite fast.
"""

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from digitlab.data import load_data  # noqa: E402
from digitlab.errors import ExportError  # noqa: E402
from digitlab.export import TOLERANCE, export_checked, export_onnx, onnx_graph, verify_onnx  # noqa: E402
from digitlab.nn import (  # noqa: E402
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2D,
    PReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from digitlab.recipes import get_recipe  # noqa: E402


@pytest.fixture(scope="module")
def mnist():
    return load_data()


def _settle_batch_norm(model, images):
    """Running statistics as a long training leaves them: one training-mode pass with momentum 0."""
    layers = [layer for layer in model.layers if isinstance(layer, BatchNormalization)]
    saved = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    if layers:
        model.forward(model.inputs(images), training=True)
    for layer, momentum in zip(layers, saved, strict=True):
        layer.momentum = momentum
    return model


def _trained(recipe_name, mnist, steps=3):
    """The recipe's model after a few training steps on a small slice: weights that are not the init's."""
    (x_train, y_train), _ = mnist
    model = get_recipe(recipe_name).make_model(seed=0)
    model.fit(x_train[:400], y_train[:400], batch_size=64, max_steps=steps, seed=0)
    return _settle_batch_norm(model, x_train[:256])


@pytest.mark.parametrize("recipe_name, count", [("keras-mlp", 2000), ("cnn", 500), ("best", 500)])
def test_recipe_models_match_onnxruntime(recipe_name, count, mnist, tmp_path):
    model = _trained(recipe_name, mnist)
    path = export_onnx(model, tmp_path / f"{recipe_name}.onnx")
    _, (x_test, _) = mnist
    assert verify_onnx(model, path, x_test[:count]) <= TOLERANCE


def _randomised(model, seed=1):
    """Every weight drawn at random (variances positive), so no layer can pass by doing nothing."""
    model.build(seed=seed)
    rng = np.random.default_rng(seed)
    weights = {}
    for name, value in model.get_weights().items():
        if name.endswith("moving_variance"):
            weights[name] = rng.uniform(0.3, 2.0, value.shape).astype(np.float32)
        elif name.endswith("alpha"):
            weights[name] = rng.uniform(-0.5, 0.8, value.shape).astype(np.float32)
        else:
            scale = 0.5 if name.endswith(("gamma", "beta", "moving_mean", "bias")) else float(np.std(value)) * 1.5
            weights[name] = (rng.normal(0, scale, value.shape) + (name.endswith("gamma"))).astype(np.float32)
    model.set_weights(weights)
    return model


SMALL_MODELS = {
    "sigmoid-tanh-prelu-mlp": lambda: Sequential([
        Dense(64), Sigmoid(), Dense(32, activation="tanh"), Dense(16), PReLU(),
        Dense(10, activation="softmax")], input_shape=(784,)),
    "per-feature-prelu-and-batch-norm-mlp": lambda: Sequential([
        Dense(48, use_bias=False), BatchNormalization(), PReLU(per_channel=True), Dropout(0.4),
        Dense(10), Softmax()], input_shape=(784,)),
    "stride-2-same-conv-asymmetric-pads": lambda: Sequential([
        # 28 -> 14 with a 5x5 kernel: 3 padded rows, 1 before and 2 after
        Conv2D(6, 5, strides=2, padding="same"), PReLU(per_channel=True),
        MaxPool2D(3, strides=2, padding="same"),   # 14 -> 7, asymmetric -inf padding
        Conv2D(8, 3, padding="same", use_bias=False), BatchNormalization(), Tanh(),
        MaxPool2D(2, padding="same"),              # 7 -> 4, odd size
        Flatten(), Dense(10, activation="softmax")], input_shape=(1, 28, 28)),
    "valid-conv-stride-2-and-plain-pool": lambda: Sequential([
        Conv2D(4, 3, strides=2, activation="relu"),           # 28 -> 13
        Conv2D(5, (2, 4), padding="valid", activation="sigmoid"),  # non-square kernel: 13 -> 12 x 10
        MaxPool2D(2), PReLU(), Flatten(), Dense(10)], input_shape=(1, 28, 28)),  # linear outputs
}


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_every_layer_kind_matches_onnxruntime(name, mnist, tmp_path):
    model = _randomised(SMALL_MODELS[name]())
    path = export_onnx(model, tmp_path / "small.onnx")
    _, (x_test, _) = mnist
    noise = np.random.default_rng(0).uniform(0, 1, (50, 28, 28)).astype(np.float32)
    assert verify_onnx(model, path, x_test[:300]) <= TOLERANCE
    assert verify_onnx(model, path, noise) <= TOLERANCE


def test_the_file_declares_opset_ir_version_and_a_dynamic_batch(mnist, tmp_path):
    model = _trained("keras-mlp", mnist, steps=1)
    path = export_onnx(model, tmp_path / "mlp.onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version == 8
    assert [(opset.domain, opset.version) for opset in proto.opset_import] == [("", 17)]
    (image_input,), (output,) = proto.graph.input, proto.graph.output
    assert image_input.name == "images" and output.name == "probabilities"
    dims = image_input.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [784]
    assert image_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _, (x_test, _) = mnist
    for batch in (1, 7):
        x = (x_test[:batch].reshape(batch, 784) / np.float32(255)).astype(np.float32)
        (probabilities,) = session.run(None, {"images": x})
        assert probabilities.shape == (batch, 10)
        np.testing.assert_allclose(probabilities, model.predict_proba(x), atol=TOLERANCE)


def test_another_opset_is_written_as_asked(mnist, tmp_path):
    model = _trained("keras-mlp", mnist, steps=1)
    proto = onnx_graph(model, opset=13)
    assert proto.opset_import[0].version == 13 and proto.ir_version >= 7
    with pytest.raises(ExportError, match="opset 12"):
        onnx_graph(model, opset=12)


def test_an_unsupported_layer_is_named_in_the_error():
    class Doubler(Layer):
        def forward(self, x, training=False):
            return 2 * x

    model = Sequential([Dense(10), Doubler(name="twice")], input_shape=(784,)).build(seed=0)
    with pytest.raises(ExportError, match="twice.*Doubler.*supported: Dense"):
        onnx_graph(model)


def test_an_unbuilt_model_is_refused():
    with pytest.raises(ExportError, match="not built"):
        onnx_graph(Sequential([Dense(10)], input_shape=(784,)))


def test_the_file_is_written_atomically_and_replaced_whole(mnist, tmp_path):
    model = _trained("keras-mlp", mnist, steps=1)
    path = tmp_path / "model.onnx"
    path.write_bytes(b"an older file")
    export_onnx(model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left behind
    assert onnx.load(str(path)).graph.output[0].name == "probabilities"


def test_without_the_onnx_package_the_error_says_what_to_install(monkeypatch, mnist):
    model = _trained("keras-mlp", mnist, steps=1)
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ExportError, match=r"install digitlab\[onnx\]"):
        onnx_graph(model)


def test_verify_refuses_a_file_that_is_not_onnx(mnist, tmp_path):
    model = _trained("keras-mlp", mnist, steps=1)
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"not a protobuf at all")
    with pytest.raises(ExportError, match="onnxruntime cannot load it"):
        verify_onnx(model, path, mnist[1][0][:10])


# ----------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def saved_mlp(tmp_path_factory):
    model = _trained("keras-mlp", load_data(), steps=2)
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    model.save(path)
    return path


def test_cli_exports_and_checks_on_the_whole_test_set(cli, saved_mlp, tmp_path):
    out = tmp_path / "out" / "mlp.onnx"
    result = cli("export", saved_mlp, "--onnx", out)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    line = next(line for line in result.stdout.splitlines() if "max probability difference" in line)
    assert "10,000 test images" in line
    assert float(line.split("difference ")[1].split()[0]) <= TOLERANCE
    assert onnx.load(str(out)).graph.input[0].name == "images"


def test_cli_no_check_only_writes(cli, saved_mlp, tmp_path):
    result = cli("export", saved_mlp, "--onnx", tmp_path / "m.onnx", "--no-check")
    assert result.returncode == 0, result.stderr
    assert "difference" not in result.stdout and (tmp_path / "m.onnx").is_file()


def test_cli_refuses_a_file_that_is_not_a_digitlab_model(cli, tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"\x00" * 64)
    result = cli("export", fake, "--onnx", tmp_path / "m.onnx")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "digitlab model" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


def test_cli_refuses_a_model_the_check_cannot_feed_and_keeps_the_old_file(cli, tmp_path):
    five = tmp_path / "five.safetensors"
    Sequential([Dense(5, activation="softmax")], input_shape=(784,)).build(seed=0).save(five)
    out = tmp_path / "m.onnx"
    out.write_bytes(b"the previous export")
    result = cli("export", five, "--onnx", out)
    assert result.returncode == 1
    assert "ten digits" in result.stderr and "Traceback" not in result.stderr
    assert out.read_bytes() == b"the previous export"


def test_a_file_that_fails_the_check_is_never_written(mnist, tmp_path, monkeypatch):
    import digitlab.export.onnx as onnx_export

    model = Sequential([Dense(10, activation="softmax")], input_shape=(784,)).build(seed=0)
    out = tmp_path / "m.onnx"
    monkeypatch.setattr(onnx_export, "verify_onnx", lambda model, payload, images: float("nan"))
    with pytest.raises(ExportError, match="not written"):
        export_checked(model, out, mnist[1][0][:10])
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_export_checked_writes_the_file_it_checked(mnist, tmp_path):
    model = Sequential([Dense(10, activation="softmax")], input_shape=(784,)).build(seed=0)
    difference = export_checked(model, tmp_path / "m.onnx", mnist[1][0][:200])
    assert difference <= TOLERANCE
    assert verify_onnx(model, tmp_path / "m.onnx", mnist[1][0][:200]) == difference


def test_cli_without_the_onnx_extra_says_what_to_install(cli, saved_mlp, tmp_path):
    shadow = tmp_path / "shadow" / "onnx"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named onnx')\n")
    result = cli("export", saved_mlp, "--onnx", tmp_path / "m.onnx", env={"PYTHONPATH": str(shadow.parent)})
    assert result.returncode == 1
    assert "install digitlab[onnx]" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "m.onnx").exists()
