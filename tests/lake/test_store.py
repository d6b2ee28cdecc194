"""Bad lake locations, versions and names: one clear error, and the store is untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import zarr

from hrtemlake.errors import LakeError
from hrtemlake.lake import Lake, resolve_lake
from hrtemlake.lake.check import check_lake

from .helpers import exitwave_writer


def _snapshot(path: str) -> dict[str, str]:
    root = Path(path)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_location_resolution(monkeypatch):
    monkeypatch.delenv("HRTEMLAKE_LAKE", raising=False)
    assert resolve_lake() == "./lake.zarr"
    monkeypatch.setenv("HRTEMLAKE_LAKE", "/data/lake.zarr")
    assert resolve_lake() == "/data/lake.zarr"
    assert resolve_lake("s3://bucket/lake.zarr") == "s3://bucket/lake.zarr"


def test_fsspec_url_lake():
    lake = Lake("memory://hrtemlake-test/lake.zarr", mode="a")
    exitwave_writer(lake, n_items=1).write(0, {"exit_wave": np.ones((1, 8, 6), np.complex64)})
    tree = Lake("memory://hrtemlake-test/lake.zarr").tree()
    assert tree["simulations/train/exitwaves"].exit_wave.shape == (1, 8, 6)


def test_regular_file_is_refused(tmp_path):
    path = tmp_path / "lake.zarr"
    path.write_text("not a store")
    with pytest.raises(LakeError, match="is a regular file"):
        Lake(path, mode="a")
    assert path.read_text() == "not a store"


def test_missing_lake_is_not_created_by_readers(tmp_path):
    path = tmp_path / "absent.zarr"
    with pytest.raises(LakeError, match="no lake at"):
        Lake(path)
    with pytest.raises(LakeError, match="no lake at"):
        check_lake(path)
    assert not path.exists()


def test_newer_schema_version_is_refused_untouched(lake_path):
    exitwave_writer(Lake(lake_path, mode="a"))
    zarr.open_group(lake_path, mode="r+").attrs["hrtemlake_schema_version"] = 99
    before = _snapshot(lake_path)
    for mode in ("r", "a"):
        with pytest.raises(LakeError, match="schema version 99, newer than"):
            Lake(lake_path, mode=mode)
    assert _snapshot(lake_path) == before


def test_foreign_zarr_store_is_refused(lake_path):
    zarr.open_group(lake_path, mode="w").create_array("data", shape=(2,), dtype="f4")
    before = _snapshot(lake_path)
    with pytest.raises(LakeError, match="not an hrtemlake lake"):
        Lake(lake_path, mode="a")
    assert _snapshot(lake_path) == before


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "", ".hidden", "x y"])
def test_bad_names_are_refused_untouched(lake_path, name):
    lake = Lake(lake_path, mode="a")
    before = _snapshot(lake_path)
    with pytest.raises(LakeError, match="invalid dataset"):
        exitwave_writer(lake, dataset=name)
    assert _snapshot(lake_path) == before


def test_unknown_group_kind_and_names(lake_path):
    lake = Lake(lake_path, mode="a")
    with pytest.raises(LakeError, match="unknown group kind 'photos'; the catalog declares: structures"):
        lake.writer("photos", dataset="d")
    with pytest.raises(LakeError, match=r"needs names \['dataset'\], got \['series'\]"):
        lake.writer("exitwaves", series="d")
    with pytest.raises(LakeError, match="no exitwaves group at 'simulations/nope/exitwaves'"):
        lake.dataset("exitwaves", dataset="nope")


def test_read_only_lake_refuses_writers(lake_path):
    exitwave_writer(Lake(lake_path, mode="a"))
    with pytest.raises(LakeError, match="read-only"):
        exitwave_writer(Lake(lake_path))
