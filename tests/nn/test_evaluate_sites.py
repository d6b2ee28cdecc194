"""Sites of stored MoS2 image epochs in pixels: the label itself scores an atomic F1 of 1."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("abtem")

from hrtemlake.lake import Lake
from hrtemlake.nn import metrics, open_image_set
from hrtemlake.nn.evaluate import site_pixels
from hrtemlake.simulate import ImageParameters
from hrtemlake.simulate.images import compute_image_block, image_writer, missing_image_blocks
from tests.simulate.helpers import make_waves_lake

DISK = ImageParameters(label="Disk", num_classes=4, null_class=True, image_size=(96, 80),
                       sampling=(0.18, 0.22), image_epochs=2, spotsize=0.4, seed=3,
                       debug=None)  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(make_waves_lake(str(tmp_path_factory.mktemp("sites") / "lake.zarr")), mode="a")
    writer = image_writer(lake, "train", "disk", DISK, 2)
    for block in missing_image_blocks(writer, "train", 3):
        compute_image_block(writer, "train", block, DISK, 2)
    return lake


@pytest.mark.parametrize("epoch", [0, 1])
def test_the_label_scores_a_perfect_atomic_f1_at_the_stored_sites(lake, epoch):
    images = open_image_set(lake, "train/disk")
    labels = lake.group("images", dataset="train", imageset="disk")["label"]
    for model, (sites, classes, sampling) in enumerate(site_pixels(lake, images, np.arange(3), epoch)):
        label = np.moveaxis(labels[model, epoch], 0, -1)
        scores = metrics.atomic_scores(label, sites, classes, radius_px=0.5 / sampling,
                                       background=True)  # fmt: skip
        inside = (sites >= 0).all(axis=1) & (sites < np.array(label.shape[:2])).all(axis=1)
        assert scores["tp"].sum() >= 0.9 * inside.sum() > 10
        assert scores["f1_all"] == pytest.approx(1.0, abs=0.02)


def test_an_exit_wave_network_gives_an_argand_plot_at_the_columns(lake):
    from hrtemlake.nn import SimulatedImage, TrainingOptions, train_network

    waves = ImageParameters(label="Exitwave", num_classes=2, image_size=(64, 64), sampling=(0.2, 0.2),
                            image_epochs=1, seed=4, debug=None)  # fmt: skip
    writer = image_writer(lake, "train", "waves", waves, 1)
    for block in missing_image_blocks(writer, "train", 3):
        compute_image_block(writer, "train", block, waves, 1)
    train_network(lake, "ew", "train/waves", "train/waves", epochs=1, options=TrainingOptions(
        arch="msdnet", filters=2, layers=3, kernel=3, batch_size=3))  # fmt: skip
    item = SimulatedImage(lake, "ew", "train/waves", model=1)
    assert item.prediction.shape == (64, 64, 2) and item.label.shape == (64, 64, 2)
    ax = item.plot_argand()
    [predicted, true] = [c.get_offsets() for c in ax.collections]
    assert len(predicted) == len(true) > 10
    assert ax.get_xlabel() == "Re ψ"
