"""Pixel scaling and mini-batches."""

import numpy as np
import pytest

from digitlab.data import iterate_batches, num_batches, sample_batches, to_float32
from digitlab.errors import ConfigError


def dataset(n=10):
    """n tiny 'images' whose first pixel is the sample's index, so batches can be traced back."""
    x = np.zeros((n, 2, 3), np.uint8)
    x[:, 0, 0] = np.arange(n)
    return x, np.arange(n) % 10


def sample_ids(xb):
    return np.rint(xb[:, 0, 0] * 255).astype(int)


def test_to_float32_every_pixel_value():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    scaled = to_float32(pixels)
    assert scaled.dtype == np.float32 and scaled.shape == (16, 16)
    np.testing.assert_allclose(scaled, pixels.astype(np.float64) / 255, rtol=0, atol=1e-7)
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_to_float32_passes_floats_through():
    x32 = np.linspace(0, 1, 5, dtype=np.float32)
    assert to_float32(x32) is x32
    x64 = np.linspace(0, 1, 5)
    assert to_float32(x64).dtype == np.float32
    with pytest.raises(ConfigError, match="uint8"):
        to_float32(np.arange(3))


def test_num_batches():
    assert num_batches(10, 3) == 4
    assert num_batches(10, 3, drop_last=True) == 3
    assert num_batches(9, 3) == num_batches(9, 3, drop_last=True) == 3
    assert num_batches(2, 5) == 1 and num_batches(2, 5, drop_last=True) == 0
    assert num_batches(0, 4) == 0
    for bad in [0, -1, 2.5, True]:
        with pytest.raises(ConfigError, match="batch_size"):
            num_batches(10, bad)


@pytest.mark.parametrize("drop_last", [False, True])
def test_epoch_covers_every_sample_once(drop_last):
    x, y = dataset(10)
    batches = list(iterate_batches(x, y, 3, rng=np.random.default_rng(0), drop_last=drop_last))
    assert len(batches) == num_batches(10, 3, drop_last)
    sizes = [len(xb) for xb, _ in batches]
    assert sizes == ([3, 3, 3] if drop_last else [3, 3, 3, 1])
    ids = np.concatenate([sample_ids(xb) for xb, _ in batches])
    assert len(set(ids)) == len(ids)
    if not drop_last:
        assert sorted(ids) == list(range(10))
    assert ids.tolist() != sorted(ids)  # shuffled
    for xb, yb in batches:
        assert xb.dtype == np.float32 and xb.shape[1:] == (2, 3)
        np.testing.assert_array_equal(yb, sample_ids(xb) % 10)  # labels stay with their images


def test_shuffle_repeats_with_the_seed_and_differs_with_another():
    x, y = dataset(50)

    def order(seed):
        return np.concatenate([sample_ids(xb) for xb, _ in iterate_batches(x, y, 8, rng=np.random.default_rng(seed))])

    assert order(1).tolist() == order(1).tolist()
    assert order(1).tolist() != order(2).tolist()


def test_each_epoch_draws_a_new_order_from_the_same_generator():
    x, y = dataset(20)
    rng = np.random.default_rng(3)
    first = np.concatenate([sample_ids(xb) for xb, _ in iterate_batches(x, y, 5, rng=rng)])
    second = np.concatenate([sample_ids(xb) for xb, _ in iterate_batches(x, y, 5, rng=rng)])
    assert sorted(first) == sorted(second) and first.tolist() != second.tolist()


def test_without_shuffle_batches_are_in_order_and_need_no_generator():
    x, y = dataset(7)
    batches = list(iterate_batches(x, y, 4, shuffle=False))
    assert [sample_ids(xb).tolist() for xb, _ in batches] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [yb for _, yb in iterate_batches(x, None, 4, shuffle=False)] == [None, None]


def test_arguments_are_checked_at_the_call():
    x, y = dataset(6)
    with pytest.raises(ConfigError, match="default_rng"):
        iterate_batches(x, y, 2)
    with pytest.raises(ConfigError, match="Generator"):
        iterate_batches(x, y, 2, rng=np.random.RandomState(0))
    with pytest.raises(ConfigError, match="6 samples but y has 5"):
        iterate_batches(x, y[:5], 2, rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="batch_size"):
        iterate_batches(x, y, 0, shuffle=False)


def test_sample_batches_draw_with_replacement():
    x, y = dataset(10)
    batches = list(sample_batches(x, y, 4, 200, rng=np.random.default_rng(0)))
    assert len(batches) == 200
    assert all(xb.shape == (4, 2, 3) and xb.dtype == np.float32 and yb.shape == (4,) for xb, yb in batches)
    ids = np.stack([sample_ids(xb) for xb, _ in batches])
    assert any(len(set(row)) < 4 for row in ids)  # some batch holds a sample twice
    assert set(ids.ravel()) == set(range(10))
    for xb, yb in batches[:5]:
        np.testing.assert_array_equal(yb, sample_ids(xb) % 10)


def test_sample_batches_repeat_with_the_seed():
    x, y = dataset(100)

    def drawn(seed):
        return [sample_ids(xb).tolist() for xb, _ in sample_batches(x, y, 5, 10, rng=np.random.default_rng(seed))]

    assert drawn(7) == drawn(7)
    assert drawn(7) != drawn(8)


def test_sample_batches_arguments():
    x, y = dataset(3)
    assert list(sample_batches(x, y, 2, 0, rng=np.random.default_rng(0))) == []
    with pytest.raises(ConfigError, match="Generator"):
        sample_batches(x, y, 2, 5, rng=None)
    with pytest.raises(ConfigError, match="steps"):
        sample_batches(x, y, 2, -1, rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="empty"):
        sample_batches(x[:0], y[:0], 2, 1, rng=np.random.default_rng(0))
