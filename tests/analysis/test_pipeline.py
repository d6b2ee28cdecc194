"""The analysis stages on a real lake: masks or networks → instances → tracks → Fourier peaks."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hrtemlake.analysis import pipeline as ap
from hrtemlake.analysis.results import AnalysisRun
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake

from .synthetic import SCENARIO_SHAPE, expected_track_ids, relabel, render_labels, scenario

PIXEL = 0.5  # Å
SPACING = 2.35  # Å, lattice fringes inside the particles


def write_series(lake: Lake, series: str, frames: np.ndarray, pixel_size: float | None = PIXEL):
    """Frames as an ingested series (as `hrtemlake ingest` stores them)."""
    n, ny, nx = frames.shape
    attrs = {"time_source": "index"}
    if pixel_size:
        attrs["pixel_size"] = [pixel_size, pixel_size]
    writer = lake.writer("frames", series=series, attrs=attrs,
                         coords={"y": np.arange(ny) * (pixel_size or 1), "x": np.arange(nx) * (pixel_size or 1)})  # fmt: skip
    writer.append({"frame": frames.astype(np.float32), "time": np.arange(n, dtype=float),
                   "source": np.array(["synthetic"] * n)})  # fmt: skip


def particle_frames(labels: np.ndarray) -> np.ndarray:
    """Counts: vacuum 100, particles with fringes of SPACING along x at 30° (one set)."""
    yy, xx = np.mgrid[: labels.shape[1], : labels.shape[2]] * PIXEL
    angle = np.deg2rad(30)
    fringes = np.cos(2 * np.pi * (xx * np.cos(angle) - yy * np.sin(angle)) / SPACING)
    return np.where(labels > 0, 60 + 30 * fringes, 100).astype(np.float32)


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake.zarr"), mode="a")


def _run_all(lake, run, writer_of, block_fn):
    writer = writer_of
    for block in ap.missing_blocks(writer, 5):
        block_fn(writer, run, block)


def test_masks_to_tracks_match_the_known_trajectories(lake):
    truth = render_labels(scenario(), SCENARIO_SHAPE)
    write_series(lake, "discs", particle_frames(truth))
    ap.import_masks(lake, "r", truth > 0, PIXEL, series="discs")
    _run_all(lake, "r", ap.start_instances(lake, "r", threshold=0.5, min_separation=0.5),
             ap.instance_block)  # fmt: skip
    tracks = ap.track_run(lake, "r").load()
    stored = lake.group("track_labels", run="r")["track"][...]
    ids = expected_track_ids(truth)
    expected = relabel(truth, ids)
    # every id right; only the watershed line between touching discs may differ by a pixel
    assert set(np.unique(stored)) == set(np.unique(expected))
    assert np.mean(stored != expected) < 1e-4
    assert tracks.sizes == {"track": 7, "time": 12}
    first = tracks.sel(track=ids[10])  # disc 10: r 10 px at (20, 20 + 3 t) px
    np.testing.assert_allclose(first.com_x.values, (20 + 3 * np.arange(12)) * PIXEL, atol=0.05)
    np.testing.assert_allclose(first.area.values, np.pi * 100 * PIXEL**2, rtol=0.03)
    assert tracks.area.attrs["units"] == "Å²" and np.isnan(tracks.dose.values).all()
    assert np.isnan(tracks.sel(track=ids[60]).area.values[:3]).all()  # appears at frame 3
    assert check_lake(lake.location) == []


def test_fourier_statistics_of_the_tracks_find_the_lattice(lake):
    truth = render_labels(scenario(4), SCENARIO_SHAPE)
    write_series(lake, "discs", particle_frames(truth))
    ap.import_masks(lake, "r", truth, PIXEL, series="discs")
    _run_all(lake, "r", ap.start_instances(lake, "r", 0.5, 0.5), ap.instance_block)
    ap.track_run(lake, "r")
    _run_all(lake, "r", ap.start_fourier(lake, "r", max_peaks=3), ap.fourier_block)
    fourier = AnalysisRun(lake, "r").fourier.load()
    assert fourier.sizes == {"track": 6, "time": 4, "peak": 3}
    big = fourier.sel(track=expected_track_ids(truth)[20])  # radius 12 px
    np.testing.assert_allclose(big.d_spacing.isel(peak=0).values, SPACING, rtol=0.02)
    np.testing.assert_allclose(big.angle.isel(peak=0).values, 30, atol=1.5)
    assert fourier.d_spacing.attrs["units"] == "Å"


def test_a_rerun_writes_nothing_new_and_keeps_the_results(lake):
    truth = render_labels(scenario(3), SCENARIO_SHAPE)
    write_series(lake, "discs", particle_frames(truth))
    for _ in range(2):
        ap.import_masks(lake, "r", truth > 0, PIXEL, series="discs")
        writer = ap.start_instances(lake, "r", 0.5, 0.5)
        _run_all(lake, "r", writer, ap.instance_block)
        ap.track_run(lake, "r")
    assert len(lake.provenance("segmentation", run="r")) == 2
    assert int(lake.group("instances", run="r")["write_session"][:].max()) == 1


def test_network_segmentation_tiles_equal_whole_frame_inference(lake, tmp_path):
    keras = pytest.importorskip("keras")
    from hrtemlake.nn import TrainingOptions, network_info, predict_images, train_network
    from hrtemlake.preprocess import local_standardise
    from tests.nn.helpers import disc_image_set

    disc_image_set(lake, "train", n_models=4, epochs=1, seed=1)
    options = TrainingOptions(arch="msdnet", filters=2, layers=3, kernel=3, batch_size=4)
    for name, seed in (("a", 0), ("b", 1)):
        train_network(lake, name, "train", "train", epochs=1,
                      options=TrainingOptions(**{**options.__dict__, "seed": seed}))  # fmt: skip
    info = network_info(lake, "a")
    pixel = ap.network_pixel_size(info)  # no resampling: compare with whole-frame inference
    frames = np.random.default_rng(0).poisson(50, (2, 100, 140)).astype(np.float32)
    write_series(lake, "noise", frames, pixel_size=pixel)
    settings = ap.SegmentationSettings(window=48, overlap=0.5, margin=8)
    writer = ap.start_segmentation(lake, "seg", "noise", ["a", "b"], settings)
    _run_all(lake, "seg", writer, ap.segment_block)
    seg = lake.dataset("segmentation", run="seg").load()
    assert seg.probability.shape == (2, 1, 100, 140) and seg.disagreement.shape == (2, 100, 140)
    from hrtemlake.nn import load_network

    whole = np.mean([
        predict_images(load_network(lake, n), np.stack([
            local_standardise(f, info.parameter_file["normalizedistance"] / pixel) for f in frames
        ])[..., None])[..., 0] for n in ("a", "b")
    ], axis=0)  # fmt: skip
    inner = (slice(None), slice(10, -10), slice(10, -10))
    np.testing.assert_allclose(seg.probability.values[:, 0][inner], whole[inner], atol=1e-4)
    assert (seg.disagreement.values > 0).any()


def test_bad_inputs_are_named(lake):
    truth = render_labels(scenario(2), SCENARIO_SHAPE)
    write_series(lake, "nopixel", particle_frames(truth), pixel_size=None)
    with pytest.raises(ap.AnalysisError, match="series 'nopixel' has no pixel size"):
        ap.import_masks(lake, "r", truth, PIXEL, series="nopixel")
    with pytest.raises(ap.AnalysisError, match="--pixel-size must be > 0"):
        ap.import_masks(lake, "r", truth, 0.0)
    with pytest.raises(ap.AnalysisError, match=r"expected a \(time, y, x\) stack"):
        ap.import_masks(lake, "r", np.zeros(5), PIXEL)
    with pytest.raises(ap.AnalysisError, match="no series 'absent'"):
        ap.start_segmentation(lake, "r", "absent", ["n"])


def test_empty_masks_give_no_tracks(lake):
    ap.import_masks(lake, "empty", np.zeros((3, 20, 30)), PIXEL)
    _run_all(lake, "empty", ap.start_instances(lake, "empty"), ap.instance_block)
    tracks = ap.track_run(lake, "empty")
    assert tracks.sizes["track"] == 0 and tracks.sizes["time"] == 3


def _analyse(lake, run, masks):
    ap.import_masks(lake, run, masks, PIXEL, series="discs")
    _run_all(lake, run, ap.start_instances(lake, run, 0.5, 0.5), ap.instance_block)
    ap.track_run(lake, run)
    _run_all(lake, run, ap.start_fourier(lake, run, max_peaks=3), ap.fourier_block)


def test_a_growing_series_is_analysed_incrementally_with_the_same_result(lake):
    truth = render_labels(scenario(), SCENARIO_SHAPE)
    frames = particle_frames(truth)
    write_series(lake, "discs", frames[:5])
    _analyse(lake, "grow", truth[:5] > 0)
    assert lake.group("tracks", run="grow")["track"].shape == (6,)  # 7 in all: one appears later
    more = lake.writer("frames", series="discs")
    more.append({"frame": frames[5:], "time": np.arange(5, 12, dtype=float),
                 "source": np.array(["synthetic"] * 7)})  # fmt: skip
    assert ap.track_run(lake, "grow").sizes == {"track": 6, "time": 5}  # the run's own frames
    _analyse(lake, "grow", truth > 0)
    _analyse(lake, "whole", truth > 0)

    sessions = lake.group("instances", run="grow")["write_session"][:]
    assert list(sessions) == [1] * 5 + [2] * 7  # the first frames were not redone
    grown, whole = (AnalysisRun(lake, r) for r in ("grow", "whole"))
    np.testing.assert_array_equal(lake.group("track_labels", run="grow")["track"][...],
                                  lake.group("track_labels", run="whole")["track"][...])  # fmt: skip
    xr.testing.assert_equal(grown.tracks.load().drop_attrs(), whole.tracks.load().drop_attrs())
    for name in ("d_spacing", "angle", "intensity", "ratio", "n_peaks", "on_zone"):
        np.testing.assert_array_equal(grown.fourier[name].values, whole.fourier[name].values)
    assert check_lake(lake.location) == []


def _ensemble_segmentation(lake, truth, disagreement):
    n, ny, nx = truth.shape
    writer = lake.writer(
        "segmentation", run="ens", n_items=n, sizes={"channel": 1, "y": ny, "x": nx},
        parameters={"series": "discs", "networks": ["a", "b"]},
        attrs={"series": "discs", "networks": ["a", "b"], "channel_names": ["particle"],
               "pixel_size": PIXEL},
    )  # fmt: skip
    writer.write(0, {"probability": (truth > 0).astype(np.float32)[:, None],
                     "disagreement": disagreement.astype(np.float32)})  # fmt: skip


def test_the_agreement_mask_keeps_only_what_the_ensemble_agrees_on(lake):
    truth = render_labels(scenario(3), SCENARIO_SHAPE)
    write_series(lake, "discs", particle_frames(truth))
    ids = expected_track_ids(truth)
    disputed = np.isin(truth, [k for k, v in ids.items() if v == 1])  # the first track
    _ensemble_segmentation(lake, truth, np.where(disputed, 0.4, 0.01))
    _run_all(lake, "ens", ap.start_instances(lake, "ens", 0.5, 0.5, max_disagreement=0.2),
             ap.instance_block)  # fmt: skip
    tracks = ap.track_run(lake, "ens")
    everything = len(np.unique(truth)) - 1
    assert tracks.sizes["track"] == everything - 1
    assert lake.group("instances", run="ens").attrs["max_disagreement"] == 0.2
    assert check_lake(lake.location) == []


def test_the_agreement_mask_needs_an_ensemble(lake):
    truth = render_labels(scenario(2), SCENARIO_SHAPE)
    write_series(lake, "discs", particle_frames(truth))
    ap.import_masks(lake, "one", truth > 0, PIXEL, series="discs")
    with pytest.raises(ap.AnalysisError, match="ensemble"):
        ap.start_instances(lake, "one", max_disagreement=0.1)
