"""ExperimentalSeries: the notebook conveniences (load, standardise, dose, FFT, crop)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile

from hrtemlake.errors import LakeError
from hrtemlake.ingest import load_series
from hrtemlake.ingest.series import ingest_series

PERIOD = 8  # pixels; 1 Å pixels, so a lattice at q = 1/8 Å⁻¹


@pytest.fixture
def series(tmp_path, lake_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:64, :96]
    lattice = 1.0 + 0.5 * np.cos(2 * np.pi * x / PERIOD)
    image = np.where(x < 64, 0.7 * lattice, 1.0) * 400  # specimen left, vacuum right
    stack = rng.poisson(image, (3, 64, 96)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "s.tif", stack, imagej=True, resolution=(10.0, 10.0),
                     metadata={"unit": "nm", "axes": "TYX"})  # fmt: skip
    ingest_series(lake_path, "nb", tmp_path / "s.tif")
    return load_series(lake_path, "nb"), stack


def test_frames_crop_and_metadata(series):
    s, stack = series
    assert len(s) == 3 and s.shape == (64, 96) and s.pixel_size == pytest.approx((1.0, 1.0))
    assert "3 frames of 64×96" in repr(s)
    assert isinstance(s.frames.data, da.Array)  # lazy
    np.testing.assert_array_equal(s.frame(1), stack[1])
    crop = s.crop(2, (10, 20, 16, 32))
    assert crop.shape == (16, 32) and float(crop.x[0]) == pytest.approx(20.0)
    np.testing.assert_array_equal(crop.values, stack[2, 10:26, 20:52])
    assert "tiff_tags" in s.metadata(0)
    assert s.quarantine == []
    with pytest.raises(LakeError):
        s.noise  # not fitted yet


def test_standardise_dose_and_fft(series):
    s, stack = series
    standard = s.standardised(0, distance=12.0)
    assert abs(standard[:, 8:56].mean()) < 0.1 and standard[:, 8:56].std() == pytest.approx(1.0, abs=0.15)
    window = (0, 70, 64, 26)
    assert s.dose(0, window=window) == pytest.approx(stack[0, :, 70:].mean(), rel=1e-6)  # 1 Å²
    assert s.dose(0, window=window, counts_per_electron=4.0) == pytest.approx(stack[0, :, 70:].mean() / 4)
    assert s.vacuum_window(0, 24)[1] >= 64 - 4  # the flat bright region
    power = s.fft(0, window=(0, 0, 64, 64))
    peak = power.where(power.qx > 0.05).argmax(dim=["qy", "qx"])
    assert float(power.qx[peak["qx"]]) == pytest.approx(1 / PERIOD)
    assert float(power.qy[peak["qy"]]) == pytest.approx(0.0)
