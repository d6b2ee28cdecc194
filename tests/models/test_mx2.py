"""MX2 nanoflakes: defects, tilt, graphene support and validation, measured on output."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from hrtemlake.models import PARTICLE, SUPPORT, find_sites, mx2_flake
from hrtemlake.models._geometry import rotation_matrix

SEEDS = range(6)
DEFECTS = dict(vacancy_fraction=(0.1, 0.3), hole_fraction=(0.02, 0.08))


@pytest.fixture(scope="module")
def flakes():
    return [mx2_flake(np.random.default_rng(seed), graphene=0.5, **DEFECTS) for seed in SEEDS]


def sheet_normal(atoms):
    """Unit normal of the flake fitted to its Mo atoms (least squares plane), z > 0."""
    mo = atoms.positions[np.array(atoms.get_chemical_symbols()) == "Mo"]
    _, _, vt = np.linalg.svd(mo - mo.mean(axis=0))
    return vt[2] * np.sign(vt[2, 2])


def angle(u, v):
    return np.degrees(np.arccos(np.clip(np.dot(u, v), -1.0, 1.0)))


def test_atoms_inside_cell_with_margin(flakes):
    for atoms in flakes:
        assert np.all(atoms.positions >= 2.0 - 1e-9)
        assert np.all(atoms.positions <= atoms.cell.lengths() - 2.0 + 1e-9)


def test_flake_is_a_sizeable_cut_out(flakes):
    for atoms in flakes:
        assert atoms.info["columns"] > 30
        assert np.allclose(atoms.cell.lengths()[:2], 50.0)


def test_defect_fractions_measured_from_sites(flakes):
    for atoms in flakes:
        sites = find_sites(atoms)
        count = np.bincount(sites.classes, minlength=3)
        n_2x, n_1x = count[1], count[2]
        assert sites.class_names == ("Mo", "2S", "1S")
        vacancy = n_1x / (n_1x + n_2x)
        assert vacancy == pytest.approx(atoms.info["vacancy_fraction"], abs=0.5 / (n_1x + n_2x))
        columns = atoms.info["columns"]
        holes = (columns - len(sites)) / columns
        assert holes == pytest.approx(atoms.info["hole_fraction"], abs=0.5 / columns)
        assert n_1x == atoms.info["vacancies"]
        assert columns - len(sites) == atoms.info["holes"]


def test_column_classes_match_composition(flakes):
    for atoms in flakes:
        sites = find_sites(atoms)
        symbols = np.array(atoms.get_chemical_symbols())
        flake = sites.labels >= 0
        n_mo = np.bincount(sites.labels[flake & (symbols == "Mo")], minlength=len(sites))
        n_s = np.bincount(sites.labels[flake & (symbols == "S")], minlength=len(sites))
        expected = {0: (1, 0), 1: (0, 2), 2: (0, 1)}  # Mo, 2S, 1S
        for label, (mo, s) in expected.items():
            assert np.all(n_mo[sites.classes == label] == mo)
            assert np.all(n_s[sites.classes == label] == s)


def test_graphene_is_support_and_excluded_from_sites(flakes):
    supported = [atoms for atoms in flakes if atoms.info["graphene"]]
    assert supported and len(supported) < len(flakes)
    for atoms in flakes:
        component = atoms.arrays["component"]
        symbols = np.array(atoms.get_chemical_symbols())
        assert set(symbols[component == SUPPORT]) <= {"C"}
        assert set(symbols[component == PARTICLE]) == {"Mo", "S"}
        sites = find_sites(atoms)
        assert np.all(sites.labels[component == SUPPORT] == -1)
        assert np.all(sites.labels[component == PARTICLE] >= 0)
        assert sites.counts.sum() == (component == PARTICLE).sum()


def test_graphene_distance_below_bottom_sulphur(flakes):
    for atoms in (a for a in flakes if a.info["graphene"]):
        normal = sheet_normal(atoms)
        height = atoms.positions @ normal
        symbols = np.array(atoms.get_chemical_symbols())
        carbon = height[symbols == "C"]
        assert np.ptp(carbon) < 1e-6  # one flat layer
        gap = height[symbols == "S"].min() - carbon.mean()
        assert 3.3 <= gap <= 7.0
        assert gap == pytest.approx(atoms.info["graphene_distance"], abs=1e-6)


def lattice_angle(positions, bond):
    """Orientation [deg, mod 60] of a hexagonal lattice from its lattice-vector bonds."""
    pairs = cKDTree(positions[:, :2]).query_pairs(bond * 1.02, output_type="ndarray")
    vectors = positions[pairs[:, 1], :2] - positions[pairs[:, 0], :2]
    vectors = vectors[np.linalg.norm(vectors, axis=1) > bond * 0.98]
    return np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0])) % 60.0


def test_graphene_rotation_mix():
    # Paper I: 1/4 aligned, 1/4 at 15°, 1/4 at 30°, 1/4 random.
    rotations = []
    for seed in range(80):
        atoms = mx2_flake(np.random.default_rng(seed), graphene=True, max_tilt=0.0,
                          size=(30.0, 30.0))
        symbols = np.array(atoms.get_chemical_symbols())
        mo = lattice_angle(atoms.positions[symbols == "Mo"], 3.18)
        carbon = lattice_angle(atoms.positions[symbols == "C"], 2.46)
        relative = (np.median(carbon) - np.median(mo)) % 60.0
        drawn = atoms.info["graphene_rotation"] % 60.0
        assert min(abs(relative - drawn), 60.0 - abs(relative - drawn)) < 0.01
        rotations.append(atoms.info["graphene_rotation"])
    rotations = np.array(rotations)
    for fixed in (0.0, 15.0, 30.0):
        assert 10 <= np.sum(rotations == fixed) <= 30


def test_tilt_recovered_from_sheet(flakes):
    for max_tilt in (1.0, 10.0):
        for seed in range(3):
            atoms = mx2_flake(np.random.default_rng(seed), max_tilt=max_tilt)
            tilt = atoms.info["tilt"]
            normal = sheet_normal(atoms)
            assert 0.0 <= tilt <= max_tilt
            assert angle(normal, [0.0, 0.0, 1.0]) == pytest.approx(tilt, abs=0.5)
            expected = rotation_matrix(atoms.info["tilt_axis"], tilt) @ [0.0, 0.0, 1.0]
            assert angle(normal, expected) < 0.5
            assert np.all(atoms.positions <= atoms.cell.lengths() - 2.0 + 1e-9)


def test_same_seed_same_structure_other_seed_differs():
    first = mx2_flake(np.random.default_rng(5), graphene=True)
    again = mx2_flake(np.random.default_rng(5), graphene=True)
    other = mx2_flake(np.random.default_rng(6), graphene=True)
    assert np.array_equal(first.numbers, again.numbers)
    assert np.array_equal(first.positions, again.positions)
    assert first.info == again.info
    assert len(first) != len(other) or not np.allclose(first.positions, other.positions)


def test_other_formula_and_1t():
    wse2 = mx2_flake(np.random.default_rng(0), formula="WSe2", a=3.32, thickness=3.35)
    assert find_sites(wse2).class_names == ("W", "2Se", "1Se")
    one_t = mx2_flake(np.random.default_rng(0), kind="1T", vacancy_fraction=0.0)
    classes = find_sites(one_t).classes
    assert set(classes) == {0, 2}  # 1T has M and single-X columns only


def test_automatic_cell_height_holds_the_worst_case():
    atoms = mx2_flake(np.random.default_rng(1), max_tilt=10.0, graphene=True)
    assert atoms.cell.lengths()[2] >= 3.19 + 7.0 + 2 * 2.0
    assert np.all(atoms.positions[:, 2] <= atoms.cell.lengths()[2] - 2.0)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(formula="MoS3"), "formula"),
        (dict(formula="XxS2"), "formula"),
        (dict(kind="3R"), "kind"),
        (dict(vacancy_fraction=(0.2, 0.1)), "vacancy_fraction"),
        (dict(vacancy_fraction=(-0.1, 0.1)), "vacancy_fraction"),
        (dict(hole_fraction=(0.0, 1.5)), "hole_fraction"),
        (dict(max_tilt=95.0), "max_tilt"),
        (dict(max_tilt=-1.0), "max_tilt"),
        (dict(graphene=1.5), "graphene"),
        (dict(graphene=True, graphene_distance=(7.0, 3.3)), "graphene_distance"),
        (dict(graphene_vacancy_fraction=2.0), "graphene_vacancy_fraction"),
        (dict(size=(5.0, 50.0)), "size"),
        (dict(size=(50.0,)), "size"),
        (dict(cell_height=5.0), "cell_height"),
        (dict(margin=-1.0), "margin"),
        (dict(hull_points=(2, 5)), "hull_points"),
        (dict(kind="1T"), "vacancy_fraction"),
        (dict(a=-3.0), "a must"),
    ],
)
def test_validation_errors_name_the_field(options, match):
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match=match):
        mx2_flake(rng, **options)
    assert rng.bit_generator.state == state  # raised before any draw


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="rng"):
        mx2_flake(np.random.RandomState(0))
