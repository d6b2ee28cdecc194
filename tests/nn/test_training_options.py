"""Training options: the denoiser head, standardised Denoise labels and class weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

import keras

from hrtemlake.errors import HrtemlakeError
from hrtemlake.lake import Lake
from hrtemlake.nn import (
    Augmentation,
    LakeBatches,
    TrainingError,
    TrainingOptions,
    evaluate_network,
    load_network,
    network_info,
    open_image_set,
    predict_images,
    train_network,
)
from hrtemlake.nn.data import balanced_class_weights, label_sample, pixel_weights
from hrtemlake.nn.evaluate import target_scale
from hrtemlake.simulate import ImageParameters
from hrtemlake.simulate.images import store_image_set

from .helpers import disc_image_set

#: the tiny denoiser: one down-sampling, 2 filters
DENOISER = dict(arch="denoiser", filters=2, depth=1, kernel=3, batch_size=4, epochsave=1,
                augmentation=Augmentation.none().to_dict())  # fmt: skip
TINY = dict(arch="msdnet", filters=2, layers=3, kernel=3, batch_size=4, epochsave=1)
SIZE = 16


def denoise_image_set(lake: Lake, dataset: str, n_models: int = 4, seed: int = 0) -> str:
    """Noisy stripes; the Denoise label is the noise-free intensity (vacuum = 1): 1 + 0.2
    cos(...), so its mean is ~1 and its spread ~0.14."""
    rng = np.random.default_rng(seed)
    params = ImageParameters(label="Denoise", image_size=(SIZE, SIZE), image_epochs=1,
                             normalizedistance=4.0, debug=None, null_class=False,
                             num_classes=1)  # fmt: skip
    xx = np.arange(SIZE)[None, :]
    phase = rng.uniform(0, 2 * np.pi, n_models)[:, None, None]
    truth = 1 + 0.2 * np.cos(2 * np.pi * xx / 8 + phase)  # (model, 1, x)
    truth = np.broadcast_to(truth, (n_models, SIZE, SIZE)).astype(np.float32)
    image = rng.poisson(100 * truth).astype(np.float32)
    values = {"image": image[:, None, None], "label": truth[:, None, None],
              "sampling": np.full((n_models, 1), 0.5)}  # fmt: skip
    return store_image_set(lake, dataset, "noisy", params, ["focus_0"], values)


def two_class_image_set(lake: Lake, dataset: str, n_models: int = 4) -> str:
    """Disk labels with known pixel frequencies in every image: channel "Mo" the first 8
    rows (1/2 of the pixels), channel "S" a 4 × 8 block below (1/8), no channel 3/8."""
    params = ImageParameters(label="Disk", image_size=(SIZE, SIZE), image_epochs=2,
                             normalizedistance=4.0, debug=None, num_classes=2)  # fmt: skip
    label = np.zeros((n_models, 2, 2, SIZE, SIZE), np.float32)
    label[:, :, 0, :8] = 1
    label[:, :, 1, 8:12, :8] = 1
    rng = np.random.default_rng(3)
    image = rng.poisson(20 + 40 * label.sum(axis=2, keepdims=True)).astype(np.float32)
    values = {"image": image, "label": label, "sampling": np.full((n_models, 2), 0.5)}
    return store_image_set(lake, dataset, "disks", params, ["Mo", "S"], values)


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake.zarr"), mode="a")


# -- denoiser and the Denoise label scale -------------------------------------------------


def test_denoiser_trains_and_predicts_in_the_label_units(lake):
    train = denoise_image_set(lake, "train", n_models=8, seed=1)
    val = denoise_image_set(lake, "val", n_models=4, seed=2)
    result = train_network(lake, "den", train, val, epochs=1, options=TrainingOptions(**DENOISER))
    assert len(result.curve) == 1 and np.isfinite(result.curve[0]["loss"])
    info = network_info(lake, "den")
    assert info.architecture["arch"] == "denoiser" and info.label == "Denoise"
    # the scale is the training labels' mean and spread, stored with the network
    stored = lake.group("images", dataset="train", imageset="noisy")["label"][:]
    assert info.training["target_mean"] == pytest.approx([stored.mean()], rel=1e-5)
    assert info.training["target_std"] == pytest.approx([stored.std()], rel=1e-4)
    # predictions come back in the label's units (vacuum = 1), not standardised (mean ~0)
    images = open_image_set(lake, val)
    x, _ = LakeBatches(images, batch_size=4, shuffle=False)[0]
    prediction = predict_images(result.model, x)
    assert prediction.shape == (4, SIZE, SIZE, 1)
    assert abs(float(prediction.mean()) - float(stored.mean())) < 0.5
    # a loaded network carries its scale as the trained one does (or take it from the info)
    loaded = load_network(lake, "den")
    np.testing.assert_allclose(predict_images(loaded, x), prediction, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(predict_images(loaded, x, scale=info.training), prediction,
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    standardised = predict_images(loaded, x, scale=(0.0, 1.0))
    mean, std = info.training["target_mean"][0], info.training["target_std"][0]
    np.testing.assert_allclose(standardised * std + mean, prediction, rtol=1e-5, atol=1e-5)
    # the stored RMSE is in the label's units too
    scores = evaluate_network(lake, "den", val)
    truth = lake.group("images", dataset="val", imageset="noisy")["label"][:, 0, 0]
    expected = np.sqrt(((prediction[..., 0] - truth) ** 2).mean(axis=(1, 2)))
    np.testing.assert_allclose(scores["rmse"].values[:, 0], expected, rtol=1e-4, atol=1e-5)


def test_denoise_batches_serve_the_scaled_label_and_the_scale_round_trips(lake):
    name = denoise_image_set(lake, "train", n_models=4)
    images = open_image_set(lake, name)
    stored = lake.group("images", dataset="train", imageset="noisy")["label"][:, 0]  # (m, c, y, x)
    _, plain = LakeBatches(images, batch_size=4, shuffle=False)[0]
    _, scaled = LakeBatches(images, batch_size=4, shuffle=False, target_scale=([1.0], [0.2]))[0]
    np.testing.assert_allclose(scaled, (np.moveaxis(stored, 1, -1) - 1.0) / 0.2, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(plain, np.moveaxis(stored, 1, -1))
    # predict_images maps an identity network's output back exactly: out * std + mean
    inputs = keras.Input((None, None, 1))
    identity = keras.Model(inputs, keras.layers.Conv2D(1, 1, kernel_initializer="ones",
                                                       bias_initializer="zeros")(inputs))  # fmt: skip
    training = {"target_mean": [1.0], "target_std": [0.2]}
    np.testing.assert_allclose(predict_images(identity, scaled, scale=training), plain,
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    # no stored scale (networks trained before it existed, segmentation labels): identity
    assert target_scale({}) is None and target_scale({"target_mean": None}) is None
    np.testing.assert_array_equal(predict_images(identity, scaled, scale={}), scaled)
    mean, std = target_scale(training)
    assert mean.tolist() == [1.0] and std.tolist() == [0.2]


def test_denoise_scale_survives_a_restart(lake):
    train = denoise_image_set(lake, "train", n_models=4, seed=1)
    train_network(lake, "den", train, train, epochs=1, options=TrainingOptions(**DENOISER))
    before = dict(network_info(lake, "den").training)
    # options given on restart are ignored: the stored ones (with the scale) are used
    other = TrainingOptions(**DENOISER, target_mean=[5.0], target_std=[3.0])
    result = train_network(lake, "den", train, train, epochs=2, options=other, restart=1)
    after = network_info(lake, "den").training
    assert after["target_mean"] == before["target_mean"] and after["target_std"] == before["target_std"]
    assert len(result.curve) == 1 and result.curve[0]["epoch"] == 2


# -- class weights ------------------------------------------------------------------------


def test_balanced_weights_of_known_frequencies():
    labels = np.zeros((1, 4, 4, 2))
    labels[0, :2, :, 0] = 1  # 8 of 16 pixels
    labels[0, 2, :2, 1] = 1  # 2 of 16 pixels; 6 pixels in no channel
    weights = balanced_class_weights(labels)
    assert weights == pytest.approx([0.625, 2.5])
    # the mean pixel weight is 1
    assert float(pixel_weights(labels, weights).mean()) == pytest.approx(1.0)
    # a very rare channel is capped at 50, an absent one gets the cap too
    rare = np.zeros((1, 100, 100, 3))
    rare[0, :50, :, 0] = 1
    rare[0, 60, 0, 1] = 1
    assert balanced_class_weights(rare) == pytest.approx([(0.5001 / 2) / 0.5, 50.0, 50.0])
    # with a null class every pixel has a channel: weight_c = 1 / (C f_c)
    full = np.zeros((1, 2, 2, 2))
    full[0, 0, 0, 0] = 1
    full[..., 1] = 1 - full[..., 0]
    assert balanced_class_weights(full) == pytest.approx([2.0, 2 / 3])


def test_weight_map_of_a_known_batch(lake):
    name = two_class_image_set(lake, "train")
    images = open_image_set(lake, name)
    x, y, w = LakeBatches(images, batch_size=3, shuffle=False, class_weights=[2.0, 5.0])[0]
    assert w.shape == (3, SIZE, SIZE) and w.dtype == np.float32
    expected = np.ones((SIZE, SIZE), np.float32)
    expected[:8] = 2.0
    expected[8:12, :8] = 5.0
    np.testing.assert_array_equal(w, np.broadcast_to(expected, w.shape))
    # overlapping and soft labels: sum of weight × label, plus 1 × the part in no channel
    soft = np.array([[[[1.0, 1.0], [0.5, 0.0], [0.0, 0.0], [0.25, 0.25]]]])
    np.testing.assert_allclose(pixel_weights(soft, [2.0, 5.0]), [[[7.0, 1.5, 1.0, 2.25]]])
    # the map follows the flipped label; without class weights batches stay (x, y)
    flipped = LakeBatches(images, batch_size=4, seed=2, class_weights=[2.0, 5.0],
                          augmentation=Augmentation())  # fmt: skip
    for index in range(len(flipped)):
        _, y, w = flipped[index]
        np.testing.assert_array_equal(w, pixel_weights(y, [2.0, 5.0]))
    assert len(LakeBatches(images, batch_size=4)[0]) == 2


def test_balanced_weights_are_resolved_stored_and_kept_on_restart(lake):
    train = two_class_image_set(lake, "train", n_models=4)
    assert label_sample(open_image_set(lake, train)).shape == (8, SIZE, SIZE, 2)
    options = TrainingOptions(**TINY, class_weights="balanced")
    train_network(lake, "w", train, train, epochs=1, options=options)
    stored = network_info(lake, "w").training["class_weights"]
    assert stored == pytest.approx([0.625, 2.5])
    # a restart uses the stored numbers, whatever the options say
    other = TrainingOptions(**TINY, class_weights=[9.0, 9.0])
    result = train_network(lake, "w", train, train, epochs=2, options=other, restart=1)
    assert network_info(lake, "w").training["class_weights"] == stored
    assert result.curve[0]["epoch"] == 2 and np.isfinite(result.curve[0]["loss"])
    # explicit weights are stored as given; none: not part of the identity at all
    assert TrainingOptions(**TINY).identity().get("class_weights", "absent") == "absent"
    train_network(lake, "w2", train, train, epochs=1,
                  options=TrainingOptions(**TINY, class_weights=[1, 3]))  # fmt: skip
    assert network_info(lake, "w2").training["class_weights"] == [1.0, 3.0]


def test_weights_change_the_loss(lake):
    train = two_class_image_set(lake, "train", n_models=4)
    plain = train_network(lake, "a", train, train, epochs=1, options=TrainingOptions(**TINY))
    heavy = train_network(lake, "b", train, train, epochs=1,
                          options=TrainingOptions(**TINY, class_weights=[10.0, 10.0]))  # fmt: skip
    # same seed and batches: the first-epoch validation loss differs by the weights
    assert heavy.curve[0]["val_loss"] > 2 * plain.curve[0]["val_loss"]


@pytest.mark.parametrize("options, message", [
    (dict(class_weights="balnced"), "expected 'balanced'"),
    (dict(class_weights=[1.0]), "1 given for the 2 channels ['Mo', 'S']"),
    (dict(class_weights=[1.0, -2.0]), "finite and >= 0"),
    (dict(class_weights=["a", 1]), "a list of numbers"),
    (dict(arch="denoiser"), "has Disk labels: --arch denoiser trains only Denoise labels"),
])  # fmt: skip
def test_bad_options_on_segmentation_labels(lake, options, message):
    train = two_class_image_set(lake, "train", n_models=4)
    with pytest.raises(TrainingError) as error:
        train_network(lake, "bad", train, train, epochs=1, options=TrainingOptions(**{**TINY, **options}))
    assert message in str(error.value)
    assert not lake.exists("networks", network="bad")


def test_class_weights_need_segmentation_labels(lake):
    train = denoise_image_set(lake, "train")
    with pytest.raises(TrainingError, match="segmentation labels.*has Denoise labels"):
        train_network(lake, "bad", train, train, epochs=1,
                      options=TrainingOptions(**DENOISER, class_weights="balanced"))  # fmt: skip
    discs = disc_image_set(lake, "discs", n_models=4, epochs=1, size=16)
    with pytest.raises(TrainingError, match="has Mask labels: --arch denoiser"):
        train_network(lake, "bad", discs, discs, epochs=1, options=TrainingOptions(**DENOISER))


def test_batches_reject_bad_weights(lake):
    images = open_image_set(lake, two_class_image_set(lake, "train"))
    with pytest.raises(HrtemlakeError, match="3 class weights for 2 label channels"):
        LakeBatches(images, batch_size=2, class_weights=[1, 2, 3])


def test_cli_parses_class_weights_and_accepts_the_denoiser():
    from hrtemlake.cli.nn import _check_arch, parse_class_weights
    from hrtemlake.errors import ParameterError

    assert parse_class_weights(None) is None
    assert parse_class_weights("Balanced") == "balanced"
    assert parse_class_weights("1, 2.5,0") == [1.0, 2.5, 0.0]
    for bad in ("1,x", "1,-2", "", "nan"):
        with pytest.raises(ParameterError, match="--class-weights"):
            parse_class_weights(bad)
    _check_arch("denoiser")
    with pytest.raises(ParameterError, match="or denoiser"):
        _check_arch("resnet")
