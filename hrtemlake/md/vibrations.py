"""Frozen-phonon configurations with the vibrations an MD run measured (thesis ch. 5).

``perturb_atoms`` is the "Local Environment Frozen Phonon" method: every atom moves by a
Gaussian whose standard deviation along x, y and z is the amplitude of its class (element and
coordination number) in the amplitude table, so low-coordinated edge atoms move more than
atoms inside a flake. ``perturb_edge_atoms`` is the "Directional Edge Frozen Phonon" method:
edge atoms are redrawn in their local frame (y towards the nearest metal atom, x along the
edge) with the edge table's mean and standard deviation, then mapped back. Averaging exit
waves over such configurations puts the heterogeneous vibrational smearing of an MD run into
simulations of any number of structures (thesis Fig. 5.2).

``scale`` multiplies every standard deviation (the thesis' tuning knob, e.g. for beam
heating); the edge table's mean shift is geometry and is not scaled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from hrtemlake.errors import ParameterError
from hrtemlake.md.amplitudes import (
    AmplitudeTable,
    EdgeTable,
    VibrationTables,
    coordination_numbers,
    cutoff_radii,
    edge_frames,
)
from hrtemlake.models._checks import check_generator, check_number

__all__ = ["atom_sigmas", "perturb_atoms", "perturb_edge_atoms", "perturbed_configurations"]


def _amplitude_table(table) -> AmplitudeTable:
    if isinstance(table, VibrationTables):
        return table.amplitudes
    if isinstance(table, AmplitudeTable):
        return table
    if isinstance(table, Mapping):
        return (VibrationTables.from_dict(table).amplitudes if "amplitudes" in table
                else AmplitudeTable.from_dict(table))  # fmt: skip
    raise ParameterError(f"expected an amplitude table, got {type(table).__name__}")


def _edge_table(table) -> EdgeTable | None:
    if table is None or isinstance(table, EdgeTable):
        return table
    if isinstance(table, VibrationTables):
        return table.edges
    if isinstance(table, Mapping):
        return (VibrationTables.from_dict(table).edges if "amplitudes" in table
                else EdgeTable.from_dict(table))  # fmt: skip
    raise ParameterError(f"expected an edge table, got {type(table).__name__}")


def _radii(atoms: Atoms, cutoffs: Mapping[str, float]) -> dict[str, float]:
    symbols = atoms.get_chemical_symbols()
    natural = cutoff_radii(symbols)
    return {s: float(cutoffs.get(s, natural[s])) for s in natural}


def atom_sigmas(
    atoms: Atoms,
    amplitudes,
    neighbours: Mapping[str, str] | None = None,
    default_sigma: float | None = None,
) -> np.ndarray:
    """Every atom's amplitude along x, y, z [Å], (atom, 3), from its class in the table.

    Parameters
    ----------
    atoms
        The structure; coordination numbers use the table's cut-offs.
    amplitudes
        An :class:`AmplitudeTable` (or :class:`VibrationTables`, or their ``to_dict()``).
    neighbours
        The neighbour element that classes each element (default:
        :meth:`AmplitudeTable.neighbour_for`, e.g. Mo by its S neighbours and S by its Mo).
    default_sigma
        Isotropic amplitude [Å] of elements the table lacks (e.g. a graphene support);
        None makes them an error.
    """
    table = _amplitude_table(amplitudes)
    neighbours = dict(neighbours or {})
    radii = _radii(atoms, table.cutoffs)
    counts, elements = coordination_numbers(atoms, radii)
    symbols = np.array(atoms.get_chemical_symbols())
    known = set(table.elements())
    sigmas = np.zeros((len(atoms), 3))
    for element in elements:
        mine = symbols == element
        if element not in known:
            if default_sigma is None:
                raise ParameterError(
                    f"the amplitude table (elements {sorted(known)}) has no {element}: give an "
                    "amplitude for other elements (default_sigma / --phonon-sigma)"
                )
            sigmas[mine] = check_number("default_sigma", default_sigma, low=0.0)
            continue
        neighbour = neighbours.get(element) or table.neighbour_for(element)
        coordination = (counts[:, elements.index(neighbour)] if neighbour in elements
                        else np.zeros(len(atoms), dtype=int))  # fmt: skip
        for c in np.unique(coordination[mine]):
            sigmas[mine & (coordination == c)] = table.sigma(element, neighbour, int(c))
    return sigmas


@dataclass(frozen=True)
class _EdgePlan:
    indices: np.ndarray
    frames: np.ndarray
    sigma: np.ndarray
    mean: np.ndarray


def _edge_plans(reference: Atoms, table: EdgeTable | None) -> list[_EdgePlan]:
    if table is None:
        return []
    radii = _radii(reference, table.cutoffs)
    counts, elements = coordination_numbers(reference, radii)
    symbols = np.array(reference.get_chemical_symbols())
    plans = []
    for entry in table.entries:
        if entry.element not in elements or entry.metal not in elements:
            continue
        column = counts[:, elements.index(entry.metal)]
        indices = np.flatnonzero((symbols == entry.element) & (column == entry.coordination))
        if indices.size:
            frames = edge_frames(reference, indices, entry.metal, radii)
            plans.append(_EdgePlan(indices, frames, np.array(entry.sigma), np.array(entry.mean)))
    return plans


def _apply_edges(positions: np.ndarray, reference: np.ndarray, plans: list[_EdgePlan],
                 rng: np.random.Generator, scale: float, use_mean: bool) -> None:  # fmt: skip
    for plan in plans:
        q = rng.normal(size=(len(plan.indices), 3)) * plan.sigma * scale
        if use_mean:
            q = q + plan.mean
        positions[plan.indices] = reference[plan.indices] + np.einsum("aji,aj->ai", plan.frames, q)


def _check(rng, scale) -> float:
    check_generator(rng)
    return check_number("scale", scale, low=0.0)


def perturb_atoms(
    atoms: Atoms,
    amplitudes,
    rng: np.random.Generator,
    scale: float = 1.0,
    neighbours: Mapping[str, str] | None = None,
    default_sigma: float | None = None,
) -> Atoms:
    """A copy of ``atoms`` with each atom moved by a Gaussian of its class' amplitude.

    Parameters
    ----------
    atoms
        The structure (left unchanged).
    amplitudes
        The amplitude table (:func:`~hrtemlake.md.amplitudes.load_vibrations`,
        :func:`~hrtemlake.md.amplitudes.get_vibrational_amplitudes`).
    rng
        Source of the displacements.
    scale
        Factor on every amplitude.
    neighbours, default_sigma
        See :func:`atom_sigmas`.
    """
    scale = _check(rng, scale)
    sigmas = atom_sigmas(atoms, amplitudes, neighbours, default_sigma)
    perturbed = atoms.copy()
    perturbed.positions = atoms.positions + rng.normal(size=(len(atoms), 3)) * sigmas * scale
    return perturbed


def perturb_edge_atoms(
    atoms: Atoms,
    edges,
    rng: np.random.Generator,
    scale: float = 1.0,
    reference: Atoms | None = None,
    use_mean: bool = True,
) -> Atoms:
    """A copy of ``atoms`` with its edge atoms redrawn in their local frames.

    Edge atoms are those of each table entry's element with the entry's coordination to its
    metal in ``reference``. Each gets, in its frame, ``mean + scale · sigma · N(0, 1)`` added
    to its ``reference`` position; the other atoms are left as in ``atoms``.

    Parameters
    ----------
    atoms
        The structure (left unchanged), e.g. the output of :func:`perturb_atoms`.
    edges
        The edge table (or :class:`VibrationTables`); None or an empty table changes nothing.
    rng
        Source of the displacements.
    scale
        Factor on the standard deviations.
    reference
        Unperturbed structure giving edge atoms, frames and base positions (default: ``atoms``).
    use_mean
        Add the table's mean displacement (the thesis method); False draws around the
        reference position.
    """
    scale = _check(rng, scale)
    reference = atoms if reference is None else reference
    if len(reference) != len(atoms) or (reference.numbers != atoms.numbers).any():
        raise ParameterError("reference must hold the same atoms as atoms, in the same order")
    perturbed = atoms.copy()
    positions = perturbed.positions
    _apply_edges(positions, reference.positions, _edge_plans(reference, _edge_table(edges)),
                 rng, scale, use_mean)  # fmt: skip
    perturbed.positions = positions
    return perturbed


def perturbed_configurations(
    atoms: Atoms,
    tables,
    count: int,
    rng: np.random.Generator,
    scale: float = 1.0,
    default_sigma: float | None = None,
    use_mean: bool = True,
) -> list[Atoms]:
    """``count`` frozen-phonon configurations of ``atoms`` from an MD run's tables.

    Each is ``perturb_edge_atoms(perturb_atoms(atoms, ...), ..., reference=atoms)`` (the edge
    step only when the tables have edge entries); classes and frames are found once.
    """
    scale = _check(rng, scale)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ParameterError(f"count must be a positive integer, got {count!r}")
    if isinstance(tables, Mapping) and "amplitudes" in tables:
        tables = VibrationTables.from_dict(tables)
    sigmas = atom_sigmas(atoms, tables, None, default_sigma)
    plans = _edge_plans(atoms, tables.edges if isinstance(tables, VibrationTables) else None)
    configurations = []
    for _ in range(int(count)):
        positions = atoms.positions + rng.normal(size=(len(atoms), 3)) * sigmas * scale
        _apply_edges(positions, atoms.positions, plans, rng, scale, use_mean)
        configuration = atoms.copy()
        configuration.positions = positions
        configurations.append(configuration)
    return configurations
