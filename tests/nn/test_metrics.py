"""Metrics against hand-counted cases: pixel and atomic F1, RMSE, Argand sampling."""

from __future__ import annotations

import io

import numpy as np
import pytest

from hrtemlake.nn.metrics import (
    argand_values,
    atomic_scores,
    complex_rmse,
    f1_precision_recall,
    match_points,
    peak_positions,
    pixel_scores,
    plot_argand,
    rmse,
)


# ---------------------------------------------------------------- pixel scores


def test_pixel_scores_hand_counted_4x4():
    label = np.array(
        [[1, 1, 0, 0],
         [1, 1, 0, 0],
         [0, 0, 0, 0],
         [0, 0, 0, 1]], dtype=np.float32,
    )  # fmt: skip
    prediction = np.array(
        [[0.9, 0.6, 0.7, 0.0],
         [0.2, 0.5, 0.0, 0.0],
         [0.0, 0.0, 0.0, 0.8],
         [0.0, 0.0, 0.0, 0.4]], dtype=np.float32,
    )  # fmt: skip
    # positives (>= 0.5): (0,0) (0,1) (1,1) TP; (0,2) (2,3) FP; (1,0) (3,3) FN
    scores = pixel_scores(prediction[..., None], label[..., None])
    assert scores["tp"].tolist() == [3]
    assert scores["fp"].tolist() == [2]
    assert scores["fn"].tolist() == [2]
    assert scores["precision"][0] == pytest.approx(3 / 5)
    assert scores["recall"][0] == pytest.approx(3 / 5)
    assert scores["f1"][0] == pytest.approx(3 / (3 + 0.5 * 4))


def test_pixel_scores_per_channel_threshold_and_soft_label():
    label = np.zeros((4, 4, 2))
    label[0, 0, 0] = 0.7  # soft label, positive
    label[1, 1, 0] = 0.3  # soft label, negative
    label[2, 2, 1] = 1.0
    prediction = np.zeros((4, 4, 2))
    prediction[0, 0, 0] = 0.6
    prediction[1, 1, 0] = 0.6
    prediction[2, 2, 1] = 0.6
    low = pixel_scores(prediction, label)
    assert low["tp"].tolist() == [1, 1] and low["fp"].tolist() == [1, 0]
    assert low["precision"] == pytest.approx([0.5, 1.0])
    assert low["recall"] == pytest.approx([1.0, 1.0])
    assert low["f1"] == pytest.approx([2 / 3, 1.0])
    high = pixel_scores(prediction, label, threshold=0.7)
    assert high["tp"].tolist() == [0, 0] and high["fn"].tolist() == [1, 1]
    assert high["f1"].tolist() == [0.0, 0.0]
    assert np.isnan(high["precision"]).all() and high["recall"].tolist() == [0.0, 0.0]


def test_pixel_scores_empty_conventions():
    empty = np.zeros((4, 4, 1))
    scores = pixel_scores(empty, empty)
    assert scores["f1"].tolist() == [1.0]
    assert np.isnan(scores["precision"][0]) and np.isnan(scores["recall"][0])
    all_wrong = f1_precision_recall(0, 3, 0)
    assert all_wrong["f1"] == 0.0 and all_wrong["precision"] == 0.0
    assert np.isnan(all_wrong["recall"])


def test_pixel_scores_argmax_multiclass():
    # 2x2 image, 3 channels (class 0, class 1, background)
    prediction = np.array(
        [[[0.4, 0.3, 0.3], [0.2, 0.45, 0.35]],
         [[0.1, 0.1, 0.8], [0.34, 0.33, 0.33]]],
    )  # fmt: skip
    label = np.array(
        [[[1, 0, 0], [1, 0, 0]],
         [[0, 0, 1], [0, 1, 0]]], dtype=float,
    )  # fmt: skip
    scores = pixel_scores(prediction, label, argmax=True)
    # winners: (0,0)->0 ok, (0,1)->1 (true 0), (1,0)->2 ok, (1,1)->0 (true 1)
    assert scores["tp"].tolist() == [1, 0, 1]
    assert scores["fp"].tolist() == [1, 1, 0]
    assert scores["fn"].tolist() == [1, 1, 0]
    assert scores["f1"] == pytest.approx([0.5, 0.0, 1.0])
    # without argmax nothing reaches 0.5 but the background pixel
    assert pixel_scores(prediction, label)["tp"].tolist() == [0, 0, 1]


def test_pixel_scores_shape_mismatch():
    with pytest.raises(ValueError, match="differ"):
        pixel_scores(np.zeros((4, 4, 2)), np.zeros((4, 4, 3)))


# ---------------------------------------------------------------- peaks


def _blob(shape, centre, sigma=1.5):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma**2))


def test_peak_positions_gaussians_threshold_and_border():
    probability = np.maximum(_blob((32, 32), (8, 20)), 0.8 * _blob((32, 32), (0, 3)))
    probability = np.maximum(probability, 0.4 * _blob((32, 32), (25, 25)))  # below threshold
    peaks = peak_positions(probability, threshold=0.5)
    np.testing.assert_array_equal(peaks, [[0.0, 3.0], [8.0, 20.0]])
    assert peak_positions(np.zeros((8, 8))).shape == (0, 2)


def test_peak_positions_saturated_disc_gives_one_centred_peak():
    yy, xx = np.mgrid[:20, :20]
    disc = (((yy - 9) ** 2 + (xx - 6.5) ** 2) <= 9).astype(float)  # centred between columns
    peaks = peak_positions(disc, min_distance_px=1)
    np.testing.assert_allclose(peaks, [[9.0, 6.5]])


# ---------------------------------------------------------------- atomic scores


def _prediction(shape, atoms_by_class, background=True):
    """Softmax-like maps: a Gaussian blob per predicted atom in its class channel."""
    channels = [np.zeros(shape) for _ in atoms_by_class]
    for c, atoms in enumerate(atoms_by_class):
        for atom in atoms:
            channels[c] = np.maximum(channels[c], _blob(shape, atom))
    if background:
        channels.append(np.clip(1 - sum(channels), 0, 1))
    return np.stack(channels, axis=-1)


SITES = np.array([[10.0, 10.0], [10.0, 40.0], [40.0, 10.0], [40.0, 40.0], [25.0, 25.0]])
CLASSES = np.array([0, 0, 0, 1, 1])


def test_atomic_scores_perfect():
    prediction = _prediction((50, 50), [SITES[:3], SITES[3:]])
    scores = atomic_scores(prediction, SITES, CLASSES, radius_px=3, background=True)
    assert scores["tp"].tolist() == [3, 2]
    assert scores["fp"].tolist() == [0, 0] and scores["fn"].tolist() == [0, 0]
    assert scores["f1"].tolist() == [1.0, 1.0] and scores["f1_all"] == 1.0
    np.testing.assert_allclose(scores["matched_distance"], [0.0, 0.0], atol=1e-12)
    assert [len(p) for p in scores["peaks"]] == [3, 2]


def test_atomic_scores_hand_counted_cases():
    class0 = [
        (12.0, 10.0),  # site (10, 10) shifted by 2 px: inside radius 3 -> TP
        (10.0, 45.0),  # site (10, 40) shifted by 5 px: outside -> FP, and the site FN
        #               site (40, 10) missing -> FN
        (2.0, 25.0),  # no site near -> FP
        (40.0, 40.0),  # the class-1 site (40, 40) predicted as class 0 -> FP of class 0
    ]
    class1 = [(25.0, 25.0)]  # TP; site (40, 40) not found in class 1 -> FN of class 1
    prediction = _prediction((50, 50), [class0, class1])
    scores = atomic_scores(prediction, SITES, CLASSES, radius_px=3, background=True)
    assert scores["tp"].tolist() == [1, 1]
    assert scores["fp"].tolist() == [3, 0]
    assert scores["fn"].tolist() == [2, 1]
    assert scores["precision"] == pytest.approx([1 / 4, 1.0])
    assert scores["recall"] == pytest.approx([1 / 3, 1 / 2])
    assert scores["f1"] == pytest.approx([1 / (1 + 2.5), 1 / (1 + 0.5)])
    assert scores["f1_all"] == pytest.approx(2 / (2 + 0.5 * (3 + 3)))
    np.testing.assert_allclose(scores["matched_distance"], [2.0, 0.0], atol=1e-12)


def test_atomic_scores_radius_is_inclusive_and_background_ignored():
    prediction = _prediction((30, 30), [[(10.0, 13.0)]], background=False)
    sites, classes = np.array([[10.0, 10.0]]), np.array([0])
    assert atomic_scores(prediction, sites, classes, radius_px=3)["tp"].tolist() == [1]
    assert atomic_scores(prediction, sites, classes, radius_px=2.9)["tp"].tolist() == [0]
    # the same map declared as background: nothing left to score, the site is invalid
    with pytest.raises(ValueError, match="site_class"):
        atomic_scores(prediction, sites, classes, radius_px=3, background=True)


def test_atomic_scores_one_to_one():
    # two predictions near one site: one TP, one FP (no double counting)
    prediction = _prediction((30, 30), [[(10.0, 8.0), (10.0, 13.0)]], background=False)
    scores = atomic_scores(prediction, [[10.0, 10.0]], [0], radius_px=4)
    assert (scores["tp"][0], scores["fp"][0], scores["fn"][0]) == (1, 1, 0)
    assert scores["matched_distance"][0] == pytest.approx(2.0)


def test_match_points_maximises_matches_then_distance():
    # greedy nearest-first would pair p1-s0 (0.9) and leave p0 and s1 unmatched
    predicted = np.array([[0.0, 0.0], [0.0, 1.9]])
    sites = np.array([[0.0, 1.0], [0.0, 2.95]])
    i, j, d = match_points(predicted, sites, radius=1.1)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(sorted(d), [1.0, 1.05])
    i, j, d = match_points(np.empty((0, 2)), sites, radius=1.1)
    assert len(i) == len(j) == len(d) == 0


def test_atomic_scores_sites_outside_image_are_left_out():
    prediction = _prediction((30, 30), [[(10.0, 10.0)]], background=False)
    sites = np.array([[10.0, 10.0], [-3.0, 10.0], [10.0, 31.0]])
    scores = atomic_scores(prediction, sites, [0, 0, 0], radius_px=3)
    assert (scores["tp"][0], scores["fn"][0]) == (1, 0)


def test_atomic_scores_empty_class_is_perfect():
    prediction = np.zeros((20, 20, 2))
    scores = atomic_scores(prediction, np.empty((0, 2)), np.empty(0, dtype=int), radius_px=3)
    assert scores["f1"].tolist() == [1.0, 1.0]
    assert np.isnan(scores["matched_distance"]).all()


# ---------------------------------------------------------------- exit waves


def test_rmse_hand_values():
    prediction = np.array([[1.0, 2.0], [3.0, 4.0]])
    truth = np.array([[1.0, 0.0], [3.0, 0.0]])
    assert rmse(prediction, truth) == pytest.approx(np.sqrt((4 + 16) / 4))
    assert rmse(prediction, truth, mask=[[True, True], [False, False]]) == pytest.approx(
        np.sqrt(2.0)
    )
    with pytest.raises(ValueError, match="no pixels"):
        rmse(prediction, truth, mask=np.zeros((2, 2), bool))


def test_complex_rmse_hand_values():
    truth = np.zeros((2, 2, 2))
    truth[..., 0] = 1.0  # ψ = 1
    prediction = truth.copy()
    prediction[0, 0] = [4.0, 4.0]  # |Δψ|² = 9 + 16 = 25 at one pixel of four
    assert complex_rmse(prediction, truth) == pytest.approx(2.5)
    assert complex_rmse(prediction, truth) == pytest.approx(np.sqrt(2) * rmse(prediction, truth))
    mask = np.array([[True, False], [False, False]])
    assert complex_rmse(prediction, truth, mask=mask) == pytest.approx(5.0)
    assert rmse(prediction, truth, mask=mask) == pytest.approx(np.sqrt(25 / 2))
    with pytest.raises(ValueError, match=r"\(y, x, 2\)"):
        complex_rmse(np.zeros((2, 2, 3)), np.zeros((2, 2, 3)))


def _wave(shape):
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    return np.stack([yy, 100 + xx], axis=-1)  # ψ(r, c) = r + i (100 + c)


def test_argand_values_nearest_pixel():
    truth = _wave((6, 8))
    prediction = 2 * truth
    sites = [[1.0, 2.0], [3.4, 6.6], [-0.4, 7.2]]
    pred, true = argand_values(prediction, truth, sites)
    np.testing.assert_array_equal(true, [1 + 102j, 3 + 107j, 0 + 107j])
    np.testing.assert_array_equal(pred, 2 * true)
    assert pred.dtype == np.complex128


def test_argand_values_bilinear_and_bad_sites():
    truth = _wave((6, 8))
    _, true = argand_values(truth, truth, [[3.4, 6.6]], method="bilinear")
    np.testing.assert_allclose(true, [3.4 + 106.6j])
    with pytest.raises(ValueError, match="on the image"):
        argand_values(truth, truth, [[6.0, 1.0]])
    with pytest.raises(ValueError, match="method"):
        argand_values(truth, truth, [[1.0, 1.0]], method="cubic")


def test_plot_argand_labels_and_points():
    pred = np.array([1 + 1j, 0.9 + 0.5j])
    true = np.array([1.1 + 1j, 0.8 + 0.4j])
    ax = plot_argand(pred, true)
    assert ax.get_xlabel() == "Re ψ" and ax.get_ylabel() == "Im ψ"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert set(labels) == {"prediction", "ground truth"}
    offsets = {c.get_label(): c.get_offsets() for c in ax.collections}
    np.testing.assert_allclose(offsets["prediction"], [[1.0, 1.0], [0.9, 0.5]])
    np.testing.assert_allclose(offsets["ground truth"], [[1.1, 1.0], [0.8, 0.4]])
    ax.figure.savefig(io.BytesIO(), format="png")  # draws without pyplot or a display
