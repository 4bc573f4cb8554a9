"""A digitlab Sequential model as an ONNX graph, built node by node with onnx's helper API.

One input, ``images``: float32 (batch, *model.input_shape) with pixels in [0, 1] (as
``model.predict_proba`` sees them after scaling uint8 by 1/255), the batch dimension dynamic. One
output, ``probabilities``: what ``predict_proba`` returns. Each layer becomes one node:

    Dense               Gemm (x @ kernel + bias; kernel stays (in, units))
    Conv2D              Conv, kernel (F, C, kh, kw), explicit pads as digitlab pads ('same' may be
                        asymmetric: one more row/column after than before, as in TensorFlow)
    MaxPool2D           MaxPool, explicit pads: ONNX ignores padded positions, digitlab pads -inf,
                        the same maximum either way
    Flatten             Flatten(axis=1): NCHW flattened in C order, as digitlab does
    Dropout             nothing: inference only
    ReLU, Sigmoid, Tanh Relu, Sigmoid, Tanh
    Softmax             Softmax(axis=-1)
    PReLU               PRelu; the slope keeps its shape, (1,), (C,) or (C, 1, 1), which broadcasts
                        against (N, C) or (N, C, H, W) as ONNX requires
    BatchNormalization  BatchNormalization in inference mode: running mean and variance, epsilon

Any other layer is an ExportError. The opset and IR version are set explicitly (17 and 8 by
default), so the file loads in any onnxruntime from 1.13 on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from digitlab.errors import ExportError
from digitlab.files import atomic_write
from digitlab.nn.backend import as_float32, to_numpy

OPSET = 17          # the ai.onnx operator set the graph is written for
IR_VERSION = 8      # the file format version that goes with opset 17
MIN_OPSET = 13      # Softmax over one axis (not the flattened trailing axes) needs 13
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"
TOLERANCE = 1e-5    # onnxruntime's probabilities must equal digitlab's within this
_INSTALL = "install digitlab[onnx]: pip install 'digitlab[onnx]'"


def ensure_installed(runtime: bool = True) -> None:
    """Raise ExportError, saying what to install, unless onnx (and onnxruntime) can be imported."""
    _import("onnx")
    if runtime:
        _import("onnxruntime")


def export_onnx(model, path, opset: int = OPSET):
    """Write ``model`` to ``path`` as an ONNX file (atomically), checked by onnx's checker.

    Returns the path. Raises ExportError for a layer ONNX export does not cover, a model that is
    not built, or when the onnx package is missing.
    """
    proto = onnx_graph(model, opset)
    path = Path(path)
    atomic_write(path, proto.SerializeToString())
    return path


def export_checked(model, path, images, opset: int = OPSET) -> float:
    """Write ``model`` to ``path`` as ``export_onnx`` does, once onnxruntime, running the file,
    gives digitlab's probabilities on ``images`` within TOLERANCE. The file is checked before it is
    written: one that fails leaves ``path`` as it was. Returns the largest difference; ExportError
    when it is over the tolerance or not a number."""
    payload = onnx_graph(model, opset).SerializeToString()
    difference = verify_onnx(model, payload, images)
    if not difference <= TOLERANCE:  # NaN fails too
        raise ExportError(f"onnxruntime's probabilities differ from digitlab's by up to {difference:.2e} "
                          f"(tolerance {TOLERANCE:.0e}), so {path} was not written; please report this")
    atomic_write(Path(path), payload)
    return difference


def onnx_graph(model, opset: int = OPSET):
    """The model as an ``onnx.ModelProto``, checked (``onnx.checker.check_model``, full check)."""
    onnx = _import("onnx")
    from onnx import helper

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ExportError(f"opset {opset} is not supported: choose {MIN_OPSET} to {newest} (default {OPSET})")
    if not model.built or model.input_shape is None:
        raise ExportError("the model is not built: train it, load it, or call model.build(input_shape) first")
    graph = _Graph(model)
    shape = tuple(model.input_shape)
    tensor = INPUT_NAME
    for layer in model.layers:
        tensor, shape = graph.add(layer, tensor, shape)
        activation = getattr(layer, "activation", None)  # only if a layer was not added through Sequential.add
        if activation is not None:
            tensor, shape = graph.add(activation, tensor, shape)
    graph.finish(tensor)
    inputs = [helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, ["batch", *model.input_shape])]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, onnx.TensorProto.FLOAT, ["batch", *shape])]
    body = helper.make_graph(graph.nodes, "digitlab", inputs, outputs, initializer=graph.initializers)
    ir_version = max(IR_VERSION, helper.find_min_ir_version_for([helper.make_opsetid("", opset)]))
    proto = helper.make_model(body, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version,
                              producer_name="digitlab", producer_version=_version(),
                              doc_string="A digitlab Sequential model: images in [0, 1] -> probabilities")
    helper.set_model_props(proto, {"digitlab.model": json.dumps(model.get_config())})
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as error:  # a graph the checker refuses is digitlab's bug; say so plainly
        raise ExportError(f"the exported graph fails onnx's checker ({error}); please report this") from None
    return proto


def verify_onnx(model, onnx_file, images, batch_size: int = 1000) -> float:
    """The largest |onnxruntime's - digitlab's| probability over ``images``.

    ``onnx_file`` is the file's path or its bytes. ``images`` as ``predict_proba`` takes them: uint8
    pixels (scaled by 1/255) or float32 in [0, 1], any shape with the model's number of values per
    image, e.g. (N, 28, 28).
    """
    ort = _import("onnxruntime")
    source = onnx_file if isinstance(onnx_file, bytes) else str(onnx_file)
    try:
        session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types
        name = "the exported graph" if isinstance(onnx_file, bytes) else onnx_file
        raise ExportError(f"{name}: onnxruntime cannot load it ({error})") from None
    x = as_float32(np.asarray(images))
    x = x.reshape(len(x), *model.input_shape)
    expected = model.predict_proba(x, batch_size)
    got = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: x[start:start + batch_size]})[0]
                          for start in range(0, len(x), batch_size)])
    return float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64)), initial=0.0))


class _Graph:
    """The nodes and weights of the graph being built, with unique tensor names."""

    def __init__(self, model):
        from onnx import numpy_helper

        self.numpy_helper = numpy_helper
        self.nodes, self.initializers, self.names = [], [], {INPUT_NAME, OUTPUT_NAME}

    def unique(self, name):
        candidate, count = name, 1
        while candidate in self.names:
            candidate, count = f"{name}_{count}", count + 1
        self.names.add(candidate)
        return candidate

    def weight(self, layer, key, array=None):
        """A float32 initializer named after the layer's saved tensor ("dense_0.kernel")."""
        value = layer.params.get(key, layer.buffers.get(key)) if array is None else array
        name = self.unique(f"{layer.name}.{key}")
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(to_numpy(value), np.float32), name))
        return name

    def node(self, op, inputs, layer, **attributes):
        from onnx import helper

        output = self.unique(layer.name or type(layer).__name__.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=self.unique(f"{output}/{op}"), **attributes))
        return output

    def add(self, layer, tensor, shape):
        """The node(s) for one layer on ``tensor`` of per-image ``shape``: (new tensor, new shape)."""
        emit = _EMITTERS.get(type(layer).__name__)
        if emit is None:
            supported = ", ".join(_EMITTERS)
            raise ExportError(f"layer {layer.name or layer!r} ({type(layer).__name__}) has no ONNX export; "
                              f"supported: {supported}")
        return emit(self, layer, tensor, tuple(shape)), tuple(layer.output_shape(shape))

    def finish(self, tensor):
        """Name the last node's output ``probabilities`` (an Identity if there is no node at all)."""
        from onnx import helper

        if not self.nodes:
            self.nodes.append(helper.make_node("Identity", [tensor], [OUTPUT_NAME], name="output"))
        else:
            last = self.nodes[-1]
            last.output[0] = OUTPUT_NAME


def _dense(graph, layer, x, shape):
    inputs = [x, graph.weight(layer, "kernel")] + ([graph.weight(layer, "bias")] if layer.use_bias else [])
    return graph.node("Gemm", inputs, layer)


def _conv(graph, layer, x, shape):
    _, height, width = shape
    (top, bottom), (left, right) = layer._pads(height, width)  # exactly digitlab's own padding
    inputs = [x, graph.weight(layer, "kernel")] + ([graph.weight(layer, "bias")] if layer.use_bias else [])
    return graph.node("Conv", inputs, layer, kernel_shape=list(layer.kernel_size), strides=[layer.strides] * 2,
                      pads=[top, left, bottom, right], dilations=[1, 1], group=1)


def _maxpool(graph, layer, x, shape):
    _, height, width = shape
    (top, bottom), (left, right) = layer._pads(height, width)
    return graph.node("MaxPool", [x], layer, kernel_shape=[layer.pool_size] * 2, strides=[layer.strides] * 2,
                      pads=[top, left, bottom, right], ceil_mode=0)


def _flatten(graph, layer, x, shape):
    return graph.node("Flatten", [x], layer, axis=1)


def _identity(graph, layer, x, shape):
    return x  # Dropout does nothing at inference


def _simple(op, **attributes):
    return lambda graph, layer, x, shape: graph.node(op, [x], layer, **attributes)


def _prelu(graph, layer, x, shape):
    return graph.node("PRelu", [x, graph.weight(layer, "alpha")], layer)


def _batchnorm(graph, layer, x, shape):
    inputs = [x] + [graph.weight(layer, key) for key in ("gamma", "beta", "moving_mean", "moving_variance")]
    return graph.node("BatchNormalization", inputs, layer, epsilon=float(layer.epsilon))


_EMITTERS = {
    "Dense": _dense,
    "Conv2D": _conv,
    "MaxPool2D": _maxpool,
    "Flatten": _flatten,
    "Dropout": _identity,
    "ReLU": _simple("Relu"),
    "Sigmoid": _simple("Sigmoid"),
    "Tanh": _simple("Tanh"),
    "Softmax": _simple("Softmax", axis=-1),
    "PReLU": _prelu,
    "BatchNormalization": _batchnorm,
}


def _import(module):
    try:
        return __import__(module)
    except ImportError:
        raise ExportError(f"ONNX export needs the {module} package: {_INSTALL}") from None


def _version():
    try:
        from importlib.metadata import version

        return version("digitlab")
    except Exception:
        return "unknown"
