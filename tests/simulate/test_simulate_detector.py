"""Detector model: MTF (thesis eq. 1.25), dose, shot and readout noise (eqs. 1.24-1.28)."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.simulate.detector import (
    apply_dose_and_noise,
    apply_mtf,
    mtf,
    nyquist_frequencies,
)

SHAPE = (256, 256)
N_PIX = SHAPE[0] * SHAPE[1]


def test_mtf_limits_and_half_maximum():
    c0, c3, floor = 0.3, 2.5, 0.2
    assert mtf(np.array(0.0), c0, c3, floor) == pytest.approx(1.0)
    assert mtf(np.array(1e6), c0, c3, floor) == pytest.approx(floor, abs=1e-9)
    assert mtf(np.array(c0), c0, c3, floor) == pytest.approx((1 + floor) / 2)
    q = np.linspace(0, 1.5, 100)
    assert np.all(np.diff(mtf(q, c0, c3, floor)) < 0)  # decreasing for C < 1


def test_mtf_thesis_figure_1_4_parameters():
    # thesis Fig. 1.4: c0 = 0.2, c3 = 2.57, C = 0.51
    q = np.array([0.0, 0.2, 1.0])
    expected = (1 - 0.51) / (1 + (q / 0.2) ** 2.57) + 0.51
    np.testing.assert_allclose(mtf(q, 0.2, 2.57, 0.51), expected)


def test_mtf_batches_parameters():
    q = nyquist_frequencies((8, 6))
    batch = mtf(q, np.array([0.2, 0.5]), np.array([2.0, 3.0]), np.array([0.0, 0.1]))
    assert batch.shape == (2, 8, 6)
    np.testing.assert_allclose(batch[1], mtf(q, 0.5, 3.0, 0.1))


def test_nyquist_frequencies():
    q = nyquist_frequencies((8, 8))
    assert q[0, 0] == 0 and q[4, 0] == pytest.approx(1.0)  # Nyquist along an axis
    assert q.max() == pytest.approx(np.sqrt(2))
    # q̃ = 2 q s does not depend on the pixel size s
    s = 0.13
    q_abs = np.hypot(*np.meshgrid(np.fft.fftfreq(8, s), np.fft.fftfreq(8, s), indexing="ij"))
    np.testing.assert_allclose(q, 2 * q_abs * s)


def test_apply_mtf_keeps_the_mean():
    image = np.random.default_rng(0).random(SHAPE)
    out = apply_mtf(image, mtf(nyquist_frequencies(SHAPE), 0.3, 2.0, 0.0))
    assert out.mean() == pytest.approx(image.mean())
    assert out.std() < image.std()


def test_noise_free_counts_are_dose_times_pixel_area():
    intensity = np.random.default_rng(1).random((3,) + SHAPE) + 0.5
    dose = np.array([10.0, 100.0, 1000.0])
    out = apply_dose_and_noise(intensity, dose, 0.01, rng=0, noise=False)
    np.testing.assert_allclose(out, dose[:, None, None] * 0.01 * intensity)
    out = apply_dose_and_noise(intensity, dose, 0.01, rng=0, noise=False, readout=0.5)
    np.testing.assert_allclose(out, dose[:, None, None] * 0.01 * intensity + 0.5)


@pytest.mark.parametrize("dose, pixel_area", [(100.0, 0.01), (1e4, 0.0049), (10.0, 0.03)])
def test_mean_counts_equal_dose_times_pixel_area(dose, pixel_area):
    rng = np.random.default_rng(2)
    counts = apply_dose_and_noise(np.ones(SHAPE), dose, pixel_area, rng)
    expected = dose * pixel_area
    assert abs(counts.mean() - expected) < 5 * np.sqrt(expected / N_PIX)
    assert np.all(counts == np.round(counts))  # Poisson counts


def test_normalize_option():
    intensity = np.full(SHAPE, 0.5)
    counts = apply_dose_and_noise(intensity, 100.0, 0.01, 0, noise=False, normalize=True)
    np.testing.assert_allclose(counts, 1.0)


def _variance_tolerance(power):
    """Six standard errors of the sample variance of stationary, near-Gaussian noise
    with power spectrum ``power`` (per pixel; a constant for white noise): the
    periodogram values are exponential, so var(s²) ≈ 2 Σ P² / N²."""
    power = np.broadcast_to(power, SHAPE)
    return 6 * np.sqrt(2 * np.sum(power**2)) / N_PIX


def test_shot_plus_readout_variance():
    """Eq. 1.28: without the MTF, counts ~ Poisson(N_D + N0): mean = variance."""
    n_d, n0 = 2.0, 0.5
    counts = apply_dose_and_noise(np.ones(SHAPE), n_d / 0.04, 0.04, 3, readout=n0)
    assert abs(counts.mean() - (n_d + n0)) < 5 * np.sqrt((n_d + n0) / N_PIX)
    assert abs(counts.var() - (n_d + n0)) < _variance_tolerance(n_d + n0)


def test_mtf_shapes_the_shot_noise_but_not_the_readout_noise():
    """Eqs. 1.26-1.27: the MTF filters the Poisson shot noise (variance N_D·<MTF²>,
    Parseval) and the readout noise is added afterwards (variance N0, white)."""
    n_d, n0, params = 20.0, 3.0, {"c0": 0.25, "c3": 3.0, "C": 0.1}
    m = mtf(nyquist_frequencies(SHAPE), **params)
    expected_shot = n_d * np.mean(m**2)
    counts = apply_dose_and_noise(np.ones(SHAPE), n_d, 1.0, 4, mtf_params=params)
    assert abs(counts.var() - expected_shot) < _variance_tolerance(n_d * m**2)
    assert abs(counts.mean() - n_d) < 5 * np.sqrt(n_d / N_PIX)
    readout_only = apply_dose_and_noise(np.ones(SHAPE), 0.0, 1.0, 5, mtf_params=params,
                                        readout=n0)
    assert abs(readout_only.var() - n0) < _variance_tolerance(n0)  # not n0 * <MTF²>
    both = apply_dose_and_noise(np.ones(SHAPE), n_d, 1.0, 6, mtf_params=params, readout=n0)
    total = expected_shot + n0
    assert abs(both.var() - total) < _variance_tolerance(n_d * m**2 + n0)
    assert abs(both.mean() - (n_d + n0)) < 5 * np.sqrt((n_d + n0) / N_PIX)
    # the filtered noise is spatially correlated, the readout noise is not
    spectrum = np.abs(np.fft.fft2(counts - counts.mean())) ** 2
    q = nyquist_frequencies(SHAPE)
    assert spectrum[q < 0.1].mean() > 5 * spectrum[q > 1.0].mean()


def test_mtf_params_as_tuple_and_errors():
    image = np.ones((16, 16))
    a = apply_dose_and_noise(image, 10.0, 1.0, 0, mtf_params=(0.3, 2.0, 0.0), noise=False)
    np.testing.assert_allclose(a, 10.0)
    with pytest.raises(ValueError, match="c0"):
        apply_dose_and_noise(image, 10.0, 1.0, 0, mtf_params={"c3": 2.0, "C": 0.0})
    with pytest.raises(TypeError):
        apply_dose_and_noise(image, 10.0, 1.0, 0, mtf_params=0.3)


def test_batched_dose_and_readout():
    intensity = np.ones((2,) + SHAPE)
    counts = apply_dose_and_noise(intensity, np.array([1.0, 50.0]), 1.0, 7,
                                  mtf_params={"c0": np.array([0.3, 0.5]), "c3": 2.0, "C": 0.0},
                                  readout=np.array([0.0, 1.0]))
    assert counts.shape == (2,) + SHAPE
    assert abs(counts[0].mean() - 1.0) < 0.05 and abs(counts[1].mean() - 51.0) < 0.5


def test_same_seed_same_noise():
    a = apply_dose_and_noise(np.ones((32, 32)), 100.0, 0.01, 11, readout=0.01)
    b = apply_dose_and_noise(np.ones((32, 32)), 100.0, 0.01, np.random.default_rng(11),
                             readout=0.01)
    np.testing.assert_array_equal(a, b)
