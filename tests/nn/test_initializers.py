"""Initialisers: shapes, float32, the statistics each promises, seeds, fans and lookup."""

import math

import numpy as np
import pytest

from digitlab.nn import initializers
from digitlab.nn.initializers import (
    constant,
    fans,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    normal,
    ones,
    scaled_normal,
    truncated_normal,
    zeros,
)

DENSE = (300, 200)
CONV = (32, 16, 3, 3)  # (out, in, kh, kw): fan_in 144, fan_out 288

ALL = {
    "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal, "he_normal": he_normal,
    "he_uniform": he_uniform, "scaled_normal": scaled_normal, "zeros": zeros, "ones": ones,
    "normal": normal(0.5), "truncated_normal": truncated_normal(0.5), "constant": constant(0.3),
}


def draw(init, shape, seed=0):
    return init(shape, np.random.default_rng(seed))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 3, 3), (7,)])
def test_shape_and_float32(name, shape):
    values = draw(ALL[name], shape)
    assert values.shape == shape
    assert values.dtype == np.float32
    assert np.isfinite(values).all()


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_values_other_seed_other_values(name):
    np.testing.assert_array_equal(draw(ALL[name], (20, 30), 7), draw(ALL[name], (20, 30), 7))
    if name not in ("zeros", "ones", "constant"):
        assert not np.array_equal(draw(ALL[name], (20, 30), 7), draw(ALL[name], (20, 30), 8))


def test_fans_for_dense_conv_and_vectors():
    assert fans((784, 10)) == (784, 10)
    assert fans((32, 16, 3, 3)) == (16 * 9, 32 * 9)
    assert fans((8, 1, 5, 3)) == (15, 120)
    assert fans((7,)) == (7, 7)


@pytest.mark.parametrize("shape", [DENSE, CONV])
def test_glorot_uniform_stays_within_its_limit_and_fills_it(shape):
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6 / (fan_in + fan_out))
    values = draw(glorot_uniform, shape)
    assert np.abs(values).max() <= limit
    assert np.abs(values).max() > 0.99 * limit
    assert values.std() == pytest.approx(limit / math.sqrt(3), rel=0.03)
    assert abs(values.mean()) < 0.01 * limit


@pytest.mark.parametrize("shape", [DENSE, CONV])
def test_he_uniform_limit(shape):
    limit = math.sqrt(6 / fans(shape)[0])
    values = draw(he_uniform, shape)
    assert np.abs(values).max() <= limit
    assert values.std() == pytest.approx(limit / math.sqrt(3), rel=0.03)


@pytest.mark.parametrize("shape", [DENSE, CONV])
def test_he_normal_has_std_sqrt_2_over_fan_in(shape):
    """He et al. (and Keras' he_normal) give the weights variance 2 / fan_in. Keras draws from a
    normal truncated at two standard deviations, widened by 1/0.8796 so the result keeps that std."""
    values = draw(he_normal, shape)
    assert values.std() == pytest.approx(math.sqrt(2 / fans(shape)[0]), rel=0.05)
    assert abs(values.mean()) < 0.01


@pytest.mark.parametrize("shape", [DENSE, CONV])
def test_glorot_normal_has_std_sqrt_2_over_fan_sum(shape):
    fan_in, fan_out = fans(shape)
    values = draw(glorot_normal, shape)
    assert values.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.05)


@pytest.mark.parametrize("init, fan", [(he_normal, "in"), (glorot_normal, "sum")])
def test_truncated_fan_initialisers_are_bounded(init, fan):
    """Whatever the std, the draw is truncated: nothing beyond 2/0.8796 of the target std."""
    fan_in, fan_out = fans(DENSE)
    target = math.sqrt(2 / fan_in) if fan == "in" else math.sqrt(2 / (fan_in + fan_out))
    assert np.abs(draw(init, DENSE)).max() <= 2 * target / 0.87962566103423978 * (1 + 1e-6)


def test_scaled_normal_is_randn_over_sqrt_fan_in():
    values = draw(scaled_normal, DENSE, seed=3)
    expected = np.random.default_rng(3).standard_normal(DENSE) / math.sqrt(300)
    np.testing.assert_allclose(values, expected.astype(np.float32))
    assert values.std() == pytest.approx(1 / math.sqrt(300), rel=0.03)


def test_truncated_normal_never_beyond_two_std():
    std = 0.05
    values = draw(truncated_normal(std), (200, 300))
    assert np.abs(values).max() <= 2 * std * (1 + 1e-6)
    assert np.abs(values).max() > 1.9 * std
    # The std of a standard normal truncated at +-2 is 0.8796.
    assert values.std() == pytest.approx(0.87962566103423978 * std, rel=0.02)


def test_normal_std_and_mean():
    values = draw(normal(std=0.5, mean=2.0), (200, 300))
    assert values.mean() == pytest.approx(2.0, abs=0.01)
    assert values.std() == pytest.approx(0.5, rel=0.02)


def test_constants():
    np.testing.assert_array_equal(zeros((2, 3)), 0)
    np.testing.assert_array_equal(ones((2, 3)), 1)
    np.testing.assert_array_equal(constant(0.25)((2, 3)), 0.25)


# ============================================================================ lookup


def test_get_by_name():
    assert initializers.get("glorot_uniform") is glorot_uniform
    assert initializers.get("xavier_uniform") is glorot_uniform
    assert initializers.get("xavier_normal") is glorot_normal
    assert initializers.get("he_normal") is he_normal
    assert initializers.get("zeros") is zeros


def test_get_by_dict():
    assert initializers.get({"name": "he_uniform"}) is he_uniform
    init = initializers.get({"name": "normal", "std": 0.5, "mean": 1.0})
    np.testing.assert_array_equal(draw(init, (3, 4)), draw(normal(0.5, 1.0), (3, 4)))
    np.testing.assert_array_equal(initializers.get({"name": "constant", "value": 2.0})((2,)), [2.0, 2.0])
    bounded = draw(initializers.get({"name": "truncated_normal", "std": 0.1}), (50, 50))
    assert np.abs(bounded).max() <= 0.2 * (1 + 1e-6)


def test_get_passes_callables_through():
    def custom(shape, rng):
        return np.full(shape, 7, np.float32)

    assert initializers.get(custom) is custom


@pytest.mark.parametrize("spec", ["lecun_magic", {"name": "orthogonal"}, {"std": 1.0}, 3])
def test_get_refuses_unknown_initialisers(spec):
    with pytest.raises(ValueError, match="unknown initialiser"):
        initializers.get(spec)


@pytest.mark.parametrize("name", ALL)
def test_config_of_round_trips_through_get(name):
    init = ALL[name]
    config = initializers.config_of(init)
    assert isinstance(config, dict) and "name" in config
    np.testing.assert_array_equal(draw(initializers.get(config), (5, 6)), draw(init, (5, 6)))


def test_an_initialiser_made_with_arguments_names_them_and_is_made_again_from_them():
    from digitlab.nn import initializers

    made = initializers.truncated_normal(0.1)
    assert initializers.config_of(made) == {"name": "truncated_normal", "std": 0.1}
    again = initializers.get(initializers.config_of(made))
    rng = np.random.default_rng(0), np.random.default_rng(0)
    np.testing.assert_array_equal(made((3, 4), rng[0]), again((3, 4), rng[1]))
    assert initializers.config_of(initializers.he_normal) == {"name": "he_normal"}
