"""Model files: save and load predict bit for bit the same, writes are atomic, and every file that is
not exactly a digitlab model is refused with a ModelFileError naming it."""

import json
import os

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from digitlab.errors import DigitlabError, ModelFileError
from digitlab.nn import Adam, Conv2D, Dense, Dropout, Flatten, MaxPool2D, PReLU, Sequential, load_model
from digitlab.nn.modelfile import read_model_file
from digitlab.nn.serialization import save_model


def mlp():
    return Sequential([Dense(16, activation="relu"), Dense(4, activation="softmax")], input_shape=(10,))


def cnn():
    return Sequential([Conv2D(3, 3, padding="same", activation="relu"), PReLU(), MaxPool2D(), Flatten(),
                       Dropout(0.3), Dense(8), PReLU(per_channel=True), Dense(3, activation="softmax")],
                      input_shape=(1, 8, 8))


def trained(model, x, classes, seed=0):
    y = np.random.default_rng(seed).integers(0, classes, len(x))
    model.compile(Adam(0.01), "categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=8, seed=seed)
    return model


def randomised(model, seed=0):
    """Every parameter (biases and slopes too) set to random values."""
    rng = np.random.default_rng(seed)
    model.set_weights({key: rng.standard_normal(value.shape).astype(np.float32)
                       for key, value in model.get_weights().items()})
    return model


def inputs(shape, n=20, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def assert_same_model(loaded, model, x):
    assert loaded.get_config() == model.get_config()
    original, restored = model.get_weights(), loaded.get_weights()
    assert original.keys() == restored.keys()
    for key in original:
        assert restored[key].dtype == np.float32
        np.testing.assert_array_equal(restored[key], original[key])
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.fixture
def saved(tmp_path):
    """A saved (trained) MLP: (path, model)."""
    model = trained(mlp(), inputs((10,)), 4)
    path = tmp_path / "model.safetensors"
    model.save(path)
    return path, model


def rewrite(path, tensors=None, metadata=None, **changes):
    """Write ``path`` again with its tensors and metadata changed."""
    with safe_open(str(path), framework="np") as file:
        header = dict(file.metadata())
    weights = load_file(str(path))
    if tensors is not None:
        weights = tensors(weights)
    if metadata is not None:
        header = metadata(header)
    save_file(weights, str(path), metadata=header)


# ============================================================================ round trips


def test_mlp_save_load_predicts_bit_for_bit_the_same(saved):
    path, model = saved
    assert_same_model(load_model(path), model, inputs((10,)))


def test_cnn_with_dropout_and_prelu_round_trips(tmp_path):
    x = inputs((1, 8, 8))
    model = trained(cnn(), x, 3)
    path = tmp_path / "cnn.safetensors"
    model.save(path)
    assert_same_model(load_model(path), model, x)


def test_every_layer_kind_round_trips_with_random_parameters(tmp_path):
    model = Sequential([Conv2D(4, (3, 2), strides=2, padding="same", use_bias=False), PReLU(per_channel=True),
                        Conv2D(3, 2, activation="tanh"), MaxPool2D(2, 1, "same"), Flatten(), Dropout(0.5),
                        Dense(6, activation="sigmoid"), PReLU(alpha_init=0.1), Dense(3, activation="softmax")],
                       input_shape=(2, 9, 7)).build(seed=0)
    randomised(model)
    path = tmp_path / "every.safetensors"
    model.save(path)
    assert_same_model(load_model(path), model, inputs((2, 9, 7)))


def test_metadata_round_trips(tmp_path):
    metadata = {"recipe": {"name": "lenet", "learning_rate": 0.001, "layers": [1, 2, 3]},
                "test_accuracy": 0.9871, "epochs": 12, "note": "héllo ✓", "trained": True, "nothing": None}
    path = tmp_path / "m.safetensors"
    mlp().build(seed=0).save(path, metadata=metadata)
    loaded = load_model(path)
    assert loaded.metadata == metadata
    tensors, decoded = read_model_file(path)
    assert decoded["model"] == loaded.get_config()
    assert set(tensors) == set(loaded.get_weights())


def test_a_model_saved_without_metadata_has_empty_metadata(saved):
    path, _ = saved
    assert load_model(path).metadata == {}


def test_metadata_cannot_clobber_the_architecture(tmp_path):
    """A metadata key named like a reserved header key must be refused, or must not break the file."""
    model = mlp().build(seed=0)
    x = inputs((10,))
    for key in ("model", "format", "format_version"):
        path = tmp_path / f"{key}.safetensors"
        try:
            model.save(path, metadata={key: "oops"})
        except ValueError:
            continue
        assert_same_model(load_model(path), model, x)


def test_save_model_function_and_string_paths(tmp_path):
    model = mlp().build(seed=0)
    path = tmp_path / "deep" / "er" / "model.safetensors"
    save_model(model, str(path))
    assert_same_model(load_model(str(path)), model, inputs((10,)))


# ============================================================================ atomic writes


def test_save_leaves_no_temporary_file(tmp_path):
    mlp().build(seed=0).save(tmp_path / "model.safetensors")
    assert [path.name for path in tmp_path.iterdir()] == ["model.safetensors"]


def test_save_replaces_an_existing_file_whole(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\xff" * 1_000_000)
    model = mlp().build(seed=0)
    model.save(path)
    model.save(tmp_path / "fresh.safetensors")
    # (Not byte-equal: safetensors writes the metadata keys in a hash map's order.)
    assert path.stat().st_size == (tmp_path / "fresh.safetensors").stat().st_size < 1_000_000
    assert_same_model(load_model(path), model, inputs((10,)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.safetensors", "model.safetensors"]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    old = mlp().build(seed=0)
    old.save(path)
    before = path.read_bytes()

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        mlp().build(seed=1).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


# ============================================================================ refusals


def assert_refused(path, match=None):
    with pytest.raises(ModelFileError) as error:
        load_model(path)
    message = str(error.value)
    assert str(path) in message, f"the message does not name the file: {message}"
    if match:
        assert match in message, message
    assert isinstance(error.value, DigitlabError)
    return message


def test_refuses_a_missing_file(tmp_path):
    assert_refused(tmp_path / "nothing.safetensors", "no such model file")


def test_refuses_a_folder(tmp_path):
    assert_refused(tmp_path)


def test_refuses_an_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    assert_refused(path, "not a digitlab model file")


def test_refuses_a_short_file(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(b"\x02\x00\x00")
    assert_refused(path, "not a digitlab model file")


def test_refuses_a_text_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("This is a text file, not a model.\n" * 20)
    assert_refused(path, "not a digitlab model file")


@pytest.mark.parametrize("seed", range(3))
def test_refuses_random_bytes(tmp_path, seed):
    path = tmp_path / "random.safetensors"
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    assert_refused(path, "not a digitlab model file")


def test_refuses_random_bytes_behind_a_plausible_header_size(tmp_path):
    path = tmp_path / "random.safetensors"
    path.write_bytes((100).to_bytes(8, "little") + np.random.default_rng(0).bytes(200))
    assert_refused(path, "not a digitlab model file")


@pytest.mark.parametrize("header", [b"[1, 2, 3]", b'"a string"', b"{not json}", b'{"a": 1}'])
def test_refuses_a_header_that_is_not_a_safetensors_header(tmp_path, header):
    path = tmp_path / "odd.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    assert_refused(path, "not a digitlab model file")


def test_refuses_a_safetensors_file_without_digitlab_metadata(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": np.zeros((3, 3), np.float32)}, str(path))
    assert_refused(path, "without digitlab's model description")
    save_file({"weight": np.zeros((3, 3), np.float32)}, str(path), metadata={"format": "pt"})
    assert_refused(path, "without digitlab's model description")


@pytest.mark.parametrize("size", [2**62, 2**64 - 1, 10_000_000], ids=["huge", "max", "beyond_file"])
def test_refuses_a_huge_header_size(saved, size):
    path, _ = saved
    data = bytearray(path.read_bytes())
    data[:8] = size.to_bytes(8, "little")
    path.write_bytes(bytes(data))
    assert_refused(path, "header claims")


def test_refuses_a_truncated_file(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    assert_refused(path, "not a digitlab model file")


def test_refuses_a_missing_tensor(saved):
    path, _ = saved
    rewrite(path, tensors=lambda weights: {k: v for k, v in weights.items() if k != "dense_1.bias"})
    assert_refused(path, "tensor dense_1.bias is missing")


def test_refuses_an_extra_tensor(saved):
    path, _ = saved
    rewrite(path, tensors=lambda weights: {**weights, "dense_9.kernel": np.zeros((2, 2), np.float32)})
    assert_refused(path, "unexpected ['dense_9.kernel']")


def test_refuses_a_tensor_of_the_wrong_shape(saved):
    path, _ = saved
    rewrite(path, tensors=lambda weights: {**weights, "dense_0.kernel": np.zeros((10, 15), np.float32)})
    assert_refused(path, "dense_0.kernel")


def test_refuses_a_tensor_of_the_wrong_dtype(saved):
    path, _ = saved
    rewrite(path, tensors=lambda weights: {**weights, "dense_0.bias": weights["dense_0.bias"].astype(np.float64)})
    assert_refused(path, "is F64")


def test_refuses_model_metadata_that_is_not_json(saved):
    path, _ = saved
    rewrite(path, metadata=lambda header: {**header, "model": "{'layers': oops"})
    assert_refused(path, "not valid JSON")


def test_refuses_other_metadata_that_is_not_json(saved):
    path, _ = saved
    rewrite(path, metadata=lambda header: {**header, "recipe": "{unquoted: 1}"})
    assert_refused(path, "not valid JSON")


def test_refuses_metadata_without_an_architecture(saved):
    path, _ = saved
    rewrite(path, metadata=lambda header: {k: v for k, v in header.items() if k != "model"})
    assert_refused(path, "architecture")


def architecture(change):
    def edit(header):
        config = json.loads(header["model"])
        change(config)
        return {**header, "model": json.dumps(config)}
    return edit


def test_refuses_an_unknown_layer_class(saved):
    path, _ = saved

    def change(config):
        config["layers"][0]["class"] = "EvilLayer"

    rewrite(path, metadata=architecture(change))
    assert "EvilLayer" in assert_refused(path, "architecture cannot be built")


@pytest.mark.parametrize("name, change", [
    ("bad_argument", lambda c: c["layers"][0]["config"].update(units="many")),
    ("unknown_argument", lambda c: c["layers"][0]["config"].update(evil=True)),
    ("config_not_a_dict", lambda c: c["layers"][0].update(config=[1, 2])),
    ("no_input_shape", lambda c: c.update(input_shape=None)),
    ("no_layers", lambda c: c.pop("layers")),
    ("layer_spec_not_a_dict", lambda c: c["layers"].__setitem__(0, "Dense")),
    ("layers_not_a_list", lambda c: c.update(layers=7)),
])
def test_refuses_a_malformed_architecture(saved, name, change):
    path, _ = saved
    rewrite(path, metadata=architecture(change))
    assert_refused(path)


@pytest.mark.parametrize("model_json", ["[1, 2]", "42", '"text"', "null"])
def test_refuses_an_architecture_that_is_not_an_object(saved, model_json):
    path, _ = saved
    rewrite(path, metadata=lambda header: {**header, "model": model_json})
    assert_refused(path)


def test_batch_normalization_running_statistics_are_saved(tmp_path):
    from digitlab.nn import BatchNormalization, Conv2D, Dense, Flatten, Sequential, load_model

    rng = np.random.default_rng(5)
    model = Sequential([Conv2D(4, 3), BatchNormalization(), Flatten(), Dense(3, activation="softmax")],
                       input_shape=(1, 6, 6)).build(seed=0).compile("adam")
    x, y = rng.random((16, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, 16)
    model.fit(x, y, epochs=2, batch_size=8, seed=0)
    model.save(tmp_path / "bn.safetensors")
    reloaded = load_model(tmp_path / "bn.safetensors")
    assert not np.allclose(reloaded.layers[1].buffers["moving_mean"], 0)
    np.testing.assert_array_equal(reloaded.predict_proba(x), model.predict_proba(x))


# ============================================================================ crafted headers


def craft(path, header, data):
    """A safetensors-shaped file with exactly this header and these data bytes."""
    import json
    import struct

    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


def digitlab_header(saved_path):
    import json
    import struct

    raw = saved_path.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + size]), raw[8 + size:]


def test_refuses_offsets_past_the_end_of_the_file(saved):
    path, _ = saved
    header, data = digitlab_header(path)
    name = next(k for k in header if k != "__metadata__")
    begin, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [begin + len(data), end + len(data)]
    assert_refused(craft(path, header, data), "outside the file")


def test_refuses_overlapping_tensors(saved):
    path, _ = saved
    header, data = digitlab_header(path)
    names = [k for k in header if k != "__metadata__" and header[k]["shape"] == header[k]["shape"]]
    small = min(names, key=lambda k: header[k]["data_offsets"][1] - header[k]["data_offsets"][0])
    other = next(k for k in names if k != small)
    size = header[small]["data_offsets"][1] - header[small]["data_offsets"][0]
    start = header[other]["data_offsets"][0]
    header[small]["data_offsets"] = [start, start + size]  # inside another tensor's bytes
    assert_refused(craft(path, header, data), "overlap")


def test_refuses_an_architecture_that_would_allocate_without_limit(saved):
    """A config asking for a gigantic layer is refused before any array is made."""
    import json

    path, _ = saved
    header, data = digitlab_header(path)
    model = json.loads(header["__metadata__"]["model"])
    model["layers"][0]["config"]["units"] = 10**9
    header["__metadata__"]["model"] = json.dumps(model)
    assert_refused(craft(path, header, data), "dense_0.kernel")


def test_refuses_a_file_whose_tensor_bytes_do_not_fit_its_shape(saved):
    path, _ = saved
    header, data = digitlab_header(path)
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [1, 1]
    assert_refused(craft(path, header, data), "do not fit shape")


def test_saving_an_unbuilt_model_or_onto_a_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not built yet"):
        Sequential([Dense(3)], input_shape=(4,)).save(tmp_path / "model.safetensors")
    built = Sequential([Dense(3)], input_shape=(4,)).build(seed=0)
    with pytest.raises(ValueError, match="is a folder: give the model file's name"):
        built.save(tmp_path)
    assert list(tmp_path.iterdir()) == []
