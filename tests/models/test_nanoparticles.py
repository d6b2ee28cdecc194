"""Supported FCC nanoparticles: geometry, stoichiometry, tilt and validation, measured on output."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from hrtemlake.models import PARTICLE, SUPPORT, supported_nanoparticle
from hrtemlake.models._geometry import rotation_matrix
from hrtemlake.models.nanoparticles import ceria_formula_unit

SEEDS = range(6)
# A small configuration keeps the folder fast; the default 60 Å cell gets its own check.
SMALL = dict(layers=(5, 7), cell=(40.0, 40.0, 30.0))


@pytest.fixture(scope="module")
def structures():
    return [supported_nanoparticle(np.random.default_rng(seed), **SMALL) for seed in SEEDS]


def measured_zone_axis(atoms):
    """The particle's [110] fitted from its lattice: the mean nearest-neighbour bond within 20°
    of the optical axis (the other <110> bonds are >= 60° away from it)."""
    positions = atoms.positions[atoms.arrays["component"] == PARTICLE]
    a = 4.08
    pairs = cKDTree(positions).query_pairs(1.05 * a / np.sqrt(2), output_type="ndarray")
    bonds = positions[pairs[:, 1]] - positions[pairs[:, 0]]
    bonds /= np.linalg.norm(bonds, axis=1)[:, None]
    bonds *= np.sign(bonds[:, 2])[:, None]
    along = bonds[bonds[:, 2] > np.cos(np.radians(20))]
    direction = along.mean(axis=0)
    return direction / np.linalg.norm(direction)


def angle(u, v):
    return np.degrees(np.arccos(np.clip(np.dot(u, v), -1.0, 1.0)))


def test_atoms_inside_cell_with_margin(structures):
    for atoms in structures:
        lengths = atoms.cell.lengths()
        assert np.all(atoms.positions >= 2.0 - 1e-9)
        assert np.all(atoms.positions <= lengths - 2.0 + 1e-9)


def test_default_cell_is_60_cubed():
    atoms = supported_nanoparticle(np.random.default_rng(7))
    assert np.allclose(atoms.cell.lengths(), 60.0)
    assert np.all((atoms.positions >= 2.0) & (atoms.positions <= 58.0))
    assert atoms.info["model"] == "nanoparticle" and atoms.info["element"] == "Au"
    assert all(7 <= n <= 15 for n in atoms.info["layers"])


def test_components_and_symbols(structures):
    for atoms in structures:
        component = atoms.arrays["component"]
        symbols = np.array(atoms.get_chemical_symbols())
        assert set(symbols[component == PARTICLE]) == {"Au"}
        assert set(symbols[component == SUPPORT]) <= {"Ce", "O"}
    assert any((s.arrays["component"] == SUPPORT).sum() > 100 for s in structures)


def test_support_is_exactly_ceo2(structures):
    # The support is cropped in whole O-Ce-O formula units, so O/Ce = 2 holds exactly.
    for atoms in structures:
        symbols = np.array(atoms.get_chemical_symbols())
        assert (symbols == "O").sum() == 2 * (symbols == "Ce").sum()


def test_support_is_fluorite(structures):
    # Every O sits a√3/4 from its nearest Ce and no Ce pair is closer than a/√2.
    a = 5.47
    for atoms in structures:
        symbols = np.array(atoms.get_chemical_symbols())
        ce, o = atoms.positions[symbols == "Ce"], atoms.positions[symbols == "O"]
        if len(ce) < 2:
            continue
        distance, _ = cKDTree(ce).query(o)
        assert np.allclose(distance, a * np.sqrt(3) / 4, atol=1e-6)
        ce_ce, _ = cKDTree(ce).query(ce, k=2)
        assert np.allclose(ce_ce[:, 1].min(), a / np.sqrt(2), atol=1e-6)


def test_ceria_unit_from_ase_fluorite():
    offsets = ceria_formula_unit(5.47)
    assert np.allclose(sorted(offsets.sum(axis=1)), [-3 * 5.47 / 4, 3 * 5.47 / 4])
    assert np.allclose(np.abs(offsets), 5.47 / 4)


def test_facet_one_angstrom_above_support(structures):
    checked = 0
    for atoms in structures:
        normal = np.array(atoms.info["interface_normal"])
        component = atoms.arrays["component"]
        height = atoms.positions @ normal
        particle, support = height[component == PARTICLE], height[component == SUPPORT]
        if len(support) == 0:
            continue
        # The support's top O plane lies 1 Å below the particle's (111) facet plane.
        assert particle.min() - support.max() == pytest.approx(1.0, abs=1e-6)
        checked += 1
    assert checked >= 3


def test_support_columns_along_beam(structures):
    # CeO2 [110] is along z: support atoms stack in columns of identical (x, y).
    for atoms in structures:
        support = atoms.positions[atoms.arrays["component"] == SUPPORT]
        if len(support) < 50:
            continue
        xy = np.round(support[:, :2], 4)
        _, per_column = np.unique(xy, axis=0, return_counts=True)
        assert per_column.mean() > 3


@pytest.mark.parametrize("max_tilt", [3.0, 10.0])
def test_tilt_recovered_from_lattice(max_tilt):
    for seed in range(4):
        atoms = supported_nanoparticle(np.random.default_rng(seed), max_tilt=max_tilt, **SMALL)
        zone = measured_zone_axis(atoms)
        tilt = atoms.info["tilt"]
        assert 0.0 <= tilt <= max_tilt
        assert angle(zone, [0.0, 0.0, 1.0]) == pytest.approx(tilt, abs=0.5)
        expected = rotation_matrix(atoms.info["tilt_axis"], tilt) @ [0.0, 0.0, 1.0]
        assert angle(zone, expected) < 0.5
        assert np.allclose(zone, atoms.info["zone_axis"], atol=1e-6)


def test_zero_tilt_keeps_zone_axis_on_beam():
    atoms = supported_nanoparticle(np.random.default_rng(3), max_tilt=0.0, **SMALL)
    assert atoms.info["tilt"] == 0.0
    assert angle(measured_zone_axis(atoms), [0.0, 0.0, 1.0]) < 1e-6


def test_tilt_axis_is_interface_normal(structures):
    for atoms in structures:
        axis, normal = np.array(atoms.info["tilt_axis"]), np.array(atoms.info["interface_normal"])
        assert abs(abs(axis @ normal) - 1.0) < 1e-12
        assert abs(normal[2]) < 1e-12


def test_cell_height_sets_support_thickness():
    thin = supported_nanoparticle(np.random.default_rng(1), cell_height=30.0, **SMALL)
    thick = supported_nanoparticle(np.random.default_rng(1), cell_height=50.0, **SMALL)
    for atoms, height in ((thin, 30.0), (thick, 50.0)):
        assert atoms.cell.lengths()[2] == height
        z = atoms.positions[atoms.arrays["component"] == SUPPORT, 2]
        assert z.max() - z.min() > height - 2 * 2.0 - 5.47
    drawn = supported_nanoparticle(np.random.default_rng(2), cell_height=(30.0, 50.0), **SMALL)
    assert 30.0 <= drawn.cell.lengths()[2] <= 50.0


def test_same_seed_same_structure_other_seed_differs():
    first = supported_nanoparticle(np.random.default_rng(11), **SMALL)
    again = supported_nanoparticle(np.random.default_rng(11), **SMALL)
    other = supported_nanoparticle(np.random.default_rng(12), **SMALL)
    assert np.array_equal(first.numbers, again.numbers)
    assert np.array_equal(first.positions, again.positions)
    assert first.info == again.info
    assert len(first) != len(other) or not np.allclose(first.positions, other.positions)


def test_other_fcc_element_and_no_support():
    atoms = supported_nanoparticle(np.random.default_rng(0), element="Pt", support=None, **SMALL)
    assert set(atoms.get_chemical_symbols()) == {"Pt"}
    assert np.all(atoms.arrays["component"] == PARTICLE)
    positions = atoms.positions
    nearest, _ = cKDTree(positions).query(positions, k=2)
    assert nearest[:, 1].min() == pytest.approx(3.92 / np.sqrt(2), abs=1e-6)


def test_single_layer_count():
    atoms = supported_nanoparticle(np.random.default_rng(0), layers=6, cell=(40.0, 40.0, 30.0))
    assert atoms.info["layers"] == (6, 6, 6)


def test_large_particles_are_clipped_at_the_margin():
    # The smallest particle fits a 35 Å cell, most drawn ones do not (thesis behaviour).
    atoms = supported_nanoparticle(np.random.default_rng(0), cell=(35.0, 35.0, 35.0))
    assert atoms.info["particle_clipped"]
    assert np.all((atoms.positions >= 2.0) & (atoms.positions <= 33.0))
    small = supported_nanoparticle(np.random.default_rng(2), cell=(35.0, 35.0, 35.0))
    assert not small.info["particle_clipped"]


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(element="Fe"), "'Fe' is not FCC"),
        (dict(element="Xx"), "'Xx' is not a known"),
        (dict(layers=(-1, 5)), "layers"),
        (dict(layers=(9, 7)), "layers"),
        (dict(max_tilt=-1.0), "max_tilt"),
        (dict(max_tilt=91.0), "max_tilt"),
        (dict(cell=(20.0, 60.0, 60.0)), r"cell x = 20\.0 Å is too small"),
        (dict(cell=(60.0, 60.0, 60.0), cell_height=(10.0, 60.0)), r"cell z \(cell_height\)"),
        (dict(cell_height=(50.0, 40.0)), "cell_height"),
        (dict(support="TiO2"), "support"),
        (dict(truncation=(0.6, 0.2)), "truncation"),
        (dict(margin=-1.0), "margin"),
        (dict(interface_distance=-1.0), "interface_distance"),
        (dict(cell=(60.0, 60.0)), "cell"),
    ],
)
def test_validation_errors_name_the_field(options, match):
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match=match):
        supported_nanoparticle(rng, **options)
    assert rng.bit_generator.state == state  # raised before any draw


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="rng"):
        supported_nanoparticle(42)
