"""Every layout of the catalog through a real Zarr store and back through xarray."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hrtemlake import open_lake
from hrtemlake.errors import LakeError
from hrtemlake.lake import Lake, chunk_blocks

from .helpers import exit_waves, exitwave_writer, frames_writer


def test_dense_items_round_trip(lake_path):
    lake = Lake(lake_path, mode="a")
    writer = exitwave_writer(lake, n_items=5)
    assert list(writer.missing()) == [0, 1, 2, 3, 4]
    writer.write(3, {"exit_wave": exit_waves(3, 1)})
    writer.write(0, {"exit_wave": exit_waves(0, 2)})
    assert list(writer.missing()) == [2, 4]

    ds = lake.dataset("exitwaves", dataset="train")
    assert ds.exit_wave.dtype == np.complex64
    assert ds.exit_wave.chunks[0] == (1,) * 5  # one model per chunk
    np.testing.assert_array_equal(ds.exit_wave[[0, 1, 3]].values, exit_waves(0, 4)[[0, 1, 3]])
    assert np.isnan(ds.exit_wave[2].values).all()
    complete = lake.dataset("exitwaves", dataset="train", complete_only=True)
    assert complete.sizes["model"] == 3
    assert float(ds.energy) == 300e3
    assert ds.x.attrs["units"] == "Å"
    np.testing.assert_allclose(ds.x.values, np.arange(6) * 0.05)


def test_ragged_items_round_trip(lake_path, rng):
    lake = Lake(lake_path, mode="a")
    writer = lake.writer("structures", dataset="train", attrs={"kind": "mx2"}, seed=3)
    models = [rng.integers(1, 7) for _ in range(5)]
    rows = [
        {"numbers": np.full(n, 40 + i), "positions": rng.normal(size=(n, 3))}
        for i, n in enumerate(models)
    ]
    writer.append(rows[:2], per_item={"cell": np.eye(3)[None].repeat(2, 0) * 10})
    writer.append(rows[2:], per_item={"cell": np.eye(3)[None].repeat(3, 0) * 20})

    ds = lake.dataset("structures", dataset="train").load()
    assert list(ds.offsets.values) == list(np.cumsum(models))
    for i, rows_i in enumerate(rows):
        stop = int(ds.offsets[i])
        start = stop - models[i]
        np.testing.assert_array_equal(ds.numbers[start:stop], rows_i["numbers"])
        np.testing.assert_allclose(ds.positions[start:stop], rows_i["positions"], rtol=1e-6)
    assert ds.cell[4, 0, 0] == 20
    assert ds.positions.attrs["units"] == "Å"


def test_append_items_round_trip(lake_path):
    lake = Lake(lake_path, mode="a")
    writer = frames_writer(lake)
    first = writer.append(
        {"frame": np.ones((2, 4, 5)), "time": [0.0, 1.5], "source": ["a.dm4", "b.dm4"]}
    )
    again = frames_writer(Lake(lake_path, mode="a"))
    second = again.append(
        {"frame": 2 * np.ones((1, 4, 5)), "time": [3.0], "source": ["c.dm4"], "exposure": [0.5]}
    )
    assert (list(first), list(second)) == ([0, 1], [2])
    ds = lake.dataset("frames", series="s1")
    assert ds.sizes["time"] == 3
    np.testing.assert_array_equal(ds.frame.sum(("y", "x")).values, [20, 20, 40])
    assert list(ds.source.values) == ["a.dm4", "b.dm4", "c.dm4"]
    assert np.isnan(ds.exposure[0]) and ds.exposure[2] == 0.5
    assert list(ds.write_session.values) == [1, 1, 2]
    assert [r["session"] for r in lake.provenance("frames", series="s1")] == [1, 2]


def test_open_lake_returns_lazy_tree_with_units(lake_path, monkeypatch):
    lake = Lake(lake_path, mode="a")
    exitwave_writer(lake, n_items=2).write(0, {"exit_wave": exit_waves(0, 2)})
    frames_writer(lake).append({"frame": np.ones((1, 4, 5)), "time": [0.0], "source": ["a"]})

    monkeypatch.setenv("HRTEMLAKE_LAKE", lake_path)
    tree = open_lake()  # location from the environment
    assert isinstance(tree, xr.DataTree)
    assert set(tree.children) == {"simulations", "experiments"}
    wave = tree["simulations/train/exitwaves"].exit_wave
    assert wave.chunks is not None  # Dask-backed, nothing loaded yet
    assert wave.attrs["units"] == "1"
    assert tree["experiments/s1"].x.attrs["units"] == "Å"
    assert tree["simulations/train/exitwaves"].energy.attrs["units"] == "eV"
    np.testing.assert_array_equal(wave.values, exit_waves(0, 2))


def test_dense_group_grows_on_reopen(lake_path):
    lake = Lake(lake_path, mode="a")
    exitwave_writer(lake, n_items=2).write(0, {"exit_wave": exit_waves(0, 2)})
    writer = exitwave_writer(lake, n_items=4)
    assert list(writer.missing()) == [2, 3]


@pytest.mark.parametrize(
    ("items", "chunk", "per_block", "n", "expected"),
    [
        ([0, 1, 2, 5], 1, 2, None, [[0, 1], [2], [5]]),
        ([0, 3, 4, 9], 4, 1, 10, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),
        ([], 2, 3, 0, []),
    ],
)
def test_chunk_blocks(items, chunk, per_block, n, expected):
    assert [list(b) for b in chunk_blocks(items, chunk, per_block, n)] == expected


def test_declared_group_created_over_a_bare_parent(lake_path):
    lake = Lake(lake_path, mode="a")
    lake.writer("quarantine", series="s1").append(
        {"source": ["bad.dm4"], "reason": ["truncated"], "time_utc": ["2026-01-01T00:00:00"]}
    )
    frames_writer(lake).append({"frame": np.ones((1, 4, 5)), "time": [0.0], "source": ["a"]})
    tree = Lake(lake_path).tree()
    assert tree["experiments/s1"].frame.shape == (1, 4, 5)
    assert list(tree["experiments/s1/quarantine"].reason.values) == ["truncated"]


def _fourier_writer(lake, n_tracks):
    return lake.writer("fourier", run="r", n_items=2, sizes={"peak": 2},
                       coords={"track": np.arange(1, n_tracks + 1)},
                       attrs={"pixel_size": 0.5, "zone_axis_threshold": 5.0})  # fmt: skip


def test_grow_lengthens_a_dimension_with_fill_values_and_keeps_the_data(lake_path):
    lake = Lake(lake_path, mode="a")
    writer = _fourier_writer(lake, 2)
    writer.write(0, {"d_spacing": np.full((2, 2, 2), 2.35), "angle": np.zeros((2, 2, 2)),
                     "intensity": np.ones((2, 2, 2)), "ratio": np.ones((2, 2)),
                     "n_peaks": np.full((2, 2), 2, np.int32), "on_zone": np.ones((2, 2), bool)})  # fmt: skip
    lake.grow("fourier", "track", 3, coords={"track": [1, 2, 7]}, run="r")
    ds = lake.dataset("fourier", run="r").load()
    assert ds.sizes == {"time": 2, "track": 3, "peak": 2}
    assert list(ds.track.values) == [1, 2, 7]
    np.testing.assert_array_equal(ds.d_spacing.sel(track=2).values, 2.35)
    assert np.isnan(ds.d_spacing.sel(track=7)).all() and not ds.on_zone.sel(track=7).any()
    assert (ds.n_peaks.sel(track=7) == 0).all() and (ds.write_session > 0).all()
    with pytest.raises(LakeError, match="shrink"):
        lake.grow("fourier", "track", 1, run="r")
    with pytest.raises(LakeError, match="item axis"):
        lake.grow("fourier", "time", 5, run="r")
    with pytest.raises(LakeError, match="read-only"):
        Lake(lake_path).grow("fourier", "track", 4, run="r")


def test_remove_deletes_one_group_only(lake_path):
    lake = Lake(lake_path, mode="a")
    _fourier_writer(lake, 2)
    exitwave_writer(lake)
    lake.remove("fourier", run="r")
    assert not lake.exists("fourier", run="r") and lake.exists("exitwaves", dataset="train")
    with pytest.raises(LakeError, match="no fourier group"):
        lake.remove("fourier", run="r")


@pytest.mark.parametrize("separator", [".", "/"])
def test_frames_written_whole_chunks_round_trip_with_either_chunk_key(lake_path, monkeypatch,
                                                                         separator):  # fmt: skip
    """New arrays use flat chunk keys (c.0.0.0); lakes made with nested ones (c/0/0/0, the
    zarr default) stay readable and writable through the direct chunk writer."""
    import zarr

    import hrtemlake.lake.lake as lake_module

    monkeypatch.setattr(lake_module, "FLAT_CHUNK_KEYS", {"name": "default", "separator": separator})
    frames = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    frames_writer(Lake(lake_path, mode="a")).append(
        {"frame": frames, "time": [0.0, 1.0, 2.0], "source": ["a", "b", "c"]})
    np.testing.assert_array_equal(Lake(lake_path).read("frames", "frame", series="s1"), frames)
    array = zarr.open_array(f"{lake_path}/experiments/s1/frame", mode="r")
    key = array.metadata.encode_chunk_key((2, 0, 0))
    assert key == ("c.2.0.0" if separator == "." else "c/2/0/0")
    assert (Path(lake_path) / "experiments/s1/frame" / key).is_file()
