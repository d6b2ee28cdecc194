"""Writes and whole stores are validated against the catalog, with messages that name it."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from hrtemlake.errors import LakeError, SchemaError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake

from .helpers import exit_waves, exitwave_writer, frames_writer


@pytest.fixture
def writer(lake_path):
    return exitwave_writer(Lake(lake_path, mode="a"), n_items=4)


def test_write_rejects_wrong_dtype(writer, lake_path):
    with pytest.raises(SchemaError, match="'exit_wave' is declared complex64, got <U1"):
        writer.write(0, {"exit_wave": np.full((1, 8, 6), "a")})
    frames = frames_writer(Lake(lake_path, mode="a"))
    with pytest.raises(SchemaError, match="'frame' is declared float32, got complex128"):
        frames.append({"frame": np.ones((1, 4, 5)) * 1j, "time": [0.0], "source": ["a"]})


def test_write_rejects_float_into_integer(lake_path):
    w = Lake(lake_path, mode="a").writer("structures", dataset="d", attrs={"kind": "x"})
    with pytest.raises(SchemaError, match="numbers.*uint8.*float"):
        w.append([{"numbers": np.array([1.5]), "positions": np.zeros((1, 3))}], {"cell": np.zeros((1, 3, 3))})


def test_write_rejects_integer_out_of_range(lake_path):
    w = Lake(lake_path, mode="a").writer("structures", dataset="d", attrs={"kind": "x"})
    with pytest.raises(SchemaError, match=r"numbers.*uint8.*\[1, 300\]"):
        w.append([{"numbers": np.array([1, 300]), "positions": np.zeros((2, 3))}], {"cell": np.zeros((1, 3, 3))})


def test_write_rejects_wrong_dims(writer):
    with pytest.raises(SchemaError, match=r"exit_wave: expected shape \(n, 8, 6\).*\(1, 6, 8\)"):
        writer.write(0, {"exit_wave": np.ones((1, 6, 8), np.complex64)})


def test_write_rejects_missing_and_unknown_variables(writer, lake_path):
    with pytest.raises(SchemaError, match=r"missing variable\(s\) \['exit_wave'\]"):
        writer.write(0, {})
    with pytest.raises(SchemaError, match=r"unknown variable\(s\) \['intensity'\]"):
        writer.write(0, {"exit_wave": exit_waves(0, 1), "intensity": np.ones((1, 8, 6))})
    frames = frames_writer(Lake(lake_path, mode="a"))
    with pytest.raises(SchemaError, match=r"missing variable\(s\) \['source'\]"):
        frames.append({"frame": np.ones((1, 4, 5)), "time": [0.0]})


def test_write_rejects_unaligned_and_out_of_range_blocks(writer):
    with pytest.raises(LakeError, match=r"items \[3, 5\) outside \[0, 4\)"):
        writer.write(3, {"exit_wave": exit_waves(3, 2)})


def test_creation_needs_declared_attributes_and_sizes(lake_path):
    lake = Lake(lake_path, mode="a")
    with pytest.raises(SchemaError, match=r"missing group attribute\(s\) \['class_names'\]"):
        lake.writer("sites", dataset="d")
    with pytest.raises(SchemaError, match=r"missing coordinate/scalar value\(s\) \['energy'"):
        lake.writer("exitwaves", dataset="d", n_items=1, coords={"y": [0.0], "x": [0.0]})
    with pytest.raises(SchemaError, match=r"give the size of dimension\(s\) \['x', 'y'\]"):
        lake.writer("exitwaves", dataset="d", n_items=1)


def test_reopen_with_other_parameters_is_refused(lake_path):
    lake = Lake(lake_path, mode="a")
    exitwave_writer(lake, parameters={"kind": "mx2", "count": 4})
    with pytest.raises(LakeError, match=r"different parameters \(count\)"):
        exitwave_writer(lake, parameters={"kind": "mx2", "count": 5})


def _valid_store(lake_path):
    lake = Lake(lake_path, mode="a")
    exitwave_writer(lake, n_items=2).write(0, {"exit_wave": exit_waves(0, 2)})
    frames_writer(lake).append({"frame": np.ones((1, 4, 5)), "time": [0.0], "source": ["a"]})
    return zarr.open_group(lake_path, mode="r+")


def test_check_passes_valid_store(lake_path):
    _valid_store(lake_path)
    assert check_lake(lake_path) == []


def test_check_reports_wrong_dtype(lake_path):
    root = _valid_store(lake_path)
    group = root["experiments/s1"]
    del group["time"]
    group.create_array("time", shape=(1,), dtype="int32", dimension_names=["time"], attributes={"units": "s"})
    [problem] = check_lake(lake_path)
    assert problem.path == "experiments/s1/time"
    assert "dtype int32, catalog declares float64" in problem.message


def test_check_reports_wrong_dims_and_units(lake_path):
    root = _valid_store(lake_path)
    group = root["simulations/train/exitwaves"]
    del group["energy"]
    group.create_array("energy", shape=(1,), dtype="float64", dimension_names=["beam"], attributes={"units": "keV"})
    messages = {str(p) for p in check_lake(lake_path)}
    assert "error: simulations/train/exitwaves/energy: dims ('beam',), catalog declares ()" in messages
    assert "error: simulations/train/exitwaves/energy: units 'keV', catalog declares 'eV'" in messages


def test_check_reports_missing_and_unknown(lake_path):
    root = _valid_store(lake_path)
    del root["simulations/train/exitwaves/exit_wave"]
    root.create_group("simulations/train/photos")
    messages = {str(p) for p in check_lake(lake_path)}
    assert "error: simulations/train/exitwaves/exit_wave: missing variable" in messages
    assert "error: simulations/train/photos: group not declared in the catalog" in messages


def test_check_warns_about_missing_items(lake_path):
    exitwave_writer(Lake(lake_path, mode="a"), n_items=3).write(0, {"exit_wave": exit_waves(0, 1)})
    [problem] = check_lake(lake_path)
    assert problem.severity == "warning" and "2 of 3 model items missing" in problem.message


def test_bad_coordinate_leaves_nothing_behind(lake_path):
    lake = Lake(lake_path, mode="a")
    with pytest.raises(SchemaError, match="'y' is declared float64, got <U1"):
        lake.writer("frames", series="s", coords={"y": ["a", "b"], "x": [0.0, 1.0, 2.0]},
                    attrs={"time_source": "frame index"})  # fmt: skip
    assert "frame" not in zarr.open_group(lake_path, mode="r").get("experiments/s", {})
    writer = lake.writer("frames", series="s", coords={"y": [0.0, 0.5], "x": [0.0, 0.5, 1.0]},
                         attrs={"time_source": "frame index"})  # fmt: skip
    writer.append({"frame": np.ones((1, 2, 3)), "time": [0.0], "source": ["a.dm4"]})
    assert lake.dataset("frames", series="s").frame.shape == (1, 2, 3)
    assert [r["session"] for r in lake.provenance("frames", series="s")] == [1]
