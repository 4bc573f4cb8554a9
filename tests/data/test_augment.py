"""digitlab.data.augment: batched random shifts, rotations, scalings, slant and stroke thickness."""

import numpy as np
import pytest

from digitlab.data import load_data
from digitlab.data.augment import Augmentation, affine, augment, max_filter3, min_filter3, stroke_thickness

NONE = Augmentation(max_shift=0, max_rotation=0, scale=(1, 1), max_shear=0, thicken=0, thin=0)


@pytest.fixture(scope="module")
def digits():
    (x_train, _), _ = load_data()
    return x_train[:64]


@pytest.mark.parametrize("shape", [(64, 28, 28), (64, 1, 28, 28), (64, 784)])
def test_shapes_and_types_are_kept(digits, shape):
    out = augment(digits.reshape(shape), np.random.default_rng(0))
    assert out.shape == shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1.0 + 1e-6


def test_float_input_is_accepted(digits):
    floats = digits.astype(np.float32) / 255
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    np.testing.assert_allclose(augment(floats, rng_a), augment(digits, rng_b), atol=1e-6)


def test_the_same_seed_gives_the_same_batch(digits):
    first = augment(digits, np.random.default_rng(7))
    again = augment(digits, np.random.default_rng(7))
    other = augment(digits, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_each_image_gets_its_own_transformation(digits):
    same = np.repeat(digits[:1], 16, axis=0)
    out = augment(same, np.random.default_rng(0))
    assert len({out[i].tobytes() for i in range(16)}) == 16


def test_no_change_when_every_range_is_zero(digits):
    out = augment(digits, np.random.default_rng(0), NONE)
    np.testing.assert_allclose(out, digits / np.float32(255), atol=1e-5)


def test_the_input_is_not_changed(digits):
    copy = digits.copy()
    augment(digits, np.random.default_rng(0))
    np.testing.assert_array_equal(digits, copy)


def test_the_digit_stays_readable(digits):
    """Augmented digits stay close to their originals: most ink stays, and stays near."""
    out = augment(digits, np.random.default_rng(0))
    original = digits / np.float32(255)
    kept = out.sum(axis=(1, 2)) / original.sum(axis=(1, 2))
    assert np.all((kept > 0.4) & (kept < 2.5))


def test_an_integer_shift_moves_every_pixel_exactly():
    x = np.random.default_rng(0).random((2, 10, 10)).astype(np.float32)
    matrices = np.repeat(np.eye(2, dtype=np.float32)[None], 2, axis=0)
    offsets = np.array([[2, 0], [0, -1]], np.float32)           # (x, y): right 2; up 1
    out = affine(x, matrices, offsets)
    np.testing.assert_allclose(out[0, :, 2:], x[0, :, :-2], atol=1e-6)
    assert np.all(out[0, :, :2] == 0)
    np.testing.assert_allclose(out[1, :-1], x[1, 1:], atol=1e-6)


def test_a_quarter_turn_about_the_centre():
    x = np.zeros((1, 5, 5), np.float32)
    x[0, 0, 2] = 1                                              # top middle
    turn = np.array([[[0, -1], [1, 0]]], np.float32)            # x' = -y, y' = x (clockwise on screen)
    out = affine(x, turn, np.zeros((1, 2), np.float32))
    assert out[0, 2, 4] == pytest.approx(1) and out.sum() == pytest.approx(1)


def test_grey_dilation_and_erosion_match_a_plain_loop():
    x = np.random.default_rng(2).random((3, 6, 7)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    expected_max = np.zeros_like(x)
    expected_min = np.zeros_like(x)
    for row in range(6):
        for col in range(7):
            window = padded[:, row:row + 3, col:col + 3]
            expected_max[:, row, col] = window.max(axis=(1, 2))
            expected_min[:, row, col] = window.min(axis=(1, 2))
    np.testing.assert_array_equal(max_filter3(x), expected_max)
    np.testing.assert_array_equal(min_filter3(x), expected_min)


def test_stroke_thickness_thickens_and_thins(digits):
    x = digits[:4] / np.float32(255)
    thicker = stroke_thickness(x, np.ones(4, np.float32))
    thinner = stroke_thickness(x, -np.ones(4, np.float32))
    half = stroke_thickness(x, np.full(4, 0.5, np.float32))
    mass = x.sum()
    assert thinner.sum() < mass < half.sum() < thicker.sum()


def test_fit_takes_augment_as_its_batch_transform(digits):
    from digitlab.nn import Dense, Sequential

    (_, y_train), _ = load_data()
    model = Sequential([Dense(10, activation="softmax")], input_shape=(784,))
    model.build(seed=0)
    model.compile("adam", "categorical_crossentropy")
    history = model.fit(digits, y_train[:64], epochs=2, batch_size=32, seed=0, augment=augment)
    assert len(history["loss"]) == 2 and np.isfinite(history["loss"]).all()


def test_a_generator_is_required(digits):
    with pytest.raises(TypeError, match="Generator"):
        augment(digits, 0)
