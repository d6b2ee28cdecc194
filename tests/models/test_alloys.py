"""Bimetallic nanoparticles: chemical orderings, composition, zone axis and tilt, validation."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from hrtemlake.errors import ParameterError
from hrtemlake.models import PARTICLE, find_sites
from hrtemlake.models.alloys import KINDS, bimetallic_nanoparticle, crystal_to_beam

SMALL = dict(radius=(7.0, 10.0), cell=(40.0, 40.0, 40.0))
A_CO_FCC = np.sqrt(2.0) * 2.4987  # hcp Co nearest-neighbour distance, ASE reference
A_AG = 4.09


def symbols_of(atoms):
    return np.array(atoms.get_chemical_symbols())


def angle(u, v):
    """Angle [deg] between the lines along u and v (atan2 stays exact near 0)."""
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v)), abs(np.dot(u, v))))


def bonds_near(atoms, direction, length, within=15.0):
    """Mean direction of the bonds of ``length`` [Å] within ``within`` degrees of
    ``direction`` (the lattice vector closest to it, measured on the atoms)."""
    pairs = cKDTree(atoms.positions).query_pairs(1.03 * length, output_type="ndarray")
    bonds = atoms.positions[pairs[:, 1]] - atoms.positions[pairs[:, 0]]
    norms = np.linalg.norm(bonds, axis=1)
    bonds = bonds[norms > 0.97 * length] / norms[norms > 0.97 * length, None]
    bonds *= np.sign(bonds @ direction)[:, None]
    near = bonds[bonds @ direction > np.cos(np.radians(within))]
    mean = near.mean(axis=0)
    return mean / np.linalg.norm(mean), len(near)


@pytest.fixture(scope="module", params=KINDS)
def particles(request):
    return [bimetallic_nanoparticle(np.random.default_rng(seed), kind=request.param, **SMALL)
            for seed in range(4)]


def test_core_shell_first_element_inside_core_radius():
    for seed in range(4):
        atoms = bimetallic_nanoparticle(np.random.default_rng(seed), **SMALL)
        symbols = symbols_of(atoms)
        distance = np.linalg.norm(atoms.positions - atoms.info["core_center"], axis=1)
        core, shell = distance[symbols == "Co"], distance[symbols == "Ag"]
        assert len(core) and len(shell)
        assert core.max() < atoms.info["core_radius"] < shell.min()
        assert core.max() < shell.min() - 1e-3  # a clean sphere, no shared boundary shell
        expected = round(atoms.info["requested_fraction"] * len(atoms))
        assert atoms.info["composition"]["Co"] == expected
        assert np.allclose(atoms.positions.mean(axis=0), atoms.info["center"], atol=1e-6)
        # The core is (nearly) centred: within core_offset (1 Å) of the centroid.
        assert np.linalg.norm(np.subtract(atoms.info["core_center"], atoms.info["center"])) <= 1.0
    # A centred core takes the particle's coordination shells around the centroid.
    atoms = bimetallic_nanoparticle(np.random.default_rng(0), core_offset=0.0, **SMALL)
    assert np.allclose(atoms.info["core_center"], atoms.info["center"])
    distance = np.linalg.norm(atoms.positions - atoms.info["center"], axis=1)
    symbols = symbols_of(atoms)
    assert distance[symbols == "Co"].max() <= distance[symbols == "Ag"].min() + 1e-9


def test_janus_elements_separated_by_the_plane():
    for seed in range(4):
        atoms = bimetallic_nanoparticle(np.random.default_rng(seed), kind="janus", **SMALL)
        symbols = symbols_of(atoms)
        normal = np.array(atoms.info["janus_normal"])
        height = (atoms.positions - atoms.info["center"]) @ normal
        first, second = height[symbols == "Co"], height[symbols == "Ag"]
        assert first.max() < atoms.info["janus_offset"] < second.min()
        assert np.linalg.norm(normal) == pytest.approx(1.0)
        expected = round(atoms.info["requested_fraction"] * len(atoms))
        assert atoms.info["composition"]["Co"] == expected


def test_random_alloy_fraction_and_mixing():
    for seed in range(4):
        atoms = bimetallic_nanoparticle(np.random.default_rng(seed), kind="random",
                                        fraction=0.4, **SMALL)
        is_co = symbols_of(atoms) == "Co"
        assert is_co.mean() == pytest.approx(0.4, abs=0.5 / len(atoms) + 1e-12)
        assert atoms.info["fraction"] == pytest.approx(is_co.mean())
        # Well mixed: the inner and the outer halves hold similar fractions of Co.
        distance = np.linalg.norm(atoms.positions - atoms.positions.mean(axis=0), axis=1)
        inner = distance < np.median(distance)
        assert abs(is_co[inner].mean() - is_co[~inner].mean()) < 0.2


def test_composition_and_lattice_constant(particles):
    for atoms in particles:
        symbols = symbols_of(atoms)
        assert atoms.info["composition"] == {"Co": int(np.sum(symbols == "Co")),
                                             "Ag": int(np.sum(symbols == "Ag"))}
        assert atoms.info["n_atoms"] == len(atoms) and set(symbols) <= {"Co", "Ag"}
        assert 0.3 <= atoms.info["requested_fraction"] <= 0.7
        # Vegard's law between FCC-equivalent Co and Ag, seen on the nearest neighbours.
        f = atoms.info["requested_fraction"]
        a = f * A_CO_FCC + (1.0 - f) * A_AG
        assert atoms.info["lattice_constant"] == pytest.approx(a, rel=1e-3)
        nearest, _ = cKDTree(atoms.positions).query(atoms.positions, k=2)
        assert np.median(nearest[:, 1]) == pytest.approx(a / np.sqrt(2.0), rel=1e-3)


def test_inside_cell(particles):
    for atoms in particles:
        assert np.allclose(atoms.cell.array, np.diag([40.0, 40.0, 40.0]))
        assert np.all(atoms.positions >= 2.0) and np.all(atoms.positions <= 38.0)
        assert not atoms.info["particle_clipped"]
        assert np.all(atoms.arrays["component"] == PARTICLE)


def test_on_zone_columns_along_the_beam(particles):
    for atoms in particles:
        assert atoms.info["tilt"] == 0.0 and atoms.info["zone"] == (1, 1, 0)
        # Nearest-neighbour bonds a/√2 [110] run exactly along z: atoms stack in columns.
        length = atoms.info["lattice_constant"] / np.sqrt(2.0)
        direction, count = bonds_near(atoms, np.array([0.0, 0.0, 1.0]), length)
        assert count > 0 and angle(direction, [0.0, 0.0, 1.0]) < 1e-6
        assert np.allclose(atoms.info["zone_axis"], [0.0, 0.0, 1.0])


@pytest.mark.parametrize("tilt", [2.0, 5.0, 12.0])
def test_tilt_rotates_the_zone_axis_by_the_angle(tilt):
    for seed in range(3):
        atoms = bimetallic_nanoparticle(np.random.default_rng(seed), tilt=tilt, **SMALL)
        length = atoms.info["lattice_constant"] / np.sqrt(2.0)
        direction, _ = bonds_near(atoms, np.array([0.0, 0.0, 1.0]), length)
        assert angle(direction, [0.0, 0.0, 1.0]) == pytest.approx(tilt, abs=1e-6)
        assert angle(direction, atoms.info["zone_axis"]) < 1e-6
        # Tilted about an in-plane axis perpendicular to the zone axis.
        axis = np.array(atoms.info["tilt_axis"])
        assert axis[2] == 0.0 and abs(np.dot(axis, direction)) < 1e-9
        assert atoms.info["tilt"] == tilt


def test_tilt_range_and_other_zone_axis():
    atoms = bimetallic_nanoparticle(np.random.default_rng(1), tilt=(3.0, 8.0),
                                    zone_axis=(1, 0, 0), lattice_constant=4.0, **SMALL)
    assert 3.0 <= atoms.info["tilt"] <= 8.0
    # Along [100] the shortest lattice vector is a [100] itself (second neighbours).
    direction, _ = bonds_near(atoms, np.array([0.0, 0.0, 1.0]), 4.0)
    assert angle(direction, [0.0, 0.0, 1.0]) == pytest.approx(atoms.info["tilt"], abs=1e-6)
    rows = crystal_to_beam((1, 1, 1))
    assert np.allclose(rows @ rows.T, np.eye(3))
    assert np.allclose(rows[2], np.ones(3) / np.sqrt(3.0))


def test_sphere_shape_and_other_elements():
    atoms = bimetallic_nanoparticle(np.random.default_rng(0), elements=("Pt", "Au"),
                                    shape="sphere", radius=8.0, fraction=0.25,
                                    cell=(30.0, 30.0, 30.0))
    distance = np.linalg.norm(atoms.positions - atoms.info["center"], axis=1)
    assert distance.max() <= 8.0 + 1e-6
    assert set(atoms.info["composition"]) == {"Pt", "Au"}
    assert atoms.info["elements"] == ("Pt", "Au") and atoms.info["shape"] == "sphere"


def test_kind_drawn_from_a_sequence():
    kinds = {bimetallic_nanoparticle(np.random.default_rng(seed), kind=KINDS, **SMALL)
             .info["kind"] for seed in range(12)}
    assert kinds == set(KINDS)


def test_reproducible():
    for kind in KINDS:
        first = bimetallic_nanoparticle(np.random.default_rng(9), kind=kind, tilt=(0, 5), **SMALL)
        again = bimetallic_nanoparticle(np.random.default_rng(9), kind=kind, tilt=(0, 5), **SMALL)
        assert np.array_equal(first.positions, again.positions)
        assert first.get_chemical_symbols() == again.get_chemical_symbols()
        other = bimetallic_nanoparticle(np.random.default_rng(10), kind=kind, **SMALL)
        assert len(first) != len(other) or not np.array_equal(first.positions, other.positions)


def test_find_sites_with_particle_scheme(particles):
    atoms = particles[0]
    sites = find_sites(atoms, scheme="nanoparticle")
    assert sites.counts.sum() == len(atoms) and np.all(sites.classes == 0)
    # On zone [110], columns hold several atoms each.
    assert sites.counts.max() > 3


@pytest.mark.parametrize("options, match", [
    (dict(elements=("Co", "Co")), "elements"),
    (dict(elements=("Co", "Xx")), "elements"),
    (dict(elements="CoAg"), "elements"),
    (dict(elements=("Co",)), "elements"),
    (dict(kind="alloy"), "kind"),
    (dict(kind=[]), "kind"),
    (dict(radius=0.0), "radius"),
    (dict(fraction=1.5), "fraction"),
    (dict(fraction=(0.8, 0.2)), "fraction"),
    (dict(tilt=95.0), "tilt"),
    (dict(tilt=-1.0), "tilt"),
    (dict(zone_axis=(0, 0, 0)), "zone_axis"),
    (dict(zone_axis=(1.0, 1.0, 0.0)), "zone_axis"),
    (dict(shape="cube"), "shape"),
    (dict(cell=(20.0, 20.0, 20.0), radius=12.0), "cell"),
    (dict(lattice_constant=0.0), "lattice_constant"),
    (dict(surface_energies=(1.0, 1.0)), "surface_energies"),
    (dict(margin=-1.0), "margin"),
    (dict(core_offset=-1.0), "core_offset"),
])
def test_bad_arguments_are_named(options, match):
    with pytest.raises(ParameterError, match=match):
        bimetallic_nanoparticle(np.random.default_rng(0), **options)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="rng"):
        bimetallic_nanoparticle(0)
