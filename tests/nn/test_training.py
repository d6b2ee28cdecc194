"""Training from the lake, the network registry, restarts and evaluation (real Keras, real Zarr)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from hrtemlake.errors import HrtemlakeError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.nn import (
    Augmentation,
    LakeBatches,
    NetworkError,
    TrainingError,
    TrainingOptions,
    evaluate_network,
    list_networks,
    load_network,
    network_info,
    open_image_set,
    predict_images,
    train_network,
)
from hrtemlake.nn.registry import checkpoint_epochs

from .helpers import disc_image_set

# a tiny MSD-net: TensorFlow traces its training step in ~2 s (a U-net takes ~15 s)
TINY = dict(arch="msdnet", filters=2, layers=3, kernel=3, batch_size=4, epochsave=1,
            adam={"learning_rate": 3e-3})  # fmt: skip
UNET = dict(TINY, arch="unet", filters=4, depth=1, layers=None, kernel=None)


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    disc_image_set(lake, "train", n_models=8, epochs=2, seed=1)
    disc_image_set(lake, "val", n_models=4, epochs=1, seed=2)
    return lake


def _weights(model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_weights()]


def test_batches_cycle_image_epochs_and_are_standardised(lake):
    images = open_image_set(lake, "train")
    assert (images.n_models, images.n_epochs, images.n_focus, images.shape) == (8, 2, 1, (32, 32))
    batches = LakeBatches(images, batch_size=3, seed=4)
    assert len(batches) == 3
    served = []
    for epoch in range(3):
        batches.set_epoch(epoch)
        served.append(batches.image_epoch)
    assert served == [0, 1, 0]
    batches.set_epoch(0)
    x, y = batches[0]
    assert x.shape == (3, 32, 32, 1) and y.shape == (3, 32, 32, 1) and x.dtype == np.float32
    assert abs(float(x.mean())) < 0.2 and 0.5 < float(x.std()) < 1.5
    stored = lake.group("images", dataset="train", imageset="discs")["label"]
    models = np.sort(batches._order[:3])
    np.testing.assert_array_equal(y[..., 0], stored.get_orthogonal_selection((models, 0, 0)))


def test_batches_are_reproducible_per_epoch_and_augmented_differently(lake):
    images = open_image_set(lake, "train")
    a = LakeBatches(images, batch_size=4, seed=7, augmentation=Augmentation())
    b = LakeBatches(images, batch_size=4, seed=7, augmentation=Augmentation())
    a.set_epoch(5), b.set_epoch(5)
    np.testing.assert_array_equal(a[1][0], b[1][0])
    b.set_epoch(6)
    assert not np.array_equal(a._order, b._order)


def test_training_reduces_the_loss_and_registers_the_network(lake):
    rows = []
    result = train_network(lake, "discs-unet", "train/discs", "val/discs", epochs=4,
                           options=TrainingOptions(**UNET), progress=rows.append)  # fmt: skip
    losses = [row["loss"] for row in result.curve]
    assert losses[-1] < losses[0]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4] and rows[0]["epochs"] == 4
    assert [r["image_epoch"] for r in result.curve] == [0, 1, 0, 1]
    curve = lake.dataset("networks", network="discs-unet").load()
    np.testing.assert_allclose(curve.loss.values, losses)
    assert np.isfinite(curve.val_loss.values).all() and (curve.images.values == 8).all()
    assert list(checkpoint_epochs(lake, "discs-unet")) == [1, 2, 3, 4]
    [info] = list_networks(lake)
    assert info.name == "discs-unet" and info.epochs == 4 and info.label == "Mask"
    assert info.architecture["arch"] == "unet" and info.trainable_parameters > 0
    assert info.datasets == {"train": "train/discs", "validation": "val/discs"}
    assert check_lake(lake.location) == []


def test_saved_network_predicts_exactly_like_the_trained_one(lake):
    result = train_network(lake, "n", "train", "val", epochs=1,
                           options=TrainingOptions(**TINY))  # fmt: skip
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 1)).astype(np.float32)
    loaded = load_network(lake, "n")
    np.testing.assert_array_equal(predict_images(result.model, x), predict_images(loaded, x))


def test_restart_continues_exactly_where_the_saved_epoch_left_off(lake):
    options = TrainingOptions(**TINY)
    straight = train_network(lake, "straight", "train", "val", epochs=3, options=options)
    train_network(lake, "resumed", "train", "val", epochs=3, options=options)
    # pretend the second run died after epoch 1: continue from its checkpoint
    resumed = train_network(lake, "resumed", "train", "val", epochs=3, restart=1)
    assert len(resumed.curve) == 2
    assert int(resumed.model.optimizer.iterations) == int(straight.model.optimizer.iterations)
    for a, b in zip(_weights(straight.model), _weights(resumed.model)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    curve = lake.dataset("networks", network="resumed").load()
    assert curve.sizes["training_epoch"] == 3
    assert list(checkpoint_epochs(lake, "resumed")) == [1, 2, 3]


def test_restart_loads_the_optimizer_state_of_the_checkpoint(lake):
    train_network(lake, "n", "train", "val", epochs=2, options=TrainingOptions(**TINY))
    model = load_network(lake, "n", epoch=1)
    assert int(model.optimizer.iterations) == 2  # 8 models in batches of 4
    slots = [v for v in model.optimizer.variables if "momentum" in v.path]
    assert slots and any(np.abs(np.asarray(v)).max() > 0 for v in slots)


def test_a_second_training_under_the_same_name_is_refused(lake):
    train_network(lake, "n", "train", "val", epochs=1, options=TrainingOptions(**TINY))
    with pytest.raises(NetworkError, match="exists .*--restart"):
        train_network(lake, "n", "train", "val", epochs=2, options=TrainingOptions(**TINY))
    with pytest.raises(NetworkError, match="no checkpoint after epoch 5; saved epochs: 1"):
        train_network(lake, "n", "train", "val", epochs=8, restart=5)


def test_image_sets_that_do_not_fit_are_named(lake):
    disc_image_set(lake, "focal", n_models=4, epochs=1, focus=2, seed=3)
    with pytest.raises(TrainingError, match="'train/discs' and validation set 'focal/discs' differ in n_focus"):
        train_network(lake, "n", "train", "focal", epochs=1, options=TrainingOptions(**TINY))
    with pytest.raises(HrtemlakeError, match="no image sets"):
        train_network(lake, "n", "nowhere", "val", epochs=1, options=TrainingOptions(**TINY))


def test_evaluation_stores_per_image_scores_and_reruns_are_idempotent(lake):
    train_network(lake, "n", "train", "val", epochs=3, options=TrainingOptions(**TINY))
    scores = evaluate_network(lake, "n", "val").load()
    assert scores.pixel_f1.shape == (4, 1, 1) and scores.attrs["channel_names"] == ["mask"]
    assert ((scores.pixel_f1 >= 0) & (scores.pixel_f1 <= 1)).all()
    assert np.isnan(scores.atomic_f1).all() and np.isnan(scores.rmse).all()
    again = evaluate_network(lake, "n", "val").load()
    np.testing.assert_array_equal(scores.pixel_f1, again.pixel_f1)
    assert len(lake.provenance("evaluations", network="n", dataset="val", imageset="discs")) == 2
    assert network_info(lake, "n").epochs == 3


def test_scores_of_an_earlier_checkpoint_are_replaced_after_more_training(lake):
    train_network(lake, "n", "train", "val", epochs=1, options=TrainingOptions(**TINY))
    names = {"network": "n", "dataset": "val", "imageset": "discs"}
    before = evaluate_network(lake, "n", "val").load()
    [first] = lake.provenance("evaluations", **names)
    train_network(lake, "n", "train", "val", epochs=3, restart=1)
    after = evaluate_network(lake, "n", "val").load()
    [record] = lake.provenance("evaluations", **names)  # the old scores are gone
    assert (first["parameters"]["checkpoint"], record["parameters"]["checkpoint"]) == (1, 3)
    assert after.sizes == before.sizes


def test_options_without_target_scales_keep_the_identity_of_older_networks():
    identity = TrainingOptions(**TINY).identity()
    assert "target_mean" not in identity and "workers" not in identity
    assert TrainingOptions(**TINY, target_mean=[1.0], target_std=[2.0]).identity()["target_std"] == [2.0]
