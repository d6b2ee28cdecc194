"""perturb_atoms / perturb_edge_atoms: the perturbations have the tables' statistics."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.errors import ParameterError
from hrtemlake.md import (
    AmplitudeEntry,
    AmplitudeTable,
    EdgeEntry,
    EdgeTable,
    VibrationTables,
    atom_sigmas,
    build_system,
    coordination_numbers,
    edge_frames,
    perturb_atoms,
    perturb_edge_atoms,
    perturbed_configurations,
)

NAN3 = (None,) * 3
CUTOFFS = {"Mo": 1.54, "S": 1.05}
TABLE = AmplitudeTable(
    entries=(
        AmplitudeEntry("Mo", "S", 6, 7, (0.05, 0.04, 0.03), (0.001,) * 3),
        AmplitudeEntry("Mo", "Mo", 0, 7, (0.05, 0.04, 0.03), (0.001,) * 3),
        AmplitudeEntry("S", "Mo", 1, 12, (0.12, 0.10, 0.08), (0.002,) * 3),
        AmplitudeEntry("S", "Mo", 2, 6, (0.09, 0.07, 0.06), (0.002,) * 3),
        AmplitudeEntry("S", "Mo", 3, 1, (0.06, 0.05, 0.04), NAN3),
        AmplitudeEntry("S", "S", 0, 19, (0.10, 0.08, 0.06), (0.002,) * 3),
    ),
    cutoffs=CUTOFFS,
    steps=(100, 2100),
)
EDGES = EdgeTable((EdgeEntry("S", "Mo", 1, 12, (0.15, 0.08, 0.05), (0.0, -0.02, 0.01)),), CUTOFFS, (100, 2100))
TABLES = VibrationTables("mos2-300K", TABLE, EDGES)


def _classes(atoms):
    counts, elements = coordination_numbers(atoms)
    symbols = np.array(atoms.get_chemical_symbols())
    s_to_mo = counts[:, elements.index("Mo")]
    return symbols, s_to_mo


def test_perturbations_have_the_table_statistics():
    flake = build_system("mos2-flake")
    symbols, to_mo = _classes(flake)
    rng = np.random.default_rng(11)
    # perturbed_configurations draws exactly as repeated perturb_atoms calls (tested below)
    samples = np.stack([a.positions for a in perturbed_configurations(flake, TABLE, 3000, rng)])
    std = (samples - flake.positions).std(axis=0)
    for mask, expected in [
        (symbols == "Mo", (0.05, 0.04, 0.03)),
        ((symbols == "S") & (to_mo == 1), (0.12, 0.10, 0.08)),
        ((symbols == "S") & (to_mo == 2), (0.09, 0.07, 0.06)),
        ((symbols == "S") & (to_mo == 3), (0.06, 0.05, 0.04)),
    ]:
        np.testing.assert_allclose(std[mask].mean(axis=0), expected, rtol=0.05)
    np.testing.assert_allclose((samples - flake.positions).mean(axis=(0, 1)), 0.0, atol=2e-3)
    # scale multiplies every amplitude
    scaled = np.stack([perturb_atoms(flake, TABLE, rng, scale=2.0).positions for _ in range(200)])
    ratio = (scaled - flake.positions).std(axis=0).mean() / std.mean()
    assert ratio == pytest.approx(2.0, rel=0.05)
    np.testing.assert_allclose(atom_sigmas(flake, TABLE)[symbols == "Mo"], [(0.05, 0.04, 0.03)] * 7)


def test_unseen_coordinations_take_the_nearest_class_and_missing_elements_need_a_default():
    from ase.build import graphene

    flake = build_system("mos2-flake", {"rings": 2})  # has S classes the table may lack
    sigmas = atom_sigmas(flake, TABLE)
    assert np.isfinite(sigmas).all() and (sigmas > 0).all()
    sheet = graphene(size=(2, 2, 1))
    sheet.positions += [3, 3, 0]
    supported = flake + sheet
    with pytest.raises(ParameterError, match="has no C.*default_sigma"):
        atom_sigmas(supported, TABLE)
    sigmas = atom_sigmas(supported, TABLE, default_sigma=0.03)
    np.testing.assert_allclose(sigmas[supported.numbers == 6], 0.03)


def test_edge_atoms_are_redrawn_in_their_frames():
    flake = build_system("mos2-flake")
    symbols, to_mo = _classes(flake)
    edge = np.flatnonzero((symbols == "S") & (to_mo == 1))
    frames = edge_frames(flake, edge, "Mo")
    rng = np.random.default_rng(5)
    samples = np.stack([perturb_edge_atoms(flake, TABLES, rng).positions for _ in range(200)])
    local = np.einsum("aij,saj->sai", frames, samples[:, edge] - flake.positions[edge])
    np.testing.assert_allclose(local.std(axis=0).mean(axis=0), (0.15, 0.08, 0.05), rtol=0.05)
    standard_error = np.array([0.15, 0.08, 0.05]) / np.sqrt(local.shape[0] * len(edge))
    assert (np.abs(local.mean(axis=(0, 1)) - (0.0, -0.02, 0.01)) < 4 * standard_error).all()
    others = np.setdiff1d(np.arange(len(flake)), edge)
    assert (samples[:, others] == flake.positions[others]).all()
    # without the mean shift, the draws centre on the reference
    plain = np.stack([perturb_edge_atoms(flake, EDGES, rng, use_mean=False).positions[edge]
                      for _ in range(150)])  # fmt: skip
    plain_local = np.einsum("aij,saj->sai", frames, plain - flake.positions[edge])
    standard_error = np.array([0.15, 0.08, 0.05]) / np.sqrt(plain_local.shape[0] * len(edge))
    assert (np.abs(plain_local.mean(axis=(0, 1))) < 4 * standard_error).all()


def test_configurations_combine_both_methods_reproducibly():
    flake = build_system("mos2-flake")
    configurations = perturbed_configurations(flake, TABLES, 3, np.random.default_rng(2))
    rng = np.random.default_rng(2)
    for configuration in configurations:
        expected = perturb_edge_atoms(perturb_atoms(flake, TABLES, rng), TABLES, rng, reference=flake)
        np.testing.assert_array_equal(configuration.positions, expected.positions)
    again = perturbed_configurations(flake, TABLES.to_dict(), 3, np.random.default_rng(2))
    np.testing.assert_array_equal(again[2].positions, configurations[2].positions)


def test_tables_travel_as_plain_data():
    import json

    data = json.loads(json.dumps(TABLES.to_dict(), allow_nan=False))
    assert data["amplitudes"]["entries"][4]["stderr"] == [None, None, None]  # one atom: undefined
    back = VibrationTables.from_dict(data)
    assert back == TABLES and back.run == "mos2-300K"


def test_bad_arguments():
    flake = build_system("mos2-cell")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        perturb_atoms(flake, TABLE, 0)
    with pytest.raises(ParameterError, match="scale must be >= 0"):
        perturb_atoms(flake, TABLE, np.random.default_rng(), scale=-1)
    with pytest.raises(ParameterError, match="count must be a positive integer"):
        perturbed_configurations(flake, TABLES, 0, np.random.default_rng())
    with pytest.raises(ParameterError, match="same atoms"):
        perturb_edge_atoms(flake, EDGES, np.random.default_rng(), reference=build_system("mos2-flake"))
