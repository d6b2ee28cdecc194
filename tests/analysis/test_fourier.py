"""Fourier-peak statistics against synthetic lattices with known spacings and rotations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from hrtemlake.analysis.fourier import (
    apodised_crop,
    fourier_peaks,
    track_fourier_statistics,
    zone_axis_flag,
)

PIXEL = 0.1  # [Å/px]


def fringes(shape, d, angles, amplitudes=None, pixel=PIXEL, centre=(0.0, 0.0)):
    """Σ cos(2π (x cos θ + y sin θ) / d), x to the right and y *up* (y = -row) [Å]."""
    rows, cols = np.indices(shape, dtype=float)
    x, y = (cols - centre[1]) * pixel, -(rows - centre[0]) * pixel
    amplitudes = amplitudes or [1.0] * len(angles)
    image = np.zeros(shape)
    for amplitude, angle in zip(amplitudes, angles):
        t = math.radians(angle)
        image += amplitude * np.cos(2 * np.pi * (x * math.cos(t) + y * math.sin(t)) / d + 0.7)
    return image


def hexagonal_blobs(shape, a, rotation, sigma, pixel=PIXEL):
    """Gaussian atoms on a hexagonal lattice of constant a [Å]; first-order d = a √3 / 2."""
    t = math.radians(rotation)
    a1 = a * np.array([math.cos(t), math.sin(t)])
    a2 = a * np.array([math.cos(t + math.pi / 3), math.sin(t + math.pi / 3)])
    rows, cols = np.indices(shape, dtype=float)
    x, y = cols * pixel, -rows * pixel
    extent = int(max(shape) * pixel / a) + 3
    image = np.zeros(shape)
    for i in range(-2 * extent, 2 * extent):
        for j in range(-2 * extent, 2 * extent):
            px, py = i * a1 + j * a2
            if -1 <= px <= shape[1] * pixel + 1 and -shape[0] * pixel - 1 <= py <= 1:
                image += np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma**2))
    return image


def disc(shape, radius, centre=None):
    rows, cols = np.indices(shape)
    cy, cx = centre if centre is not None else (shape[0] / 2, shape[1] / 2)
    return (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2


def angle_error(a, b):
    return abs((a - b + 90.0) % 180.0 - 90.0)


@pytest.mark.parametrize("d", [2.35, 2.04, 3.12])
@pytest.mark.parametrize("angle", [0.0, 17.3, 63.1, 90.0, 151.7, 179.6])
def test_single_fringe_spacing_and_angle(rng, d, angle):
    shape = (260, 260)
    image = fringes(shape, d, [angle]) + rng.normal(0, 1.0, shape)
    crop = apodised_crop(image, disc(shape, 110), sigma_px=5)
    peaks = fourier_peaks(crop, PIXEL)
    assert peaks.n_pairs == 1
    assert peaks.d_spacing[0] == pytest.approx(d, rel=0.01)
    assert angle_error(peaks.angle[0], angle) < 0.5
    assert 0.0 <= peaks.angle[0] < 180.0
    assert peaks.intensity[0] == 1.0
    assert math.isnan(peaks.ratio) and not zone_axis_flag(peaks.ratio)


def faceted(shape, corners, radius, rotation):
    """A regular polygon mask (a faceted particle)."""
    from skimage.draw import polygon

    t = np.radians(rotation) + np.arange(corners) * 2 * np.pi / corners
    mask = np.zeros(shape, bool)
    rr, cc = polygon(shape[0] / 2 + radius * np.sin(t), shape[1] / 2 + radius * np.cos(t), shape)
    mask[rr, cc] = True
    return mask


def test_side_lobes_of_bright_reflections_are_not_pairs():
    """Shape-transform rings and facet streaks, lifted by noise, must not count as pairs."""
    shape = (300, 300)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        angle = rng.uniform(0, 180)
        masks = [disc(shape, 120), faceted(shape, 4, 130, angle), faceted(shape, 6, 125, angle)]
        mask = masks[seed % 3]
        image = fringes(shape, 2.35, [angle, angle + 60, angle + 120]) + rng.normal(0, 1.0, shape)
        peaks = fourier_peaks(apodised_crop(image, mask, 5), PIXEL)
        assert peaks.n_pairs == 3, (seed, peaks.d_spacing)
        assert peaks.ratio < 1.3


def test_measured_accuracy_is_far_better_than_required(rng):
    """Noise-free fringes: d within 0.2 % and angle within 0.1° over many rotations."""
    shape = (300, 300)
    mask = disc(shape, 120)
    for d in (1.6, 2.35, 4.5):
        for angle in np.linspace(0, 179, 8):
            peaks = fourier_peaks(apodised_crop(fringes(shape, d, [angle]), mask, 5), PIXEL)
            assert abs(peaks.d_spacing[0] / d - 1) < 2e-3
            assert angle_error(peaks.angle[0], angle) < 0.1


def test_angle_convention_y_up_counter_clockwise():
    """k along +x → 0°; varying along rows (y) → 90°; k = (1, 1) with y up → 45°."""
    shape = (200, 200)
    rows, cols = np.indices(shape, dtype=float)
    mask = disc(shape, 90)
    period = 20.0  # px
    cases = {
        0.0: np.cos(2 * np.pi * cols / period),
        90.0: np.cos(2 * np.pi * rows / period),
        45.0: np.cos(2 * np.pi * (cols - rows) / (period * math.sqrt(2))),
        135.0: np.cos(2 * np.pi * (cols + rows) / (period * math.sqrt(2))),
    }
    for expected, image in cases.items():
        peaks = fourier_peaks(apodised_crop(image, mask, 5), 1.0, d_max=100)
        assert angle_error(peaks.angle[0], expected) < 0.2
        assert peaks.d_spacing[0] == pytest.approx(period, rel=0.01)


@pytest.mark.parametrize("rotation", [0.0, 17.3, 41.0])
def test_hexagonal_fringes_three_equal_pairs(rng, rotation):
    shape = (300, 300)
    angles = [rotation, rotation + 60, rotation + 120]
    image = fringes(shape, 2.35, angles) + rng.normal(0, 1.0, shape)
    peaks = fourier_peaks(apodised_crop(image, disc(shape, 130), 5), PIXEL)
    assert peaks.n_pairs == 3
    np.testing.assert_allclose(peaks.d_spacing, 2.35, rtol=0.01)
    for expected in angles:
        assert min(angle_error(a, expected % 180) for a in peaks.angle) < 0.5
    assert peaks.intensity[0] == 1.0 and peaks.intensity.min() > 0.8
    assert 1.0 <= peaks.ratio < 1.25
    assert zone_axis_flag(peaks.ratio)


def test_hexagonal_gaussian_atoms_first_order(rng):
    """Atoms, not cosines: higher orders exist; ratio_pairs=3 keeps the zone-axis flag right."""
    a, rotation = 2.71, 23.0
    shape = (320, 320)
    image = hexagonal_blobs(shape, a, rotation, sigma=0.45) + rng.normal(0, 0.2, shape)
    peaks = fourier_peaks(apodised_crop(image, disc(shape, 140), 5), PIXEL, ratio_pairs=3)
    first = a * math.sqrt(3) / 2
    np.testing.assert_allclose(peaks.d_spacing[:3], first, rtol=0.01)
    # Reciprocal vectors of a hexagonal lattice are the real ones turned by 30°.
    expected = [(rotation + 30 + 60 * n) % 180 for n in range(3)]
    for angle in expected:
        assert min(angle_error(p, angle) for p in peaks.angle[:3]) < 0.5
    assert peaks.n_pairs > 3 and np.all(peaks.d_spacing[3:] < first * 0.99)  # higher orders
    assert peaks.ratio < 1.25 and zone_axis_flag(peaks.ratio)


def test_suppressed_pair_gives_a_large_ratio(rng):
    shape = (300, 300)
    image = fringes(shape, 2.35, [10, 70, 130], amplitudes=[1.0, 1.0, 0.2])
    image += rng.normal(0, 1, shape)
    peaks = fourier_peaks(apodised_crop(image, disc(shape, 130), 5), PIXEL)
    assert peaks.n_pairs == 3
    assert peaks.ratio == pytest.approx(25.0, rel=0.3)  # (1 / 0.2)² in power
    assert peaks.intensity[-1] == pytest.approx(0.04, rel=0.3)
    assert angle_error(peaks.angle[-1], 130) < 0.5
    assert not zone_axis_flag(peaks.ratio)


def test_two_spacings_are_ranked_by_intensity(rng):
    """fcc-like: strong {111}-type fringes at 2.35 Å, a weaker set at 2.04 Å."""
    shape = (300, 300)
    image = fringes(shape, 2.35, [35.0], [1.0]) + fringes(shape, 2.04, [90.0], [0.5])
    image += rng.normal(0, 1, shape)
    peaks = fourier_peaks(apodised_crop(image, disc(shape, 130), 5), PIXEL)
    assert peaks.n_pairs == 2
    assert peaks.d_spacing == pytest.approx([2.35, 2.04], rel=0.01)
    assert peaks.intensity[1] == pytest.approx(0.25, rel=0.25)
    assert peaks.ratio == pytest.approx(4.0, rel=0.25)


@pytest.mark.parametrize("n", [64, 257, 400])
def test_pure_noise_has_no_peaks(n):
    for seed in range(5):
        noise = np.random.default_rng(seed).normal(0, 1, (n, n))
        peaks = fourier_peaks(apodised_crop(noise, disc((n, n), 0.45 * n), 5), PIXEL)
        assert peaks.n_pairs == 0
        assert peaks.d_spacing.shape == (0,) and peaks.position.shape == (0, 2)
        assert math.isnan(peaks.ratio) and not zone_axis_flag(peaks.ratio)


def test_blank_crop_does_not_crash():
    peaks = fourier_peaks(np.zeros((64, 64)), PIXEL)
    assert peaks.n_pairs == 0 and math.isnan(peaks.ratio)


def test_max_peaks_limits_pairs():
    shape = (300, 300)
    image = fringes(shape, 2.35, [0, 60, 120], amplitudes=[1.0, 0.8, 0.6])
    peaks = fourier_peaks(apodised_crop(image, disc(shape, 130), 5), PIXEL, max_peaks=2)
    assert peaks.n_pairs == 2
    assert [round(a) % 180 for a in peaks.angle] == [0, 60]


def test_apodised_crop_shape_and_content():
    shape = (200, 300)
    rng = np.random.default_rng(3)
    frame = 7.0 + rng.normal(size=shape)
    mask = disc(shape, 30, centre=(80, 200))
    crop = apodised_crop(frame, mask, sigma_px=4)
    side = 61 + 2 * 16  # bounding box grown by ceil(4 σ)
    assert crop.shape == (128, 128)  # next power of two
    inside = crop != 0
    assert inside.sum() <= side * side
    assert np.abs(crop[inside].mean()) < 0.1  # the particle's mean is removed
    # The edge is apodised: the outermost ring of the grown box is almost zero.
    rows, cols = np.nonzero(inside)
    assert np.abs(crop[rows.min()]).max() < 1e-3
    assert apodised_crop(frame, mask, sigma_px=0).shape == (64, 64)
    assert apodised_crop(frame, mask, sigma_px=4, size=100).shape == (100, 100)


def test_apodised_crop_at_the_frame_edge():
    frame = np.random.default_rng(0).normal(size=(100, 100))
    mask = disc((100, 100), 20, centre=(0, 50))
    crop = apodised_crop(frame, mask, sigma_px=3)
    # Rows 0..20 of the mask plus 12 below (clipped above); columns 30..70 plus 12 each side.
    rows, cols = np.nonzero(crop)
    assert np.ptp(rows) + 1 <= 21 + 12 and np.ptp(cols) + 1 <= 41 + 24
    assert crop.shape == (128, 128) and np.isfinite(crop).all()


def test_apodised_crop_bad_input():
    frame = np.zeros((50, 50))
    with pytest.raises(ValueError, match="empty"):
        apodised_crop(frame, np.zeros((50, 50), bool), 3)
    with pytest.raises(ValueError, match="shape"):
        apodised_crop(frame, np.ones((40, 50), bool), 3)
    with pytest.raises(ValueError, match="size"):
        apodised_crop(frame, np.ones((50, 50), bool), 3, size=16)
    with pytest.raises(ValueError, match="sigma_px"):
        apodised_crop(frame, np.ones((50, 50), bool), -1)


def test_fourier_peaks_bad_input():
    with pytest.raises(ValueError, match="pixel_size"):
        fourier_peaks(np.zeros((32, 32)), 0.0)
    with pytest.raises(ValueError, match="d_min"):
        fourier_peaks(np.zeros((32, 32)), 0.1, d_min=5.0, d_max=4.0)
    with pytest.raises(ValueError, match="max_peaks"):
        fourier_peaks(np.zeros((32, 32)), 0.1, max_peaks=0)
    with pytest.raises(ValueError, match="2-D"):
        fourier_peaks(np.zeros((4, 32, 32)), 0.1)


def test_zone_axis_flag_direction_and_nan():
    assert zone_axis_flag(1.2) is True
    assert zone_axis_flag(50.0) is False
    assert zone_axis_flag(float("nan")) is False
    np.testing.assert_array_equal(
        zone_axis_flag(np.array([1.0, 4.0, 6.0, np.nan]), threshold=5.0), [True, True, False, False]
    )
    with pytest.raises(ValueError, match="threshold"):
        zone_axis_flag(1.0, threshold=0.5)


def test_track_fourier_statistics(rng):
    """Track 2 everywhere (hexagonal), track 5 only in frames 0 and 2 (one fringe set)."""
    n_time, shape = 3, (240, 420)
    frames = np.empty((n_time, *shape))
    labels = np.zeros((n_time, *shape), dtype=np.int32)
    hexagonal = fringes(shape, 2.35, [5, 65, 125])
    single = fringes(shape, 3.12, [40])
    for t in range(n_time):
        left = disc(shape, 90, centre=(120, 110 + 3 * t))  # moves between frames
        right = disc(shape, 80, centre=(120, 310))
        frames[t] = np.where(left, hexagonal, 0) + rng.normal(0, 1, shape)
        labels[t][left] = 2
        if t != 1:
            frames[t] += np.where(right, single, 0)
            labels[t][right] = 5
    times = np.array([0.0, 0.4, 0.8])
    data = xr.DataArray(
        frames, dims=("time", "y", "x"), coords={"time": ("time", times, {"units": "s"})}
    )
    stats = track_fourier_statistics(data, labels, PIXEL, max_peaks=4)

    assert dict(stats.sizes) == {"track": 2, "time": 3, "peak": 4}
    np.testing.assert_array_equal(stats.track, [2, 5])
    np.testing.assert_array_equal(stats.time, times)
    assert stats.time.attrs["units"] == "s"
    assert stats.d_spacing.attrs["units"] == "Å" and stats.angle.attrs["units"] == "deg"
    assert stats.intensity.attrs["units"] == "1"

    hexa = stats.sel(track=2)
    np.testing.assert_allclose(hexa.d_spacing[:, :3], 2.35, rtol=0.01)
    assert np.isnan(hexa.d_spacing[:, 3]).all()
    np.testing.assert_array_equal(hexa.n_peaks, 3)
    assert (hexa.ratio < 1.3).all() and hexa.on_zone.all()
    for t in range(n_time):
        assert sorted(round(float(a)) for a in hexa.angle[t, :3]) == [5, 65, 125]

    one = stats.sel(track=5)
    np.testing.assert_allclose(one.d_spacing[[0, 2], 0], 3.12, rtol=0.01)
    np.testing.assert_allclose(one.angle[[0, 2], 0], 40.0, atol=0.5)
    assert np.isnan(one.d_spacing[1]).all() and np.isnan(one.ratio[1])  # absent in frame 1
    np.testing.assert_array_equal(one.n_peaks, [1, 0, 1])
    assert not one.on_zone.any()  # one fringe set: ratio NaN


def test_track_fourier_statistics_empty_and_bad_input():
    stats = track_fourier_statistics(np.zeros((2, 32, 32)), np.zeros((2, 32, 32), int), PIXEL)
    assert stats.sizes["track"] == 0 and stats.sizes["time"] == 2
    with pytest.raises(ValueError, match="shape"):
        track_fourier_statistics(np.zeros((2, 32, 32)), np.zeros((2, 32, 30), int), PIXEL)
    with pytest.raises(ValueError, match="integers"):
        track_fourier_statistics(np.zeros((1, 8, 8)), np.ones((1, 8, 8)), PIXEL)
    with pytest.raises(ValueError, match="unknown option"):
        track_fourier_statistics(np.zeros((1, 8, 8)), np.ones((1, 8, 8), int), PIXEL, nonsense=1)
