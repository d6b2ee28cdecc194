"""Simulated time series: stored like an ingested series, with truth that matches the frames."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy import ndimage

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.ingest.series import ExperimentalSeries
from hrtemlake.simulate.timeseries import (
    ParticleTrack,
    TimeSeriesTruth,
    random_tracks,
    render_masks,
    simulate_time_series,
)

N_FRAMES = 4
SIZE = (96, 112)  # (ny, nx) pixels: 48 × 56 Å
SAMPLING = 0.5  # Å
DOSE = 1e4  # e⁻/Å²: 2500 e⁻ per pixel
INTERVAL = 0.5  # s
# two particles without random walk: one drifts and grows, one appears and shrinks
TRACKS = [
    ParticleTrack(start=(16.0, 14.0), velocity=(0.8, 1.5), radius=(5.0, 8.0), rotation=10.0),
    ParticleTrack(start=(33.0, 42.0), velocity=(-0.6, -0.2), radius=(8.0, 5.5), first_frame=1,
                  rotation=50.0),
]  # fmt: skip
OPTICS = {"mtf": None, "readout": 0.0}  # an ideal counting detector: exactly Poisson


def _simulate(lake, series="sim", **changes):
    options = dict(n_frames=N_FRAMES, size=SIZE, sampling=SAMPLING, particles=TRACKS, seed=3,
                   dose=DOSE, frame_interval=INTERVAL, optics=OPTICS)  # fmt: skip
    options.update(changes)
    return simulate_time_series(lake, series, **options)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("timeseries") / "lake.zarr")
    return lake, _simulate(lake)


def _outside(truth: TimeSeriesTruth, frame: int, distance: float) -> np.ndarray:
    """Pixels farther than ``distance`` [Å] from every particle's disc."""
    far = ndimage.distance_transform_edt(truth.masks[frame] == 0) * truth.pixel_size
    return far > distance


def test_series_reads_back_like_an_ingested_one(simulated):
    lake, truth = simulated
    series = ExperimentalSeries(lake, "sim")
    assert len(series) == N_FRAMES and series.shape == SIZE
    assert series.pixel_size == pytest.approx((SAMPLING, SAMPLING))
    np.testing.assert_allclose(series.frames.time.values, np.arange(N_FRAMES) * INTERVAL)
    np.testing.assert_allclose(series.frames.x.values, np.arange(SIZE[1]) * SAMPLING)
    assert series.frames.dtype == np.float32
    assert list(series.dataset["source"].values) == ["simulated"] * N_FRAMES
    assert "simulated" in series.dataset.attrs["time_source"]
    meta = series.metadata(2)
    assert meta["dose"] == pytest.approx(DOSE) and meta["counts_per_electron"] == 1.0
    assert [p["id"] for p in meta["particles"]] == [1, 2]
    # the series' own dose estimate (vacuum window, gain from the metadata) finds the dose
    assert series.dose(0) == pytest.approx(DOSE, rel=0.05)
    np.testing.assert_allclose(truth.times, np.arange(N_FRAMES) * INTERVAL)
    np.testing.assert_allclose(truth.dose, DOSE)


def test_truth_follows_the_tracks(simulated):
    _, truth = simulated
    table = truth.table
    assert truth.masks.shape == (N_FRAMES, *SIZE) and truth.ids == [1, 2]
    first = truth.track(1)
    np.testing.assert_allclose(first["centre_y"], 16.0 + 0.8 * np.arange(N_FRAMES))
    np.testing.assert_allclose(first["centre_x"], 14.0 + 1.5 * np.arange(N_FRAMES))
    np.testing.assert_allclose(first["radius"], np.linspace(5.0, 8.0, N_FRAMES))
    second = truth.track(2)
    assert list(second["frame"]) == [1, 2, 3]  # appears at frame 1
    np.testing.assert_allclose(second["centre_y"], 33.0 - 0.6 * np.arange(3))
    np.testing.assert_allclose(second["radius"], np.linspace(8.0, 5.5, 3))
    assert not (truth.masks[0] == 2).any()
    # mask areas: the discs of the radii, growing and shrinking as specified
    expected = math.pi * table["radius"] ** 2 / SAMPLING**2
    np.testing.assert_allclose(table["area"], expected, rtol=0.05)
    assert np.all(np.diff(first["area"]) > 0) and np.all(np.diff(second["area"]) < 0)
    # the clusters are rebuilt at each radius: whole atoms added or removed
    assert np.all(np.diff(first["atoms"]) >= 0) and first["atoms"].iloc[-1] > first["atoms"][0]
    assert np.all(np.diff(second["atoms"]) <= 0)
    for frame in range(N_FRAMES):  # each mask's own centroid is its centre
        for row in truth.at(frame).itertuples():
            rows, cols = np.nonzero(truth.masks[frame] == row.id)
            assert rows.mean() * SAMPLING == pytest.approx(row.centre_y, abs=SAMPLING / 2)
            assert cols.mean() * SAMPLING == pytest.approx(row.centre_x, abs=SAMPLING / 2)


def test_particles_in_the_frames_are_where_the_truth_says(simulated):
    lake, truth = simulated
    series = ExperimentalSeries(lake, "sim")
    for frame in range(N_FRAMES):
        image = ndimage.gaussian_filter(series.frame(frame).astype(np.float64), 2.0)
        vacuum = image[_outside(truth, frame, 6.0)].mean()
        darkness = np.clip(vacuum - image, 0.0, None)  # particles image darker than vacuum
        y, x = np.mgrid[: SIZE[0], : SIZE[1]] * SAMPLING
        for row in truth.at(frame).itertuples():
            around = np.hypot(y - row.centre_y, x - row.centre_x) <= row.radius + 3.0
            weight = np.where(around, darkness, 0.0)
            cy, cx = (weight * y).sum() / weight.sum(), (weight * x).sum() / weight.sum()
            assert cy == pytest.approx(row.centre_y, abs=SAMPLING), (frame, row.id)
            assert cx == pytest.approx(row.centre_x, abs=SAMPLING), (frame, row.id)
            # the dark footprint is the particle's disc
            mask = truth.masks[frame] == row.id
            dark = around & (darkness > 0.05 * vacuum)
            assert (dark & mask).sum() > 0.97 * dark.sum()
            footprint = around & (darkness > 0.02 * vacuum)  # 7 σ of the smoothed noise
            assert footprint.sum() == pytest.approx(mask.sum(), rel=0.25)
    # the dark footprints grow and shrink with the radii
    areas = {}
    for frame in range(N_FRAMES):
        image = ndimage.gaussian_filter(series.frame(frame).astype(np.float64), 2.0)
        vacuum = image[_outside(truth, frame, 6.0)].mean()
        labels = truth.masks[frame]
        grown = ndimage.grey_dilation(labels, size=7)
        for pid in np.unique(labels[labels > 0]):
            areas[frame, pid] = int(((grown == pid) & (image < 0.95 * vacuum)).sum())
    assert areas[0, 1] < areas[1, 1] < areas[2, 1] < areas[3, 1]
    assert areas[1, 2] > areas[2, 2] > areas[3, 2]


def test_vacuum_has_poisson_statistics_at_the_dose(simulated):
    lake, truth = simulated
    series = ExperimentalSeries(lake, "sim")
    electrons = DOSE * SAMPLING**2
    for frame in range(N_FRAMES):
        image = series.frame(frame)
        vacuum = image[_outside(truth, frame, 8.0)]
        assert vacuum.size > 2000
        assert vacuum.mean() == pytest.approx(electrons, rel=0.05)
        assert vacuum.var() == pytest.approx(electrons, rel=0.15)  # Poisson: var = mean
        assert np.all(image == np.round(image))  # whole counts
        assert truth.clean[frame][_outside(truth, frame, 8.0)].mean() == pytest.approx(1, 0.01)
    frames = series.frames.values
    assert frames.std() > 0 and not np.array_equal(frames[0], frames[1])


def test_same_seed_same_frames_and_resume(simulated, tmp_path):
    lake, truth = simulated
    again = str(tmp_path / "again.zarr")
    copy = _simulate(again)
    np.testing.assert_array_equal(ExperimentalSeries(again, "sim").frames.values,
                                  ExperimentalSeries(lake, "sim").frames.values)  # fmt: skip
    np.testing.assert_array_equal(copy.masks, truth.masks)
    other = _simulate(again, "other", seed=4)
    assert not np.array_equal(ExperimentalSeries(again, "other").frame(0),
                              ExperimentalSeries(again, "sim").frame(0))  # fmt: skip
    assert other.table.equals(truth.table)  # the tracks have no random walk
    # a rerun with the same arguments writes nothing; other arguments are refused
    rerun = _simulate(again)
    assert len(ExperimentalSeries(again, "sim")) == N_FRAMES and rerun.clean is None
    np.testing.assert_array_equal(rerun.masks, truth.masks)
    with pytest.raises(LakeError, match="already exists"):
        _simulate(again, dose=2 * DOSE)


def test_truth_save_load_and_from_lake(simulated, tmp_path):
    lake, truth = simulated
    loaded = TimeSeriesTruth.load(truth.save(tmp_path / "truth.npz"))
    np.testing.assert_array_equal(loaded.masks, truth.masks)
    np.testing.assert_array_equal(loaded.clean, truth.clean)
    assert loaded.table.equals(truth.table) and loaded.tracks == truth.tracks
    stored = TimeSeriesTruth.from_lake(lake, "sim")
    np.testing.assert_array_equal(stored.masks, truth.masks)
    np.testing.assert_allclose(stored.table[["centre_y", "centre_x", "radius"]],
                               truth.table[["centre_y", "centre_x", "radius"]])  # fmt: skip
    assert stored.tracks == truth.tracks and stored.clean is None
    np.testing.assert_allclose(stored.defocus, truth.defocus)


def test_random_scene_with_a_support(tmp_path):
    lake = str(tmp_path / "lake.zarr")
    truth = simulate_time_series(lake, "random", n_frames=4, size=128, particles=2, seed=1,
                                 dose=5e3, support_thickness=15.0)  # fmt: skip
    assert truth.ids == [1, 2]
    assert list(truth.track(2)["frame"]) == [2, 3]  # the last particle appears midway
    first, second = truth.track(1)["radius"], truth.track(2)["radius"]
    assert first.iloc[-1] > first.iloc[0] and second.iloc[-1] < second.iloc[0]
    assert 6.0 <= truth.table["radius"].min() and truth.table["radius"].max() <= 12.0
    assert truth.track(1)["centre_y"].diff().abs().max() > 0  # it moves
    # apart and inside the field in every frame
    for frame in range(4):
        rows = truth.at(frame)
        for row in rows.itertuples():
            assert row.radius < row.centre_y < 64.0 - row.radius
            assert row.radius < row.centre_x < 64.0 - row.radius
        if len(rows) == 2:
            distance = np.hypot(*(rows[["centre_y", "centre_x"]].diff().iloc[1]))
            assert distance > rows["radius"].sum()
    # a carbon film: vacuum is gone, the mean dose is kept
    clean = truth.clean[0][_outside(truth, 0, 8.0)]
    assert clean.std() > 0.005 and clean.mean() == pytest.approx(1.0, abs=0.02)


def test_render_masks_prefers_the_deeper_particle():
    import pandas as pd

    table = pd.DataFrame({"frame": [0, 0], "id": [1, 2], "centre_y": [5.0, 5.0],
                          "centre_x": [4.0, 7.0], "radius": [3.0, 2.0]})  # fmt: skip
    masks = render_masks(table, 1, (12, 12), 1.0)
    assert masks[0, 5, 4] == 1 and masks[0, 5, 7] == 2 and masks[0, 0, 0] == 0
    assert masks[0, 5, 6] == 2  # 2/3 of particle 1's radius, half of particle 2's


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"n_frames": 0}, "n_frames"),
        ({"size": (8, 8)}, "size"),
        ({"sampling": -0.5}, "sampling"),
        ({"dose": [1.0, 2.0]}, "dose"),
        ({"dose": 0.0}, "dose"),
        ({"frame_interval": 0}, "frame_interval"),
        ({"seed": -1}, "seed"),
        ({"particles": "three"}, "particles"),
        ({"particles": 40}, "random_tracks"),
        ({"particles": [ParticleTrack((5.0, 5.0), first_frame=9)]}, "first_frame"),
        ({"wave_sampling": 1.0}, "wave_sampling"),
        ({"defocus": (1.0, 2.0, 3.0)}, "defocus"),
        ({"optics": {"defocus": (0, 10)}}, "defocus"),
        ({"optics": {"blurr": 0.2}}, "blurr"),
        ({"optics": {"blur": -1.0}}, "blur"),
        ({"support_thickness": -5.0}, "support_thickness"),
        ({"series": ""}, "series"),
    ],
)
def test_bad_arguments_are_named(tmp_path, changes, name):
    lake = str(tmp_path / "lake.zarr")
    series = changes.pop("series", "bad")
    with pytest.raises(ParameterError, match=name):
        _simulate(lake, series, **changes)
    assert not os.path.exists(lake)  # refused before anything was written


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"radius": 0.5}, "radius"),
        ({"radius": (3.0, 2.0, 1.0)}, "radius"),
        ({"element": "Fe"}, "FCC"),
        ({"first_frame": -1}, "first_frame"),
        ({"first_frame": 2, "last_frame": 1}, "last_frame"),
        ({"walk": -0.1}, "walk"),
        ({"velocity": (1.0,)}, "velocity"),
    ],
)
def test_bad_tracks_are_named(options, name):
    with pytest.raises(ParameterError, match=name):
        ParticleTrack(start=(10.0, 10.0), **options)


def test_random_tracks_checks_its_arguments():
    with pytest.raises(ParameterError, match="radius"):
        random_tracks(2, 4, (50.0, 50.0), 0, radius=(8.0, 4.0))
    with pytest.raises(ParameterError, match="n_particles"):
        random_tracks(-1, 4, (50.0, 50.0), 0)
    assert random_tracks(0, 4, (50.0, 50.0), 0) == []
