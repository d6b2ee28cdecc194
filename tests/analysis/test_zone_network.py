"""The zone-axis classifier in the Fourier stage: on_zone_probability per track and frame."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from hrtemlake.analysis import pipeline as ap
from hrtemlake.analysis.results import AnalysisRun
from hrtemlake.analysis.zoneaxis import register_zone_axis_classifier, zone_axis_probabilities
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.nn.heads import build_classifier
from hrtemlake.nn.registry import NetworkError

from .synthetic import SCENARIO_SHAPE, expected_track_ids, render_labels, scenario
from .test_pipeline import PIXEL, _run_all, particle_frames, write_series


@pytest.fixture
def tracked(tmp_path) -> tuple[Lake, np.ndarray]:
    """Six tracked discs with lattice fringes over 4 frames, and a registered classifier."""
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    truth = render_labels(scenario(4), SCENARIO_SHAPE)
    write_series(lake, "discs", particle_frames(truth))
    ap.import_masks(lake, "r", truth, PIXEL, series="discs")
    _run_all(lake, "r", ap.start_instances(lake, "r", 0.5, 0.5), ap.instance_block)
    ap.track_run(lake, "r")
    model = build_classifier(1, 2, filters=2, depth=1, dense=4, seed=3)
    register_zone_axis_classifier(lake, "za", model, q_max=0.75, size=32)
    return lake, truth


def test_the_fourier_stage_stores_the_classifiers_probability_per_track_and_frame(tracked):
    lake, truth = tracked
    _run_all(lake, "r", ap.start_fourier(lake, "r", max_peaks=3, zone_network="za"),
             ap.fourier_block)  # fmt: skip
    fourier = AnalysisRun(lake, "r").fourier.load()
    stored = fourier.on_zone_probability.transpose("track", "time").values
    model = ap._cached_zone_network(lake.location, "za")[0]
    frames = lake.read("frames", "frame", series="discs")
    labels = lake.group("track_labels", run="r")["track"][...]
    direct = zone_axis_probabilities(model, frames, labels, PIXEL, fourier.track.values,
                                     q_max=0.75, size=32)  # fmt: skip
    np.testing.assert_allclose(stored, direct, rtol=1e-5, equal_nan=True)
    present = np.stack([(labels == i).any(axis=(1, 2)) for i in fourier.track.values])
    assert np.array_equal(np.isfinite(stored), present)  # NaN exactly where a track is absent
    assert ((stored[present] >= 0) & (stored[present] <= 1)).all()
    late = list(fourier.track.values).index(expected_track_ids(truth)[60])
    assert np.isnan(stored[late, :3]).all()  # disc 60 appears at frame 3
    assert fourier.on_zone_probability.attrs["units"] == "1"
    assert check_lake(lake.location) == []


def test_without_a_classifier_the_probability_is_nan(tracked):
    lake, _ = tracked
    _run_all(lake, "r", ap.start_fourier(lake, "r", max_peaks=3), ap.fourier_block)
    assert np.isnan(AnalysisRun(lake, "r").fourier.on_zone_probability.values).all()


def test_an_unknown_classifier_fails_before_anything_is_written(tracked):
    lake, _ = tracked
    with pytest.raises(NetworkError, match="nope"):
        ap.start_fourier(lake, "r", zone_network="nope")
    assert not lake.exists("fourier", run="r")


def test_the_fourier_plot_shows_the_probability_when_there_is_one(tracked):
    from hrtemlake.analysis.plots import plot_fourier_peaks

    lake, _ = tracked
    _run_all(lake, "r", ap.start_fourier(lake, "r", max_peaks=3, zone_network="za"),
             ap.fourier_block)  # fmt: skip
    fourier = AnalysisRun(lake, "r").fourier.load()
    assert len(plot_fourier_peaks(fourier).axes) == 3
    assert len(plot_fourier_peaks(fourier.drop_vars("on_zone_probability")).axes) == 2
