"""Amorphous carbon films: random packings with a minimum distance, alone or as a support.

Seed 004 (Microsc. Microanal. 23, 2268 (2017)) denoises HR-TEM images of amorphous carbon made
by rapid quenches with a Tersoff potential. Without an MD engine, two cheap stand-ins are
offered; both give a homogeneous, isotropic film of the requested density with no two atoms
closer than ``min_distance``, which is what the projected potential of a thin film depends on:

``"random"``
    Random sequential addition: uniform trial positions, each rejected if it lies closer than
    ``min_distance`` to an atom already placed (a hard-sphere gas; the pair distribution is
    flat beyond the hard core). Trials are tested in batches against a periodic KD-tree.
``"quench-like"``
    Start from an ideal gas (uniform positions, overlaps allowed) and remove overlaps by
    repeatedly pushing every pair closer than ``min_distance`` apart along its bond, half the
    overlap each, until none is left: the steepest-descent relaxation of a purely repulsive
    soft-sphere potential. This piles neighbours up just beyond ``min_distance``, a first-shell
    peak in the pair distribution as a quench would give, but no bonding topology (no sp2/sp3).

The film fills the cell laterally and is periodic in x and y (``min_distance`` holds across
those faces, so it tiles seamlessly); along the beam (z) it occupies a slab of the given
thickness with ``vacuum`` above and below. The density is ``mass / (x · y · thickness)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from scipy.spatial import cKDTree

from hrtemlake.models._checks import check_generator, check_lengths, check_number, check_range
from hrtemlake.models.sites import PARTICLE, SUPPORT
from hrtemlake.errors import ParameterError

METHODS = ("random", "quench-like")
AMU_PER_A3_IN_G_PER_CM3 = 1.66053906660
"""1 u/Å³ in g/cm³."""
MAX_PACKING_FRACTION = 0.3
"""Largest hard-sphere volume fraction (spheres of diameter ``min_distance``) accepted; random
sequential addition jams at about 0.38 and slows down well before."""
_MAX_RELAX_STEPS = 2000


def amorphous_carbon(
    rng: np.random.Generator,
    cell: Sequence[float] = (40.0, 40.0, 20.0),
    density: float | tuple[float, float] = 2.0,
    min_distance: float = 1.3,
    method: str = "random",
    vacuum: float = 2.0,
    symbol: str = "C",
) -> Atoms:
    """Build a free-standing amorphous film that fills the cell laterally.

    Parameters
    ----------
    rng
        Source of every random draw; the same generator state gives the same structure.
    cell
        Lateral cell lengths and the film thickness (x, y, thickness) [Å]. The returned cell
        is ``thickness + 2 · vacuum`` high.
    density
        Mass density [g/cm³], or a (min, max) range to draw it from (amorphous carbon:
        about 1.8-2.2; 2.0 by default).
    min_distance
        Smallest allowed distance between two atoms [Å], periodic images in x, y included.
    method
        "random" (random sequential addition) or "quench-like" (overlap relaxation from an
        ideal gas); see the module docstring.
    vacuum
        Empty space above and below the film [Å].
    symbol
        Chemical symbol of the film's atoms.

    Returns
    -------
    ase.Atoms
        ``pbc`` is (True, True, False). ``arrays["component"]`` is
        :data:`~hrtemlake.models.sites.PARTICLE` everywhere. ``info`` holds ``model``
        ("amorphous"), ``element``, ``method``, ``requested_density`` (drawn) and ``density``
        (measured) [g/cm³], ``thickness`` [Å], ``min_distance`` (requested) and
        ``min_pair_distance`` (measured) [Å], ``n_atoms`` and ``vacuum``.
    """
    check_generator(rng)
    lengths = check_lengths("cell", cell, 3)
    check_number("vacuum", vacuum, low=0.0)
    options = _check_film("density", density, min_distance, method, symbol)
    box = np.asarray(lengths, dtype=float)
    positions, drawn = _film(rng, box, options)
    positions[:, 2] += vacuum
    atoms = Atoms([symbol] * len(positions), positions=positions,
                  cell=[box[0], box[1], box[2] + 2.0 * vacuum], pbc=(True, True, False))
    atoms.arrays["component"] = np.full(len(atoms), PARTICLE, dtype=np.int8)
    atoms.info.update(
        model="amorphous",
        element=symbol,
        method=method,
        requested_density=drawn,
        density=film_density(len(atoms), symbol, box),
        thickness=float(box[2]),
        min_distance=float(min_distance),
        min_pair_distance=_min_pair_distance(positions, box),
        n_atoms=len(atoms),
        vacuum=float(vacuum),
    )
    return atoms


def on_amorphous_support(
    atoms: Atoms,
    rng: np.random.Generator,
    thickness: float | tuple[float, float] = (10.0, 30.0),
    density: float | tuple[float, float] = 2.0,
    min_distance: float = 1.3,
    method: str = "random",
    gap: float | tuple[float, float] = 2.5,
    margin: float = 2.0,
    symbol: str = "C",
) -> Atoms:
    """Return a copy of ``atoms`` lying on an amorphous film (below it along the beam, z).

    The film fills the cell laterally (periodic in x and y) and its top lies ``gap`` below the
    lowest atom of ``atoms``. The structure keeps its place relative to the top of the cell;
    the cell grows downwards where the film and ``margin`` need more room than the vacuum
    under the structure offers (everything is then shifted up by the growth).

    Parameters
    ----------
    atoms
        A structure in an orthorhombic cell with the beam along z (any builder's output).
    rng
        Source of every random draw.
    thickness
        Film thickness [Å], or a (min, max) range to draw it from.
    density, min_distance, method, symbol
        As in :func:`amorphous_carbon`.
    gap
        Distance between the film's top and the structure's lowest atom [Å], or a range.
    margin
        Vacuum kept below the film [Å].

    Returns
    -------
    ase.Atoms
        The structure's atoms first, then the film's. ``arrays["component"]`` is the
        structure's (:data:`~hrtemlake.models.sites.PARTICLE` where it had none) and
        :data:`~hrtemlake.models.sites.SUPPORT` for the film. ``info`` is the structure's plus
        ``film_thickness`` [Å], ``film_density`` (measured) [g/cm³], ``film_gap`` [Å],
        ``film_method``, ``film_atoms`` and ``film_shift`` (how far the structure moved up) [Å].
    """
    if not isinstance(atoms, Atoms):
        raise ParameterError(f"atoms must be an ase.Atoms, got {type(atoms).__name__}")
    check_generator(rng)
    cell = atoms.cell.array
    if np.any(np.abs(cell - np.diag(np.diag(cell))) > 1e-9) or np.any(np.diag(cell) <= 0):
        raise ParameterError("atoms.cell must be orthorhombic with positive lengths "
                             f"(beam along z), got {cell.tolist()}")
    if len(atoms) == 0:
        raise ParameterError("atoms must hold at least one atom to put on a support")
    thicknesses = check_range("thickness", thickness, low=0.0)
    if thicknesses[0] <= 0:
        raise ParameterError(f"thickness must be > 0, got {thickness!r}")
    gaps = check_range("gap", gap, low=0.0)
    check_number("margin", margin, low=0.0)
    options = _check_film("density", density, min_distance, method, symbol)

    film_thickness = float(rng.uniform(*thicknesses))
    film_gap = float(rng.uniform(*gaps))
    lengths = np.diag(cell).copy()
    box = np.array([lengths[0], lengths[1], film_thickness])
    positions, _ = _film(rng, box, options)

    result = atoms.copy()
    if "component" not in result.arrays:
        result.arrays["component"] = np.full(len(result), PARTICLE, dtype=np.int8)
    bottom = result.positions[:, 2].min()
    positions[:, 2] += bottom - film_gap - film_thickness
    shift = max(0.0, margin - positions[:, 2].min())
    film = Atoms([symbol] * len(positions), positions=positions)
    film.arrays["component"] = np.full(len(film), SUPPORT,
                                       dtype=result.arrays["component"].dtype)
    result += film
    result.positions[:, 2] += shift
    lengths[2] += shift
    result.set_cell(lengths)
    result.info.update(
        film_thickness=film_thickness,
        film_density=film_density(len(film), symbol, box),
        film_gap=film_gap,
        film_method=method,
        film_atoms=len(film),
        film_shift=float(shift),
    )
    return result


def film_density(n_atoms: int, symbol: str, box: Sequence[float]) -> float:
    """Mass density [g/cm³] of ``n_atoms`` of ``symbol`` in a box of lengths ``box`` [Å]."""
    mass = n_atoms * atomic_masses[atomic_numbers[symbol]]
    return float(mass / np.prod(box) * AMU_PER_A3_IN_G_PER_CM3)


def _check_film(name: str, density, min_distance, method, symbol) -> dict:
    """Validate the film options shared by both public functions."""
    densities = check_range(name, density, low=0.0)
    if densities[0] <= 0:
        raise ParameterError(f"{name} must be > 0, got {density!r}")
    if check_number("min_distance", min_distance, low=0.0) <= 0:
        raise ParameterError(f"min_distance must be > 0, got {min_distance!r}")
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(symbol, str) or symbol not in atomic_numbers:
        raise ParameterError(f"symbol {symbol!r} is not a known chemical symbol")
    mass = atomic_masses[atomic_numbers[symbol]]
    number_density = densities[1] / AMU_PER_A3_IN_G_PER_CM3 / mass  # atoms / Å³
    fraction = number_density * np.pi * min_distance ** 3 / 6.0
    if fraction > MAX_PACKING_FRACTION:
        raise ParameterError(
            f"{name} = {densities[1]} g/cm³ with min_distance = {min_distance} Å fills "
            f"{fraction:.2f} of the volume with hard spheres; at most {MAX_PACKING_FRACTION} "
            "can be packed at random: lower the density or min_distance"
        )
    return {"densities": densities, "min_distance": float(min_distance), "method": method,
            "mass": float(mass)}


def _film(rng: np.random.Generator, box: np.ndarray, options: dict) -> tuple[np.ndarray, float]:
    """Draw a density and pack the film: positions in [0, x) × [0, y) × [0, thickness]."""
    density = float(rng.uniform(*options["densities"]))
    volume = float(np.prod(box))
    n_atoms = int(round(density / AMU_PER_A3_IN_G_PER_CM3 / options["mass"] * volume))
    if options["method"] == "random":
        positions = random_packing(rng, n_atoms, box, options["min_distance"])
    else:
        positions = relaxed_packing(rng, n_atoms, box, options["min_distance"])
    return positions, density


def _tree_box(box: np.ndarray, min_distance: float) -> np.ndarray:
    """KD-tree box: periodic in x and y; z padded so no pair is linked through its faces."""
    return np.array([box[0], box[1], box[2] + 2.0 * min_distance + 1.0])


def _wrap(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Wrap x and y into [0, length) and clamp z into [0, thickness], in place.

    The KD-trees need every coordinate strictly below their periodic box length.
    """
    for axis in (0, 1):
        positions[:, axis] = np.mod(positions[:, axis], box[axis])
        positions[positions[:, axis] >= box[axis], axis] = 0.0  # mod of a tiny negative
    np.clip(positions[:, 2], 0.0, box[2], out=positions[:, 2])
    return positions


def random_packing(rng: np.random.Generator, n_atoms: int, box: np.ndarray,
                   min_distance: float, max_trials: int | None = None) -> np.ndarray:
    """Random sequential addition of ``n_atoms`` points with no pair closer than ``min_distance``.

    Trial points are uniform in [0, x) × [0, y) × [0, z); x and y are periodic. They are drawn
    in batches; a trial is kept if it is at least ``min_distance`` from every point already
    kept, earlier trials of its batch included, so the result is exactly that of one-by-one
    addition.

    Raises
    ------
    ParameterError
        If more than ``max_trials`` (default ``200 · n_atoms + 10000``) trials are needed,
        i.e. the packing is jammed.
    """
    tree_box = _tree_box(box, min_distance)
    max_trials = 200 * n_atoms + 10_000 if max_trials is None else max_trials
    points = np.empty((0, 3))
    trials = 0
    while len(points) < n_atoms:
        need = n_atoms - len(points)
        batch = _wrap(rng.random((2 * need + 64, 3)) * box, box)
        trials += len(batch)
        if len(points):
            distance, _ = cKDTree(points, boxsize=tree_box).query(
                batch, distance_upper_bound=min_distance)
            batch = batch[distance >= min_distance]
        batch = batch[_sequential(batch, tree_box, min_distance)][:need]
        points = np.concatenate([points, batch])
        if len(points) < n_atoms and trials > max_trials:
            raise ParameterError(
                f"density too high for min_distance = {min_distance} Å: only {len(points)} of "
                f"{n_atoms} atoms could be placed in {trials} trials"
            )
    return points


def _sequential(batch: np.ndarray, tree_box: np.ndarray, min_distance: float) -> np.ndarray:
    """Mask of the trials kept when they are added one by one in order."""
    keep = np.ones(len(batch), dtype=bool)
    if len(batch) < 2:
        return keep
    pairs = cKDTree(batch, boxsize=tree_box).query_pairs(min_distance, output_type="ndarray")
    pairs = pairs[_pair_distances(batch, pairs, tree_box) < min_distance]
    # Each pair is (i, j) with i < j; deciding j needs i decided, so go by j.
    for i, j in pairs[np.argsort(pairs[:, 1], kind="stable")]:
        if keep[i]:
            keep[j] = False
    return keep


def _pair_distances(positions: np.ndarray, pairs: np.ndarray,
                    tree_box: np.ndarray) -> np.ndarray:
    return np.linalg.norm(_minimum_image(positions[pairs[:, 1]] - positions[pairs[:, 0]],
                                         tree_box), axis=1)


def _minimum_image(delta: np.ndarray, tree_box: np.ndarray) -> np.ndarray:
    delta = delta.copy()
    delta[:, :2] -= np.rint(delta[:, :2] / tree_box[:2]) * tree_box[:2]
    return delta


def relaxed_packing(rng: np.random.Generator, n_atoms: int, box: np.ndarray,
                    min_distance: float, max_steps: int = _MAX_RELAX_STEPS) -> np.ndarray:
    """Ideal-gas positions relaxed until no pair is closer than ``min_distance``.

    Each step moves both atoms of every overlapping pair apart along their bond by half of
    the overlap with ``1.02 · min_distance`` (the 2 % overshoot makes it converge in a finite
    number of steps), then wraps x, y periodically and clamps z into the slab.

    Raises
    ------
    ParameterError
        If overlaps remain after ``max_steps`` steps.
    """
    tree_box = _tree_box(box, min_distance)
    target = 1.02 * min_distance
    positions = _wrap(rng.random((n_atoms, 3)) * box, box)
    for _ in range(max_steps):
        pairs = cKDTree(positions, boxsize=tree_box).query_pairs(target, output_type="ndarray")
        delta = _minimum_image(positions[pairs[:, 1]] - positions[pairs[:, 0]], tree_box)
        distance = np.linalg.norm(delta, axis=1)
        if not np.any(distance < min_distance):
            return positions
        close = distance < target
        pairs, delta, distance = pairs[close], delta[close], distance[close]
        coincident = distance < 1e-9
        if coincident.any():  # no direction to push along: pick one at random
            delta[coincident] = rng.normal(size=(int(coincident.sum()), 3))
            distance[coincident] = np.linalg.norm(delta[coincident], axis=1)
            distance[coincident] = np.maximum(distance[coincident], 1e-9)
        push = (0.5 * (target - distance) / distance)[:, None] * delta
        move = np.zeros_like(positions)
        np.add.at(move, pairs[:, 0], -push)
        np.add.at(move, pairs[:, 1], push)
        positions = _wrap(positions + move, box)
    raise ParameterError(f"the quench-like relaxation did not remove all overlaps in {max_steps} "
                         f"steps: lower the density or min_distance = {min_distance} Å")


def _min_pair_distance(positions: np.ndarray, box: np.ndarray) -> float:
    """Smallest distance between two atoms, periodic in x and y [Å]; inf for < 2 atoms."""
    if len(positions) < 2:
        return float("inf")
    tree_box = np.array([box[0], box[1], 2.0 * box[2] + 2.0 * box.max() + 1.0])  # z: no wrap
    distance, _ = cKDTree(positions, boxsize=tree_box).query(positions, k=2)
    return float(distance[:, 1].min())


__all__ = [
    "AMU_PER_A3_IN_G_PER_CM3",
    "MAX_PACKING_FRACTION",
    "METHODS",
    "amorphous_carbon",
    "film_density",
    "on_amorphous_support",
    "random_packing",
    "relaxed_packing",
]
