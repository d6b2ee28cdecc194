"""Heights labels (seed 000): the number of atoms of each column on its spot, support left out."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from hrtemlake.errors import ParameterError as InputError
from hrtemlake.models import find_sites
from hrtemlake.models.sites import PARTICLE, SUPPORT
from hrtemlake.simulate import ImageParameters, synthesize_images
from hrtemlake.simulate.epochs import EpochGeometry
from hrtemlake.simulate.labels import channel_names, disk_label, height_label
from hrtemlake.simulate.params import ParameterError, expected_num_classes

#: A 0.1 Å grid whose pixel (r, c) sits at y = r * 0.1, x = c * 0.1 (no crop or pad).
PLAIN = EpochGeometry(grid=(60, 80), sampling=(0.1, 0.1), size=(60, 80), offset=(0, 0))
QUIET = dict(noise=None, mtf=None, readout=(0, 0), debug=None)
#: Spot diameter [Å]: no pixel centre of the 0.1 Å grid lies exactly 0.45 Å from a site.
SPOTSIZE = 0.9
#: Columns (x, y) [Å] and atoms: Au columns A and B, a CeO2 column right next to A (it
#: would take part of A's spot if it counted) and one far from both.
COLUMN_A, COLUMN_B = (2.0, 3.0), (4.5, 3.0)
SUPPORT_NEAR_A, SUPPORT_FAR = (2.3, 3.0), (6.5, 2.0)


def _column(x: float, y: float, atoms: int, symbol: str) -> Atoms:
    """``atoms`` atoms stacked along the beam (z) at (x, y)."""
    return Atoms(symbol * atoms, positions=[(x, y, 2.0 + 2.9 * k) for k in range(atoms)])


def _supported_columns() -> Atoms:
    """Au columns of 3 and 5 atoms on two Ce columns of 4 atoms (a toy supported particle)."""
    parts = [(_column(*COLUMN_A, 3, "Au"), PARTICLE), (_column(*COLUMN_B, 5, "Au"), PARTICLE),
             (_column(*SUPPORT_NEAR_A, 4, "Ce"), SUPPORT),
             (_column(*SUPPORT_FAR, 4, "Ce"), SUPPORT)]  # fmt: skip
    atoms = Atoms(cell=[8.0, 6.0, 20.0], pbc=True)
    component = []
    for part, kind in parts:
        atoms += part
        component += [kind] * len(part)
    atoms.arrays["component"] = np.array(component)
    atoms.info.update(model="nanoparticle", element="Au")
    return atoms


def _within(geometry: EpochGeometry, x: float, y: float, radius: float) -> np.ndarray:
    rows, cols = np.mgrid[: geometry.size[0], : geometry.size[1]]
    distance = np.hypot((rows - geometry.offset[0]) * geometry.sampling[0] - y,
                        (cols - geometry.offset[1]) * geometry.sampling[1] - x)  # fmt: skip
    return distance <= radius


def _heights_parameters(**changes) -> ImageParameters:
    fields = dict(label="Heights", image_size=(80, 60), sampling=(0.1, 0.1), spotsize=SPOTSIZE)
    return ImageParameters(**{**fields, **QUIET, **changes})


def test_each_spot_holds_its_columns_atoms_and_the_support_is_left_out():
    sites = find_sites(_supported_columns())
    assert sorted(sites.counts.tolist()) == [3, 4, 4, 5]
    out = synthesize_images(np.ones((60, 80), np.complex64), 0.1, _heights_parameters(), 0,
                            energy=300e3, sites=sites)  # fmt: skip
    label = out["label"][0, 0]
    assert out["label"].shape == (1, 1, 60, 80) and label.dtype == np.float32
    spot_a = _within(PLAIN, *COLUMN_A, SPOTSIZE / 2)
    spot_b = _within(PLAIN, *COLUMN_B, SPOTSIZE / 2)
    expected = np.where(spot_a, 3.0, 0.0) + np.where(spot_b, 5.0, 0.0)
    np.testing.assert_array_equal(label, expected)  # A whole: its support neighbour is out
    assert spot_a.sum() == spot_b.sum() > 50
    assert label[_within(PLAIN, *SUPPORT_FAR, SPOTSIZE / 2)].max() == 0


def test_touching_spots_go_to_the_nearest_column_like_disk_labels():
    positions = np.array([[2.0, 3.0], [2.6, 3.0]])  # 0.6 Å apart, spots of 0.9 Å overlap
    heights = height_label(PLAIN, positions, np.array([7, 2]), SPOTSIZE)[0]
    disks = disk_label(PLAIN, positions, np.array([0, 1]), 2, SPOTSIZE)
    np.testing.assert_array_equal(heights, 7 * disks[0] + 2 * disks[1])
    assert heights[30, 22] == 7 and heights[30, 24] == 2  # x = 2.2 and 2.4 Å
    assert not height_label(PLAIN, np.zeros((0, 2)), np.zeros(0), SPOTSIZE).any()


def test_heights_are_drawn_on_each_epochs_own_grid():
    params = _heights_parameters(image_size=(40, 36), sampling=(0.13, 0.16))
    sites = find_sites(_supported_columns())
    out = synthesize_images(np.ones((60, 80), np.complex64), 0.1, params, 3, energy=300e3,
                            sites=sites, n_epochs=2)  # fmt: skip
    particle = sites.classes == 0
    for epoch in range(2):
        geometry = EpochGeometry.from_sampling((60, 80), 0.1, out["sampling"][epoch], (36, 40))
        np.testing.assert_array_equal(out["label"][epoch], height_label(
            geometry, sites.positions[particle], sites.counts[particle], SPOTSIZE))  # fmt: skip
    assert set(np.unique(out["label"])) == {0.0, 3.0, 5.0}


def test_parameter_files_accept_heights_with_one_channel_and_no_null_class():
    params = ImageParameters.from_dict({"label": "heights", "debug": None})
    assert params.label == "Heights" and params.num_classes == 1
    assert channel_names(params) == ["height"]
    assert expected_num_classes("Heights", False) == 1
    params.check_dataset(has_sites=True, num_site_classes=2)
    with pytest.raises(ParameterError, match="need atomic sites"):
        params.check_dataset(has_sites=False)
    with pytest.raises(ParameterError, match="null_class"):
        ImageParameters(label="Heights", null_class=True, num_classes=2)
    with pytest.raises(ParameterError, match="num_classes"):
        ImageParameters(label="Heights", num_classes=2)


def test_heights_need_the_atoms_of_each_site():
    positions, classes = np.array([[2.0, 3.0]]), np.array([0])
    wave, params = np.ones((60, 80), np.complex64), _heights_parameters()
    with pytest.raises(InputError, match="atoms of each site"):
        synthesize_images(wave, 0.1, params, 0, energy=300e3, sites=(positions, classes))
    with pytest.raises(InputError, match="non-negative"):
        synthesize_images(wave, 0.1, params, 0, energy=300e3,
                          sites=(positions, classes, np.array([-1])))  # fmt: skip
    out = synthesize_images(wave, 0.1, params, 0, energy=300e3,
                            sites=(positions, classes, np.array([6])))  # fmt: skip
    assert out["label"].max() == 6  # no class names: no support class to leave out
