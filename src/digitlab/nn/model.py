"""Sequential: a stack of layers with Keras' compile / fit / evaluate / predict."""

import copy
from pathlib import Path

import numpy as np

from digitlab.errors import ConfigError
from digitlab.nn import losses, optimizers
from digitlab.nn.accel import threads
from digitlab.nn.backend import as_float32, get_backend, to_device, to_numpy
from digitlab.nn.checks import samples, whole_number
from digitlab.nn.fit import fit
from digitlab.nn.layers import Layer, Softmax, layer_from_config
from digitlab.nn.modelfile import write_model_file

NO_LAYERS = "the model has no layers: Sequential([Dense(128, activation='relu'), ...])"


class Sequential:
    def __init__(self, layers=(), input_shape=None):
        self.layers = []
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.optimizer: optimizers.Optimizer | None = None
        self.loss: losses.Loss | None = None
        self.stop_training = self.interrupted = False
        self.step = 0
        for layer in layers:
            self.add(layer)

    def add(self, layer: Layer):
        """Append a layer; a layer's ``activation=`` becomes a layer of its own after it."""
        if not isinstance(layer, Layer):
            raise TypeError(f"a model is made of digitlab layers (Dense(128), ReLU(), ...), not {layer!r}")
        activation = layer.activation
        if activation is not None:
            layer.activation = None
        for new in (layer, activation):
            if new is None:
                continue
            if new.name is None:
                kind = type(new).__name__.lower()
                new.name = f"{kind}_{sum(type(other) is type(new) for other in self.layers)}"
            self.layers.append(new)

    # ------------------------------------------------------------------ building and compiling

    def build(self, input_shape=None, seed=None):
        """Create every layer's parameters, drawing them from a Generator seeded with ``seed``."""
        if input_shape is not None:
            self.input_shape = tuple(input_shape)
        if self.input_shape is None:
            raise ConfigError("the model needs an input shape: Sequential(layers, input_shape=(784,))")
        if not self.layers:
            raise ConfigError(NO_LAYERS)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        shape = self.input_shape
        for layer in self.layers:
            layer.build(shape, rng)
            shape = layer.output_shape(shape)
        trainable = [layer for layer in self.layers if layer.params]
        if trainable:
            trainable[0].input_gradient = False
        return self

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    def compile(self, optimizer="rmsprop", loss="categorical_crossentropy", metrics=("accuracy",)):
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        unknown = set(metrics or ()) - {"accuracy", "acc"}
        if unknown:
            raise ConfigError(f"unknown metrics {sorted(unknown)}: digitlab computes 'accuracy'")
        return self

    def _training_loss(self):
        """The loss on the last layer's input when Softmax + cross-entropy fuse, else the loss."""
        if isinstance(self.loss, losses.CategoricalCrossEntropy) and isinstance(self.layers[-1], Softmax):
            return self.layers[:-1], losses.SoftmaxCrossEntropy(self.loss.reduction)
        return self.layers, self.loss

    # ------------------------------------------------------------------ running

    def inputs(self, x):
        """Float32 inputs shaped for the first layer: (N, 28, 28) images fit a (784,) model."""
        x = x if hasattr(x, "dtype") else np.asarray(x)
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            if int(np.prod(x.shape[1:])) != int(np.prod(self.input_shape)):
                one = " (one input? give a batch of one: x[None])" if x.size == np.prod(self.input_shape) else ""
                raise ConfigError(f"inputs shaped {x.shape[1:]} do not fit a model for {self.input_shape}{one}")
            x = x.reshape(len(x), *self.input_shape)
        if x.dtype == np.uint8:  # converted where it lands: uint8 pixels travel to a GPU 4 times faster
            return as_float32(to_device(x))
        return to_device(as_float32(x))

    def forward(self, x, training=False, layers=None):
        for layer in self.layers if layers is None else layers:
            x = layer.forward(x, training)
        return x

    @property
    def output_shape(self):
        """The shape of one output, as Keras gives it (None until the input shape is known)."""
        return None if self.input_shape is None else self._output_shape(self.input_shape)

    def _output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def check_labels(self, y, input_shape):
        """Labels are rows shaped like the model's outputs (one-hot rows, say), or class indices
        that each name one of its outputs: the loss would read any other number as no class at
        all, and train on it without a word."""
        outputs = self._output_shape(input_shape)
        labels = to_numpy(y)
        if labels.dtype.kind not in "biuf":
            raise ConfigError(f"labels must be numbers, class indices or one-hot rows; got {labels.dtype} values")
        if labels.shape[1:] == outputs:
            return
        classes = int(np.prod(outputs))
        if labels.ndim != 1:
            raise ConfigError(f"labels must be class indices, shape (N,), or rows shaped like the model's outputs, "
                             f"(N, {', '.join(map(str, outputs))}); got shape {labels.shape}")
        whole = np.issubdtype(labels.dtype, np.integer) or bool(np.all(np.mod(labels, 1) == 0))
        if not whole or labels.min() < 0 or labels.max() >= classes:
            raise ConfigError(f"labels must be class indices from 0 to {classes - 1} (the model has {classes} "
                             f"outputs), got values from {labels.min()} to {labels.max()}: pass one class "
                             "index per example, or one-hot rows")

    def train_step(self, x, y):
        """One step on one batch: forward, loss, backward, update. Returns (loss, correct)."""
        if self.optimizer is None:
            raise ConfigError("compile the model before training it: model.compile(optimizer, loss)")
        layers, loss_fn = self._training_loss()
        outputs = self.forward(x, training=True, layers=layers)
        loss = loss_fn.forward(outputs, y)
        grad = loss_fn.backward()
        for layer in reversed(layers):
            if grad is None:  # the layers before the first trainable one need no gradient
                break
            grad = layer.backward(grad)
        self.optimizer.step(self.layers)
        self.step += 1
        return loss, _correct(outputs, y)

    def fit(self, x, y, epochs=1, batch_size=32, validation_data=None, callbacks=(), seed=None,
            shuffle=True, steps_per_epoch=None, with_replacement=False, initial_epoch=0, max_steps=None,
            augment=None, resume=None):
        """Train for ``epochs`` passes over (x, y), and return the History (the loop is nn/fit.py).

        Step-based training, as some tutorials do it: an "epoch" is ``steps_per_epoch`` batches
        (drawn at random ``with_replacement`` if asked) and training ends once the model has taken
        ``max_steps`` steps. ``augment(images, rng)`` transforms each training batch on the way in.
        Setting ``model.stop_training`` ends training after the current batch and its epoch's
        results, as in Keras; setting ``model.interrupted`` ends it at once, to be resumed:
        ``resume`` is then ``model.progress`` and ``seed`` a Generator in the state it had at that
        moment (digitlab.nn.checkpoint saves both), and training continues from that very batch,
        with the same data order, as if never stopped.
        """
        return fit(self, x, y, epochs, batch_size, validation_data, callbacks, seed, shuffle, steps_per_epoch,
                   with_replacement, initial_epoch, max_steps, augment, resume)

    def _map_batches(self, x, layers, batch_size, function):
        """``function(start, outputs)`` for each batch of x, the results in order.

        On the CPU the images are shared out, one share per core, and each core takes its share's
        batches through every layer and ``function`` itself: one hand-off in all, where splitting
        every layer's work costs a few a batch (on the test set, keras-mlp 204k -> 225k images/s,
        cnn 2.8k -> 3.8k). The shares' batches together hold ``batch_size`` images, so the memory in
        use is one batch's, as when one core does it all. ``function`` must be safe to run in
        several threads at once."""
        per_image = self._forward_ns_per_image(self.input_shape or np.shape(x)[1:]) if get_backend() == "cpu" else 0
        shares = threads.parts(len(x), per_image * len(x))
        size = -(-batch_size // len(shares))

        def share(rows):
            return [function(start, self.forward(self.inputs(x[start:min(start + size, rows.stop)]), layers=layers))
                    for start in range(rows.start, rows.stop, size)]

        return [result for results in threads.run(share, shares) for result in results]

    def _forward_ns_per_image(self, input_shape):
        """About how long one input takes through the network on one core (see threads.py)."""
        nanoseconds, shape = 0.0, tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
            outputs = int(np.prod(shape))
            if "kernel" in layer.params:  # each output of a Dense or Conv2D layer: one kernel row
                nanoseconds += layer.params["kernel"].size * outputs / shape[0] * threads.MULTIPLY_ADD_NS
            nanoseconds += outputs * threads.ELEMENT_NS
        return nanoseconds

    @threads.engine_threads()
    def evaluate(self, x, y, batch_size=1000, return_dict=False):
        """[loss, accuracy] on (x, y), as Keras returns them (a dict with ``return_dict``)."""
        if self.loss is None:
            raise ConfigError("compile the model before evaluate: model.compile(optimizer, loss)")
        self._check_built()
        x, y = samples(x, y, "evaluate")
        whole_number(batch_size, "batch_size")
        layers, loss_fn = self._training_loss()
        self.check_labels(y, self.input_shape or np.shape(x)[1:])

        def score(start, outputs):  # (the batch's summed loss, its correct answers)
            labels = to_device(y[start:start + len(outputs)])
            batch_loss = copy.copy(loss_fn).forward(outputs, labels)  # a loss keeps state: one each
            return batch_loss * (len(outputs) if loss_fn.reduction == "mean" else 1), _correct(outputs, labels)

        scores = self._map_batches(x, layers, batch_size, score)
        total_loss, correct = sum(loss for loss, _ in scores), sum(right for _, right in scores)
        loss = total_loss / len(x) if loss_fn.reduction == "mean" else total_loss
        accuracy = correct / len(x)
        return {"loss": loss, "accuracy": accuracy} if return_dict else [loss, accuracy]

    @threads.engine_threads()
    def predict_proba(self, x, batch_size=1000):
        """The network's outputs (class probabilities for a softmax model) as a NumPy array."""
        self._check_built()
        whole_number(batch_size, "batch_size")
        x = x if hasattr(x, "dtype") else np.asarray(x)
        if len(x) == 0:
            return np.zeros((0, *(self.output_shape or ())), np.float32)
        return np.concatenate(self._map_batches(x, None, batch_size, lambda start, outputs: to_numpy(outputs)))

    def _check_built(self):
        """Before the model runs: it has layers, and those that hold weights have them."""
        if not self.layers:
            raise ConfigError(NO_LAYERS)
        holds_weights = [layer for layer in self.layers if type(layer).array_shapes is not Layer.array_shapes]
        if not all(layer.built for layer in holds_weights):
            raise ConfigError("the model is not built yet: fit it, or call model.build(input_shape)")

    def predict(self, x, batch_size=1000):
        """The predicted class of each input."""
        return self.predict_proba(x, batch_size).argmax(axis=-1)

    # ------------------------------------------------------------------ weights and description

    def get_weights(self):
        """Every saved array by "layer.key": the parameters and the buffers (running statistics)."""
        return {f"{layer.name}.{key}": to_numpy(value).copy()
                for layer in self.layers for key, value in {**layer.params, **layer.buffers}.items()}

    def set_weights(self, weights):
        for layer in self.layers:
            for key, value in {**layer.params, **layer.buffers}.items():
                value[...] = to_device(weights[f"{layer.name}.{key}"])

    def count_params(self):
        return sum(int(value.size) for layer in self.layers for value in layer.params.values())

    def get_config(self):
        return {
            "input_shape": list(self.input_shape or ()),
            "layers": [{"class": type(layer).__name__, "name": layer.name, "config": layer.config()}
                       for layer in self.layers],
        }

    @classmethod
    def from_config(cls, config):
        model = cls(input_shape=config["input_shape"])
        for spec in config["layers"]:
            layer = layer_from_config(spec)
            layer.name = spec["name"]
            model.add(layer)
        return model

    def summary(self, print_fn=print):
        """A table of layers, output shapes and parameter counts (printed, and returned)."""
        rows, shape = [], self.input_shape
        for layer in self.layers:
            shape = layer.output_shape(shape) if shape is not None else None
            count = sum(int(v.size) for v in layer.params.values())
            rows.append((f"{layer.name} ({type(layer).__name__})", str(shape), f"{count:,}"))
        width = max([len(r[0]) for r in rows] + [20])
        lines = [f"{'layer':<{width}}  {'output shape':<16}  {'params':>10}", "-" * (width + 30)]
        lines += [f"{name:<{width}}  {out:<16}  {count:>10}" for name, out, count in rows]
        lines += ["-" * (width + 30), f"total parameters: {self.count_params():,}"]
        text = "\n".join(lines)
        if print_fn:
            print_fn(text)
        return text

    def save(self, path, metadata=None):
        """Write the weights, architecture and ``metadata`` (JSON) to a .safetensors file, atomically."""
        if not self.built or self.input_shape is None:
            raise ConfigError("the model is not built yet, so there are no weights to save: fit it, or call "
                              "model.build(input_shape)")
        if Path(path).is_dir():
            example = Path(path) / "model.safetensors"
            raise ConfigError(f"{path} is a folder: give the model file's name, e.g. {example}")
        write_model_file(path, self.get_config(), self.get_weights(), metadata)

    def __repr__(self):
        return "Sequential([\n" + "".join(f"    {layer!r},\n" for layer in self.layers) + "])"


def _correct(outputs, targets):
    """How many rows' largest output is the target class (index or one-hot row)."""
    predicted = outputs.argmax(axis=-1)
    truth = targets.argmax(axis=-1) if targets.ndim == outputs.ndim else targets
    return int((predicted == truth).sum())

