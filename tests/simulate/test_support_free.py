"""Support-free exit-wave labels: per-atom components, particle exit waves, remove_support."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.errors import LakeError, ParameterError, SchemaError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.models import build_model
from hrtemlake.models.sites import SUPPORT
from hrtemlake.simulate import ImageParameters, epoch_seeds, synthesize_images
from hrtemlake.simulate.dataset import (
    compute_exitwave_block,
    exitwave_writer,
    load_atoms,
    missing_exitwave_blocks,
    model_rng,
    simulate_structures,
    without_support,
)
from hrtemlake.simulate.exitwaves import ExitWaveSettings
from hrtemlake.simulate.images import compute_image_block, image_writer, missing_image_blocks
from hrtemlake.simulate.labels import exitwave_label

ON_GRAPHENE = {"size": (16.0, 16.0), "graphene": True}
SETTINGS = ExitWaveSettings(energy=50e3, sampling=0.1, slice_thickness=0.5)
LABEL = ImageParameters(label="Exitwave", num_classes=2, image_size=(48, 48), sampling=(0.2, 0.2),
                        seed=3, debug=None, remove_support=True, log_dose=(3.0, 3.0))  # fmt: skip


@pytest.fixture(scope="module")
def waves_lake(tmp_path_factory) -> str:
    """Two 16 Å MoS2 flakes on graphene with both kinds of exit waves (160² at 0.1 Å)."""
    pytest.importorskip("abtem")
    lake = Lake(str(tmp_path_factory.mktemp("support") / "lake.zarr"), mode="a")
    simulate_structures(lake, "train", "mx2", 2, seed=4, options=ON_GRAPHENE)
    for particle in (False, True):
        writer = exitwave_writer(lake, "train", SETTINGS, particle=particle)
        for block in missing_exitwave_blocks(writer):
            compute_exitwave_block(writer, "train", block, SETTINGS)
    return lake.location


def test_structures_store_which_atoms_are_support(waves_lake):
    lake = Lake(waves_lake)
    for i, atoms in enumerate(load_atoms(lake, "train", range(2))):
        built = build_model("mx2", model_rng(4, i), **ON_GRAPHENE)
        np.testing.assert_array_equal(atoms.arrays["component"], built.arrays["component"])
        support = atoms.arrays["component"] == SUPPORT
        assert support.any() and set(atoms.numbers[support]) == {6}  # the graphene
        assert 6 not in without_support(atoms).numbers
        np.testing.assert_array_equal(without_support(atoms).cell.array, atoms.cell.array)
    assert check_lake(waves_lake) == []


def test_particle_exit_wave_equals_direct_abtem_without_the_support(waves_lake):
    import abtem

    lake = Lake(waves_lake)
    [atoms] = load_atoms(lake, "train", [1])
    flake = atoms[atoms.numbers != 6]
    potential = abtem.Potential(flake, sampling=0.1, slice_thickness=0.5, parametrization="lobato")
    direct = abtem.PlaneWave(energy=50e3).multislice(potential).compute().array.T
    particle = lake.read("particle_exitwaves", "exit_wave", dataset="train")[1]
    full = lake.read("exitwaves", "exit_wave", dataset="train")[1]
    assert particle.shape == full.shape == direct.shape
    assert np.abs(particle - direct).max() < 1e-4
    assert np.abs(full - particle).max() > 0.05  # the graphene's phase is gone
    ds = lake.dataset("particle_exitwaves", dataset="train")
    assert float(ds.energy) == 50e3 and float(ds.sampling) == 0.1


def test_remove_support_labels_the_particle_wave_and_images_the_whole_model(waves_lake):
    lake = Lake(waves_lake)
    full, particle = (lake.read(g, "exit_wave", dataset="train")[0]
                      for g in ("exitwaves", "particle_exitwaves"))  # fmt: skip
    seeds = epoch_seeds(3, 0, 1)
    removed = synthesize_images(full, 0.1, LABEL, seeds, energy=50e3, label_wave=particle)
    kept = synthesize_images(full, 0.1, LABEL.replace(remove_support=False), seeds, energy=50e3)
    only = synthesize_images(particle, 0.1, LABEL.replace(remove_support=False), seeds,
                             energy=50e3)  # fmt: skip
    np.testing.assert_array_equal(removed["image"], kept["image"])  # the image shows the support
    np.testing.assert_array_equal(removed["label"], only["label"])  # the label does not
    assert np.abs(removed["label"] - kept["label"]).max() > 0.02
    # the label is the filtered particle wave on the image grid
    from hrtemlake.simulate.epochs import EpochGeometry

    geometry = EpochGeometry.from_sampling(full.shape, 0.1, float(removed["sampling"][0]), (48, 48))
    expected = exitwave_label(np.fft.fft2(particle), geometry)
    np.testing.assert_allclose(removed["label"][0], expected, atol=1e-5)


def test_remove_support_needs_the_particle_wave():
    wave = np.ones((64, 64), np.complex64)
    with pytest.raises(ParameterError, match="label_wave"):
        synthesize_images(wave, 0.1, LABEL, 1, energy=50e3)
    with pytest.raises(ParameterError, match="shape"):
        synthesize_images(wave, 0.1, LABEL, 1, energy=50e3, label_wave=np.ones((32, 64)))
    with pytest.raises(ParameterError, match="remove_support.*Exitwave labels, not Mask"):
        ImageParameters(label="Mask", remove_support=True)
    with pytest.raises(ParameterError, match="remove_support"):
        ImageParameters(label="Exitwave", num_classes=2, remove_support="yes")
    # an unused option keeps the parameter file (and older image sets' identity) as it was
    assert "remove_support" not in LABEL.replace(remove_support=False).to_dict()
    assert ImageParameters.from_dict(LABEL.to_dict()) == LABEL


def test_image_set_with_remove_support_in_the_lake(waves_lake, tmp_path):
    import shutil

    shutil.copytree(waves_lake, tmp_path / "lake.zarr")
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    writer = image_writer(lake, "train", "free", LABEL, 1)
    lake.group("particle_exitwaves", dataset="train")["write_session"][1] = 0  # not yet computed
    assert [list(b) for b in missing_image_blocks(writer, "train")] == [[0]]
    compute_image_block(writer, "train", range(0, 1), LABEL, 1)
    stored = lake.dataset("images", dataset="train", imageset="free").label.values[0]
    waves = [lake.read(g, "exit_wave", slice(0, 1), dataset="train")[0]
             for g in ("exitwaves", "particle_exitwaves")]  # fmt: skip
    direct = synthesize_images(waves[0], 0.1, LABEL, epoch_seeds(3, 0, 1), energy=50e3,
                               label_wave=waves[1])  # fmt: skip
    np.testing.assert_array_equal(stored, direct["label"])
    assert lake.dataset("images", dataset="train", imageset="free").attrs["parameter_file"][
        "remove_support"] is True  # fmt: skip


def test_remove_support_without_particle_waves_is_a_clear_error(tmp_path):
    pytest.importorskip("abtem")
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    simulate_structures(lake, "train", "mx2", 1, seed=4, options=ON_GRAPHENE)
    writer = exitwave_writer(lake, "train", SETTINGS)
    compute_exitwave_block(writer, "train", range(0, 1), SETTINGS)
    with pytest.raises(LakeError, match="--particle-waves"):
        image_writer(lake, "train", "free", LABEL, 1)
    assert not lake.exists("images", dataset="train", imageset="free")


def test_structures_without_components_refuse_particle_waves(tmp_path):
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    atoms = build_model("mx2", model_rng(4, 0), **ON_GRAPHENE)
    writer = lake.writer("structures", dataset="old", parameters={}, attrs={"kind": "mx2"})
    writer.append([{"numbers": atoms.numbers, "positions": atoms.positions}],
                  per_item={"cell": atoms.cell.array[None]})  # fmt: skip
    [loaded] = load_atoms(lake, "old", [0])
    assert not loaded.arrays["component"].any()  # the fill value: all atoms the object
    with pytest.raises(SchemaError, match="component.*all or none"):
        writer.append([{"numbers": atoms.numbers, "positions": atoms.positions,
                        "component": atoms.arrays["component"]},
                       {"numbers": atoms.numbers, "positions": atoms.positions}],
                      per_item={"cell": np.stack([atoms.cell.array] * 2)})  # fmt: skip
    assert check_lake(lake.location) == []
    del loaded.arrays["component"]
    with pytest.raises(ParameterError, match="model 3 .*component"):
        without_support(loaded, "model 3")
