"""Column heights (seed 000): exact-count scores, per-column counts, and a Heights network."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from hrtemlake.analysis.columns import column_heights
from hrtemlake.lake import Lake
from hrtemlake.nn import metrics
from hrtemlake.nn.data import PIXEL_LABELS
from hrtemlake.nn.losses import Objective, objective
from hrtemlake.simulate import ImageParameters
from hrtemlake.simulate.epochs import EpochGeometry
from hrtemlake.simulate.images import compute_image_block, image_writer, missing_image_blocks
from hrtemlake.simulate.labels import height_label
from tests.simulate.helpers import make_particle_lake

#: A 0.1 Å grid whose pixel (r, c) sits at y = r * 0.1, x = c * 0.1.
PLAIN = EpochGeometry(grid=(60, 80), sampling=(0.1, 0.1), size=(60, 80), offset=(0, 0))
#: Four columns (x, y) [Å], far apart, and their atoms.
COLUMNS = np.array([[1.5, 1.5], [4.0, 1.5], [1.5, 4.0], [6.0, 4.0]])
ATOMS = np.array([3, 5, 2, 7])
SPOTSIZE = 0.9


def _label() -> np.ndarray:
    """The Heights label of :data:`COLUMNS`, (y, x, 1)."""
    return np.moveaxis(height_label(PLAIN, COLUMNS, ATOMS, SPOTSIZE), 0, -1)


def _sites_px(columns: np.ndarray = COLUMNS) -> np.ndarray:
    return columns[:, ::-1] / 0.1  # (x, y) [Å] -> (row, col) [px]


def test_a_perfect_prediction_counts_every_column():
    label = _label()
    for sites in (_sites_px(), None):
        scores = metrics.column_height_scores(label, label, sites)
        assert scores["exact_fraction"] == 1.0 and scores["mean_abs_error"] == 0.0
        np.testing.assert_array_equal(scores["truth"], ATOMS)
    noisy = label + np.where(np.indices(label.shape).sum(axis=0) % 2, 0.4, -0.4)
    assert metrics.column_height_scores(noisy, label, _sites_px())["exact_fraction"] == 1.0


def test_a_known_wrong_prediction_scores_the_exact_fractions():
    label = _label()
    spots = [label[..., 0] == n for n in ATOMS]
    wrong = np.where(label > 0, 0.0, 0.8)  # off-column values must not count
    for spot, value in zip(spots, (3.2, 5.6, 2.4, 4.0)):  # rounds to 3, 6, 2, 4
        wrong[spot, 0] = value
    for sites in (_sites_px(), None):
        scores = metrics.column_height_scores(wrong, label, sites)
        np.testing.assert_array_equal(scores["predicted"], [3, 6, 2, 4])
        np.testing.assert_array_equal(scores["truth"], [3, 5, 2, 7])
        assert scores["exact_fraction"] == 0.5  # 2 of 4 columns counted exactly
        assert scores["mean_abs_error"] == 1.0  # (0 + 1 + 0 + 3) / 4 atoms


def test_touching_spots_are_told_apart_by_the_sites_and_empty_images_score_nan():
    columns = np.array([[2.0, 3.0], [2.6, 3.0]])  # 0.6 Å apart: the spots touch
    label = np.moveaxis(height_label(PLAIN, columns, np.array([7, 2]), SPOTSIZE), 0, -1)
    scores = metrics.column_height_scores(label, label, _sites_px(columns))
    np.testing.assert_array_equal(scores["truth"], [7, 2])
    assert scores["exact_fraction"] == 1.0
    assert len(metrics.column_height_scores(label, label)["truth"]) == 1  # one region
    empty = metrics.column_height_scores(np.zeros((8, 8)), np.zeros((8, 8)), _sites_px())
    assert np.isnan(empty["exact_fraction"]) and len(empty["truth"]) == 0


def test_column_heights_reads_the_counts_of_a_noisy_height_map():
    rng = np.random.default_rng(0)
    height_map = height_label(PLAIN, COLUMNS, ATOMS, SPOTSIZE)[0]
    height_map += rng.normal(0.0, 0.3, height_map.shape).astype(np.float32)
    positions = np.vstack([COLUMNS[:, ::-1], [[20.0, 20.0]]])  # (y, x) [Å]; one off the map
    heights = column_heights(height_map, positions, pixel_size=0.1, radius=SPOTSIZE / 2)
    np.testing.assert_array_equal(heights[:4], ATOMS)
    assert np.isnan(heights[4])
    close = np.array([[3.0, 2.0], [3.0, 2.6]])  # (y, x): each pixel counts for the nearest
    touching = height_label(PLAIN, close[:, ::-1], np.array([7, 2]), SPOTSIZE)[0]
    np.testing.assert_array_equal(column_heights(touching, close, 0.1, 0.3), [7, 2])


def test_heights_train_as_pixel_regression():
    assert "Heights" in PIXEL_LABELS
    assert objective("Heights", 1, False) == Objective(None, "mean_squared_error", "rmse", False)


HEIGHTS = ImageParameters(label="Heights", image_size=(64, 64), sampling=(0.25, 0.25),
                          multifocus=(3, 50.0, 0.0), spotsize=0.8, log_dose=(4.0, 5.0),
                          image_epochs=1, seed=5, debug=None)  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(make_particle_lake(str(tmp_path_factory.mktemp("heights") / "lake.zarr")), "a")
    writer = image_writer(lake, "particles", "heights", HEIGHTS, 1)
    for block in missing_image_blocks(writer, "particles", 3):
        compute_image_block(writer, "particles", block, HEIGHTS, 1)
    return lake


def test_stored_heights_hold_the_site_counts_of_the_particle(lake):
    from hrtemlake.nn import open_image_set
    from hrtemlake.nn.evaluate import site_pixels
    from hrtemlake.simulate.images import load_sites

    images = open_image_set(lake, "particles/heights")
    labels = images.group()["label"]
    sites = load_sites(lake, "particles", range(3), counts=True)
    for model, (pixels, classes, _) in enumerate(site_pixels(lake, images, np.arange(3), 0)):
        label, counts = labels[model, 0, 0], sites[model][2]
        rows, cols = np.rint(pixels).astype(int).T
        inside = (rows >= 0) & (rows < 64) & (cols >= 0) & (cols < 64)
        particle = inside & (classes == 0)
        np.testing.assert_array_equal(label[rows[particle], cols[particle]], counts[particle])
        assert particle.sum() >= 10
        assert set(np.unique(label)) <= {0.0, *counts[classes == 0].tolist()}


def test_a_tiny_network_trains_on_heights_and_is_scored(lake):
    from hrtemlake.nn import SimulatedImage, TrainingOptions, evaluate_network, train_network

    train_network(lake, "heights", "particles/heights", "particles/heights", epochs=1,
                  options=TrainingOptions(arch="msdnet", filters=2, layers=3, kernel=3,
                                          batch_size=3))  # fmt: skip
    scores = evaluate_network(lake, "heights", "particles/heights")
    assert np.isfinite(scores["rmse"].values).all()
    if "height_exact_fraction" in scores:  # stored once the catalog declares it
        assert ((scores["height_exact_fraction"].values >= 0)
                & (scores["height_exact_fraction"].values <= 1)).all()  # fmt: skip
    item = SimulatedImage(lake, "heights", "particles/heights", model=1)
    assert item.prediction.shape == item.label.shape == (64, 64, 1)
    assert 0 <= item.scores["height_exact_fraction"] <= 1 and item.scores["height_mae"] >= 0
    item.prediction = item.label  # the label itself counts every particle column
    assert item.scores["height_exact_fraction"] == 1.0 and item.scores["height_mae"] == 0
