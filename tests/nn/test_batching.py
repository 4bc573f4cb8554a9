"""Batching: which samples go into each batch."""

import numpy as np
import pytest

from digitlab.nn.batching import batch_indices, num_batches, sampled_indices


@pytest.mark.parametrize("num_samples, batch_size, drop_last, expected", [
    (10, 5, False, 2), (10, 3, False, 4), (10, 3, True, 3), (2, 5, False, 1), (2, 5, True, 0),
    (0, 4, False, 0),
])
def test_num_batches(num_samples, batch_size, drop_last, expected):
    assert num_batches(num_samples, batch_size, drop_last) == expected


def test_one_pass_covers_each_index_once():
    batches = list(batch_indices(23, 5, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    everything = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(everything), np.arange(23))
    assert not np.array_equal(everything, np.arange(23)), "the order is shuffled"


def test_drop_last_drops_only_the_partial_batch():
    batches = list(batch_indices(23, 5, np.random.default_rng(0), drop_last=True))
    assert [len(b) for b in batches] == [5, 5, 5, 5]
    assert len(np.unique(np.concatenate(batches))) == 20
    assert [len(b) for b in batch_indices(20, 5, np.random.default_rng(0), drop_last=True)] == [5] * 4


def test_the_same_seed_gives_the_same_batches():
    first = list(batch_indices(30, 7, np.random.default_rng(42)))
    second = list(batch_indices(30, 7, np.random.default_rng(42)))
    other = list(batch_indices(30, 7, np.random.default_rng(43)))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_successive_epochs_from_one_generator_differ():
    rng = np.random.default_rng(0)
    first, second = np.concatenate(list(batch_indices(30, 7, rng))), np.concatenate(list(batch_indices(30, 7, rng)))
    assert not np.array_equal(first, second)


def test_without_shuffle_the_order_is_kept_and_no_generator_is_needed():
    batches = list(batch_indices(7, 3, shuffle=False))  # index arrays or slices: anything that indexes
    assert [np.arange(7)[b].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [np.arange(7)[b].tolist() for b in batch_indices(7, 3, shuffle=False, drop_last=True)] == [
        [0, 1, 2], [3, 4, 5]]


def test_shuffle_without_a_generator_is_refused():
    with pytest.raises(ValueError, match="Generator"):
        list(batch_indices(10, 2))


def test_sampled_indices_gives_steps_batches_in_range():
    rng = np.random.default_rng(0)
    batches = list(sampled_indices(10, 4, steps=50, rng=rng))
    assert len(batches) == 50
    assert all(b.shape == (4,) for b in batches)
    everything = np.concatenate(batches)
    assert everything.min() >= 0 and everything.max() <= 9
    assert len(np.unique(everything)) == 10, "every sample is drawn sooner or later"
    assert any(len(np.unique(b)) < len(b) for b in batches), "draws are with replacement"


def test_sampled_indices_repeat_with_the_seed():
    first = list(sampled_indices(100, 8, 5, np.random.default_rng(1)))
    second = list(sampled_indices(100, 8, 5, np.random.default_rng(1)))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
