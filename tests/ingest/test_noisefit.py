"""Series noise fits in the lake: a dose series of simulated vacuum with a known detector."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.ingest import noise
from hrtemlake.ingest.noisefit import (
    default_window_size,
    fit_series_noise,
    series_fits,
    series_parameter_fragment,
    series_readout,
    spectrum_and_fit,
)
from hrtemlake.ingest.series import ExperimentalSeries, ingest_series
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake

from .test_series_dmfiles import TEMPLATE_2D, image_tags, template_path, write_dm

C0, C3, N0 = 0.3, 2.5, 0.2
PIXEL = 0.5  # Å
DOSES = np.geomspace(0.1, 10.0, 10)  # N_D [e⁻/pixel]


def vacuum_stack(path, doses, shape=(256, 256), seed=7, gain=1.0):
    """An ImageJ TIFF stack of vacuum frames of increasing dose (thesis detector model)."""
    rng = np.random.default_rng(seed)
    stack = np.stack([noise.simulate_vacuum(shape, d, C0, C3, N0, rng, counts_per_electron=gain)
                      for d in doses]).astype(np.float32)  # fmt: skip
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / (PIXEL / 10),) * 2,
                     metadata={"unit": "nm", "axes": "TYX", "finterval": 1.0})  # fmt: skip
    return stack


@pytest.fixture
def dose_series(tmp_path, lake_path):
    vacuum_stack(tmp_path / "dose.tif", DOSES)
    ingest_series(lake_path, "dose", tmp_path / "dose.tif")
    return lake_path


def test_fit_recovers_mtf_floor_dose_and_readout(dose_series):
    result = fit_series_noise(dose_series, "dose", window=(0, 0, 256, 256))
    assert (result.fitted, result.total, result.failed) == (10, 10, 0)
    assert result.gain_sources == {"default": 10}
    ds = Lake(dose_series).dataset("noise", series="dose")
    assert set(ds.data_vars) >= {"dose", "c0", "c1", "c2", "c3", "r2", "C"}
    assert ds.attrs["window"] == [0, 0, 256, 256]
    # dose: mean electrons (shot + readout, gain 1) over the pixel area
    np.testing.assert_allclose(ds.dose.values, (DOSES + N0) / PIXEL**2, rtol=0.02)
    assert np.median(ds.c0.values) == pytest.approx(C0, rel=0.05)
    assert np.median(ds.c3.values) == pytest.approx(C3, rel=0.08)
    np.testing.assert_allclose(ds.C.values, N0 / (DOSES + N0), rtol=0.15)
    np.testing.assert_allclose(ds.C.values, ds.c2.values / ds.c1.values)
    assert (ds.r2.values > 0.5).all() and np.median(ds.r2.values) > 0.9
    readout = series_readout(dose_series, "dose")
    assert readout.n0 == pytest.approx(N0, rel=0.1)
    assert result.readout.n0 == pytest.approx(readout.n0)
    fragment = series_parameter_fragment(dose_series, "dose")
    lo, hi = fragment["mtf_c1"]
    assert lo <= C0 * 1.05 and hi >= C0 * 0.95 and hi - lo < 0.1
    assert fragment["mtf_c3"][0] < C3 * 1.1 and fragment["mtf_c3"][1] > C3 * 0.9
    assert fragment["readout"] == pytest.approx((0.5 * readout.n0, 1.5 * readout.n0), rel=1e-3)
    assert check_lake(dose_series) == []


def test_rerun_fits_only_new_frames_with_the_same_window(dose_series, tmp_path):
    first = fit_series_noise(dose_series, "dose", window_size=128)
    assert "found automatically on frame 0" in first.window_source
    assert fit_series_noise(dose_series, "dose", window_size=128).fitted == 0
    vacuum_stack(tmp_path / "more.tif", [20.0, 40.0], seed=8)
    # relative-time stacks cannot share a series: the new frames go to their own series
    ingest_series(dose_series, "more", tmp_path / "more.tif")
    ingest = ingest_series(dose_series, "dose", tmp_path / "more.tif")
    assert ingest.frames == 0  # (quarantined: its times are relative to another file)

    grown = tmp_path / "grown.tif"
    vacuum_stack(grown, DOSES[:3], seed=9)
    ingest_series(dose_series, "g", grown)
    fit_series_noise(dose_series, "g", window=(10, 20, 200, 180))
    stack = vacuum_stack(grown, list(DOSES[:3]) + [5.0, 6.0], seed=9)  # the stack grew
    assert ingest_series(dose_series, "g", grown).frames == 2
    again = fit_series_noise(dose_series, "g", window=(10, 20, 200, 180))
    assert (again.fitted, again.total, again.window) == (2, 5, (10, 20, 200, 180))
    dose = Lake(dose_series).read("noise", "dose", series="g")
    assert dose[4] == pytest.approx(stack[4, 10:210, 20:200].mean() / PIXEL**2)
    np.testing.assert_array_equal(Lake(dose_series).read("noise", "write_session", series="g"),
                                  [1, 1, 1, 2, 2])  # fmt: skip
    with pytest.raises(LakeError, match="other options"):
        fit_series_noise(dose_series, "g", window=(0, 0, 64, 64))


def test_automatic_window_is_in_the_vacuum(tmp_path, lake_path):
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:256, :256]
    specimen = 0.6 + 0.2 * np.cos(2 * np.pi * x / 6.0) * np.cos(2 * np.pi * y / 5.0)
    frames = []
    for dose in (5.0, 10.0):
        frame = noise.simulate_vacuum((256, 256), dose, C0, C3, N0, rng)
        frame[:, :140] *= specimen[:, :140]  # specimen on the left, vacuum on the right
        frames.append(frame.astype(np.float32))
    tifffile.imwrite(tmp_path / "half.tif", np.stack(frames), imagej=True,
                     resolution=(20.0, 20.0), metadata={"unit": "nm", "axes": "TYX"})  # fmt: skip
    ingest_series(lake_path, "half", tmp_path / "half.tif")
    result = fit_series_noise(lake_path, "half", window_size=96)
    y0, x0, h, w = result.window
    assert x0 >= 140 and (h, w) == (96, 96)
    assert ExperimentalSeries(lake_path, "half").vacuum_window(0, 96)[1] >= 140


def test_gain_from_metadata_unless_given(dm_dir, tmp_path, lake_path):
    rng = np.random.default_rng(0)
    for k in range(2):
        frame = noise.simulate_vacuum((128, 128), 3.0, C0, C3, N0, rng, counts_per_electron=4.0)
        write_dm(template_path(dm_dir, TEMPLATE_2D), tmp_path / f"f{k}.dm4", frame.astype(np.float32),
                 pixel_size=0.1, units="\u00c5", tags=image_tags(counts_per_electron=4.0))  # fmt: skip
    ingest_series(lake_path, "k3", tmp_path)
    ingest_series(lake_path, "k3-given", tmp_path)
    from_metadata = fit_series_noise(lake_path, "k3", window=(0, 0, 128, 128))
    given = fit_series_noise(lake_path, "k3-given", window=(0, 0, 128, 128), counts_per_electron=2.0)
    assert from_metadata.gain_sources == {"metadata": 2} and given.gain_sources == {"given": 2}
    dose = Lake(lake_path).read("noise", "dose", series="k3")
    np.testing.assert_allclose(dose, (3.0 + N0) / 0.1**2, rtol=0.03)
    np.testing.assert_allclose(Lake(lake_path).read("noise", "dose", series="k3-given"), 2 * dose)


def test_plot_spectrum_and_errors(dose_series):
    fit_series_noise(dose_series, "dose", window=(0, 0, 128, 128))
    q, psd, fit = spectrum_and_fit(dose_series, "dose", 8)  # a high-dose frame
    assert q.max() <= 1.0 and psd.shape == q.shape and fit.c0 == pytest.approx(C0, rel=0.2)
    fits, electrons = series_fits(dose_series, "dose")
    assert len(fits) == 10 and electrons == pytest.approx(DOSES + N0, rel=0.03)
    import matplotlib

    matplotlib.use("Agg")
    ax = ExperimentalSeries(dose_series, "dose").plot_noise_fit(3)
    assert len(ax.lines) == 3  # spectrum, fit, floor
    with pytest.raises(LakeError, match="no frames group"):
        fit_series_noise(dose_series, "absent")
    with pytest.raises(ParameterError, match="window"):
        fit_series_noise(dose_series, "dose", window=(200, 200, 128, 128))
    assert default_window_size((1024, 1024)) == 256 and default_window_size((100, 60)) == 32
