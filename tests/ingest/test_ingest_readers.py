"""Format-independent reader behaviour: units, discovery, bad inputs, times."""

from __future__ import annotations

from datetime import datetime

import pytest

from hrtemlake.ingest._metadata import local_time_with_subseconds, to_jsonable
from hrtemlake.ingest.readers import (
    FrameReadError,
    classify_length_unit,
    discover,
    natural_key,
    read_frames,
    to_angstrom,
)


@pytest.mark.parametrize(
    "unit, angstrom",
    [
        ("pm", 0.01),
        ("\u00c5", 1.0),  # Å, A with ring
        ("\u212b", 1.0),  # Å, the Angstrom sign
        ("A", 1.0),
        ("Angstrom", 1.0),
        ("angstroms", 1.0),
        ("nm", 10.0),
        (" NM ", 10.0),
        ("\u00b5m", 1e4),  # micro sign
        ("\u03bcm", 1e4),  # Greek mu
        ("um", 1e4),
        ("micron", 1e4),
        ("\\u00B5m", 1e4),  # ImageJ escape
        ("mm", 1e7),
        ("m", 1e10),
    ],
)
def test_length_units_to_angstrom(unit, angstrom):
    assert to_angstrom(2.0, unit) == pytest.approx(2.0 * angstrom)


@pytest.mark.parametrize("unit", ["1/nm", "nm^-1", "1/\u00c5", "mrad", "nm\u207b\u00b9"])
def test_reciprocal_units(unit):
    assert classify_length_unit(unit) == ("reciprocal", None)
    with pytest.raises(ValueError, match="reciprocal"):
        to_angstrom(1.0, unit)


@pytest.mark.parametrize("unit", ["", "px", "pixels", None, []])
def test_uncalibrated_units(unit):
    assert classify_length_unit(unit) == ("uncalibrated", None)


@pytest.mark.parametrize("unit", ["furlong", "eV", "s"])
def test_unknown_units_raise(unit):
    with pytest.raises(ValueError, match="unknown length unit"):
        classify_length_unit(unit)


def test_unsupported_missing_and_empty_files(tmp_path):
    with pytest.raises(FrameReadError, match="unsupported file type '.txt'"):
        read_frames(tmp_path / "frame.txt")
    with pytest.raises(FrameReadError, match="no such file"):
        read_frames(tmp_path / "absent.dm4")
    (tmp_path / "empty.dm3").write_bytes(b"")
    with pytest.raises(FrameReadError, match="empty"):
        read_frames(tmp_path / "empty.dm3")


def test_frame_read_error_carries_path_and_reason(tmp_path):
    import pickle

    error = FrameReadError(tmp_path / "x.dm4", "broken")
    assert (error.path, error.reason) == (tmp_path / "x.dm4", "broken")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def _touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_discover_gms_tree_in_natural_order(tmp_path):
    _touch(
        tmp_path,
        "Hour_00/Minute_10/Second_00/frame.dm4",
        "Hour_00/Minute_2/Second_10/frame.dm4",
        "Hour_00/Minute_2/Second_9/frame.dm4",
        "Hour_00/Minute_2/Second_9/notes.txt",
        "Hour_00/Minute_2/Second_9/._frame.dm4",  # macOS shadow file
        "Hour_00/.trash/frame.dm4",
        "extra/img10.TIF",
        "extra/img9.tiff",
        "extra/old.dm3",
    )
    found = discover(tmp_path)
    relative = [p.relative_to(tmp_path).as_posix() for p in found]
    assert relative == [
        "extra/img9.tiff",
        "extra/img10.TIF",
        "extra/old.dm3",
        "Hour_00/Minute_2/Second_9/frame.dm4",
        "Hour_00/Minute_2/Second_10/frame.dm4",
        "Hour_00/Minute_10/Second_00/frame.dm4",
    ]


def test_discover_keeps_explicit_files_dedupes_and_checks_existence(tmp_path):
    _touch(tmp_path, "a/f1.dm4", "a/f2.dm4", "readme.txt")
    found = discover([tmp_path / "readme.txt", tmp_path / "a", str(tmp_path / "a" / "f1.dm4")])
    assert [p.name for p in found] == ["readme.txt", "f1.dm4", "f2.dm4"]
    with pytest.raises(FileNotFoundError):
        discover(tmp_path / "missing")


def test_natural_key_orders_numbers_numerically():
    names = ["f10.dm4", "f9.dm4", "F1.dm4", "f100.dm4"]
    assert sorted(names, key=natural_key) == ["F1.dm4", "f9.dm4", "f10.dm4", "f100.dm4"]


def test_subsecond_refinement_uses_whole_quarter_hour_offsets():
    local = datetime(2019, 12, 10, 15, 32, 41)
    filetime = 132204835614363760  # 2019-12-10 20:32:41.436376 UTC
    assert local_time_with_subseconds(local, filetime) == datetime(2019, 12, 10, 15, 32, 41, 436376)
    # a FILETIME of another moment is ignored
    assert local_time_with_subseconds(datetime(2019, 12, 10, 15, 40, 0), filetime) is None
    assert local_time_with_subseconds(local, None) is None


def test_to_jsonable_drops_blobs_and_converts_numpy():
    import json

    import numpy as np

    tree = {"a": np.float32(1.5), "b": np.arange(3), "c": list(range(500)), "d": b"\x00" * 9,
            "e": float("nan"), "f": {"g": np.int64(7), "h": np.zeros((20, 20))}}
    out = to_jsonable(tree)
    json.dumps(out, allow_nan=False)
    assert out["a"] == 1.5 and out["b"] == [0, 1, 2] and out["f"]["g"] == 7
    assert out["c"].startswith("<dropped") and out["d"].startswith("<dropped")
    assert out["f"]["h"].startswith("<dropped") and out["e"] == "nan"
