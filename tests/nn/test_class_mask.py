"""ClassMask labels: the class of each region (its model's class in the outline's channel)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from hrtemlake.errors import ParameterError as InputError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.nn import TrainingOptions, train_network
from hrtemlake.simulate import ImageParameters, epoch_seeds, synthesize_images
from hrtemlake.simulate.dataset import simulate_structures, structure_classes
from hrtemlake.simulate.images import compute_image_block, image_writer, load_sites
from hrtemlake.simulate.params import ParameterError, expected_num_classes

from .test_classifier_training import TUBES, _cheap_waves

NAMES = ["(10,6)", "(11,5)", "(11,6)", "(11,7)", "(12,6)"]
PARAMS = ImageParameters(label="ClassMask", num_classes=6, null_class=True, image_size=(48, 48),
                         image_epochs=1, sampling=(0.5, 0.5), normalizedistance=4.0, debug=None,
                         seed=5)  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(str(tmp_path_factory.mktemp("classmask") / "lake.zarr"), mode="a")
    simulate_structures(lake, "train", "nanotube", 4, seed=1, options=TUBES)
    _cheap_waves(lake, "train", 4)
    writer = image_writer(lake, "train", "regions", PARAMS, 1)
    compute_image_block(writer, "train", range(4), PARAMS, 1)
    return lake


def test_each_model_outline_is_in_the_channel_of_its_class(lake):
    group = lake.group("images", dataset="train", imageset="regions")
    assert list(group.attrs["channel_names"]) == NAMES + ["background"]
    assert list(group.attrs["class_names"]) == NAMES
    _, classes = structure_classes(lake, "train")
    labels = group["label"][:, 0]  # (model, channel, y, x)
    mask_params = PARAMS.replace(label="Mask", num_classes=1, null_class=False)
    waves = lake.read("exitwaves", "exit_wave", dataset="train")
    for model, cls in enumerate(classes):
        [sites] = load_sites(lake, "train", [model])
        mask = synthesize_images(waves[model], 0.4, mask_params, epoch_seeds(5, model, 1),
                                 energy=300e3, sites=sites)["label"][0, 0]  # fmt: skip
        assert mask.sum() > 20  # the tube's outline is in the image
        np.testing.assert_array_equal(labels[model, cls], mask)
        others = np.delete(labels[model, :5], cls, axis=0)
        assert not others.any()
        np.testing.assert_array_equal(labels[model, 5], 1 - mask)  # background
    assert check_lake(lake.location) == []


def test_class_mask_checks():
    assert expected_num_classes("ClassMask", True, num_model_classes=5) == 6
    assert expected_num_classes("ClassMask", False) == -1
    with pytest.raises(ParameterError, match="ClassMask labels need models"):
        PARAMS.check_dataset(has_sites=True)
    with pytest.raises(ParameterError, match="num_classes.*2 model classes"):
        PARAMS.check_dataset(has_sites=True, has_classes=True, num_model_classes=2)
    wave = np.ones((60, 60), np.complex64)
    sites = (np.array([[5.0, 5.0], [10.0, 5.0], [5.0, 10.0]]), np.zeros(3, int))
    for bad in (None, -1, 5):
        with pytest.raises(InputError, match="structure_class"):
            synthesize_images(wave, 0.4, PARAMS, 1, energy=300e3, sites=sites,
                              structure_class=bad)  # fmt: skip


def test_a_pixel_network_trains_on_class_masks(lake, tmp_path):
    options = TrainingOptions(arch="msdnet", filters=2, layers=2, batch_size=2, epochsave=1)
    result = train_network(lake, "regions", "train/regions", "train/regions", 1, options)
    assert result.model.output_shape[-1] == 6  # five classes and the background
    assert np.isfinite(result.curve[0]["loss"]) and 0 <= result.curve[0]["metric"] <= 1
