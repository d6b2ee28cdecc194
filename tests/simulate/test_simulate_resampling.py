"""Fourier resampling to a drawn pixel size and crop/zero-pad to the image size."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.simulate.resampling import crop_or_pad, fourier_resample, resampled_shape


def _cosine(n, sampling, k):
    x = np.arange(n) * sampling
    return 1.0 + 0.3 * np.cos(2 * np.pi * k * x)[:, None] * np.cos(2 * np.pi * k * x)[None]


def test_band_limited_image_is_resampled_exactly():
    n, s = 120, 0.05  # extent 6 Å
    k = 1 / 1.5  # period 1.5 Å, a harmonic of the cell, well below both Nyquists
    image = _cosine(n, s, k)
    out, actual = fourier_resample(image, s, 0.1)
    assert out.shape == (60, 60) and actual == pytest.approx((0.1, 0.1))
    np.testing.assert_allclose(out, _cosine(60, 0.1, k), atol=1e-12)
    up, _ = fourier_resample(out, actual, 0.05)
    np.testing.assert_allclose(up, image, atol=1e-12)


def test_mean_is_preserved_and_high_frequencies_removed():
    rng = np.random.default_rng(0)
    image = rng.random((128, 96)) + 1.0
    out, actual = fourier_resample(image, (0.05, 0.06), 0.13)
    assert out.shape == resampled_shape((128, 96), (0.05, 0.06), 0.13) == (49, 44)
    assert actual == pytest.approx((128 * 0.05 / 49, 96 * 0.06 / 44))
    assert out.mean() == pytest.approx(image.mean())
    assert out.std() < image.std()
    assert out.dtype == image.dtype


def test_complex_waves_and_batches():
    rng = np.random.default_rng(1)
    waves = np.exp(1j * rng.random((2, 3, 64, 64))).astype(np.complex64)
    out, _ = fourier_resample(waves, 0.05, 0.1)
    assert out.shape == (2, 3, 32, 32) and out.dtype == np.complex64
    single, _ = fourier_resample(waves[1, 2], 0.05, 0.1)
    np.testing.assert_allclose(out[1, 2], single, atol=1e-6)


def test_same_sampling_is_a_copy():
    image = np.ones((10, 10))
    out, actual = fourier_resample(image, 0.1, 0.1)
    assert out is not image and actual == (0.1, 0.1)


def test_crop_or_pad_centres():
    image = np.arange(36.0).reshape(6, 6)
    cropped = crop_or_pad(image, (4, 2))
    assert cropped.shape == (4, 2)
    assert cropped[2, 1] == image[3, 3]  # centre pixel n//2 -> m//2
    padded = crop_or_pad(image, (10, 9), fill=-1.0)
    assert padded.shape == (10, 9) and padded[5, 4] == image[3, 3]
    assert padded[0, 0] == -1.0 and (padded == -1).sum() == 90 - 36
    np.testing.assert_array_equal(crop_or_pad(padded, (6, 6)), image)
    mixed = crop_or_pad(np.ones((2, 8, 4)), (6, 6))
    assert mixed.shape == (2, 6, 6) and mixed.sum() == 2 * 6 * 4
