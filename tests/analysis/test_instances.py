"""Instance segmentation: threshold, distance map, peaks, watershed, minimum separation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hrtemlake.analysis.instances import (
    DEFAULT_THRESHOLD,
    binary_mask,
    segment_instances,
    segment_series,
    separation_in_pixels,
)
from hrtemlake.errors import ParameterError

from .synthetic import Disc, render_labels, render_probability


def _frame(discs: list[Disc], shape=(100, 120), **kwargs) -> np.ndarray:
    return render_probability([discs], shape, **kwargs)[0]


def _truth(discs: list[Disc], shape=(100, 120)) -> np.ndarray:
    return render_labels([discs], shape)[0]


# --- units ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nm", "angstrom_per_px", "pixels"),
    [(1.0, 0.5, 20.0), (1.0, 1.0, 10.0), (0.5, 0.1, 50.0), (2.0, 4.0, 5.0), (0.0, 0.3, 0.0)],
)
def test_separation_nm_to_pixels(nm, angstrom_per_px, pixels):
    assert separation_in_pixels(nm, angstrom_per_px) == pytest.approx(pixels)


def test_min_separation_sets_minimum_area():
    # 1 nm at 0.5 Å/px = 20 px: the least area is 400 px²
    small = Disc(30, 30, 11, 1)  # area ≈ 380 px² < 400: removed
    large = Disc(70, 80, 12, 2)  # area ≈ 452 px² ≥ 400: kept
    labels = segment_instances(_frame([small, large]), min_separation=1.0, pixel_size=0.5)
    assert labels.max() == 1
    assert labels[70, 80] == 1 and labels[30, 30] == 0
    # the same frame at 1 Å/px (10 px, 100 px²) keeps both
    labels = segment_instances(_frame([small, large]), min_separation=1.0, pixel_size=1.0)
    assert labels.max() == 2


def test_small_disc_below_min_area_removed():
    discs = [Disc(50, 40, 15, 1), Disc(20, 100, 3, 2)]  # 3 px disc: ~29 px² < 8² = 64
    labels = segment_instances(_frame(discs), min_separation=0.4, pixel_size=0.5)
    assert labels.max() == 1
    assert labels[20, 100] == 0
    assert labels[50, 40] == 1


# --- watershed --------------------------------------------------------------------------


def test_touching_discs_are_separated():
    discs = [Disc(50, 40, 15, 1), Disc(50, 68, 15, 2)]  # overlapping: one mask component
    probability = _frame(discs)
    assert ndimage.label(probability >= DEFAULT_THRESHOLD)[1] == 1
    labels = segment_instances(probability, min_separation=0.5, pixel_size=0.5)
    truth = _truth(discs)
    assert labels.max() == 2
    for label in (1, 2):
        values, counts = np.unique(truth[labels == label], return_counts=True)
        true_id = values[np.argmax(counts)]
        intersection = np.count_nonzero((labels == label) & (truth == true_id))
        union = np.count_nonzero((labels == label) | (truth == true_id))
        assert intersection / union > 0.9
    # raster order: both discs start on row 35, where the left one is met first
    assert labels[50, 40] == 1 and labels[50, 68] == 2


def test_different_sizes_touching_and_three_in_a_row():
    discs = [Disc(50, 20, 12, 1), Disc(50, 48, 17, 2), Disc(50, 80, 16, 3)]
    labels = segment_instances(_frame(discs), min_separation=0.4, pixel_size=0.5)
    assert labels.max() == 3
    assert {labels[50, 20], labels[50, 48], labels[50, 80]} == {1, 2, 3}


def test_min_separation_joins_close_peaks():
    # two overlapping discs whose centres are 12 px apart: separated at 10 px separation,
    # one instance at 15 px separation (peaks closer than that are one marker)
    discs = [Disc(50, 50, 14, 1), Disc(50, 62, 14, 2)]
    assert segment_instances(_frame(discs), min_separation=0.5, pixel_size=0.5).max() == 2
    assert segment_instances(_frame(discs), min_separation=0.75, pixel_size=0.5).max() == 1


def test_labels_are_consecutive_in_raster_order_and_int32():
    discs = [Disc(80, 20, 10, 1), Disc(20, 90, 10, 2), Disc(20, 30, 10, 3), Disc(50, 60, 3, 4)]
    labels = segment_instances(_frame(discs), min_separation=0.4, pixel_size=0.5)
    assert labels.dtype == np.int32
    assert sorted(np.unique(labels).tolist()) == [0, 1, 2, 3]
    assert labels[20, 30] == 1 and labels[20, 90] == 2 and labels[80, 20] == 3


def test_particle_at_frame_edge_kept():
    discs = [Disc(0, 0, 12, 1), Disc(99, 119, 12, 2)]  # quarter discs in the corners
    labels = segment_instances(_frame(discs), min_separation=0.4, pixel_size=0.5)
    assert labels.max() == 2
    assert labels[0, 0] == 1 and labels[99, 119] == 2


# --- threshold --------------------------------------------------------------------------


def test_threshold_default_is_0_9():
    probability = np.zeros((60, 120))
    probability[10:50, 10:50] = 0.91
    probability[10:50, 70:110] = 0.89
    labels = segment_instances(probability, min_separation=0.5, pixel_size=0.5)
    assert labels.max() == 1
    assert labels[30, 30] == 1 and labels[30, 90] == 0
    mask = binary_mask(probability)
    assert mask[30, 30] and not mask[30, 90]
    # a lower threshold takes both; exactly at the threshold counts
    assert segment_instances(probability, 0.85, min_separation=0.5, pixel_size=0.5).max() == 2
    assert binary_mask(np.full((2, 2), 0.9)).all()


def test_boolean_mask_and_integer_input():
    discs = [Disc(50, 40, 15, 1), Disc(50, 90, 10, 2)]
    mask = _truth(discs) > 0
    from_mask = segment_instances(mask, min_separation=0.4, pixel_size=0.5)
    from_ints = segment_instances(mask.astype(np.uint8), min_separation=0.4, pixel_size=0.5)
    assert from_mask.max() == 2
    np.testing.assert_array_equal(from_mask, from_ints)


def test_noisy_probability_map():
    discs = [Disc(50, 40, 15, 1), Disc(50, 68, 15, 2), Disc(20, 100, 10, 3)]
    probability = _frame(discs, noise=0.05)
    labels = segment_instances(probability, min_separation=0.5, pixel_size=0.5)
    assert labels.max() == 3


# --- empty and series -------------------------------------------------------------------


def test_empty_mask_gives_zeros():
    labels = segment_instances(np.zeros((40, 50)), pixel_size=0.5)
    assert labels.shape == (40, 50) and labels.dtype == np.int32
    assert not labels.any()
    labels = segment_instances(np.full((40, 50), 0.5), pixel_size=0.5)
    assert not labels.any()


def test_segment_series_frame_by_frame():
    frames = [[Disc(30, 30, 12, 1)], [], [Disc(30, 30, 12, 1), Disc(70, 90, 12, 2)]]
    probabilities = render_probability(frames, (100, 120))
    labels = segment_series(probabilities, min_separation=0.4, pixel_size=0.5)
    assert labels.shape == (3, 100, 120) and labels.dtype == np.int32
    assert [int(frame.max()) for frame in labels] == [1, 0, 2]
    np.testing.assert_array_equal(
        labels[2], segment_instances(probabilities[2], min_separation=0.4, pixel_size=0.5)
    )
    out = np.full((3, 100, 120), -1, dtype=np.int32)
    assert segment_series(probabilities, min_separation=0.4, pixel_size=0.5, out=out) is out
    np.testing.assert_array_equal(out, labels)


def test_segment_series_of_nothing():
    labels = segment_series(np.zeros((0, 10, 10)), pixel_size=1.0)
    assert labels.shape == (0, 10, 10)


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("pixel_size", [-0.5, 0.0, float("nan"), float("inf")])
def test_bad_pixel_size(pixel_size):
    with pytest.raises(ValueError, match="pixel_size"):
        segment_instances(np.zeros((10, 10)), pixel_size=pixel_size)
    with pytest.raises(ParameterError, match="pixel_size"):
        segment_series(np.zeros((2, 10, 10)), pixel_size=pixel_size)


def test_pixel_size_is_required():
    with pytest.raises(TypeError, match="pixel_size"):
        segment_instances(np.zeros((10, 10)))


def test_bad_min_separation_and_threshold():
    with pytest.raises(ValueError, match="min_separation"):
        segment_instances(np.zeros((10, 10)), min_separation=-1.0, pixel_size=1.0)
    with pytest.raises(ValueError, match="threshold"):
        segment_instances(np.zeros((10, 10)), float("nan"), pixel_size=1.0)


@pytest.mark.parametrize("shape", [(10,), (2, 3, 4, 5), ()])
def test_wrong_dimensions(shape):
    with pytest.raises(ValueError, match="probability must be 2-D"):
        segment_instances(np.zeros(shape), pixel_size=1.0)


def test_stack_to_single_frame_function_points_to_series():
    with pytest.raises(ValueError, match="segment_series"):
        segment_instances(np.zeros((2, 10, 10)), pixel_size=1.0)
    with pytest.raises(ValueError, match="3-D"):
        segment_series(np.zeros((10, 10)), pixel_size=1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_probability(bad):
    probability = np.zeros((10, 10))
    probability[3, 4] = bad
    with pytest.raises(ValueError, match="non-finite"):
        segment_instances(probability, pixel_size=1.0)
    with pytest.raises(ValueError, match="non-finite"):
        segment_series(probability[None], pixel_size=1.0)


def test_non_numeric_probability():
    with pytest.raises(ValueError, match="dtype"):
        segment_instances(np.full((4, 4), "a"), pixel_size=1.0)
