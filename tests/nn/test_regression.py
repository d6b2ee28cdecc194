"""Regression labels: a regressor learns a per-image parameter from the lake, in its units."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from hrtemlake.lake import Lake
from hrtemlake.nn import TrainingError, TrainingOptions, evaluate_network, network_info, train_network

from .helpers import disc_image_set, stripe_image_set

OPTIONS = dict(arch="regressor", filters=4, depth=2, batch_size=4, epochsave=10,
               adam={"learning_rate": 3e-3}, augmentation={"flips": True})  # fmt: skip


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    stripe_image_set(lake, "train", n_models=16, seed=1)
    stripe_image_set(lake, "val", n_models=8, seed=2)
    return lake


def test_a_regressor_learns_the_stripe_period_in_its_own_units(lake):
    result = train_network(lake, "period", "train", "val", epochs=6,
                           options=TrainingOptions(**OPTIONS))  # fmt: skip
    losses = [row["loss"] for row in result.curve]
    assert losses[-1] < losses[0]
    info = network_info(lake, "period")
    targets = lake.group("images", dataset="train", imageset="stripes")["targets"][:, 0, 0]
    assert info.training["target_mean"] == pytest.approx([targets.mean()], rel=1e-5)
    assert info.training["augmentation"]["flips"] is True  # as asked; flips are off in batches
    scores = evaluate_network(lake, "period", "val").load()
    assert scores.rmse.shape == (8, 1) and np.isfinite(scores.rmse).all()
    assert float(scores.rmse.mean()) < 2 * float(targets.std())  # pixels, the targets' unit
    assert np.isnan(scores.pixel_f1).all()


def test_regressor_and_labels_must_go_together(lake):
    disc_image_set(lake, "masks", n_models=4, epochs=1)
    with pytest.raises(TrainingError, match="--arch regressor only with Regression labels"):
        train_network(lake, "n", "masks", "masks", epochs=1, options=TrainingOptions(**OPTIONS))
