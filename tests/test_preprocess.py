"""The blur behind local standardisation: each route against scipy's direct convolution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hrtemlake.preprocess import gaussian_blur, local_standardise


def _scene(ny: int = 300, nx: int = 212, channels: int = 2) -> np.ndarray:
    """Counts with lattice fringes, a particle and slow illumination (y, x, channel)."""
    yy, xx = np.mgrid[:ny, :nx].astype(float)
    particle = np.hypot(yy - ny / 2, xx - nx / 2.5) < ny / 4
    image = 100 + 30 * np.cos(2 * np.pi * xx / 7.3) * particle + 20 * np.sin(yy / 40)
    rng = np.random.default_rng(0)
    return np.stack([rng.poisson(image) for _ in range(channels)], axis=-1).astype(np.float32)


@pytest.mark.parametrize(
    ("sigma", "tolerance"),
    [(3.0, 1e-6), (12.0, 2e-4), (24.0, 2e-4), (40.0, 5e-4), (100.0, 3e-3)],
    ids=["direct", "fft-12", "fft-24", "coarse-40", "coarse-near-image-size"],
)
def test_blur_matches_the_direct_convolution(sigma, tolerance):
    stack = _scene()
    exact = ndimage.gaussian_filter(stack.astype(np.float64), (sigma, sigma, 0), mode="reflect")
    blurred = gaussian_blur(stack, sigma)
    assert blurred.dtype == np.float32 and blurred.shape == stack.shape
    assert np.abs(blurred - exact).max() / exact.mean() < tolerance


def test_fft_route_keeps_float64():
    stack = _scene(channels=1).astype(np.float64)
    blurred = gaussian_blur(stack, 10.0)
    exact = ndimage.gaussian_filter(stack, (10, 10, 0))
    assert blurred.dtype == np.float64
    # the FFT applies the untruncated Gaussian; scipy cuts its kernel at 4σ
    np.testing.assert_allclose(blurred, exact, rtol=1e-4)


@pytest.mark.parametrize("sigma", [12.0, 24.0, 40.0])
def test_local_standardise_matches_the_definition(sigma):
    image = _scene(channels=1)[..., 0]
    mean = ndimage.gaussian_filter(image.astype(np.float64), sigma)
    std = np.sqrt(ndimage.gaussian_filter((image - mean) ** 2, sigma))
    out = local_standardise(image, sigma)
    assert np.sqrt(np.mean((out - (image - mean) / std) ** 2)) < 2e-3
