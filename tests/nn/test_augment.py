"""Augmentations (eqs. 3.2-3.4) and flips: known effects, identities, reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hrtemlake.errors import ParameterError
from hrtemlake.nn.augment import Augmentation, augment_image, random_flips

OFF = {"brightness": (0.0, 0.0), "contrast": (1.0, 1.0), "gamma": (1.0, 1.0)}


@pytest.fixture
def image() -> np.ndarray:
    """A standardised-looking 3-channel focal series with different channel statistics."""
    rng = np.random.default_rng(7)
    channels = [rng.normal(loc, scale, (16, 12)) for loc, scale in ((0, 1), (2, 0.5), (-1, 3))]
    return np.stack(channels, axis=-1).astype(np.float32)


def _only(**ranges):
    return {**OFF, **ranges}


def test_brightness_adds_one_constant_within_range_to_every_pixel(image):
    out = augment_image(image, np.random.default_rng(0), **_only(brightness=(0.2, 0.5)))
    offset = out - image
    assert out.dtype == np.float32
    assert np.ptp(offset) < 1e-5  # the same constant for every pixel and channel
    assert 0.2 <= offset.mean() <= 0.5


def test_contrast_keeps_channel_means_and_scales_std(image):
    out = augment_image(image, np.random.default_rng(1), **_only(contrast=(0.5, 2.0)))
    np.testing.assert_allclose(out.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=1e-5)
    factors = out.std(axis=(0, 1)) / image.std(axis=(0, 1))
    np.testing.assert_allclose(factors, factors[0], rtol=1e-5)  # one draw for all channels
    assert 0.5 <= factors[0] <= 2.0 and not np.isclose(factors[0], 1.0)


def test_gamma_keeps_channel_minimum_and_scales_about_it(image):
    out = augment_image(image, np.random.default_rng(2), **_only(gamma=(0.5, 2.0)))
    minimum = image.min(axis=(0, 1))
    np.testing.assert_allclose(out.min(axis=(0, 1)), minimum, atol=1e-6)
    factors = (out.max(axis=(0, 1)) - minimum) / (image.max(axis=(0, 1)) - minimum)
    np.testing.assert_allclose(factors, factors[0], rtol=1e-5)
    assert 0.5 <= factors[0] <= 2.0 and not np.isclose(factors[0], 1.0)


def test_fixed_factors_follow_the_equations(image):
    out = augment_image(
        image, np.random.default_rng(3), brightness=(0.3, 0.3), contrast=(2.0, 2.0),
        gamma=(0.5, 0.5),
    )  # fmt: skip
    step = image.astype(np.float64) + 0.3  # eq. 3.2
    mean = step.mean(axis=(0, 1))
    step = (step - mean) * 2.0 + mean  # eq. 3.3
    minimum = step.min(axis=(0, 1))
    step = (step - minimum) * 0.5 + minimum  # eq. 3.4
    np.testing.assert_allclose(out, step, atol=1e-5)


def test_identity_ranges_leave_the_image_unchanged(image):
    out = augment_image(image, np.random.default_rng(4), **OFF)
    np.testing.assert_array_equal(out, image)
    assert out is not image
    label = np.zeros((16, 12, 2), np.float32)
    aug_image, aug_label = Augmentation.none().apply(image, label, np.random.default_rng(4))
    np.testing.assert_array_equal(aug_image, image)
    np.testing.assert_array_equal(aug_label, label)


def test_same_seed_same_augmentation(image):
    label = np.random.default_rng(9).random((16, 12, 2)).astype(np.float32)
    augmentation = Augmentation(brightness=(-1, 1), contrast=(0.5, 1.5), gamma=(0.5, 1.5))
    first = augmentation.apply(image, label, np.random.default_rng(42))
    second = augmentation.apply(image, label, np.random.default_rng(42))
    third = augmentation.apply(image, label, np.random.default_rng(43))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], third[0])


def test_flips_keep_image_and_label_aligned():
    image = np.zeros((6, 5, 3), np.float32)
    label = np.zeros((6, 5, 2), np.float32)
    image[1, 0, :] = 1.0  # marker in every channel, off both axes of symmetry
    label[1, 0, 1] = 1.0
    seen = set()
    for seed in range(32):
        out_image, out_label = random_flips(image, label, np.random.default_rng(seed))
        position = np.argwhere(out_image[..., 0] == 1.0)
        assert len(position) == 1
        assert np.argwhere(out_label[..., 1] == 1.0).tolist() == position.tolist()
        assert out_image.flags.c_contiguous and out_label.flags.c_contiguous
        seen.add(tuple(position[0]))
    # identity, left-right, up-down, both
    assert seen == {(1, 0), (1, 4), (4, 0), (4, 4)}


def test_flip_without_label_and_mismatched_label():
    image = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    out, label = random_flips(image, None, np.random.default_rng(0))
    assert label is None and sorted(out.ravel()) == sorted(image.ravel())
    with pytest.raises(ValueError, match="differ"):
        random_flips(image, np.zeros((4, 3, 1)), np.random.default_rng(0))


def test_augmentation_changes_label_only_by_flips(image):
    label = np.random.default_rng(5).random((16, 12, 2)).astype(np.float32)
    _, out = Augmentation().apply(image, label, np.random.default_rng(6))
    flips = [label, label[:, ::-1], label[::-1], label[::-1, ::-1]]
    assert any(np.array_equal(out, candidate) for candidate in flips)


@pytest.mark.parametrize("field", ["brightness", "contrast", "gamma"])
def test_bad_range_names_the_field(image, field):
    with pytest.raises(ValueError, match=field):
        augment_image(image, np.random.default_rng(0), **{field: (1.2, 0.8)})
    with pytest.raises(ParameterError, match=field):
        Augmentation(**{field: (1.2, 0.8)})
    with pytest.raises(ParameterError, match=field):
        Augmentation(**{field: (0.1,)})


def test_negative_factors_are_rejected():
    with pytest.raises(ParameterError, match="contrast"):
        Augmentation(contrast=(-0.5, 1.0))


def test_dict_round_trip_and_validation():
    augmentation = Augmentation(brightness=(-0.2, 0.1), contrast=(0.8, 1.2), flips=False)
    data = json.loads(json.dumps(augmentation.to_dict()))
    assert Augmentation.from_dict(data) == augmentation
    assert Augmentation.from_dict({}) == Augmentation()
    assert Augmentation.none() == Augmentation.from_dict(Augmentation.none().to_dict())
    with pytest.raises(ParameterError, match="unknown"):
        Augmentation.from_dict({"rotation": 90})
    with pytest.raises(ParameterError, match="flips"):
        Augmentation.from_dict({"flips": "yes"})


def test_image_must_have_channels():
    with pytest.raises(ValueError, match=r"\(y, x, c\)"):
        augment_image(np.zeros((4, 4)), np.random.default_rng(0))
