"""Amplitude tables: known per-class vibrations recovered, edge frames, the lake tables."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.lake.check import check_lake
from hrtemlake.md import (
    MDTrajectory,
    build_system,
    coordination_numbers,
    edge_frames,
    get_edge_vibrations,
    get_vibrational_amplitudes,
    load_vibrations,
    run_md,
    vibration_tables,
    write_vibration_tables,
)

from .conftest import lj_settings

#: Known amplitudes along x, y, z [Å] per class: Mo by its S neighbours, S by its Mo neighbours.
TRUE_SIGMA = {
    ("Mo", 6): (0.050, 0.040, 0.030),
    ("S", 1): (0.120, 0.100, 0.080),
    ("S", 2): (0.090, 0.070, 0.060),
    ("S", 3): (0.060, 0.050, 0.040),
}


def _synthetic(steps: int, seed: int = 0) -> tuple[Atoms, np.ndarray]:
    """A flake whose atoms vibrate with the class amplitudes of TRUE_SIGMA (Gaussian, independent)."""
    flake = build_system("mos2-flake")
    counts, elements = coordination_numbers(flake)
    sigma = np.empty((len(flake), 3))
    for i, symbol in enumerate(flake.get_chemical_symbols()):
        other = "S" if symbol == "Mo" else "Mo"
        sigma[i] = TRUE_SIGMA[(symbol, int(counts[i, elements.index(other)]))]
    rng = np.random.default_rng(seed)
    positions = flake.positions + rng.normal(size=(steps, len(flake), 3)) * sigma
    return flake, positions


def test_known_class_amplitudes_are_recovered_within_5_percent():
    flake, positions = _synthetic(2000)
    trajectory = MDTrajectory(numbers=flake.numbers, cell=flake.cell.array, pbc=flake.pbc,
                              positions=positions, steps=np.arange(len(positions)))  # fmt: skip
    table = get_vibrational_amplitudes(trajectory, reference=flake)
    found = {(e.element, e.coordination): e for e in table.entries
             if e.neighbour == ("S" if e.element == "Mo" else "Mo")}  # fmt: skip
    assert set(found) == set(TRUE_SIGMA)
    for key, sigma in TRUE_SIGMA.items():
        np.testing.assert_allclose(found[key].sigma, sigma, rtol=0.05, err_msg=str(key))
        assert all(0 < s < 0.01 for s in found[key].stderr)  # classes of several atoms
    assert found[("Mo", 6)].atoms == 7 and found[("S", 1)].atoms == 12
    assert table.neighbour_for("Mo") == "S" and table.neighbour_for("S") == "Mo"
    assert table.cutoffs["Mo"] == pytest.approx(1.54) and table.steps == (0, 2000)
    # every element is also classed by every other neighbour element (all Mo have 0 Mo here)
    assert sorted((e.neighbour, e.coordination, e.atoms) for e in table.entries if e.element == "Mo") == [
        ("Mo", 0, 7), ("S", 6, 7)]  # fmt: skip


def test_streamed_blocks_and_ase_images_give_the_same_table():
    flake, positions = _synthetic(300, seed=1)
    template = {"numbers": flake.numbers, "cell": flake.cell.array, "pbc": flake.pbc}
    streamed = vibration_tables((template, (positions[i:i + 64] for i in range(0, 300, 64))),
                                reference=flake)  # fmt: skip
    images = []
    for p in positions:
        image = flake.copy()
        image.positions = p
        images.append(image)
    whole = vibration_tables(images, reference=flake)
    for a, b in zip(streamed.amplitudes.entries, whole.amplitudes.entries):
        assert a.element == b.element and a.coordination == b.coordination
        np.testing.assert_allclose(a.sigma, b.sigma, rtol=1e-10)


def test_cutoffs_can_be_overridden():
    flake, positions = _synthetic(50)
    images = [flake.copy() for _ in range(2)]
    images[1].positions = positions[1]
    table = get_vibrational_amplitudes(images, cutoffs={"Mo": 1.7}, reference=flake)
    # Mo–Mo at 3.18 Å are neighbours once Mo's radius is 1.7 Å: edge and centre Mo differ
    assert {(e.coordination, e.atoms) for e in table.entries
            if e.element == "Mo" and e.neighbour == "Mo"} == {(3, 6), (6, 1)}  # fmt: skip
    assert table.cutoffs["Mo"] == 1.7
    with pytest.raises(ParameterError, match="not chemical symbols"):
        get_vibrational_amplitudes(images, cutoffs={"Xx": 1.0})


def _hand_built_edge() -> tuple[Atoms, np.ndarray]:
    """Two Mo, a bridging S pair (2 Mo each) and an edge S pair (1 Mo) pointing along -u.

    u is the in-plane direction from the first Mo to its edge S pair, at 210°.
    """
    phi = np.deg2rad(210.0)
    u = np.array([np.cos(phi), np.sin(phi), 0.0])
    mo = np.array([[5.0, 5.0, 5.0], [8.18, 5.0, 5.0]])
    bridge = [[6.59, 5.92, 6.6], [6.59, 5.92, 3.4]]
    edge = [mo[0] + 1.84 * u + [0, 0, 1.56], mo[0] + 1.84 * u - [0, 0, 1.56]]
    atoms = Atoms("Mo2S4", positions=[*mo, *bridge, *edge], cell=[15, 12, 10])
    return atoms, u


def test_edge_frame_on_a_hand_built_edge():
    atoms, u = _hand_built_edge()
    counts, elements = coordination_numbers(atoms)
    assert list(counts[2:, elements.index("Mo")]) == [2, 2, 1, 1]
    top, bottom = edge_frames(atoms, np.array([4, 5]), "Mo")
    np.testing.assert_allclose(top[1], -u, atol=1e-12)  # y: towards the Mo
    np.testing.assert_allclose(top[2], [0, 0, 1], atol=1e-12)  # z: away from the Mo plane
    np.testing.assert_allclose(top[0], np.cross(-u, [0, 0, 1]), atol=1e-12)  # x: along the edge
    np.testing.assert_allclose(bottom[1], -u, atol=1e-12)
    np.testing.assert_allclose(bottom[2], [0, 0, -1], atol=1e-12)  # below: turned about y
    for frame in (top, bottom):
        np.testing.assert_allclose(frame @ frame.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(frame) == pytest.approx(1.0)


def test_edge_vibrations_are_measured_in_the_local_frame():
    atoms, u = _hand_built_edge()
    along = np.cross(-u, [0, 0, 1])
    rng = np.random.default_rng(7)
    steps = 4000
    positions = np.repeat(atoms.positions[None], steps, axis=0)
    for index, up in ((4, 1.0), (5, -1.0)):
        # 0.10 Å along the edge, 0.05 Å towards the Mo, 0.02 Å out of plane; the mean moves
        # 0.03 Å away from the Mo and 0.01 Å further out of the layer
        a, b, c = rng.normal(size=(3, steps))
        positions[:, index] += (np.outer(0.10 * a, along) + np.outer(0.05 * b - 0.03, -u)
                                + np.outer(up * (0.02 * c + 0.01), [0, 0, 1]))  # fmt: skip
    images = []
    for p in positions:
        image = atoms.copy()
        image.positions = p
        images.append(image)
    edges = get_edge_vibrations(images, reference=atoms)
    [entry] = edges.entries
    assert (entry.element, entry.metal, entry.coordination, entry.atoms) == ("S", "Mo", 1, 2)
    np.testing.assert_allclose(entry.sigma, [0.10, 0.05, 0.02], rtol=0.05)
    np.testing.assert_allclose(entry.mean, [0.0, -0.03, 0.01], atol=0.004)
    # a crystal without edges has no edge table
    cell = build_system("mos2-cell", {"repeat": 2})
    assert get_edge_vibrations([cell, cell.copy()]) is None


def test_tables_in_the_lake(lake):
    run_md(lake, "r", 20, "mos2-flake", lj_settings())
    tables = write_vibration_tables(lake, "md/r", start=2)
    assert tables.run == "r" and tables.amplitudes.steps == (2, 21)
    stored = load_vibrations(lake, "md/r")
    assert stored == tables  # NaN stderr aside, entries compare equal
    assert stored.edges is not None and stored.edges.entries[0].element == "S"
    attrs = lake.group("amplitudes", run="r").attrs
    assert attrs["steps"] == {"start": 2, "stop": 21, "reference": 0}
    assert attrs["cutoffs"]["S"] == pytest.approx(1.05)
    ds = lake.dataset("amplitudes", run="r")
    assert ds.sigma.attrs["units"] == "Å" and ds.sizes["entry"] == len(tables.amplitudes.entries)
    assert check_lake(lake.location) == []
    # the same request again returns the stored tables; other parameters need overwrite
    assert write_vibration_tables(lake, "r", start=2) == stored
    run_md(lake, "r", 24, "mos2-flake", lj_settings())
    with pytest.raises(LakeError, match="overwrite"):
        write_vibration_tables(lake, "r", start=2)
    again = write_vibration_tables(lake, "r", start=2, overwrite=True)
    assert again.amplitudes.steps == (2, 25)
    assert load_vibrations(lake, "r").amplitudes.steps == (2, 25)
    assert check_lake(lake.location) == []


def test_table_errors(lake):
    with pytest.raises(LakeError, match="no MD run"):
        write_vibration_tables(lake, "missing")
    run_md(lake, "r", 3, "mos2-flake", lj_settings())
    with pytest.raises(ParameterError, match="not a range of at least 2"):
        write_vibration_tables(lake, "r", start=3)
    with pytest.raises(LakeError, match="no amplitude table"):
        load_vibrations(lake, "r")
