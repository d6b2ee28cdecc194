"""Dose, power spectra and MTF / readout fitting against simulated vacuum with known noise."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.ingest import noise


def _fit(n_d, c0, c3, n0, seed, frames=8, shape=(512, 512), **kwargs):
    rng = np.random.default_rng(seed)
    stack = np.stack([noise.simulate_vacuum(shape, n_d, c0, c3, n0, rng) for _ in range(frames)])
    q, psd = noise.radial_power_spectrum(stack)
    return noise.fit_mtf(q, psd, **kwargs)


@pytest.mark.parametrize(
    "n_d, c0, c3, n0",
    [
        (2.0, 0.25, 2.5, 0.01),  # shot noise dominates: C ≈ 0.005
        (0.05, 0.30, 2.2, 0.01),  # mixed: C = 1/6
        (0.01, 0.40, 3.0, 0.01),  # readout half the noise: C = 0.5
        (5.0, 0.20, 2.0, 0.5),  # a noisier readout
    ],
)
def test_fit_recovers_mtf_and_noise_floor(n_d, c0, c3, n0):
    fit = _fit(n_d, c0, c3, n0, seed=11)
    assert fit.c0 == pytest.approx(c0, rel=0.05)
    assert fit.c3 == pytest.approx(c3, rel=0.05)
    assert fit.C == pytest.approx(n0 / (n_d + n0), rel=0.05)
    assert fit.c1 == pytest.approx(n_d + n0, rel=0.05)  # PSD(0) = N_D + N0 [counts²]
    assert fit.r2 > 0.9


def test_paper_literal_fit_runs_and_reports_same_floor():
    fit = _fit(0.05, 0.3, 2.2, 0.01, seed=3, power=1)
    assert fit.power == 1 and fit.r2 > 0.9
    assert fit.C == pytest.approx(1 / 6, rel=0.1)  # the limits do not depend on the shape


def test_white_noise_spectrum_is_flat_at_the_variance():
    rng = np.random.default_rng(0)
    q, psd = noise.radial_power_spectrum(rng.normal(5.0, 2.0, (256, 256)))
    assert q.min() > 0 and q.max() <= 1.0
    assert np.mean(psd) == pytest.approx(4.0, rel=0.03)


def test_plane_detrend_removes_a_gradient():
    rng = np.random.default_rng(0)
    y, x = np.indices((128, 128))
    frame = rng.normal(0.0, 1.0, (128, 128)) + 0.5 * x
    _, mean_only = noise.radial_power_spectrum(frame)
    _, plane = noise.radial_power_spectrum(frame, detrend="plane")
    assert mean_only[0] > 100 and plane[0] < 2.0  # white noise has PSD 1


def test_frame_dose_within_two_percent():
    n_d, n0, pixel = 3.0, 0.01, (0.08, 0.07)
    image = noise.simulate_vacuum((512, 512), n_d, 0.25, 2.5, n0, rng=5)
    window = noise.find_vacuum_window(image, 256)
    dose = noise.frame_dose(image, window, pixel)
    assert dose == pytest.approx(n_d / (0.08 * 0.07), rel=0.02)  # e⁻/Å²


def test_frame_dose_uses_gain_and_offset():
    image = noise.simulate_vacuum((256, 256), 2.0, 0.3, 2.5, 0.0, rng=1, counts_per_electron=8.0)
    dose = noise.frame_dose(image + 100.0, (0, 0, 256, 256), 0.5, counts_per_electron=8.0,
                            offset=100.0)
    assert dose == pytest.approx(2.0 / 0.25, rel=0.02)


def test_vacuum_window_avoids_the_specimen():
    rng = np.random.default_rng(2)
    y, x = np.indices((512, 512))
    image = rng.poisson(50.0, (512, 512)).astype(float)
    specimen = x < 300  # darker, with lattice fringes
    lattice = 35 + 10 * np.sin(2 * np.pi * x / 7) * np.sin(2 * np.pi * y / 9)
    image[specimen] = rng.poisson(lattice[specimen])
    y0, x0, h, w = noise.find_vacuum_window(image, 128)
    assert (h, w) == (128, 128) and x0 >= 300 and y0 + h <= 512
    with pytest.raises(ValueError):
        noise.find_vacuum_window(image, 1024)


def test_readout_and_parameter_fragment_from_a_dose_series():
    rng = np.random.default_rng(7)
    n0 = 0.01
    fits, doses = [], []
    for n_d in np.geomspace(0.005, 1.0, 8):
        image = noise.simulate_vacuum((384, 384), n_d, rng.uniform(0.2, 0.3),
                                      rng.uniform(2.0, 3.0), n0, rng)
        fits.append(noise.fit_mtf(*noise.radial_power_spectrum(image)))
        doses.append(noise.mean_electrons_per_pixel(image, (0, 0, 384, 384), offset=n0))
    readout = noise.readout_from_series([f.C for f in fits], doses)
    assert readout.n0 == pytest.approx(n0, rel=0.1)
    assert readout.r2 > 0.95

    fragment = noise.parameter_fragment(fits, electrons_per_pixel=doses, r2_min=0.5)
    fields = noise.PARAMETER_FIELDS
    # the mapping hrtemlake.simulate.params reads (Listing A.1): c1 ≡ c0, c2 ≡ C
    assert fields == {"c0": "mtf_c1", "C": "mtf_c2", "c3": "mtf_c3", "N0": "readout"}
    assert fragment["mtf"] == "parametric"
    assert fragment[fields["C"]] == (0.0, 0.0)
    lo, hi = fragment[fields["c0"]]
    assert 0.18 < lo <= hi < 0.32
    lo, hi = fragment[fields["c3"]]
    assert 1.8 < lo <= hi < 3.3
    lo, hi = fragment[fields["N0"]]
    assert lo == pytest.approx(0.5 * readout.n0, rel=1e-3)
    assert hi == pytest.approx(1.5 * readout.n0, rel=1e-3)

    assert noise.parameter_fragment(fits, readout=0.02, r2_min=0.5)["readout"] == (0.01, 0.03)
    with pytest.raises(ValueError, match="R²"):
        noise.parameter_fragment(fits, r2_min=1.01)


def test_local_standardise_flattens_illumination():
    rng = np.random.default_rng(4)
    y, x = np.indices((256, 256))
    image = (1.0 + x / 256) * (100 + 10 * rng.normal(size=(256, 256)))
    out = noise.local_standardise(image, sigma_px=12)
    inner = out[32:-32, 32:-32]
    assert abs(inner.mean()) < 0.05 and inner.std() == pytest.approx(1.0, rel=0.1)
    # both halves end up equally scaled although the right one is twice as bright
    assert inner[:, :64].std() == pytest.approx(inner[:, -64:].std(), rel=0.1)
    np.testing.assert_allclose(noise.local_standardise(np.full((32, 32), 7.0), 4), 0, atol=1e-6)


def test_local_standardise_focal_series_averages_channels():
    rng = np.random.default_rng(4)
    series = rng.normal(size=(64, 64, 3)) * np.array([1.0, 2.0, 3.0]) + 10
    out = noise.local_standardise(series, 6)
    assert out.shape == series.shape
    # one mean and one std for all channels: their relative scales survive
    ratios = out[8:-8, 8:-8].std(axis=(0, 1))
    assert ratios[2] / ratios[0] == pytest.approx(3.0, rel=0.1)


def test_counts_per_electron_from_metadata():
    assert noise.counts_per_electron_from_metadata({}) is None
    assert noise.counts_per_electron_from_metadata({"Camera": {"Counts Per Electron": 32}}) == 32
    assert noise.counts_per_electron_from_metadata({"x": {"electrons_per_count": 0.5}}) == 2.0
    dm = {"ImageData": {"Calibrations": {"Brightness": {"Units": "e-", "Scale": 0.25}}}}
    assert noise.counts_per_electron_from_metadata(dm) == 4.0
    blank = {"ImageData": {"Calibrations": {"Brightness": {"Units": [], "Scale": 1.0}}}}
    assert noise.counts_per_electron_from_metadata(blank) is None


def test_counts_per_electron_from_a_real_file(dm_dir):
    from hrtemlake.ingest.readers import read_frames

    record = next(read_frames(dm_dir / "ncempy" / "dmTest_3D_int16_64,65,66.dm4"))
    assert noise.counts_per_electron_from_metadata(record.metadata) == pytest.approx(1 / 1.1)
    (plain,) = read_frames(dm_dir / "rsciio-2D" / "test_dm_image_um_unit.dm3")
    assert noise.counts_per_electron_from_metadata(plain.metadata) is None


def test_plot_mtf_fit():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = noise.simulate_vacuum((256, 256), 0.5, 0.25, 2.5, 0.01, rng=0)
    q, psd = noise.radial_power_spectrum(image)
    ax = noise.plot_mtf_fit(q, psd, noise.fit_mtf(q, psd))
    assert len(ax.lines) == 3 and "c0=" in ax.get_legend().get_texts()[1].get_text()
    plt.close(ax.figure)


def test_mtf_limits():
    assert noise.mtf(0.0, 0.25, 2.5, C=0.3) == pytest.approx(1.0)
    assert noise.mtf(0.25, 0.25, 2.5) == pytest.approx(0.5)
    assert noise.mtf(1e6, 0.25, 2.5, C=0.3) == pytest.approx(0.3)
