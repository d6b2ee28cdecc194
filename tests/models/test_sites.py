"""Column finding and classification on hand-made and generated structures."""

import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.distance import pdist

from hrtemlake.models import (
    PARTICLE,
    SUPPORT,
    distort,
    find_sites,
    mx2_flake,
    supported_nanoparticle,
)
from hrtemlake.models.sites import column_labels


def test_column_labels_chain_and_groups():
    xy = np.array([[0.0, 0.0], [0.2, 0.0], [0.4, 0.0], [2.0, 0.0], [2.0, 0.1]])
    labels, n = column_labels(xy, radius=0.3)
    # Linking is transitive: 0-1-2 is one column although 0 and 2 are 0.4 Å apart.
    assert n == 2 and labels[0] == labels[1] == labels[2] != labels[3] == labels[4]
    labels, n = column_labels(xy, radius=0.3, groups=np.array([0, 0, 0, 0, 1]))
    assert n == 3 and labels[3] != labels[4]
    assert column_labels(np.zeros((0, 2)), 0.3)[1] == 0


def test_hand_made_mos2_columns():
    # One Mo, one 2S column, one 1S column; the centre of mass uses atomic masses.
    atoms = Atoms("MoS2SC", positions=[[1.0, 1.0, 5.0], [3.0, 1.0, 3.4], [3.1, 1.0, 6.6],
                                       [5.0, 1.0, 3.4], [1.0, 1.0, 1.0]])
    atoms.arrays["component"] = np.array([PARTICLE] * 4 + [SUPPORT])
    atoms.info.update(model="mx2", formula="MoS2")
    sites = find_sites(atoms)
    assert sites.class_names == ("Mo", "2S", "1S")
    assert list(sites.classes) == [0, 1, 2]
    assert list(sites.counts) == [1, 2, 1]
    assert np.allclose(sites.positions, [[1.0, 1.0], [3.05, 1.0], [5.0, 1.0]])
    assert list(sites.labels) == [0, 1, 1, 2, -1]  # graphene carbon is in no site
    assert set(sites.as_dict()) == {"sites", "classes", "class_names", "counts"}


def test_sites_are_distinct_columns_every_atom_assigned():
    atoms = mx2_flake(np.random.default_rng(3), graphene=True)
    sites = find_sites(atoms, radius=0.3)
    assert pdist(sites.positions).min() > 0.3
    flake = atoms.arrays["component"] == PARTICLE
    assert np.all(sites.labels[flake] >= 0)
    assert sites.counts.sum() == flake.sum()
    assert len(sites) == len(sites.classes) == len(sites.counts)


def test_nanoparticle_sites_split_particle_and_support():
    atoms = supported_nanoparticle(np.random.default_rng(4), layers=(5, 7),
                                   cell=(40.0, 40.0, 30.0))
    sites = find_sites(atoms)
    assert sites.class_names == ("Au", "support")
    component = atoms.arrays["component"]
    assert np.all(sites.labels >= 0)
    assert pdist(sites.positions).min() > 0.3
    for site_class, expected in ((0, PARTICLE), (1, SUPPORT)):
        members = np.isin(sites.labels, np.flatnonzero(sites.classes == site_class))
        assert np.all(component[members] == expected)
    assert np.sum(sites.classes == 0) > 20 and np.sum(sites.classes == 1) > 20


def test_small_distortion_keeps_the_columns():
    atoms = mx2_flake(np.random.default_rng(8), max_tilt=0.0)
    pristine = find_sites(atoms)
    shaken = find_sites(distort(atoms, 0.01, np.random.default_rng(0)))
    assert len(shaken) == len(pristine)
    assert np.array_equal(shaken.classes, pristine.classes)
    assert np.abs(shaken.positions - pristine.positions).max() < 0.05


@pytest.mark.parametrize(
    "kwargs, info, match",
    [
        (dict(radius=0.0), dict(model="mx2", formula="MoS2"), "radius"),
        (dict(), dict(), "scheme"),
        (dict(scheme="perovskite"), dict(), "scheme"),
        (dict(), dict(model="mx2"), "formula"),
    ],
)
def test_find_sites_errors(kwargs, info, match):
    atoms = Atoms("MoS2", positions=[[0, 0, 0], [1, 1, 1], [1, 1, -1]])
    atoms.info.update(info)
    with pytest.raises(ValueError, match=match):
        find_sites(atoms, **kwargs)
