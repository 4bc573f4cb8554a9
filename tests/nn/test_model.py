"""Sequential: overfit a tiny batch, repeat a run from its seed, and Keras' compile / fit /
evaluate / predict / summary."""

import json

import numpy as np
import pytest

from digitlab.nn import (
    SGD,
    Adam,
    Callback,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    History,
    Layer,
    MaxPool2D,
    PReLU,
    ReLU,
    Sequential,
    Softmax,
    SoftmaxCrossEntropy,
)
from digitlab.nn.losses import CategoricalCrossEntropy


def blobs(seed=0, n=32, features=10, classes=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, n)


def mlp(features=10, classes=4, hidden=32, dropout=None):
    layers = [Dense(hidden, activation="relu")]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(classes, activation="softmax"))
    return Sequential(layers, input_shape=(features,))


def small_cnn(classes=3):
    return Sequential([Conv2D(4, 3, activation="relu"), MaxPool2D(), Flatten(),
                       Dense(classes, activation="softmax")], input_shape=(1, 8, 8))


class Recorder(Callback):
    """Counts batches per epoch and keeps the logs it is given."""

    def __init__(self):
        self.batches, self.batch_logs, self.epoch_logs = {}, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.batches[epoch] = 0

    def on_batch_end(self, batch, logs=None):
        self.batches[self.epoch] = self.batches.get(self.epoch, 0) + 1
        self.batch_logs.append(dict(logs))

    @property
    def epoch(self):
        return max(self.batches) if self.batches else 0

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_logs.append(dict(logs))


class BatchSizes(Layer):
    """An identity layer that notes the size of every training batch it sees."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def forward(self, x, training=False):
        if training:
            self.sizes.append(len(x))
        return x

    def backward(self, dy):
        return dy


# ============================================================================ overfit a tiny batch


def test_mlp_overfits_a_tiny_batch():
    x, y = blobs()
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    history = model.fit(x, y, epochs=150, batch_size=32, seed=0)
    assert history["loss"][-1] < 0.05 < history["loss"][0]
    loss, accuracy = model.evaluate(x, y)
    assert accuracy == 1.0
    np.testing.assert_array_equal(model.predict(x), y)


def test_cnn_overfits_a_tiny_batch():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 16)
    model = small_cnn().compile(Adam(0.01), "sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=100, batch_size=8, seed=0)
    assert history["loss"][-1] < 0.1 < history["loss"][0]
    assert model.evaluate(x, y)[1] == 1.0


@pytest.mark.parametrize("loss, last", [("mse", "sigmoid"), ("binary_crossentropy", "sigmoid"),
                                        ("softmax_cross_entropy", None)])
def test_other_losses_train(loss, last):
    x, y = blobs(2)
    targets = np.eye(4, dtype=np.float32)[y]
    model = Sequential([Dense(32, activation="relu"), Dense(4, activation=last)], input_shape=(10,))
    model.compile(Adam(0.01), loss)
    history = model.fit(x, targets, epochs=100, batch_size=16, seed=0)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] > 0.9


# ============================================================================ the fused softmax


def test_softmax_with_categorical_crossentropy_trains_through_the_fused_path():
    x, y = blobs(3, n=8)
    model = mlp().compile(SGD(0.01), "categorical_crossentropy")
    model.build(seed=0)
    # Huge logits: a clipped cross-entropy on probabilities could never exceed -log(1e-7) = 16.1.
    model.layers[-2].params["kernel"] *= 1e4
    wrong = (model.predict(x) != y)
    assert wrong.any()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        history = model.fit(x, y, epochs=2, batch_size=8, seed=0)
        loss, _ = model.evaluate(x, y)
    assert all(np.isfinite(history["loss"])) and np.isfinite(loss)
    assert history["loss"][0] > 100
    for value in model.get_weights().values():
        assert np.isfinite(value).all()


def test_evaluate_loss_of_a_softmax_model_is_the_cross_entropy_of_its_probabilities():
    x, y = blobs(4)
    model = mlp().compile("adam", "categorical_crossentropy")
    model.build(seed=0)
    probs = model.predict_proba(x).astype(np.float64)
    expected = -np.log(probs[np.arange(len(y)), y]).mean()
    loss, accuracy = model.evaluate(x, y)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert accuracy == (probs.argmax(1) == y).mean()


# ============================================================================ fit, History, seeds


def test_fit_returns_a_history_per_epoch():
    x, y = blobs(5)
    xv, yv = blobs(6, n=12)
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    history = model.fit(x, y, epochs=3, batch_size=10, validation_data=(xv, yv), seed=0)
    assert isinstance(history, History)
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in history.history:
        assert len(history[key]) == 3
        assert all(isinstance(value, float) for value in history[key])
    assert all(0 <= a <= 1 for a in history["accuracy"] + history["val_accuracy"])
    # Validation is measured after the epoch's last step.
    assert history["val_loss"][-1] == pytest.approx(model.evaluate(xv, yv)[0], rel=1e-6)
    assert history["val_accuracy"][-1] == model.evaluate(xv, yv)[1]


def test_the_epoch_loss_is_measured_on_the_batches_as_they_are_trained():
    x, y = blobs(7)
    model = mlp().compile(SGD(0.1), "categorical_crossentropy")
    model.build(seed=0)
    before = model.evaluate(x, y)
    history = model.fit(x, y, epochs=1, batch_size=32, seed=0)  # one batch: the loss before its step
    assert history["loss"][0] == pytest.approx(before[0], rel=1e-5)
    assert history["accuracy"][0] == before[1]


def test_the_same_seed_repeats_a_run_bit_for_bit():
    x, y = blobs(8)
    xv, yv = blobs(9, n=10)

    def run(seed):
        model = mlp(dropout=0.3).compile(Adam(0.01), "categorical_crossentropy")
        history = model.fit(x, y, epochs=3, batch_size=8, validation_data=(xv, yv), seed=seed)
        return model.get_weights(), history.history

    weights, history = run(3)
    weights_again, history_again = run(3)
    assert history == history_again
    assert weights.keys() == weights_again.keys()
    for key in weights:
        np.testing.assert_array_equal(weights[key], weights_again[key])
    other_weights, other_history = run(4)
    assert other_history != history
    assert any(not np.array_equal(weights[key], other_weights[key]) for key in weights)


def test_a_generator_can_be_the_seed():
    x, y = blobs(10)
    runs = []
    for _ in range(2):
        model = mlp().compile(Adam(0.01), "categorical_crossentropy")
        runs.append(model.fit(x, y, epochs=2, batch_size=8, seed=np.random.default_rng(5)).history)
    assert runs[0] == runs[1]


def test_fit_builds_an_unbuilt_model_from_the_data():
    x, y = blobs(11, features=5)
    model = Sequential([Dense(4)]).compile(SGD(0.1), "softmax_cross_entropy")
    model.fit(x, y, epochs=1, batch_size=8, seed=0)
    assert model.built and model.input_shape == (5,)


def test_fit_without_compile_is_a_clear_error():
    x, y = blobs()
    with pytest.raises(ValueError, match="compile"):
        mlp().fit(x, y, epochs=1)


def test_compile_refuses_unknown_names():
    with pytest.raises(ValueError, match="metric"):
        mlp().compile("adam", "categorical_crossentropy", metrics=["auc"])
    with pytest.raises(ValueError, match="loss"):
        mlp().compile("adam", "hinge")
    with pytest.raises(ValueError, match="optimizer"):
        mlp().compile("adagrad", "mse")


def test_build_needs_an_input_shape():
    with pytest.raises(ValueError, match="input shape"):
        Sequential([Dense(3)]).build()


def test_stop_training_from_a_callback_ends_the_run_after_that_batch():
    class StopAtThirdBatch(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    x, y = blobs(12)
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    recorder = Recorder()
    history = model.fit(x, y, epochs=5, batch_size=4, seed=0, callbacks=[StopAtThirdBatch(), recorder])
    assert history.epoch == [0]
    assert model.step == 3
    assert recorder.batches == {0: 3}


def test_steps_per_epoch_with_replacement_draws_that_many_batches():
    x, y = blobs(13, n=10)
    sizes = BatchSizes()
    model = Sequential([sizes, Dense(4)], input_shape=(10,)).compile(SGD(0.01), "softmax_cross_entropy")
    recorder = Recorder()
    model.fit(x, y, epochs=2, batch_size=4, steps_per_epoch=7, with_replacement=True, seed=0,
              callbacks=[recorder])
    assert recorder.batches == {0: 7, 1: 7}
    assert sizes.sizes == [4] * 14
    assert model.step == 14
    assert model.optimizer.iterations == 14


def test_steps_per_epoch_without_replacement_caps_the_epoch():
    x, y = blobs(14, n=10)
    sizes = BatchSizes()
    model = Sequential([sizes, Dense(4)], input_shape=(10,)).compile(SGD(0.01), "softmax_cross_entropy")
    model.fit(x, y, epochs=2, batch_size=4, steps_per_epoch=2, seed=0)
    assert sizes.sizes == [4, 4, 4, 4]


def test_a_pass_without_replacement_sees_every_sample_once():
    x, y = blobs(15, n=10)
    sizes = BatchSizes()
    model = Sequential([sizes, Dense(4)], input_shape=(10,)).compile(SGD(0.01), "softmax_cross_entropy")
    model.fit(x, y, epochs=1, batch_size=4, seed=0)
    assert sizes.sizes == [4, 4, 2]
    sizes.sizes.clear()
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False)
    assert sizes.sizes == [4, 4, 2]


def test_initial_epoch_numbers_the_epochs():
    x, y = blobs(16)
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    history = model.fit(x, y, epochs=3, initial_epoch=1, batch_size=16, seed=0)
    assert history.epoch == [1, 2]


# ============================================================================ evaluate and predict


def test_evaluate_returns_loss_and_accuracy_as_a_list_or_a_dict():
    x, y = blobs(17)
    model = mlp().compile(Adam(0.01), "categorical_crossentropy")
    model.fit(x, y, epochs=5, batch_size=8, seed=0)
    result = model.evaluate(x, y)
    assert isinstance(result, list) and len(result) == 2
    as_dict = model.evaluate(x, y, return_dict=True)
    assert as_dict == {"loss": result[0], "accuracy": result[1]}
    # The batch size of evaluation changes nothing.
    small_batches = model.evaluate(x, y, batch_size=5)
    assert small_batches[0] == pytest.approx(result[0], rel=1e-6)
    assert small_batches[1] == result[1]


def test_evaluate_with_sum_reduction_sums_over_every_sample():
    x, y = blobs(18)
    model = mlp().compile(SGD(), CategoricalCrossEntropy("sum"))
    model.build(seed=0)
    probs = model.predict_proba(x).astype(np.float64)
    expected = -np.log(probs[np.arange(len(y)), y]).sum()
    assert model.evaluate(x, y, batch_size=5)[0] == pytest.approx(expected, rel=1e-5)


def test_evaluate_accepts_one_hot_targets():
    x, y = blobs(19)
    model = mlp().compile("adam", "categorical_crossentropy")
    model.build(seed=0)
    sparse = model.evaluate(x, y)
    one_hot = model.evaluate(x, np.eye(4, dtype=np.float32)[y])
    assert one_hot[0] == pytest.approx(sparse[0], rel=1e-6)
    assert one_hot[1] == sparse[1]


@pytest.mark.parametrize("bad", [4, -1, 2.5])
def test_labels_that_name_no_output_are_refused_by_fit_and_evaluate(bad):
    x, y = blobs()
    labels = y.astype(np.float64) if isinstance(bad, float) else y.copy()
    labels[5] = bad
    model = mlp().compile("sgd", "sparse_categorical_crossentropy")
    weights = model.build(seed=0).get_weights()
    with pytest.raises(ValueError, match="class indices from 0 to 3"):
        model.fit(x, labels, batch_size=8)
    assert all(np.array_equal(weights[key], value) for key, value in model.get_weights().items())  # no step taken
    with pytest.raises(ValueError, match="class indices from 0 to 3"):
        model.evaluate(x, labels)


def test_whole_float_labels_are_class_indices():
    x, y = blobs()
    model = mlp().compile("sgd", "sparse_categorical_crossentropy")
    assert model.build(seed=0).evaluate(x, y.astype(np.float32)) == model.evaluate(x, y)


@pytest.mark.parametrize("call, message", [
    (lambda m, x, y: m.fit(x, y[:20]), "x has 32 samples but y has 20"),
    (lambda m, x, y: m.fit(x[:5], y), "x has 5 samples but y has 32"),
    (lambda m, x, y: m.evaluate(x[:5], y[:10]), "x has 5 samples but y has 10"),
    (lambda m, x, y: m.fit(x[:0], y[:0]), "at least one sample"),
    (lambda m, x, y: m.evaluate(x[:0], y[:0]), "at least one sample"),
    (lambda m, x, y: m.fit(x, y, batch_size=0), "batch_size must be a whole number >= 1"),
    (lambda m, x, y: m.fit(x, y, batch_size=-1), "batch_size must be a whole number >= 1"),
    (lambda m, x, y: m.fit(x, y, epochs=-1), "epochs must be a whole number >= 0"),
    (lambda m, x, y: m.predict(x, batch_size=0), "batch_size must be a whole number >= 1"),
    (lambda m, x, y: m.fit(x, y.astype(str)), "labels must be numbers"),
    (lambda m, x, y: m.fit(x, np.eye(5)[y % 5]), r"rows shaped like the model's outputs, \(N, 4\)"),
    (lambda m, x, y: m.fit(x, y, validation_data=(x, y, y)), "validation_data is a pair"),
    (lambda m, x, y: m.fit(x.astype(str), y), "uint8 pixels"),
    (lambda m, x, y: m.predict(x[0]), "one input\\? give a batch of one"),
])
def test_data_that_does_not_fit_is_refused_before_any_step(call, message):
    x, y = blobs()
    model = mlp().compile("sgd", "sparse_categorical_crossentropy")
    weights = model.build(seed=0).get_weights()
    with pytest.raises((ValueError, TypeError), match=message):
        call(model, x, y)
    assert all(np.array_equal(weights[key], value) for key, value in model.get_weights().items())


def test_lists_are_taken_as_arrays_and_an_empty_batch_predicts_nothing():
    x, y = blobs()
    model = mlp().compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x.tolist(), y.tolist(), batch_size=8, seed=0)
    assert model.predict_proba(x[:0]).shape == (0, 4)


def test_a_model_without_layers_weights_or_a_loss_says_what_is_missing():
    x, y = blobs()
    with pytest.raises(ValueError, match="no layers"):
        Sequential([], input_shape=(10,)).compile("sgd", "sparse_categorical_crossentropy").fit(x, y)
    with pytest.raises(ValueError, match="no layers"):
        Sequential([], input_shape=(10,)).predict(x)
    with pytest.raises(ValueError, match="not built yet"):
        mlp().predict(x)
    with pytest.raises(ValueError, match="compile the model before evaluate"):
        mlp().build(seed=0).evaluate(x, y)
    with pytest.raises(TypeError, match="digitlab layers"):
        Sequential(["relu"])


def test_predict_is_the_argmax_of_predict_proba():
    x, y = blobs(20, n=50)
    model = mlp().compile("adam", "categorical_crossentropy")
    model.build(seed=0)
    probs = model.predict_proba(x, batch_size=7)
    assert isinstance(probs, np.ndarray) and probs.shape == (50, 4) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(x), probs.argmax(axis=1))
    np.testing.assert_array_equal(model.predict(x, batch_size=1000), model.predict(x, batch_size=3))


def test_uint8_images_fit_a_flat_model_and_are_scaled_to_0_1():
    rng = np.random.default_rng(21)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, 6)
    model = Sequential([Dense(10, activation="softmax")], input_shape=(784,))
    model.compile("sgd", "categorical_crossentropy")
    model.build(seed=0)
    scaled = images.reshape(6, 784).astype(np.float32) / np.float32(255)
    assert scaled.min() == 0 and scaled.max() == 1
    probs = model.predict_proba(images)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs, model.predict_proba(scaled), rtol=1e-6, atol=1e-7)
    model.fit(images, labels, epochs=1, batch_size=3, seed=0)
    for value in model.get_weights().values():
        assert value.dtype == np.float32


def test_inputs_that_do_not_fit_the_model_are_refused():
    model = Sequential([Dense(10)], input_shape=(784,)).build(seed=0)
    with pytest.raises(ValueError, match="do not fit"):
        model.predict(np.zeros((2, 27, 27), np.float32))


def test_float64_inputs_are_computed_in_float32():
    x, _ = blobs(22)
    model = mlp().build(seed=0)
    assert model.predict_proba(x.astype(np.float64)).dtype == np.float32


# ============================================================================ layers, summary, config


def test_dense_activation_becomes_a_layer_of_its_own():
    model = Sequential([Dense(8, activation="relu"), Dense(8, activation="relu"), Dense(3, activation="softmax"),
                        ], input_shape=(4,))
    assert [type(layer) for layer in model.layers] == [Dense, ReLU, Dense, ReLU, Dense, Softmax]
    assert [layer.name for layer in model.layers] == ["dense_0", "relu_0", "dense_1", "relu_1", "dense_2",
                                                      "softmax_0"]
    assert all(layer.activation is None for layer in model.layers if isinstance(layer, Dense))


def test_conv_activation_becomes_a_layer_of_its_own():
    model = Sequential([Conv2D(2, 3, activation="relu"), Flatten(), Dense(3)], input_shape=(1, 5, 5))
    assert [type(layer) for layer in model.layers] == [Conv2D, ReLU, Flatten, Dense]


def test_summary_lists_every_layer_and_the_parameter_total():
    model = mlp().build(seed=0)
    assert model.count_params() == (10 * 32 + 32) + (32 * 4 + 4)
    text = model.summary(print_fn=None)
    for layer in model.layers:
        assert f"{layer.name} ({type(layer).__name__})" in text
    assert f"total parameters: {model.count_params():,}" in text
    assert "(32,)" in text and "(4,)" in text
    printed = []
    assert model.summary(print_fn=printed.append) == text and printed == [text]


def test_summary_of_a_cnn_shows_output_shapes():
    model = small_cnn().build(seed=0)
    text = model.summary(print_fn=None)
    assert "(4, 6, 6)" in text and "(4, 3, 3)" in text and "(36,)" in text
    assert model.count_params() == (4 * 9 + 4) + (36 * 3 + 3)


def test_get_config_from_config_round_trip():
    model = Sequential([Conv2D(3, (3, 2), strides=2, padding="same", activation="relu"),
                        MaxPool2D(2, padding="same"), PReLU(per_channel=True), Flatten(), Dropout(0.25),
                        Dense(5, use_bias=False, kernel_initializer="he_normal"), Softmax()],
                       input_shape=(1, 7, 7)).build(seed=0)
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config, "the config is plain JSON"
    clone = Sequential.from_config(config)
    assert clone.get_config() == config
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.build(seed=1)
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(23).standard_normal((4, 1, 7, 7)).astype(np.float32)
    np.testing.assert_array_equal(clone.predict_proba(x), model.predict_proba(x))


def test_get_weights_returns_copies_and_set_weights_writes_in_place():
    model = mlp().build(seed=0)
    weights = model.get_weights()
    assert set(weights) == {"dense_0.kernel", "dense_0.bias", "dense_1.kernel", "dense_1.bias"}
    kernel = model.layers[0].params["kernel"]
    weights["dense_0.kernel"][...] = 1.0
    assert not (kernel == 1.0).all()
    model.set_weights(weights)
    assert model.layers[0].params["kernel"] is kernel and (kernel == 1.0).all()


def test_fused_loss_is_chosen_only_for_softmax_and_categorical_cross_entropy():
    model = mlp().compile("adam", "categorical_crossentropy")
    layers, loss = model._training_loss()
    assert layers == model.layers[:-1] and isinstance(loss, SoftmaxCrossEntropy)
    model.compile("adam", "mse")
    layers, loss = model._training_loss()
    assert layers == model.layers and not isinstance(loss, SoftmaxCrossEntropy)


def test_repr_lists_the_layers():
    text = repr(mlp())
    assert text.startswith("Sequential([") and "Dense(units=32" in text and "Softmax()" in text


def test_a_model_of_layers_built_by_hand_without_an_input_shape_predicts_and_evaluates():
    dense = Dense(3, activation="softmax")
    dense.build((4,), np.random.default_rng(0))
    model = Sequential([dense]).compile("sgd", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 4)).astype(np.float32), rng.integers(0, 3, 30)
    probabilities = model.predict_proba(x, batch_size=7)
    assert probabilities.shape == (30, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    loss, accuracy = model.evaluate(x, y, batch_size=7)
    assert np.isfinite(loss) and accuracy == np.mean(probabilities.argmax(axis=1) == y)
