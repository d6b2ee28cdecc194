"""Tracking by overlap (moves, splits, merges) and per-track properties with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hrtemlake.analysis.instances import segment_series
from hrtemlake.analysis.tracking import (
    PROPERTY_UNITS,
    iter_tracked,
    match_instances,
    track_instances,
    track_properties,
    track_summary,
)
from hrtemlake.errors import ParameterError

from .synthetic import (
    SCENARIO_SHAPE,
    Disc,
    expected_track_ids,
    relabel,
    render_labels,
    render_probability,
    scenario,
)


def _boxes(shape, *boxes):
    """A label frame with rectangles (label, y0, y1, x0, x1)."""
    frame = np.zeros(shape, dtype=np.int32)
    for label, y0, y1, x0, x1 in boxes:
        frame[y0:y1, x0:x1] = label
    return frame


# --- the scenario: move, touch, merge, split, appear, disappear ---------------------------


def test_scenario_from_true_labels_exactly():
    truth = render_labels(scenario(), SCENARIO_SHAPE)
    tracked = track_instances(truth)
    assert tracked.dtype == np.int32
    np.testing.assert_array_equal(tracked, relabel(truth, expected_track_ids(truth)))


def test_scenario_ids_follow_the_rules():
    truth = render_labels(scenario(), SCENARIO_SHAPE)
    ids = expected_track_ids(truth)
    tracked = track_instances(truth)
    # merge at frame 6: 20 (the larger parent) continues, 30 ends
    assert ids[20] in tracked[6] and ids[30] in tracked[5] and ids[30] not in tracked[6:]
    # split at frame 6: the larger child keeps 40, the smaller is the new track 50
    assert tracked[6][40, 144] == ids[40] and tracked[6][40, 160] == ids[50]
    assert ids[50] == max(ids.values())
    # 60 appears at frame 3, 70 disappears after frame 7
    assert ids[60] not in tracked[2] and ids[60] in tracked[3]
    assert ids[70] in tracked[7] and ids[70] not in tracked[8:]


def test_scenario_end_to_end_from_probability_maps():
    frames = scenario()
    truth = render_labels(frames, SCENARIO_SHAPE)
    probability = render_probability(frames, SCENARIO_SHAPE, noise=0.02)
    labels = segment_series(probability, min_separation=0.4, pixel_size=0.5)
    tracked = track_instances(labels)
    expected = expected_track_ids(truth)
    for t, discs in enumerate(frames):
        ids = np.unique(tracked[t])[1:]
        assert ids.size == len(discs)
        for track_id in ids:
            instance = tracked[t] == track_id
            values, counts = np.unique(truth[t][instance], return_counts=True)
            true_id = int(values[np.argmax(counts)])
            assert true_id != 0
            assert expected[true_id] == track_id, f"frame {t}, true id {true_id}"
            true = truth[t] == true_id
            iou = np.count_nonzero(instance & true) / np.count_nonzero(instance | true)
            assert iou > 0.85


# --- the matching rule ------------------------------------------------------------------


def test_move_keeps_id_while_overlap_exceeds_threshold():
    shape = (20, 60)
    square = lambda x0: _boxes(shape, (1, 5, 15, x0, x0 + 10))  # noqa: E731
    # shifts of 4 px (overlap 0.6) keep the id; a shift of 6 px (overlap 0.4) starts a new track
    tracked = track_instances(np.stack([square(0), square(4), square(8), square(14)]))
    assert [int(frame.max()) for frame in tracked] == [1, 1, 1, 2]


def test_threshold_is_exclusive_and_adjustable():
    shape = (20, 60)
    stack = np.stack([_boxes(shape, (1, 5, 15, 0, 10)), _boxes(shape, (1, 5, 15, 5, 15))])
    assert track_instances(stack)[1].max() == 2  # overlap exactly 0.5: not above 0.5
    assert track_instances(stack, min_overlap=0.49)[1].max() == 1
    assert track_instances(stack, min_overlap=0.0)[1].max() == 1


def test_split_larger_intersection_keeps_id():
    shape = (20, 40)
    parent = _boxes(shape, (5, 0, 20, 0, 40))
    children = _boxes(shape, (3, 0, 20, 0, 15), (8, 0, 20, 15, 40))  # 300 vs 500 px
    tracked = track_instances(np.stack([parent, children]))
    assert tracked[1][10, 5] == 2 and tracked[1][10, 30] == 1
    assert match_instances(parent, children) == {8: 5}


def test_split_into_many_children_keeps_one():
    # a fraction of the parent's area would lose all four; the smaller instance's area keeps one
    shape = (20, 80)
    parent = _boxes(shape, (1, 0, 20, 0, 80))
    quarters = _boxes(shape, *[(k + 1, 0, 20, 20 * k, 20 * k + 20) for k in range(3)])
    quarters[:, 60:] = 4
    quarters[:, 60:62] = 0  # the last child is a little smaller
    tracked = track_instances(np.stack([parent, quarters]))
    # equal intersections and fractions: the smallest current label wins the tie
    assert tracked[1][10, 5] == 1
    assert sorted(np.unique(tracked[1]).tolist()) == [0, 1, 2, 3, 4]


def test_merge_takes_id_of_parent_it_overlaps_most():
    shape = (20, 60)
    parents = _boxes(shape, (1, 0, 20, 0, 20), (2, 0, 20, 30, 60))  # 400 and 600 px
    merged = _boxes(shape, (1, 0, 20, 0, 60))
    tracked = track_instances(np.stack([parents, merged]))
    assert tracked[0][10, 5] == 1 and tracked[0][10, 40] == 2
    assert np.unique(tracked[1]).tolist() == [2]  # the merged instance fills the frame
    # and with the parents swapped in size, the other id
    parents = _boxes(shape, (1, 0, 20, 0, 35), (2, 0, 20, 40, 60))
    tracked = track_instances(np.stack([parents, merged]))
    assert np.unique(tracked[1]).tolist() == [1]


def test_merge_of_equal_parents_keeps_smaller_id():
    shape = (20, 40)
    parents = _boxes(shape, (1, 0, 20, 0, 20), (2, 0, 20, 20, 40))
    merged = _boxes(shape, (9, 0, 20, 0, 40))  # overlap fraction 1 with each parent
    tracked = track_instances(np.stack([parents, merged]))
    assert np.unique(tracked[1]).tolist() == [1]


def test_growth_and_shrinkage_keep_id():
    shape = (40, 40)
    small = _boxes(shape, (1, 15, 25, 15, 25))  # 100 px
    large = _boxes(shape, (1, 5, 35, 5, 35))  # 900 px, covers all of small
    tracked = track_instances(np.stack([small, large, small]))
    assert [int(frame.max()) for frame in tracked] == [1, 1, 1]


def test_ids_in_order_of_first_appearance_whatever_the_labels():
    shape = (30, 30)
    frame0 = _boxes(shape, (7, 20, 25, 0, 5), (3, 0, 5, 20, 25))  # 3 is met first (row 0)
    frame1 = _boxes(shape, (1, 20, 25, 0, 5), (2, 0, 5, 20, 25), (5, 10, 15, 10, 15))
    tracked = track_instances(np.stack([frame0, frame1]))
    assert tracked[0][0, 20] == 1 and tracked[0][20, 0] == 2
    assert tracked[1][0, 20] == 1 and tracked[1][20, 0] == 2 and tracked[1][10, 10] == 3


def test_gap_starts_new_track_and_ids_never_reused():
    shape = (20, 20)
    box = _boxes(shape, (1, 5, 15, 5, 15))
    empty = np.zeros(shape, dtype=np.int32)
    tracked = track_instances(np.stack([box, empty, box, box]))
    assert [int(frame.max()) for frame in tracked] == [1, 0, 2, 2]


def test_large_and_unsigned_label_values():
    shape = (20, 30)
    frame0 = _boxes(shape, (1, 0, 10, 0, 10), (2, 10, 20, 15, 25)).astype(np.uint64)
    frame1 = frame0.copy()
    frame1[frame0 == 1] = 10**12
    frame1[frame0 == 2] = 5
    tracked = track_instances(np.stack([frame0, frame1]))
    np.testing.assert_array_equal(tracked[0], tracked[1])
    assert match_instances(frame0, frame1) == {10**12: 1, 5: 2}


def test_many_instances_dense_and_sparse_counts_agree(monkeypatch):
    import hrtemlake.analysis.tracking as tracking

    rng = np.random.default_rng(3)
    frames = []
    centres = rng.uniform(10, 190, size=(60, 2))
    for _ in range(5):
        centres = centres + rng.normal(0, 1.0, centres.shape)
        frames.append([Disc(y, x, 4, k + 1) for k, (y, x) in enumerate(centres)])
    truth = render_labels(frames, (200, 200))
    dense = track_instances(truth)
    assert len(np.unique(dense)) > 40
    monkeypatch.setattr(tracking, "_DENSE_CELLS", 0)  # always the sparse count
    np.testing.assert_array_equal(track_instances(truth), dense)


def test_iter_tracked_streams_frames():
    truth = render_labels(scenario(), SCENARIO_SHAPE)
    streamed = np.stack(list(iter_tracked(iter(truth))))
    np.testing.assert_array_equal(streamed, track_instances(truth))


def test_out_array_is_filled():
    truth = render_labels(scenario(4), SCENARIO_SHAPE)
    out = np.full(truth.shape, -1, dtype=np.int32)
    assert track_instances(truth, out=out) is out
    np.testing.assert_array_equal(out, track_instances(truth))


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(10,), (10, 10), (2, 3, 4, 5)])
def test_labels_must_be_3d(shape):
    with pytest.raises(ValueError, match="labels must be 3-D"):
        track_instances(np.zeros(shape, dtype=np.int32))


def test_labels_must_be_non_negative_integers():
    with pytest.raises(ValueError, match="integer"):
        track_instances(np.zeros((2, 5, 5)))
    bad = np.zeros((2, 5, 5), dtype=np.int32)
    bad[1, 2, 2] = -1
    with pytest.raises(ValueError, match="negative"):
        track_instances(bad)


@pytest.mark.parametrize("min_overlap", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_min_overlap(min_overlap):
    with pytest.raises(ParameterError, match="min_overlap"):
        track_instances(np.zeros((2, 5, 5), dtype=np.int32), min_overlap)


def test_empty_series():
    tracked = track_instances(np.zeros((3, 20, 20), dtype=np.int32))
    assert tracked.shape == (3, 20, 20) and not tracked.any()
    props = track_properties(tracked, pixel_size=0.5)
    assert props.sizes["track"] == 0 and props.sizes["time"] == 3
    summary = track_summary(props)
    assert len(summary) == 0 and "displacement" in summary.columns


# --- properties -------------------------------------------------------------------------


def test_disc_properties_in_angstrom():
    radius, p = 20, 0.25
    frames = [[Disc(50, 60, radius, 1)], [], [Disc(55, 70, radius, 1)]]
    tracked = render_labels(frames, (120, 140))  # one particle, id 1, absent in frame 1
    props = track_properties(tracked, pixel_size=p)
    assert props.sizes == {"track": 1, "time": 3}
    area = props["area"].sel(track=1).values
    assert area[0] == pytest.approx(math.pi * radius**2 * p**2, rel=0.02)
    assert np.isnan(area[1])
    assert props["com_y"].values[0, 0] == pytest.approx(50 * p, abs=1e-9)
    assert props["com_x"].values[0, 0] == pytest.approx(60 * p, abs=1e-9)
    assert props["com_x"].values[0, 2] == pytest.approx(70 * p, abs=1e-9)
    assert props["equivalent_diameter"].values[0, 0] == pytest.approx(2 * radius * p, rel=0.02)
    bbox = [props[name].values[0, 0] for name in ("bbox_y0", "bbox_x0", "bbox_y1", "bbox_x1")]
    assert bbox == pytest.approx([30 * p, 40 * p, 71 * p, 81 * p])
    for name in ("com_y", "com_x", "bbox_y0", "equivalent_diameter", "orientation"):
        assert np.isnan(props[name].values[0, 1])
    assert props["present"].values.tolist() == [[True, False, True]]
    assert np.isnan(props["mean_intensity"].values).all()


def test_units_and_coordinates():
    truth = render_labels(scenario(), SCENARIO_SHAPE)
    tracked = track_instances(truth)
    dose = np.linspace(10.0, 120.0, len(tracked))
    times = np.arange(len(tracked)) * 0.4
    props = track_properties(tracked, pixel_size=0.5, dose=dose, times=times)
    assert isinstance(props, xr.Dataset)
    assert props["area"].dims == ("track", "time")
    assert props["track"].values.tolist() == list(range(1, 8))
    np.testing.assert_allclose(props["time"].values, times)
    np.testing.assert_allclose(props["dose"].values, dose)
    assert props["dose"].dims == ("time",)
    assert props["area"].attrs["units"] == "Å²"
    assert props["com_y"].attrs["units"] == "Å"
    assert props["bbox_x1"].attrs["units"] == "Å"
    assert props["equivalent_diameter"].attrs["units"] == "Å"
    assert props["orientation"].attrs["units"] == "deg"
    assert props["dose"].attrs["units"] == "e-/Å²"
    assert props["present"].attrs["units"] == "1"
    assert props["present"].dtype == bool
    for name, variable in props.data_vars.items():
        assert variable.attrs["units"] == PROPERTY_UNITS[name]
    # every true disc's presence is the track's presence
    ids = expected_track_ids(truth)
    for true_id, track_id in ids.items():
        present = [(truth[t] == true_id).any() for t in range(len(truth))]
        assert props["present"].sel(track=track_id).values.tolist() == present
    assert "dose" not in track_properties(tracked).data_vars


def test_orientation_convention():
    yy, xx = np.mgrid[:80, :80]
    along_y = ((yy - 40) / 30) ** 2 + ((xx - 40) / 10) ** 2 <= 1
    along_x = ((yy - 40) / 10) ** 2 + ((xx - 40) / 30) ** 2 <= 1
    tracked = np.stack([along_y, 2 * along_x]).astype(np.int32)  # tracks 1 and 2
    orientation = track_properties(tracked)["orientation"].values
    assert orientation[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert abs(orientation[1, 1]) == pytest.approx(90.0, abs=1e-6)


def test_mean_intensity_from_frames():
    frames = [[Disc(20, 20, 8, 1), Disc(20, 60, 8, 2)]]
    tracked = track_instances(render_labels(frames, (40, 80)))
    image = np.where(np.arange(80)[None, :] < 40, 3.0, 7.0) * np.ones((1, 40, 1))
    props = track_properties(tracked, frames=image)
    assert props["mean_intensity"].values[:, 0].tolist() == pytest.approx([3.0, 7.0])


def test_property_input_validation():
    tracked = np.zeros((2, 10, 10), dtype=np.int32)
    with pytest.raises(ValueError, match="pixel_size"):
        track_properties(tracked, pixel_size=-1.0)
    with pytest.raises(ValueError, match="pixel_size"):
        track_properties(tracked, pixel_size=0)
    with pytest.raises(ValueError, match="frames"):
        track_properties(tracked, frames=np.zeros((3, 10, 10)))
    with pytest.raises(ValueError, match="dose"):
        track_properties(tracked, dose=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="times"):
        track_properties(tracked, times=[0.0])
    with pytest.raises(ValueError, match="tracked must be 3-D"):
        track_properties(tracked[0])


def test_summary_known_trajectory():
    p = 0.5
    frames = [[Disc(30, 20 + 3 * t, 10, 1)] for t in range(10)]
    frames[4] = []  # a one-frame gap ends the track; the rest is track 2
    tracked = track_instances(render_labels(frames, (60, 80)))
    summary = track_summary(track_properties(tracked, pixel_size=p))
    assert isinstance(summary, pd.DataFrame)
    assert summary.index.tolist() == [1, 2]
    first, second = summary.loc[1], summary.loc[2]
    assert (first.first_frame, first.last_frame, first.frames_present) == (0, 3, 4)
    assert (second.first_frame, second.last_frame, second.frames_present) == (5, 9, 5)
    assert first.displacement == pytest.approx(3 * 3 * p)
    assert second.displacement == pytest.approx(4 * 3 * p)
    assert second.path_length == pytest.approx(4 * 3 * p)
    assert first.mean_area == pytest.approx(math.pi * 10**2 * p**2, rel=0.03)


@pytest.mark.parametrize("split", [1, 4, 7, 11])
def test_tracking_continues_a_grown_series_as_if_tracked_whole(split):
    from hrtemlake.analysis.tracking import iter_tracked

    truth = render_labels(scenario(), SCENARIO_SHAPE)
    whole = list(iter_tracked(truth))
    head = whole[:split]
    next_id = int(max(frame.max() for frame in head)) + 1
    tail = list(iter_tracked(truth[split:], previous=head[-1], next_id=next_id))
    np.testing.assert_array_equal(np.stack(head + tail), np.stack(whole))


def test_continuing_with_a_used_track_id_is_an_error():
    from hrtemlake.analysis.tracking import iter_tracked

    truth = render_labels(scenario(), SCENARIO_SHAPE)
    first = next(iter_tracked(truth))
    with pytest.raises(ParameterError, match="next_id"):
        list(iter_tracked(truth[1:], previous=first, next_id=1))
