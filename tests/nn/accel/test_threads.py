"""The engine's own threads: parts cover the work, and split work gives the unsplit answer."""

import threading
import time

import numpy as np
import pytest
import threadpoolctl

from digitlab.nn import BatchNormalization, Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential
from digitlab.nn.accel import im2col, threads, updates
from digitlab.nn.backend import as_float32
from digitlab.nn.callbacks import Callback
from digitlab.nn.optimizers import SGD, Adam, RMSprop


@pytest.fixture
def split_everything(monkeypatch):
    """Three parts for any work at all, so the small arrays of a test are split too."""
    monkeypatch.setattr(threads, "MIN_PART_NS", 1e-9)
    monkeypatch.setattr(threads, "WORKERS", 3)
    with threads.engine_threads():
        yield


@pytest.mark.parametrize("length, workers", [(10, 3), (2, 3), (7, 2), (1, 4)])
def test_parts_cover_the_range_in_nearly_equal_slices(split_everything, monkeypatch, length, workers):
    monkeypatch.setattr(threads, "WORKERS", workers)
    slices = threads.parts(length, nanoseconds=10**9)
    covered = [i for part in slices for i in range(length)[part]]
    assert covered == list(range(length))
    assert len(slices) == min(workers, length)
    sizes = [part.stop - part.start for part in slices]
    assert max(sizes) - min(sizes) <= 1


def test_small_work_gpu_arrays_and_work_outside_the_engine_are_not_split(monkeypatch):
    monkeypatch.setattr(threads, "WORKERS", 4)
    with threads.engine_threads():
        assert threads.parts(100, 2 * threads.MIN_PART_NS - 1) == [slice(0, 100)]
        assert len(threads.parts(100, 2 * threads.MIN_PART_NS)) == 2  # no part below MIN_PART_NS
        assert len(threads.parts(100, 10**9)) == 4
        not_numpy = [[0.0]] * 100  # stands for a CuPy array: anything that is not a NumPy array
        assert threads.parts(100, 10**9, not_numpy) == [slice(0, 100)]
    assert threads.parts(100, 10**9) == [slice(0, 100)]


def test_run_returns_results_in_order_from_more_than_one_thread(split_everything):
    seen = set()

    def work(part):
        seen.add(threading.get_ident())
        return part.start

    assert threads.run(work, threads.parts(9, 10**9)) == [0, 3, 6]
    assert threading.get_ident() in seen and len(seen) > 1


def test_no_part_splits_its_work_again_not_even_the_callers_own(split_everything):
    assert threads.run(lambda part: threads.splitting(), threads.parts(9, 10**9)) == [False] * 3
    assert threads.splitting()  # and the caller splits again once the parts are done


def _inference_model():
    """Every layer whose forward keeps something for backward, run in shares at once below."""
    return Sequential([Conv2D(3, 3, padding="same"), BatchNormalization(), ReLU(), MaxPool2D(2), Flatten(),
                       Dense(8, activation="sigmoid"), Dense(6, activation="tanh"), Dense(4, activation="softmax")],
                      input_shape=(1, 6, 6)).build(seed=0).compile("adam")


def test_inference_shared_out_between_threads_gives_the_outputs_and_evaluation_of_one(monkeypatch):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (50, 1, 6, 6)).astype(np.uint8), rng.integers(0, 4, 50)
    model = _inference_model()
    model.fit(x, y, epochs=1, batch_size=10, seed=1)  # running statistics for BatchNormalization
    monkeypatch.setattr(threads, "WORKERS", 1)
    alone = model.predict_proba(x, batch_size=7), model.evaluate(x, y, batch_size=7)

    monkeypatch.setattr(threads, "MIN_PART_NS", 1e-9)
    monkeypatch.setattr(threads, "WORKERS", 3)
    seen = set()
    forward = model.layers[-1].forward
    monkeypatch.setattr(model.layers[-1], "forward",
                        lambda *a, **k: seen.add(threading.get_ident()) or forward(*a, **k))
    shared = model.predict_proba(x, batch_size=7), model.evaluate(x, y, batch_size=7)
    assert len(seen) > 1
    np.testing.assert_array_equal(shared[0], alone[0])
    np.testing.assert_allclose(shared[1], alone[1], rtol=1e-6)  # the loss is summed in other batches


def test_an_error_in_a_part_reaches_the_caller_after_every_part_has_finished(split_everything):
    finished = []

    def work(part):
        if part.start == 0:
            raise ValueError("part failed")
        time.sleep(0.2)
        finished.append(part.start)

    with pytest.raises(ValueError, match="part failed"):
        threads.run(work, threads.parts(9, 10**9))
    assert sorted(finished) == [3, 6]


def _layer_results(layer, x, rng):
    y = layer.forward(x, training=True).copy()
    dy = rng.standard_normal(y.shape).astype(x.dtype)
    dx = layer.backward(dy)
    return [y, None if dx is None else dx.copy()] + [grad.copy() for grad in layer.grads.values()]


def _assert_split_gives_unsplit_results(monkeypatch, layer, x, input_shape):
    """Build ``layer`` in float64, then check that three parts for any work give its unsplit results.
    Leaves the splitting switched on (monkeypatched) for the rest of the test."""
    layer.build(input_shape, np.random.default_rng(0))
    layer.astype(np.float64)
    whole = _layer_results(layer, x, np.random.default_rng(1))
    monkeypatch.setattr(threads, "MIN_PART_NS", 1e-9)
    monkeypatch.setattr(threads, "WORKERS", 3)
    with threads.engine_threads():
        split = _layer_results(layer, x, np.random.default_rng(1))
    for expected, got in zip(whole, split, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make_layer, input_shape", [
    (lambda: Dense(7), (12,)),
    (lambda: Conv2D(4, 3, padding="same"), (3, 6, 5)),
    (lambda: Conv2D(2, (2, 3), strides=2, padding="same"), (2, 7, 6)),
    (lambda: MaxPool2D(2), (3, 6, 6)),
    (lambda: ReLU(), (3, 4, 4)),
], ids=["dense", "conv", "conv-strided", "maxpool", "relu"])
def test_split_layers_give_the_unsplit_values_and_gradients(monkeypatch, gradcheck, make_layer, input_shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, *input_shape))
    layer = make_layer()
    _assert_split_gives_unsplit_results(monkeypatch, layer, x, input_shape)
    with threads.engine_threads():
        gradcheck(layer, x, rng)


@pytest.mark.parametrize("padding, strides", [("same", 1), ("valid", 2)])
def test_conv2d_split_into_parts_of_several_blocks_gives_the_unsplit_gradients(monkeypatch, padding, strides):
    monkeypatch.setattr(im2col, "COLUMNS_BLOCK_BYTES", 1)  # a block an image, several a part
    x = np.random.default_rng(3).standard_normal((11, 2, 9, 8))
    _assert_split_gives_unsplit_results(monkeypatch, Conv2D(3, 3, strides, padding, use_bias=True), x, (2, 9, 8))


@pytest.mark.parametrize("make_layer, input_shape", [
    (lambda: ReLU(), (3, 4, 4)), (lambda: MaxPool2D(2), (2, 4, 4)), (lambda: Conv2D(2, 3), (1, 5, 5)),
], ids=["relu", "maxpool", "conv"])
def test_an_empty_batch_gives_empty_results(split_everything, make_layer, input_shape):
    layer = make_layer()
    layer.build(input_shape, np.random.default_rng(0))
    y = layer.forward(np.zeros((0, *input_shape), np.float32), training=True)
    assert len(y) == 0 and len(layer.backward(y)) == 0


@pytest.mark.parametrize("optimizer", [SGD(0.1, momentum=0.9), RMSprop(), Adam()], ids=type)
def test_split_optimizer_steps_give_the_unsplit_parameters(monkeypatch, optimizer):
    def train(split):
        if split:
            monkeypatch.setattr(updates, "SPLIT_PARAMETER_SIZE", 1)
            monkeypatch.setattr(threads, "WORKERS", 3)
        layer = Dense(5)
        layer.name = "dense"
        layer.build((11,), np.random.default_rng(0))
        opt = type(optimizer)(**optimizer.config())
        for step in range(3):
            for grad in layer.grads.values():
                grad[...] = np.random.default_rng(step).standard_normal(grad.shape)
            opt.step([layer])
        return {key: value.copy() for key, value in layer.params.items()}

    whole, split = train(False), train(True)
    for key in whole:
        np.testing.assert_array_equal(split[key], whole[key])


def test_a_parameter_that_is_not_contiguous_is_still_updated(split_everything, monkeypatch):
    monkeypatch.setattr(updates, "SPLIT_PARAMETER_SIZE", 1)
    layer = Dense(4)
    layer.name = "dense"
    layer.build((6,), np.random.default_rng(0))
    layer.params["kernel"] = np.asfortranarray(layer.params["kernel"])
    before = layer.params["kernel"].copy()
    layer.grads["kernel"][...] = 1.0
    SGD(0.5).step([layer])
    np.testing.assert_allclose(layer.params["kernel"], before - 0.5)


def test_uint8_images_are_scaled_the_same_when_split(split_everything):
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(as_float32(images), images.astype(np.float32) / np.float32(255))
    assert as_float32(np.zeros((0, 28, 28), np.uint8)).shape == (0, 28, 28)
    assert as_float32(np.asarray(51, np.uint8)) == np.float32(51) / np.float32(255)


def _blas_threads():
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def test_training_runs_blas_on_one_thread_and_gives_its_threads_back(monkeypatch):
    monkeypatch.setattr(threads, "WORKERS", 2)
    seen = []

    class RecordThreads(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.extend(_blas_threads())

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        model = Sequential([Dense(3)], input_shape=(4,)).compile("sgd", "mse")
        rng = np.random.default_rng(0)
        x, y = rng.random((8, 4), np.float32), rng.random((8, 3), np.float32)
        # two epochs: the second's batches come after the first epoch's evaluate, nested inside fit
        model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), callbacks=[RecordThreads()])
        after = _blas_threads()
    assert len(seen) >= 4 and set(seen) == {1}
    assert after and set(after) == {2}


def test_blas_gets_its_threads_back_after_an_error_and_stays_limited_while_a_thread_is_inside(monkeypatch):
    monkeypatch.setattr(threads, "WORKERS", 2)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with pytest.raises(RuntimeError):
            with threads.engine_threads():
                raise RuntimeError("training failed")
        assert set(_blas_threads()) == {2}

        entered, leave = threading.Event(), threading.Event()

        def other_caller():
            with threads.engine_threads():
                entered.set()
                leave.wait(10)

        with threads.engine_threads():
            other = threading.Thread(target=other_caller)
            other.start()
            entered.wait(10)
        assert set(_blas_threads()) == {1}  # this thread has left, the other is still inside
        leave.set()
        other.join()


@pytest.mark.parametrize("a_shape, b_shape", [((9, 4), (4, 3)), ((3, 4), (4, 9))], ids=["rows", "columns"])
def test_matmul_split_by_rows_or_columns_is_the_product(split_everything, a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    np.testing.assert_allclose(threads.matmul(a, b), a @ b, rtol=1e-12)
    out = np.empty((a_shape[0], b_shape[1]))
    assert threads.matmul(np.asfortranarray(a), np.asfortranarray(b), out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def _split_sum():
    with threads.engine_threads():
        return sum(threads.run(lambda part: part.stop - part.start, threads.parts(8, 10**9)))


def test_a_forked_child_splits_work_with_threads_of_its_own(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(threads, "MIN_PART_NS", 1e-9)
    monkeypatch.setattr(threads, "WORKERS", 2)
    monkeypatch.setattr(threads, "_pool", None)  # a pool of one thread, made below
    assert _split_sum() == 8  # the parent's pool exists before the fork
    time.sleep(0.5)  # and its thread has gone idle: a child that kept the pool would wait on it forever
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_split_sum).get(timeout=30) == 8
