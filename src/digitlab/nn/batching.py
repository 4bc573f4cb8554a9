"""Which samples go into each batch: index arrays, so the data itself is never copied whole."""

from digitlab.nn.checks import whole_number


def num_batches(num_samples, batch_size, drop_last=False):
    """How many batches one pass over ``num_samples`` makes: floor or ceil of num_samples / batch_size."""
    full, rest = divmod(num_samples, whole_number(batch_size, "batch_size"))
    return full + (1 if rest and not drop_last else 0)


def batch_indices(num_samples, batch_size, rng=None, shuffle=True, drop_last=False):
    """One pass over the data: a permutation drawn from ``rng`` cut into index arrays, or, without
    ``shuffle``, consecutive slices."""
    if shuffle and rng is None:
        raise ValueError("shuffling needs a numpy.random.Generator: pass rng=np.random.default_rng(seed)")
    order = rng.permutation(num_samples) if shuffle else None
    for batch in range(num_batches(num_samples, batch_size, drop_last)):
        start, stop = batch * batch_size, (batch + 1) * batch_size
        yield slice(start, stop) if order is None else order[start:stop]


def sampled_indices(num_samples, batch_size, steps, rng):
    """``steps`` batches, each drawn with replacement (the from-scratch tutorials' sampling)."""
    for _ in range(steps):
        yield rng.integers(0, num_samples, batch_size)
