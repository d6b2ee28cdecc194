"""TIFF reading: generated stacks round-trip, calibrations, rejections and streaming."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timedelta

import numpy as np
import pytest
import tifffile

from hrtemlake.ingest.readers import FrameReadError, UnknownUnitError, read_frames


def _stack(n=5, shape=(48, 64), dtype=np.uint16):
    return np.arange(n * shape[0] * shape[1], dtype=np.int64).reshape(n, *shape).astype(dtype)


def test_plain_stack_round_trips_without_calibration(tmp_path):
    stack = _stack()
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, photometric="minisblack")
    records = list(read_frames(path))
    np.testing.assert_array_equal(np.stack([r.data for r in records]), stack)
    assert [r.index_in_file for r in records] == list(range(5))
    assert all(r.pixel_size is None and r.time is None for r in records)
    assert records[0].source == path


def test_imagej_stack_units_and_frame_interval(tmp_path):
    stack = _stack(dtype=np.float32)
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, stack, imagej=True, resolution=(1 / 0.05, 1 / 0.025),
                     metadata={"unit": "nm", "axes": "TYX", "finterval": 0.5})
    records = list(read_frames(path))
    np.testing.assert_array_equal(np.stack([r.data for r in records]), stack)
    assert records[0].pixel_size == pytest.approx((0.25, 0.5))  # (y, x) nm → Å
    assert [r.time for r in records] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert "finterval" in records[0].time_source


@pytest.mark.parametrize(
    "unit, factor",
    [("micron", 1e4), ("\\u00B5m", 1e4), ("\\u00C5", 1.0), ("A", 1.0), ("pm", 0.01)],
)
def test_imagej_unit_spellings(tmp_path, unit, factor):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _stack(n=2), imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": unit, "axes": "TYX"})
    assert next(read_frames(path)).pixel_size == pytest.approx((0.5 * factor, 0.5 * factor))


def test_centimetre_resolution_and_datetime(tmp_path):
    path = tmp_path / "cm.tif"
    tifffile.imwrite(path, _stack(n=3), photometric="minisblack", resolutionunit="CENTIMETER",
                     resolution=(1e8 / 0.5, 1e8 / 0.25), datetime="2024:01:02 03:04:05")
    records = list(read_frames(path))
    assert records[0].pixel_size == pytest.approx((0.25, 0.5))
    assert records[0].time == datetime(2024, 1, 2, 3, 4, 5)
    assert records[1].time is None  # no frame interval known


def test_imagej_datetime_plus_interval(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _stack(n=3), imagej=True, datetime="2024:01:02 03:04:05",
                     metadata={"axes": "TYX", "finterval": 0.1})
    times = [r.time for r in read_frames(path)]
    assert times[2] - times[0] == timedelta(seconds=0.2)


def test_diffraction_tiff_needs_allow_diffraction(tmp_path):
    path = tmp_path / "dp.tif"
    tifffile.imwrite(path, _stack(n=1), imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "1/nm", "axes": "TYX"})
    with pytest.raises(FrameReadError, match="diffraction"):
        read_frames(path)
    (record,) = read_frames(path, allow_diffraction=True)
    assert record.pixel_size is None


def test_inch_resolution_is_not_a_calibration(tmp_path):
    path = tmp_path / "print.tif"
    tifffile.imwrite(path, _stack(n=1)[0], resolution=(300, 300), resolutionunit="INCH")
    (record,) = read_frames(path)
    assert record.pixel_size is None
    assert "INCH" in " ".join(record.notes)


def test_unknown_imagej_unit_names_file_and_unit(tmp_path):
    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, _stack(n=2), imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "furlong", "axes": "TYX"})
    with pytest.raises(UnknownUnitError) as info:
        read_frames(path)
    assert info.value.unit == "furlong"
    assert "furlong" in str(info.value) and "odd.tif" in str(info.value)


@pytest.mark.parametrize(
    "array, kwargs, reason",
    [
        (np.zeros((8, 8, 3), np.uint8), {"photometric": "rgb"}, "colour"),
        (np.zeros((8, 8), np.complex64), {}, "complex"),
    ],
)
def test_non_intensity_tiffs_are_rejected(tmp_path, array, kwargs, reason):
    path = tmp_path / "bad.tif"
    tifffile.imwrite(path, array, **kwargs)
    with pytest.raises(FrameReadError, match=reason):
        read_frames(path)


def test_truncated_tiff_raises(tmp_path):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, _stack(n=6), photometric="minisblack")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FrameReadError, match="truncated"):
        read_frames(path)


def test_text_renamed_tif_raises(tmp_path):
    path = tmp_path / "notes.tiff"
    path.write_text("not an image")
    with pytest.raises(FrameReadError, match="not a readable TIFF"):
        read_frames(path)


def test_tiff_metadata_is_json(tmp_path):
    import json

    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, _stack(n=40, shape=(128, 64)), imagej=True,
                     metadata={"unit": "nm", "axes": "TYX"}, resolution=(10.0, 10.0))
    metadata = next(read_frames(path)).metadata
    json.dumps(metadata, allow_nan=False)
    assert metadata["imagej"]["unit"] == "nm"
    assert "StripOffsets" not in metadata["tiff_tags"] or len(metadata["tiff_tags"]) < 64


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_tiff_stack_streams_one_page_at_a_time(tmp_path):
    n, shape = 32, (256, 256)
    path = tmp_path / "big.tif"
    rng = np.random.default_rng(0)
    tifffile.imwrite(path, rng.random((n, *shape), dtype=np.float32), photometric="minisblack")
    frame_bytes = shape[0] * shape[1] * 4

    def first_frame():
        next(read_frames(path)).data.sum()

    def all_frames():
        for record in read_frames(path):
            record.data.sum()

    one, every = _peak_bytes(first_frame), _peak_bytes(all_frames)
    assert _peak_bytes(lambda: tifffile.imread(path)) > n * frame_bytes  # tracemalloc sees it
    assert every < 4 * frame_bytes  # the whole stack is 32 frames
    assert every < 2 * one + frame_bytes
