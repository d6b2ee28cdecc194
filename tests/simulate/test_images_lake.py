"""Image epochs in a real lake: writer, blocks, resume, checks and debug previews."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.simulate import ImageParameters, epoch_seeds, synthesize_images
from hrtemlake.simulate.images import (
    compute_image_block,
    image_writer,
    load_sites,
    missing_image_blocks,
)
from hrtemlake.simulate.preview import debug_location, preview_count, write_previews

from .helpers import make_waves_lake

DISK = ImageParameters(label="Disk", num_classes=4, null_class=True, image_size=(64, 48),
                       sampling=(0.2, 0.25), image_epochs=2, multifocus=(2, 40.0, 1.0),
                       seed=5, debug=2)  # fmt: skip


@pytest.fixture(scope="module")
def waves_lake(tmp_path_factory) -> str:
    """Three 16 Å MoS2 flakes with their sites and 50 keV exit waves (160 x 160 at 0.1 Å)."""
    pytest.importorskip("abtem")
    return make_waves_lake(str(tmp_path_factory.mktemp("images") / "waves.zarr"))


@pytest.fixture
def lake(waves_lake, tmp_path) -> Lake:
    copy = tmp_path / "lake.zarr"
    shutil.copytree(waves_lake, copy)
    return Lake(str(copy), mode="a")


def _write_all(lake: Lake, params: ImageParameters, epochs: int, per_block=1, imageset="disk"):
    writer = image_writer(lake, "train", imageset, params, epochs)
    for block in missing_image_blocks(writer, "train", per_block):
        compute_image_block(writer, "train", block, params, epochs)
    return writer


def test_image_set_is_stored_validated_and_equals_the_pure_function(lake):
    _write_all(lake, DISK, epochs=2)
    assert check_lake(lake.location) == []
    ds = lake.dataset("images", dataset="train", imageset="disk").load()
    assert ds.image.shape == (3, 2, 2, 48, 64) and ds.label.shape == (3, 2, 4, 48, 64)
    assert ds.attrs["channel_names"] == ["Mo", "2S", "1S", "background"]
    assert ds.attrs["label"] == "Disk" and ds.attrs["parameter_file"] == DISK.to_dict()
    [record] = lake.provenance("images", dataset="train", imageset="disk")
    assert record["seed"] == 5 and record["parameters"]["epochs"] == 2
    waves = lake.dataset("exitwaves", dataset="train")
    [sites] = load_sites(lake, "train", [1])
    direct = synthesize_images(
        lake.read("exitwaves", "exit_wave", slice(1, 2), dataset="train")[0], float(waves.sampling),
        DISK, epoch_seeds(5, 1, 2), energy=float(waves.energy), sites=sites,
        class_names=["Mo", "2S", "1S"],
    )  # fmt: skip
    for name, value in direct.items():
        np.testing.assert_array_equal(ds[name].values[1], value, err_msg=name)
    assert ds.label.values[:, :, :3].sum() > 0  # the flakes' columns are in the image


def test_blocks_of_any_size_give_the_same_images(lake, tmp_path):
    _write_all(lake, DISK, epochs=2, per_block=1, imageset="one")
    _write_all(lake, DISK, epochs=2, per_block=3, imageset="three")
    one = lake.dataset("images", dataset="train", imageset="one").drop_vars("write_session").load()
    three = lake.dataset("images", dataset="train", imageset="three").drop_vars("write_session")
    for name in one.data_vars:
        np.testing.assert_array_equal(one[name].values, three[name].values, err_msg=name)


def test_a_rerun_writes_only_the_missing_models(lake):
    writer = image_writer(lake, "train", "disk", DISK, 2)
    assert [list(b) for b in missing_image_blocks(writer, "train", 2)] == [[0, 1], [2]]
    compute_image_block(writer, "train", range(1, 2), DISK, 2)
    again = image_writer(lake, "train", "disk", DISK.replace(debug=None), 2)  # debug may change
    assert [list(b) for b in missing_image_blocks(again, "train", 1)] == [[0], [2]]
    _write_all(lake, DISK, epochs=2)
    sessions = lake.read("images", "write_session", dataset="train", imageset="disk")
    assert list(sessions) == [3, 1, 3]


def test_models_without_exit_waves_wait(lake):
    group = lake.group("exitwaves", dataset="train")
    group["write_session"][2] = 0  # as if model 2's exit wave were still being computed
    writer = image_writer(lake, "train", "disk", DISK, 1)
    assert [list(b) for b in missing_image_blocks(writer, "train", 5)] == [[0, 1]]


def test_other_parameters_or_epochs_need_another_image_set(lake):
    image_writer(lake, "train", "disk", DISK, 2)
    with pytest.raises(LakeError, match="different parameters"):
        image_writer(lake, "train", "disk", DISK.replace(blur=(0.1, 0.2)), 2)
    with pytest.raises(LakeError, match="different parameters"):
        image_writer(lake, "train", "disk", DISK, 3)


@pytest.mark.parametrize(
    "params, dataset, error, match",
    [
        (DISK, "nothing", LakeError, "no exit waves.*simulate exitwaves"),
        (DISK.replace(num_classes=3), "train", ParameterError, "num_classes.*3 site classes"),
        (DISK.replace(energy=300e3), "train", ParameterError, "field 'energy'"),
    ],
)
def test_writer_errors(lake, params, dataset, error, match):
    with pytest.raises(error, match=match):
        image_writer(lake, dataset, "disk", params, 1)
    assert not lake.exists("images", dataset="train", imageset="disk")


def test_regression_and_exitwave_image_sets(lake):
    regression = ImageParameters(label="Regression", num_classes=2, image_size=(32, 32),
                                 sampling=(0.2, 0.2), seed=1, debug=None)  # fmt: skip
    _write_all(lake, regression, epochs=1, imageset="regression")
    exitwave = ImageParameters(label="Exitwave", num_classes=2, image_size=(32, 32),
                               sampling=(0.2, 0.2), seed=1, debug=None)  # fmt: skip
    _write_all(lake, exitwave, epochs=1, imageset="exitwave")
    assert check_lake(lake.location) == []
    ds = lake.dataset("images", dataset="train", imageset="regression")
    assert ds.sizes["channel"] == 0 and ds["targets"].shape == (3, 1, 2)
    np.testing.assert_allclose(ds["targets"].values[..., 0], ds.defocus.values[..., 0], rtol=1e-6)
    wave = lake.dataset("images", dataset="train", imageset="exitwave").label.values
    assert wave.shape == (3, 1, 2, 32, 32) and np.abs(wave[:, :, 0].mean() - 1) < 0.2


def test_debug_previews_beside_the_lake(lake, tmp_path):
    _write_all(lake, DISK, epochs=2)
    assert preview_count(DISK.debug, 6) == 2
    assert (preview_count(True, 6), preview_count(None, 6), preview_count(False, 6)) == (6, 0, 0)
    paths = write_previews(lake.location, "train", "disk", 3)
    folder = debug_location(lake.location, "train", "disk")
    assert folder == str(tmp_path / "lake.debug" / "train" / "disk")
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "model00000_epoch000.png", "model00000_epoch001.png", "model00001_epoch000.png"]
    for path in paths:
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert check_lake(lake.location) == []  # nothing written into the store
    other = write_previews(lake.location, "train", "disk", 1, folder=str(tmp_path / "dbg"))
    assert other == [str(tmp_path / "dbg" / "model00000_epoch000.png")]
