"""Amorphous carbon films: density, minimum distance, homogeneity, support placement."""

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from hrtemlake.errors import ParameterError
from hrtemlake.models import PARTICLE, SUPPORT, find_sites, mx2_flake
from hrtemlake.models.amorphous import amorphous_carbon, on_amorphous_support
from hrtemlake.models.nanotubes import nanotube

CARBON_MASS_G = 12.011 * 1.66053906660e-24  # g per atom
METHODS = ("random", "quench-like")


@pytest.fixture(scope="module")
def films():
    return {method: amorphous_carbon(np.random.default_rng(5), cell=(40.0, 40.0, 20.0),
                                     method=method) for method in METHODS}


def density_of(n_atoms, volume_a3):
    return n_atoms * CARBON_MASS_G / (volume_a3 * 1e-24)


@pytest.mark.parametrize("method", METHODS)
def test_density_within_5_percent(films, method):
    atoms = films[method]
    thickness = atoms.info["thickness"]
    assert thickness == 20.0
    assert atoms.info["density"] == pytest.approx(2.0, rel=0.05)
    assert density_of(len(atoms), 40.0 * 40.0 * thickness) == pytest.approx(2.0, rel=0.05)
    # Homogeneous: the central half of the slab (in z) holds its share.
    z = atoms.positions[:, 2] - atoms.info["vacuum"]
    central = np.count_nonzero((z > 5.0) & (z < 15.0))
    assert density_of(central, 40.0 * 40.0 * 10.0) == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("method", METHODS)
def test_no_pair_closer_than_min_distance(films, method):
    atoms = films[method]
    assert tuple(atoms.pbc) == (True, True, False)
    # ASE's neighbour list, periodic in x and y like the film.
    distance = neighbor_list("d", atoms, 1.6)
    assert len(distance) > 0 and distance.min() >= 1.3  # a dense packing, but no overlap
    assert atoms.info["min_pair_distance"] == pytest.approx(distance.min())


@pytest.mark.parametrize("method", METHODS)
def test_other_density_and_distance(method):
    atoms = amorphous_carbon(np.random.default_rng(1), cell=(25.0, 30.0, 12.0),
                             density=(2.4, 2.6), min_distance=1.4, method=method)
    assert 2.4 <= atoms.info["requested_density"] <= 2.6
    assert atoms.info["density"] == pytest.approx(atoms.info["requested_density"], rel=0.01)
    assert len(neighbor_list("i", atoms, 1.4)) == 0


def test_quench_like_piles_up_first_neighbours(films):
    share = {}
    for method, atoms in films.items():
        first = neighbor_list("i", atoms, 1.3 * 1.1)
        share[method] = len(np.unique(first)) / len(atoms)  # atoms with a close neighbour
    assert share["quench-like"] > share["random"] + 0.3


@pytest.mark.parametrize("method", METHODS)
def test_inside_cell_and_reproducible(films, method):
    atoms = films[method]
    assert np.allclose(atoms.cell.array, np.diag([40.0, 40.0, 24.0]))
    assert np.all(atoms.positions[:, :2] >= 0.0)
    assert np.all(atoms.positions[:, :2] < 40.0)
    assert np.all((atoms.positions[:, 2] >= 2.0) & (atoms.positions[:, 2] <= 22.0))
    assert set(atoms.get_chemical_symbols()) == {"C"}
    assert np.all(atoms.arrays["component"] == PARTICLE)
    again = amorphous_carbon(np.random.default_rng(5), cell=(40.0, 40.0, 20.0), method=method)
    assert np.array_equal(atoms.positions, again.positions)
    other = amorphous_carbon(np.random.default_rng(6), cell=(40.0, 40.0, 20.0), method=method)
    assert not np.array_equal(atoms.positions[:10], other.positions[:10])


def test_find_sites_with_particle_scheme(films):
    atoms = films["random"]
    sites = find_sites(atoms, scheme="nanoparticle")
    assert sites.class_names == ("C", "support")
    assert sites.counts.sum() == len(atoms)


def test_support_film_below_a_flake():
    flake = mx2_flake(np.random.default_rng(0), size=(30.0, 30.0))
    before = flake.copy()
    atoms = on_amorphous_support(flake, np.random.default_rng(1), thickness=10.0, gap=3.0)
    assert np.array_equal(flake.positions, before.positions)  # the input is left alone
    component = atoms.arrays["component"]
    structure, film = atoms[component == PARTICLE], atoms[component == SUPPORT]
    assert len(structure) == len(flake) and len(film) == atoms.info["film_atoms"]
    # The structure only moved up, by film_shift; the film lies gap below it.
    assert np.allclose(structure.positions - flake.positions, [0.0, 0.0, atoms.info["film_shift"]])
    assert structure.positions[:, 2].min() - film.positions[:, 2].max() >= 3.0 - 1e-9
    assert film.positions[:, 2].min() >= 2.0 - 1e-9
    assert np.ptp(film.positions[:, 2]) <= 10.0 + 1e-9
    assert atoms.cell.lengths()[2] == pytest.approx(flake.cell.lengths()[2]
                                                    + atoms.info["film_shift"])
    assert np.allclose(atoms.cell.lengths()[:2], flake.cell.lengths()[:2])
    assert np.all(atoms.positions >= -1e-9) and np.all(atoms.positions <= atoms.cell.lengths())
    assert atoms.info["film_density"] == pytest.approx(2.0, rel=0.05)
    assert atoms.info["model"] == "mx2"  # the structure's info is kept
    sites = find_sites(atoms)  # the mx2 scheme leaves support atoms out
    assert np.all(sites.labels[component == SUPPORT] == -1)


def test_support_film_reproducible_and_without_component():
    tube = nanotube(np.random.default_rng(0), cell=(30.0, 30.0, 60.0), length=20.0)
    del tube.arrays["component"]
    first = on_amorphous_support(tube, np.random.default_rng(2), thickness=(5.0, 8.0),
                                 method="quench-like")
    again = on_amorphous_support(tube, np.random.default_rng(2), thickness=(5.0, 8.0),
                                 method="quench-like")
    assert np.array_equal(first.positions, again.positions)
    assert np.all(first.arrays["component"][: len(tube)] == PARTICLE)
    assert first.info["film_shift"] == 0.0  # the tube had room enough below it
    assert len(neighbor_list("i", first[first.arrays["component"] == SUPPORT], 1.3)) == 0


@pytest.mark.parametrize("options, match", [
    (dict(cell=(40.0, 40.0)), "cell"),
    (dict(cell=(40.0, 40.0, -1.0)), "cell"),
    (dict(density=0.0), "density"),
    (dict(density=(2.2, 1.8)), "density"),
    (dict(density=4.0, min_distance=1.6), "density"),
    (dict(min_distance=0.0), "min_distance"),
    (dict(method="md"), "method"),
    (dict(vacuum=-1.0), "vacuum"),
    (dict(symbol="Xx"), "symbol"),
])
def test_bad_arguments_are_named(options, match):
    with pytest.raises(ParameterError, match=match):
        amorphous_carbon(np.random.default_rng(0), **options)


def test_bad_support_arguments_are_named():
    tube = nanotube(np.random.default_rng(0))
    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match="thickness"):
        on_amorphous_support(tube, rng, thickness=0.0)
    with pytest.raises(ParameterError, match="gap"):
        on_amorphous_support(tube, rng, gap=-1.0)
    with pytest.raises(ParameterError, match="method"):
        on_amorphous_support(tube, rng, method="md")
    skewed = tube.copy()
    skewed.set_cell([[60.0, 0.0, 0.0], [10.0, 60.0, 0.0], [0.0, 0.0, 30.0]])
    with pytest.raises(ParameterError, match="orthorhombic"):
        on_amorphous_support(skewed, rng)
    with pytest.raises(ParameterError, match="atoms"):
        on_amorphous_support(tube[:0], rng)
    with pytest.raises(TypeError, match="rng"):
        on_amorphous_support(tube, 0)
