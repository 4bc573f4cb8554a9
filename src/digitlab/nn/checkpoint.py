"""Checkpoints: everything a stopped ``fit`` needs to go on as if it had never stopped.

One safetensors file holds the weights (and running statistics), the optimizer's state, and, as
JSON metadata, the optimizer's step count, where training stood (epoch, batch, the epoch's running
totals, the history so far) and the state of every random generator involved: the one that orders
and augments the batches and each Dropout layer's own. Written atomically, like every model file.
"""

import json

import numpy as np
from safetensors.numpy import save as tensors_to_bytes

from digitlab.errors import ModelFileError
from digitlab.files import atomic_write
from digitlab.nn.backend import to_device, to_numpy
from digitlab.nn.modelfile import read_model_file

FORMAT = "digitlab.checkpoint"


def save_checkpoint(path, model, metadata=None):
    """Write the model mid-``fit`` (its weights, optimizer and ``model.progress``) to ``path``."""
    tensors = {f"model/{name}": value for name, value in model.get_weights().items()}
    for slot, buffers in model.optimizer.state.items():
        for name, value in buffers.items():
            tensors[f"optimizer/{slot}/{name}"] = to_numpy(value)
    state = {
        "progress": model.progress,
        "step": model.step,
        "optimizer_iterations": model.optimizer.iterations,
        "fit_rng": model.fit_rng.bit_generator.state,
        "layer_rngs": {layer.name: layer.rng.bit_generator.state
                       for layer in model.layers if hasattr(layer, "rng")},
    }
    header = {"format": FORMAT, "checkpoint": json.dumps(state)}
    for key, value in (metadata or {}).items():
        header[key] = json.dumps(value)
    payload = tensors_to_bytes({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=header)
    atomic_write(path, payload)


def load_checkpoint(path, model):
    """Restore a compiled ``model`` from ``path``; returns (progress, fit_rng_state, metadata)
    to hand to ``fit(resume=progress)`` with a generator set to ``fit_rng_state``."""
    tensors, metadata = read_model_file(path, expected_format=FORMAT)
    try:
        state = metadata.pop("checkpoint")
        weights = {name[len("model/"):]: value for name, value in tensors.items() if name.startswith("model/")}
        expected = model.get_weights()
        for name, value in expected.items():
            if name not in weights or weights[name].shape != value.shape:
                raise ModelFileError(f"{path}: this checkpoint is for another model ({name} does not match)")
        model.set_weights(weights)
        for name, value in tensors.items():
            if name.startswith("optimizer/"):
                slot, buffer = name[len("optimizer/"):].rsplit("/", 1)
                model.optimizer.state.setdefault(slot, {})[buffer] = to_device(value.copy())
        model.optimizer.iterations = state["optimizer_iterations"]
        model.step = state["step"]
        for layer in model.layers:
            if hasattr(layer, "rng"):
                layer.rng.bit_generator.state = state["layer_rngs"][layer.name]
        return state["progress"], state["fit_rng"], metadata
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: not a usable digitlab checkpoint ({error})") from None
