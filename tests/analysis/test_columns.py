"""Atomic columns: sub-pixel positions, counts, and exact appear/disappear/persist events."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hrtemlake.analysis.columns import (
    column_counts,
    column_event_series,
    column_events,
    column_positions,
    column_presence,
    match_columns,
)


def gaussians(shape, centres, sigma=2.0, peak=1.0):
    """A column-probability map: the maximum of Gaussian discs at (row, col) centres."""
    rows, cols = np.indices(shape, dtype=float)
    out = np.zeros(shape)
    for r, c in centres:
        out = np.maximum(out, peak * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * sigma**2)))
    return out


def lattice(rng, shape=(120, 150), spacing=13.0, jitter=0.5):
    """Columns on a square lattice with sub-pixel offsets."""
    rows = np.arange(10, shape[0] - 8, spacing)
    cols = np.arange(10, shape[1] - 8, spacing)
    grid = np.array([(r, c) for r in rows for c in cols], dtype=float)
    return grid + rng.uniform(-jitter, jitter, grid.shape)


def position_errors(found, truth):
    """Distance from each true column to the nearest found one; every column found once."""
    assert found.shape == truth.shape
    distance = np.linalg.norm(found[None, :, :] - truth[:, None, :], axis=-1)
    assert len(set(distance.argmin(axis=1))) == len(truth)
    return distance.min(axis=1)


@pytest.mark.parametrize("sigma", [2.0, 3.0])
def test_positions_of_gaussians_within_a_tenth_of_a_pixel(rng, sigma):
    truth = lattice(rng)
    found = column_positions(gaussians((120, 150), truth, sigma))
    assert position_errors(found, truth).max() < 0.1
    # Sorted by row, then column.
    assert np.all(np.diff(found[:, 0]) >= 0)


def test_saturated_plateaus_count_once(rng):
    truth = lattice(rng)
    probability = np.minimum(1.0, 1.6 * gaussians((120, 150), truth, 2.5))  # flat tops
    found = column_positions(probability)
    assert position_errors(found, truth).max() < 0.1


def test_columns_at_the_border_and_none_above_threshold():
    probability = gaussians((40, 40), [(0.0, 20.0), (20.0, 39.0), (25.0, 12.3)])
    found = column_positions(probability)
    assert len(found) == 3
    assert np.abs(found[-1] - [25.0, 12.3]).max() < 0.1
    assert column_positions(0.4 * probability).shape == (0, 2)
    assert column_positions(np.zeros((16, 16))).shape == (0, 2)


def test_close_columns_are_split_by_the_watershed():
    """Two columns whose discs touch above the threshold are still two positions."""
    found = column_positions(gaussians((40, 40), [(20.0, 15.0), (20.0, 22.0)], sigma=2.5))
    np.testing.assert_allclose(found, [[20.0, 15.0], [20.0, 22.0]], atol=0.2)


def test_column_counts_per_frame_and_class(rng):
    truth = lattice(rng)
    keep = [len(truth), len(truth) - 4, len(truth) - 9]
    stack = np.stack([gaussians((120, 150), truth[:k]) for k in keep])
    counts = column_counts(stack)
    np.testing.assert_array_equal(counts["count"], keep)
    assert counts["count"].dims == ("time",)

    two_class = np.stack([stack, stack[::-1]], axis=1)  # (time, class, y, x)
    data = xr.DataArray(
        two_class,
        dims=("time", "class", "y", "x"),
        coords={"time": [0.0, 0.5, 1.0], "class": ["Mo", "S2"]},
    )
    counts = column_counts(data)
    assert counts["count"].dims == ("time", "class")
    np.testing.assert_array_equal(counts["count"].sel({"class": "Mo"}), keep)
    np.testing.assert_array_equal(counts["count"].sel({"class": "S2"}), keep[::-1])
    np.testing.assert_array_equal(counts.time, [0.0, 0.5, 1.0])


def test_column_events_exact_counts(rng):
    t0 = lattice(rng)
    moved = t0 + rng.uniform(-1.0, 1.0, t0.shape)  # thermal jitter, well inside the radius
    lost = [3, 10, 11, 40]
    kept = np.delete(moved, lost, axis=0)
    new = np.array([[5.0, 5.0], [60.0, 143.0], [115.0, 70.0]])  # between lattice sites
    t1 = np.concatenate([kept, new])
    order = rng.permutation(len(t1))
    events = column_events(t0, t1[order], radius_px=3.0)
    assert events["persisted"] == len(t0) - len(lost)
    assert events["disappeared"] == len(lost)
    assert events["appeared"] == len(new)
    np.testing.assert_array_equal(events["disappeared_index"], lost)
    appeared = np.sort(order[events["appeared_index"]])
    np.testing.assert_array_equal(appeared, np.arange(len(kept), len(t1)))
    assert events["matches"].shape == (len(kept), 2)


def test_matching_is_one_to_one_and_maximal():
    """Greedy nearest-neighbour would pair a0 with b0 and leave a1 alone."""
    a = np.array([[0.0, 0.0], [0.0, 2.0]])
    b = np.array([[0.0, 1.0], [0.0, -1.2]])
    pairs = match_columns(a, b, radius_px=1.5)
    np.testing.assert_array_equal(pairs, [[0, 1], [1, 0]])
    # Two columns near one: only one persists, the other disappeared.
    events = column_events(np.array([[0.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 0.4]]), 2.0)
    assert (events["persisted"], events["disappeared"], events["appeared"]) == (1, 1, 0)
    np.testing.assert_array_equal(events["disappeared_index"], [1])  # the farther one
    # The radius is inclusive.
    assert len(match_columns([[0.0, 0.0]], [[0.0, 2.0]], 2.0)) == 1


def test_column_events_with_empty_frames():
    some = np.array([[1.0, 1.0], [5.0, 5.0]])
    assert column_events(some, np.empty((0, 2)), 2.0)["disappeared"] == 2
    assert column_events([], some, 2.0)["appeared"] == 2
    assert column_events([], [], 2.0)["persisted"] == 0


def test_event_series_from_probability_maps(rng):
    """Columns vanish and appear at known frames; maps → positions → events."""
    t0 = lattice(rng, jitter=0.3)
    frames = [t0]
    frames.append(np.delete(t0, [0, 7, 20], axis=0))  # 3 columns leave
    frames.append(np.concatenate([frames[1], [[4.0, 140.0], [100.0, 4.0]]]))  # 2 adatoms arrive
    frames.append(frames[2] + rng.uniform(-0.8, 0.8, frames[2].shape))  # only jitter
    frames.append(np.concatenate([np.delete(frames[3], [5], axis=0), [[60.0, 16.5]]]))  # a hop
    maps = np.stack([gaussians((120, 150), f) for f in frames])
    positions = [column_positions(m) for m in maps]
    series = column_event_series(positions, radius_px=3.0, time=np.arange(5) * 0.2)
    n = len(t0)
    np.testing.assert_array_equal(series["count"], [n, n - 3, n - 1, n - 1, n - 1])
    np.testing.assert_array_equal(series["appeared"][1:], [0, 2, 0, 1])
    np.testing.assert_array_equal(series["disappeared"][1:], [3, 0, 0, 1])
    np.testing.assert_array_equal(series["persisted"][1:], [n - 3, n - 3, n - 1, n - 2])
    assert np.isnan(series["appeared"][0]) and np.isnan(series["persisted"][0])
    np.testing.assert_allclose(series.time, np.arange(5) * 0.2)
    assert series["appeared"].attrs["units"] == "1"


def test_column_presence_follows_reference_columns(rng):
    reference = lattice(rng)
    frames = [
        reference,
        np.delete(reference, [2], axis=0),
        reference + 0.5,
        np.empty((0, 2)),
    ]
    present = column_presence(frames, reference, radius_px=2.0)
    assert present.dims == ("time", "column") and present.dtype == bool
    assert present[0].all() and present[2].all() and not present[3].any()
    assert not present[1, 2] and present[1].sum() == len(reference) - 1
    np.testing.assert_allclose(present.column_row, reference[:, 0])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="dimensions"):
        column_positions(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="min_distance_px"):
        column_positions(np.zeros((8, 8)), min_distance_px=0)
    with pytest.raises(ValueError, match="time, y, x"):
        column_counts(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="radius_px"):
        column_events([[0.0, 0.0]], [[0.0, 0.0]], radius_px=-1)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        column_events(np.zeros((3, 3)), [[0.0, 0.0]], 1.0)
    with pytest.raises(ValueError, match="time"):
        column_event_series([np.zeros((1, 2))] * 3, 1.0, time=[0, 1])
