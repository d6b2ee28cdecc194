"""Label geometry (issue: image epochs and labels): disc radius, class channels, null
class = 1 - sum, convex-hull masks, Gaussian spots, exit-wave and Denoise/Regression."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import fft2, ifft2

from hrtemlake.simulate import ImageParameters, synthesize_images
from hrtemlake.simulate.epochs import EpochGeometry
from hrtemlake.simulate.labels import (
    channel_names,
    disk_label,
    exitwave_label,
    gaussian_label,
    mask_label,
    with_background,
)
from hrtemlake.simulate.resampling import crop_or_pad, fourier_resample

#: A 0.1 Å grid whose pixel (r, c) sits at y = r * 0.1, x = c * 0.1 (no crop or pad).
PLAIN = EpochGeometry(grid=(60, 80), sampling=(0.1, 0.1), size=(60, 80), offset=(0, 0))
QUIET = dict(noise=None, mtf=None, readout=(0, 0), debug=None)


def _distances(geometry, x, y):
    rows, cols = np.mgrid[: geometry.size[0], : geometry.size[1]]
    return np.hypot((rows - geometry.offset[0]) * geometry.sampling[0] - y,
                    (cols - geometry.offset[1]) * geometry.sampling[1] - x)  # fmt: skip


@pytest.mark.parametrize("spotsize", [0.45, 0.8, 1.3])
def test_disc_holds_exactly_the_pixels_within_half_the_spotsize(spotsize):
    x, y = 2.0, 3.03
    disk = disk_label(PLAIN, np.array([[x, y]]), np.array([0]), 1, spotsize)[0]
    np.testing.assert_array_equal(disk == 1, _distances(PLAIN, x, y) <= spotsize / 2)
    assert disk.sum() == pytest.approx(np.pi * (spotsize / 2 / 0.1) ** 2, rel=0.25)


def test_one_channel_per_class_and_the_nearest_site_wins_overlaps():
    positions = np.array([[1.0, 1.0], [4.0, 2.0], [6.0, 4.0], [6.3, 4.0]])
    classes = np.array([0, 1, 2, 0])
    disk = disk_label(PLAIN, positions, classes, 3, 0.5)
    assert disk.shape == (3, 60, 80) and disk.dtype == np.float32
    assert disk.sum(axis=0).max() == 1  # channels never overlap
    for (x, y), c in zip(positions[:3], classes[:3]):
        assert disk[c, round(y / 0.1), round(x / 0.1)] == 1
    # between the overlapping sites 0.3 Å apart each pixel takes the nearest one's class
    assert disk[2, 40, 61] == 1 and disk[0, 40, 61] == 0  # x = 6.1 Å: 0.1 from 6.0
    assert disk[0, 40, 62] == 1 and disk[2, 40, 62] == 0  # x = 6.2 Å: 0.1 from 6.3
    labelled = with_background(disk)
    np.testing.assert_array_equal(labelled[-1], 1 - disk.sum(axis=0))
    assert set(np.unique(labelled[-1])) == {0.0, 1.0}


def test_sites_outside_the_image_and_no_sites():
    near_edge = disk_label(PLAIN, np.array([[-0.1, 2.0], [100.0, 100.0]]), np.array([0, 0]), 1, 0.6)
    inside = disk_label(PLAIN, np.array([[3.0, 2.0]]), np.array([0]), 1, 0.6)
    assert 0 < near_edge.sum() < inside.sum()
    assert not disk_label(PLAIN, np.zeros((0, 2)), np.zeros(0, int), 2, 0.6).any()
    assert not gaussian_label(PLAIN, np.zeros((0, 2)), np.zeros(0, int), 2, 0.6).any()


def test_mask_is_the_convex_hull_of_the_sites():
    square = np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 3.0], [1.0, 3.0], [2.5, 2.0]])
    mask = mask_label(PLAIN, square)
    rows, cols = np.mgrid[:60, :80] * 0.1
    inside = (cols >= 1 - 1e-9) & (cols <= 4 + 1e-9) & (rows >= 1 - 1e-9) & (rows <= 3 + 1e-9)
    np.testing.assert_array_equal(mask == 1, inside)
    triangle = mask_label(PLAIN, np.array([[1.0, 1.0], [5.0, 1.0], [1.0, 5.0]]))
    assert triangle.sum() == 41 * 42 / 2  # lattice points of the closed triangle
    assert triangle[20, 20] == 1 and triangle[35, 35] == 0
    assert not mask_label(PLAIN, square[:2]).any()  # a line has no inside


def test_mask_leaves_out_support_sites_and_adds_the_background():
    params = ImageParameters(label="Mask", num_classes=2, null_class=True, image_size=(80, 60),
                             sampling=(0.1, 0.1), **QUIET)  # fmt: skip
    positions = np.array([[1.0, 1.0], [3.0, 1.0], [2.0, 3.0], [7.0, 5.0]])
    classes = np.array([0, 0, 0, 1])
    wave = np.ones((60, 80), np.complex64)
    out = synthesize_images(wave, 0.1, params, 0, energy=300e3, sites=(positions, classes),
                            class_names=["Au", "support"])  # fmt: skip
    mask = out["label"][0]
    np.testing.assert_array_equal(mask[0], mask_label(PLAIN, positions[:3]))
    np.testing.assert_array_equal(mask[1], 1 - mask[0])
    assert mask[0, 50, 70] == 0  # the support site is not in the particle's outline


def test_gaussian_spots_have_peak_one_and_fwhm_spotsize():
    x, y, spotsize = 3.0, 2.0, 0.8
    gauss = gaussian_label(PLAIN, np.array([[x, y]]), np.array([1]), 2, spotsize)
    assert gauss.shape == (2, 60, 80) and not gauss[0].any()
    assert gauss[1, 20, 30] == pytest.approx(1.0)
    assert gauss[1, 20, 34] == pytest.approx(0.5, abs=1e-6)  # 0.4 Å = FWHM / 2 away
    disk = disk_label(PLAIN, np.array([[x, y]]), np.array([1]), 2, spotsize)
    np.testing.assert_array_equal(gauss[1] >= 0.5 - 1e-7, disk[1] == 1)
    labelled = with_background(gauss, clip=True)
    np.testing.assert_allclose(labelled[-1], np.clip(1 - gauss.sum(axis=0), 0, 1))


def test_disk_labels_with_null_class_from_the_synthesis():
    params = ImageParameters(label="Disk", num_classes=4, null_class=True, image_size=(48, 40),
                             sampling=(0.15, 0.16), spotsize=0.5, **QUIET)  # fmt: skip
    rng = np.random.default_rng(0)
    positions, classes = rng.uniform(0.5, 5.5, (30, 2)), rng.integers(0, 3, 30)
    out = synthesize_images(np.ones((64, 64), np.complex64), 0.1, params, 1, energy=50e3,
                            sites=(positions, classes), class_names=["Mo", "2S", "1S"],
                            n_epochs=2)  # fmt: skip
    label = out["label"]
    assert label.shape == (2, 4, 40, 48)
    np.testing.assert_array_equal(label[:, 3], 1 - label[:, :3].sum(axis=1))
    for epoch in range(2):  # discs drawn at each epoch's own pixel size and offsets
        s = out["sampling"][epoch]
        geometry = EpochGeometry.from_sampling((64, 64), 0.1, s, (40, 48))
        np.testing.assert_array_equal(
            label[epoch, :3], disk_label(geometry, positions, classes, 3, 0.5))


def test_exitwave_label_is_the_filtered_wave_resampled_like_the_image():
    rng = np.random.default_rng(1)
    wave = np.exp(1j * rng.standard_normal((50, 40)) * 0.2).astype(np.complex64)
    geometry = EpochGeometry.from_sampling((50, 40), 0.1, 0.13, (30, 40))
    label = exitwave_label(fft2(wave), geometry)
    ky, kx = np.fft.fftfreq(50, 0.1)[:, None], np.fft.fftfreq(40, 0.1)[None, :]
    filtered = ifft2(fft2(wave) * np.exp(-2 * np.pi**2 * 0.15**2 * (kx**2 + ky**2)))
    resampled, actual = fourier_resample(filtered, 0.1, 0.13)
    assert actual == pytest.approx(geometry.sampling)
    reference = crop_or_pad(resampled, (30, 40))
    assert label.shape == (2, 30, 40)
    np.testing.assert_allclose(label[0] + 1j * label[1], reference, atol=2e-6)
    assert not label[:, :, : geometry.offset[1]].any()  # zero where padded


def test_denoise_label_is_the_noise_free_image():
    params = ImageParameters(label="Denoise", num_classes=3, multifocus=(3, 50.0, 1.0),
                             image_size=(40, 40), sampling=(0.1, 0.1), debug=None,
                             mtf=None, readout=(0, 0), noise=None)  # fmt: skip
    wave = np.exp(1j * np.random.default_rng(2).standard_normal((40, 40)) * 0.3)
    out = synthesize_images(wave, 0.1, params, 3, energy=300e3)
    electrons = out["dose"][0] * 0.1 * 0.1
    assert out["label"].shape == (1, 3, 40, 40)
    np.testing.assert_allclose(out["image"][0], electrons * out["label"][0], rtol=1e-5)
    noisy = synthesize_images(wave, 0.1, params.replace(noise="poisson", mtf="parametric"), 3,
                              energy=300e3)  # fmt: skip
    np.testing.assert_array_equal(noisy["label"], out["label"])  # same draws, label noise-free
    assert not np.array_equal(noisy["image"], out["image"])


def test_regression_targets_are_the_stored_drawn_parameters():
    params = ImageParameters(label="Regression", num_classes=3,
                             regression_targets=["defocus", "ctf_c12", "sampling"],
                             ctf_c12=(0, 30), multifocus=(2, 40.0, 0.0), image_size=(32, 32),
                             debug=None)  # fmt: skip
    out = synthesize_images(np.ones((40, 40), np.complex64), 0.1, params, 4, energy=300e3,
                            n_epochs=3)  # fmt: skip
    assert "label" not in out and out["targets"].shape == (3, 3)
    expected = np.stack([out["defocus"][:, 0], out["ctf_c12"], out["sampling"]], axis=1)
    np.testing.assert_allclose(out["targets"], expected.astype(np.float32))


def test_channel_names():
    assert channel_names(ImageParameters(label="Mask", debug=None)) == ["mask"]
    assert channel_names(ImageParameters(label="Mask", num_classes=2, null_class=True,
                                         debug=None)) == ["mask", "background"]  # fmt: skip
    disk = ImageParameters(label="Disk", num_classes=4, null_class=True, debug=None)
    assert channel_names(disk, ["Mo", "2S", "1S"]) == ["Mo", "2S", "1S", "background"]
    assert channel_names(ImageParameters(label="Exitwave", num_classes=2, debug=None)) == [
        "real", "imaginary"]  # fmt: skip
    denoise = ImageParameters(label="Denoise", num_classes=3, multifocus=(3, 50.0, 1.0))
    assert channel_names(denoise) == ["focus_0", "focus_1", "focus_2"]
    regression = ImageParameters(label="Regression", num_classes=2)
    assert channel_names(regression) == ["defocus", "ctf_c12"]
