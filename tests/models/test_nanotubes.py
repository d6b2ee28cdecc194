"""Single-wall nanotubes: diameter, orientation, placement, classes and validation."""

import numpy as np
import pytest

from hrtemlake.errors import ParameterError
from hrtemlake.models import PARTICLE, find_sites
from hrtemlake.models.nanotubes import (
    CHIRALITIES,
    chiral_angle,
    chirality_class,
    nanotube,
    tube_diameter,
)

A_GRAPHENE = 2.46  # Å


def formula_diameter(n, m):
    return A_GRAPHENE / np.pi * np.sqrt(n * n + n * m + m * m)


def fitted_axis(positions):
    """Centroid and principal direction of the atoms (the axis of a tube longer than wide)."""
    centre = positions.mean(axis=0)
    _, _, vt = np.linalg.svd(positions - centre)
    return centre, vt[0]


def radial_distances(positions, centre, axis):
    relative = positions - centre
    return np.linalg.norm(relative - np.outer(relative @ axis, axis), axis=1)


@pytest.fixture(scope="module")
def tubes():
    return [nanotube(np.random.default_rng(seed)) for seed in range(8)]


@pytest.mark.parametrize("n, m", [*CHIRALITIES, (10, 0), (8, 8)])
def test_diameter_matches_chirality_formula(n, m):
    atoms = nanotube(np.random.default_rng(1), n=n, m=m, length=40.0)
    centre, axis = fitted_axis(atoms.positions)
    measured = 2.0 * radial_distances(atoms.positions, centre, axis).mean()
    assert measured == pytest.approx(formula_diameter(n, m), rel=0.01)
    assert atoms.info["diameter"] == pytest.approx(formula_diameter(n, m), rel=0.01)
    assert atoms.info["chirality"] == (n, m)
    # Every atom lies on the cylinder (the fit's centroid sits on the axis to ~0.1 Å).
    assert np.ptp(radial_distances(atoms.positions, centre, axis)) < 0.2


def test_axis_lies_in_image_plane_at_drawn_angle(tubes):
    for atoms in tubes:
        # In the plane: the tube spans exactly its diameter along the beam (a tilt of t
        # would add L sin t, over 0.3 Å for 0.5° here).
        assert np.ptp(atoms.positions[:, 2]) <= atoms.info["diameter"] + 0.05
        # The principal direction of a finite helical tube deviates a little from its axis.
        _, axis = fitted_axis(atoms.positions)
        assert abs(axis[2]) < 0.02
        azimuth = np.degrees(np.arctan2(axis[1], axis[0])) % 180.0
        difference = (azimuth - atoms.info["angle"] + 90.0) % 180.0 - 90.0
        assert abs(difference) < 1.0
        assert 0.0 <= atoms.info["angle"] < 180.0
        assert atoms.info["axis"][2] == pytest.approx(0.0, abs=1e-12)
        expected = np.radians(atoms.info["angle"])
        assert np.allclose(atoms.info["axis"], [np.cos(expected), np.sin(expected), 0.0])


def test_length_and_tube_extent(tubes):
    for atoms in tubes:
        centre, axis = fitted_axis(atoms.positions)
        along = (atoms.positions - centre) @ axis
        assert 20.0 <= atoms.info["length"] <= 40.0
        assert np.ptp(along) == pytest.approx(atoms.info["length"], abs=2.0)
        assert not atoms.info["clipped"]


def test_atoms_inside_cell(tubes):
    for atoms in tubes:
        assert np.allclose(atoms.cell.array, np.diag([60.0, 60.0, 30.0]))
        assert np.all(atoms.positions >= 2.0 - 1e-9)
        assert np.all(atoms.positions <= atoms.cell.lengths() - 2.0 + 1e-9)
        assert set(atoms.get_chemical_symbols()) == {"C"}
        assert np.all(atoms.arrays["component"] == PARTICLE)


def test_long_tube_is_clipped_at_the_margin():
    atoms = nanotube(np.random.default_rng(3), n=11, m=6, length=200.0)
    assert atoms.info["clipped"]
    assert np.all((atoms.positions >= 2.0) & (atoms.positions <= atoms.cell.lengths() - 2.0))


def test_tilt_out_of_plane():
    for seed in range(4):
        atoms = nanotube(np.random.default_rng(seed), max_tilt=10.0, length=40.0)
        _, axis = fitted_axis(atoms.positions)
        tilt = np.degrees(np.arcsin(abs(axis[2])))
        assert tilt == pytest.approx(abs(atoms.info["tilt"]), abs=1.0)
        assert abs(np.dot(axis, atoms.info["axis"])) > np.cos(np.radians(1.0))
        assert abs(atoms.info["tilt"]) <= 10.0


def test_chirality_class_round_trip(tubes):
    for index, (n, m) in enumerate(CHIRALITIES):
        assert chirality_class(n, m) == index
        assert chirality_class(n, m, [(n, m)]) == 0
    for atoms in tubes:
        assert CHIRALITIES[atoms.info["chirality_class"]] == atoms.info["chirality"]
        assert chirality_class(*atoms.info["chirality"]) == atoms.info["chirality_class"]
    assert len({atoms.info["chirality"] for atoms in tubes}) >= 3
    with pytest.raises(ParameterError, match="chirality"):
        chirality_class(9, 1)
    custom = nanotube(np.random.default_rng(0), chiralities=[(9, 1), (10, 0)])
    assert custom.info["chirality"] in {(9, 1), (10, 0)}
    assert nanotube(np.random.default_rng(0), n=9, m=1).info["chirality_class"] is None


def test_chirality_properties():
    assert chiral_angle(10, 0) == pytest.approx(0.0)
    assert chiral_angle(8, 8) == pytest.approx(30.0)
    assert tube_diameter(11, 6) == pytest.approx(formula_diameter(11, 6), rel=0.01)
    atoms = nanotube(np.random.default_rng(0), n=12, m=6)
    assert atoms.info["metallic"] and not nanotube(np.random.default_rng(0), n=11, m=6).info[
        "metallic"]


def test_reproducible():
    first = nanotube(np.random.default_rng(42))
    again = nanotube(np.random.default_rng(42))
    other = nanotube(np.random.default_rng(43))
    assert np.array_equal(first.positions, again.positions)
    assert first.info == again.info
    assert len(first) != len(other) or not np.array_equal(first.positions, other.positions)


def test_find_sites_with_particle_scheme():
    atoms = nanotube(np.random.default_rng(0))
    sites = find_sites(atoms, scheme="nanoparticle")
    assert sites.class_names == ("C", "support")
    assert np.all(sites.classes == 0) and sites.counts.sum() == len(atoms)


@pytest.mark.parametrize("options, match", [
    (dict(n=11), "n and m"),
    (dict(n=6, m=11), r"\(n, m\)"),
    (dict(n=0, m=0), r"\(n, m\)"),
    (dict(n=11.0, m=6), "integers"),
    (dict(chiralities=[]), "chiralities"),
    (dict(chiralities=[(11, 6), (11, 6)]), "chiralities"),
    (dict(chiralities=[(11, 6), (3, 5)]), r"chiralities\[1\]"),
    (dict(length=0.0), "length"),
    (dict(length=(40.0, 20.0)), "length"),
    (dict(cell=(60.0, 60.0, 12.0)), r"cell\[2\]"),
    (dict(cell=(60.0, 60.0)), "cell"),
    (dict(max_tilt=100.0), "max_tilt"),
    (dict(bond=-1.0), "bond"),
    (dict(symbol="Xx"), "symbol"),
    (dict(margin=-1.0), "margin"),
])
def test_bad_arguments_are_named(options, match):
    with pytest.raises(ParameterError, match=match):
        nanotube(np.random.default_rng(0), **options)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="rng"):
        nanotube(0)
