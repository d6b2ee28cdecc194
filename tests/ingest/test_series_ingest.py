"""Ingesting series into the lake: GMS trees, stacks, units, times, idempotence, quarantine."""

from __future__ import annotations

import json
import os
import shutil
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import tifffile

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.ingest.series import ExperimentalSeries, ingest_series, parse_key
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake

from .test_series_dmfiles import TEMPLATE_2D, TEMPLATE_3D, image_tags, template_path, write_dm

T0 = datetime(2024, 3, 1, 10, 59, 58, 250000)


def gms_tree(dm_dir: Path, root: Path, n: int, *, start: int = 0, shape=(48, 64), step=0.25,
             seed=0, **tag_options) -> list[np.ndarray]:  # fmt: skip
    """GMS in-situ layout Hour_00/Minute_MM/Second_SS/frame.dm4, one timed frame per file."""
    rng = np.random.default_rng(seed + start)
    frames = []
    for k in range(start, start + n):
        moment = T0 + timedelta(seconds=step * k)
        folder = root / f"Hour_{moment.hour:02d}" / f"Minute_{moment.minute:02d}" / f"Second_{moment.second:02d}"
        frame = rng.poisson(80, shape).astype(np.uint16)
        write_dm(template_path(dm_dir, TEMPLATE_2D), folder / f"frame_{k:04d}.dm4", frame,
                 pixel_size=0.02, units="nm", tags=image_tags(moment, **tag_options))  # fmt: skip
        frames.append(frame)
    return frames


def sources(lake_path: str, series: str = "s") -> list[str]:
    return [str(s) for s in Lake(lake_path).read("frames", "source", series=series)]


def quarantine(lake_path: str, series: str = "s") -> list[tuple[str, str]]:
    table = Lake(lake_path).dataset("quarantine", complete_only=True, series=series)
    return list(zip(table.source.values.tolist(), table.reason.values.tolist()))


# -- what lands in the lake -------------------------------------------------------------------


def test_gms_tree_frames_coords_times_and_per_frame_variables(dm_dir, tmp_path, lake_path):
    frames = gms_tree(dm_dir, tmp_path / "acq", 10)  # crosses Hour_10 and a minute boundary
    result = ingest_series(lake_path, "s", tmp_path / "acq")
    assert (result.frames, result.quarantined, result.total_frames) == (10, [], 10)

    ds = Lake(lake_path).dataset("frames", series="s")
    np.testing.assert_array_equal(ds.frame.values, np.stack(frames).astype(np.float32))
    assert ds.frame.dtype == np.float32 and ds.frame.encoding["chunks"] == (1, 48, 64)
    np.testing.assert_allclose(ds.time.values, 0.25 * np.arange(10), atol=1e-5)
    np.testing.assert_allclose(ds.x.values, 0.2 * np.arange(64))  # 0.02 nm → Å
    np.testing.assert_allclose(ds.y.values, 0.2 * np.arange(48))
    assert ds.attrs["time_axis"] == "acquisition"
    assert ds.attrs["time_origin"] == T0.isoformat()
    assert "seconds since the first frame" in ds.attrs["time_source"]
    assert ds.voltage.values == pytest.approx([300e3] * 10)
    assert ds.exposure.values == pytest.approx([0.1] * 10)
    assert ds.magnification.values == pytest.approx([600e3] * 10)
    assert list(ds.camera.values) == ["OneView"] * 10
    assert [Path(s).name for s in ds.source.values] == [f"frame_{k:04d}.dm4" for k in range(10)]
    assert all(os.path.isabs(s) for s in ds.source.values)
    metadata = json.loads(str(ds.metadata.values[3]))
    assert metadata["ImageList"]["TagGroup0"]["ImageTags"]["DataBar"]["Acquisition Time"]
    assert check_lake(lake_path) == []


@pytest.mark.parametrize(
    "pixel_size, units, expected",
    [(2.0, "pm", 0.02), (0.5, "\u00c5", 0.5), (0.05, "nm", 0.5), (2e-4, "\u00b5m", 2.0)],
)
def test_pixel_units_become_angstrom(dm_dir, tmp_path, lake_path, pixel_size, units, expected):
    path = write_dm(template_path(dm_dir, TEMPLATE_2D), tmp_path / "a.dm4",
                    np.ones((8, 10), np.float32), pixel_size=pixel_size, units=units)  # fmt: skip
    ingest_series(lake_path, "s", path)
    ds = Lake(lake_path).dataset("frames", series="s")
    np.testing.assert_allclose(ds.x.values, expected * np.arange(10), rtol=1e-6)
    assert ds.attrs["pixel_size"] == pytest.approx([expected, expected], rel=1e-6)


def test_real_files_with_mixed_units(dm_dir, lake_path):
    # y in Å and x in nm; the 3-D stack has y in nm and x in pm and no times
    ingest_series(lake_path, "square", dm_dir / "ncempy" / "dmTest_float32_nonSquare_diffPixelSize.dm4")
    ds = Lake(lake_path).dataset("frames", series="square")
    assert ds.attrs["pixel_size"] == pytest.approx([2.0, 10.0])
    assert ds.sizes == {"time": 1, "y": 64, "x": 128}
    result = ingest_series(lake_path, "stack", dm_dir / "ncempy" / "dmTest_3D_int16_64,65,66.dm3")
    assert result.frames == 66
    ds = Lake(lake_path).dataset("frames", series="stack")
    assert ds.attrs["pixel_size"] == pytest.approx([30.0, 0.02])
    assert ds.attrs["time_axis"] == "index" and "no acquisition time" in ds.attrs["time_source"]
    np.testing.assert_array_equal(ds.time.values, np.arange(66))
    assert [parse_key(s)[1] for s in ds.source.values] == list(range(66))


def test_real_stackbuilder_stack_has_acquisition_times(dm_dir, lake_path):
    ingest_series(lake_path, "sb", dm_dir / "rsciio-3D" / "test_stackbuilder_imagestack.dm3")
    ds = Lake(lake_path).dataset("frames", series="sb")
    assert list(ds.time.values) == [0.0, 2.0, 5.0]  # 17:00:27, :29, :32
    assert ds.attrs["time_axis"] == "acquisition"
    assert [s.rsplit("#", 1)[1] for s in ds.source.values] == ["0", "1", "2"]


def test_dm_stack_without_frame_times_uses_frame_index(dm_dir, tmp_path, lake_path):
    stack = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
    path = write_dm(template_path(dm_dir, TEMPLATE_3D), tmp_path / "stack.dm4", stack,
                    units="nm", tags=image_tags(T0))  # fmt: skip
    result = ingest_series(lake_path, "s", path)
    assert result.frames == 5
    assert "only the first frame" in result.time_source
    ds = Lake(lake_path).dataset("frames", series="s")
    np.testing.assert_array_equal(ds.frame.values, stack)
    np.testing.assert_array_equal(ds.time.values, np.arange(5))
    assert list(ds.source.values) == [f"{path}#{k}" for k in range(5)]


def test_imagej_tiff_stack_times_from_frame_interval(tmp_path, lake_path):
    stack = np.random.default_rng(0).poisson(20, (6, 32, 40)).astype(np.float32)
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.05, 1 / 0.05),
                     metadata={"unit": "nm", "axes": "TYX", "finterval": 0.04})  # fmt: skip
    result = ingest_series(lake_path, "s", path)
    assert result.frames == 6
    ds = Lake(lake_path).dataset("frames", series="s")
    np.testing.assert_array_equal(ds.frame.values, stack)
    np.testing.assert_allclose(ds.time.values, 0.04 * np.arange(6))
    assert ds.attrs["time_axis"] == "interval"
    np.testing.assert_allclose(ds.x.values[:3], [0.0, 0.5, 1.0])
    # a second stack's relative times cannot be placed on this axis: quarantined
    other = tmp_path / "other.tif"
    shutil.copy(path, other)
    result = ingest_series(lake_path, "s", other)
    assert result.frames == 0 and len(result.quarantined) == 6
    assert "cannot be placed on the series' time axis" in result.quarantined[0].reason


# -- idempotence --------------------------------------------------------------------------------


def test_rerun_appends_nothing_and_a_grown_folder_only_the_new_frames(dm_dir, tmp_path, lake_path):
    acq = tmp_path / "acq"
    first = gms_tree(dm_dir, acq, 6)
    assert ingest_series(lake_path, "s", acq).frames == 6
    again = ingest_series(lake_path, "s", acq)
    assert (again.frames, again.already_ingested, again.quarantined) == (0, 6, [])
    assert len(Lake(lake_path).provenance("frames", series="s")) == 1  # a no-op writes nothing

    new = gms_tree(dm_dir, acq, 4, start=6)
    grown = ingest_series(lake_path, "s", acq)
    assert (grown.frames, grown.already_ingested, grown.total_frames) == (4, 6, 10)
    lake = Lake(lake_path)
    names = [Path(s).name for s in sources(lake_path)]
    assert names == [f"frame_{k:04d}.dm4" for k in range(10)]
    np.testing.assert_array_equal(lake.read("frames", "frame", series="s"), np.stack(first + new))
    np.testing.assert_array_equal(lake.read("frames", "write_session", series="s"), [1] * 6 + [2] * 4)
    np.testing.assert_allclose(lake.read("frames", "time", series="s"), 0.25 * np.arange(10), atol=1e-5)


def test_a_grown_stack_file_appends_its_new_frames(tmp_path, lake_path):
    path = tmp_path / "stack.tif"
    stack = np.arange(5 * 4 * 4, dtype=np.uint16).reshape(5, 4, 4)
    options = {"photometric": "minisblack"}
    tifffile.imwrite(path, stack[:3], **options)
    kw = {"pixel_size": 0.1}  # plain TIFF pages carry no calibration
    assert ingest_series(lake_path, "s", path, **kw).frames == 3
    tifffile.imwrite(path, stack, **options)
    result = ingest_series(lake_path, "s", path, **kw)
    assert (result.frames, result.already_ingested) == (2, 3)
    assert [parse_key(s)[1] for s in sources(lake_path)] == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(Lake(lake_path).read("frames", "frame", series="s"), stack)


def test_interrupted_run_resumes_without_duplicates(dm_dir, tmp_path, lake_path):
    acq = tmp_path / "acq"
    gms_tree(dm_dir, acq, 10)
    calls = []

    def stop_after_first_batch(progress):
        calls.append(progress)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_series(lake_path, "s", acq, batch_frames=4, progress=stop_after_first_batch)
    assert len(sources(lake_path)) == 4
    result = ingest_series(lake_path, "s", acq, batch_frames=4)
    assert (result.frames, result.total_frames) == (6, 10)
    names = [Path(s).name for s in sources(lake_path)]
    assert names == sorted(set(names)) and len(names) == 10


def test_other_options_on_an_existing_series_are_refused(tmp_path, lake_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.ones((2, 8, 8), np.uint16), photometric="minisblack")
    assert ingest_series(lake_path, "s", path, pixel_size=0.5).frames == 2
    ds = Lake(lake_path).dataset("frames", series="s")
    np.testing.assert_allclose(ds.x.values, 0.5 * np.arange(8))
    with pytest.raises(LakeError, match="different options .*pixel_size"):
        ingest_series(lake_path, "s", path)
    with pytest.raises(ParameterError, match="no such file"):
        ingest_series(lake_path, "s", tmp_path / "missing")
    with pytest.raises(ParameterError, match="pixel_size"):
        ingest_series(lake_path, "s", path, pixel_size=-1)


# -- quarantine ---------------------------------------------------------------------------------


def _bad_files(dm_dir: Path, folder: Path) -> dict[str, str]:
    """Files that must be quarantined, with a word of the expected reason."""
    folder.mkdir(parents=True, exist_ok=True)
    good = sorted((folder.parent / "acq").rglob("*.dm4"))[0].read_bytes()
    (folder / "truncated.dm4").write_bytes(good[: len(good) // 2])
    (folder / "notes.dm4").write_text("these are my notes, not an image\n" * 20)
    (folder / "notes.txt").write_text("not a frame")
    (folder / "broken.tif").write_bytes(b"II*\x00" + b"\xff" * 64)
    shutil.copy(dm_dir / "rsciio-2D" / "test-3.dm4", folder / "complex.dm4")
    shutil.copy(dm_dir / "rsciio-2D" / "test-8.dm4", folder / "rgb.dm4")
    shutil.copy(dm_dir / "rsciio-2D" / "test_diffraction_pattern.dm3", folder / "diffraction.dm3")
    shutil.copy(dm_dir / "rsciio-2D" / "test-1.dm4", folder / "uncalibrated.dm4")
    template = template_path(dm_dir, TEMPLATE_2D)
    write_dm(template, folder / "spectrum.dm4", np.ones(128, np.float32), units="eV")
    write_dm(template, folder / "shape.dm4", np.ones((16, 16), np.float32), pixel_size=0.02,
             tags=image_tags(T0))  # fmt: skip
    write_dm(template, folder / "pixel.dm4", np.ones((48, 64), np.float32), pixel_size=0.03,
             tags=image_tags(T0))  # fmt: skip
    write_dm(template, folder / "untimed.dm4", np.ones((48, 64), np.float32), pixel_size=0.02)
    return {
        "truncated.dm4": "truncated", "notes.dm4": "not a readable DigitalMicrograph",
        "notes.txt": "unsupported file type", "broken.tif": "not a readable TIFF",
        "complex.dm4": "complex", "rgb.dm4": "RGB", "diffraction.dm3": "diffraction pattern",
        "uncalibrated.dm4": "no real-space pixel calibration", "spectrum.dm4": "spectrum",
        "shape.dm4": "frame shape (16, 16) differs from the series' (48, 64)",
        "pixel.dm4": "pixel size (0.3, 0.3) Å differs from the series' (0.2, 0.2) Å",
        "untimed.dm4": "no acquisition time",
    }  # fmt: skip


def test_bad_files_are_quarantined_with_reasons_and_the_rest_carries_on(dm_dir, tmp_path, lake_path):
    acq, bad = tmp_path / "acq", tmp_path / "bad"
    first = gms_tree(dm_dir, acq, 3)
    ingest_series(lake_path, "s", acq)
    before = Lake(lake_path).read("frames", "frame", series="s")
    expected = _bad_files(dm_dir, bad)
    later = gms_tree(dm_dir, acq, 2, start=3)

    result = ingest_series(lake_path, "s", [bad, bad / "notes.txt", acq])
    assert result.frames == 2
    reasons = {Path(q.source).name: q.reason for q in result.quarantined}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
    stored = dict(quarantine(lake_path))
    assert {Path(s).name for s in stored} == set(expected)
    assert all("[file: " in r for r in stored.values())  # the file's size and mtime
    # nothing already in the lake was touched, the good frames after the bad ones are in
    lake = Lake(lake_path)
    np.testing.assert_array_equal(lake.read("frames", "frame", slice(0, 3), series="s"), before)
    np.testing.assert_array_equal(lake.read("frames", "frame", series="s"), np.stack(first + later))
    assert check_lake(lake_path) == []

    # unchanged bad files are not recorded twice; a repaired file is ingested
    again = ingest_series(lake_path, "s", [bad, bad / "notes.txt", acq])
    assert (again.frames, again.quarantined, again.unchanged_quarantined) == (0, [], len(expected))
    assert len(quarantine(lake_path)) == len(expected)
    shutil.copy(sorted(acq.rglob("*.dm4"))[0], bad / "truncated.dm4")  # the copy finished
    repaired = ingest_series(lake_path, "s", bad)
    assert (repaired.frames, repaired.quarantined) == (1, [])
    assert Path(sources(lake_path)[-1]).name == "truncated.dm4"


def test_a_first_run_with_only_bad_files_records_them(dm_dir, tmp_path, lake_path):
    path = tmp_path / "cut.dm4"
    data = (dm_dir / "ncempy" / "dmTest_3D_int16_64,65,66.dm4").read_bytes()
    path.write_bytes(data[: len(data) // 3])
    result = ingest_series(lake_path, "s", path)
    assert result.frames == 0 and "truncated" in result.quarantined[0].reason
    assert len(quarantine(lake_path)) == 1
    assert not Lake(lake_path).exists("frames", series="s")
    # a later run that finds a good frame creates the series around the quarantine table
    good = tmp_path / "good.dm4"
    shutil.copy(dm_dir / "ncempy" / "dmTest_3D_int16_64,65,66.dm4", good)
    result = ingest_series(lake_path, "s", [path, good])
    assert result.frames == 66 and result.unchanged_quarantined == 1
    assert len(quarantine(lake_path)) == 1
    assert Lake(lake_path).dataset("frames", series="s").sizes["time"] == 66


# -- memory -------------------------------------------------------------------------------------


def _peak_bytes(path: Path, lake_path: str) -> int:
    tracemalloc.start()
    try:
        ingest_series(lake_path, "s", path, batch_frames=4, pixel_size=0.1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_number_of_frames(tmp_path):
    frame = np.random.default_rng(0).poisson(100, (256, 256)).astype(np.uint16)
    peaks = {}
    for n in (8, 48):
        path = tmp_path / f"stack{n}.tif"
        with tifffile.TiffWriter(path) as tif:
            for _ in range(n):
                tif.write(frame, photometric="minisblack", contiguous=True)
        peaks[n] = _peak_bytes(path, str(tmp_path / f"lake{n}.zarr"))
    frame_bytes = 256 * 256 * 4
    assert peaks[48] < peaks[8] * 1.2 + frame_bytes, peaks
    assert peaks[48] < 20 * frame_bytes, peaks  # about two batches of 4 frames, not 48 frames
