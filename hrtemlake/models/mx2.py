"""Monolayer MX2 nanoflakes with X vacancies and holes, optionally on graphene.

Thesis §3.1 ("2D Monolayer Nanoflakes", Fig. 3.3), paper I (methods: graphene support, vacancies
and holes, tilt) and paper III (defect and tilt ranges).

A flake is a random convex-hull cut-out of a larger, randomly rotated and shifted sheet: random
atoms are picked inside the cell and every atom inside their hull is kept, so columns are never
split. Defects are made per atomic column (seen along the sheet normal):

* a hole removes a whole column (an M atom or an X2 pair), drawn among all columns;
* a vacancy removes one X, top or bottom at random, from a 2X column, leaving a 1X column.

The graphene flake is cut the same way, lies ``graphene_distance`` below the bottom X plane, and
is rotated against the flake by 0°, 15°, 30° or a random angle, a quarter of the cases each
(paper I). The whole system is then tilted about a random in-plane axis and centred in z.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.build import graphene as graphene_sheet
from ase.build import mx2 as mx2_sheet
from ase.data import atomic_numbers
from scipy.spatial import ConvexHull

from hrtemlake.models._checks import (
    check_generator,
    mx2_elements,
    check_int_range,
    check_lengths,
    check_number,
    check_probability,
    check_range,
)
from hrtemlake.models._geometry import inside_box, rotation_matrix, whole_groups
from hrtemlake.models.sites import PARTICLE, SUPPORT, column_labels
from hrtemlake.errors import ParameterError

KINDS = ("2H", "1T")
MX2_LATTICE_CONSTANT = 3.18
"""Default in-plane lattice constant [Å] (``ase.build.mx2``'s, MoS2)."""
MX2_THICKNESS = 3.19
"""Default X-X distance across the layer [Å] (``ase.build.mx2``'s, MoS2)."""
GRAPHENE_LATTICE_CONSTANT = 2.46
GRAPHENE_ROTATIONS = (0.0, 15.0, 30.0, None)
"""Graphene/flake relative rotations [deg], each drawn with probability 1/4; None = random."""


def mx2_flake(
    rng: np.random.Generator,
    formula: str = "MoS2",
    kind: str = "2H",
    a: float | None = None,
    thickness: float | None = None,
    size: Sequence[float] = (50.0, 50.0),
    cell_height: float | None = None,
    vacancy_fraction: float | tuple[float, float] = (0.0, 0.1),
    hole_fraction: float | tuple[float, float] = (0.0, 0.05),
    max_tilt: float = 1.0,
    graphene: bool | float = False,
    graphene_distance: float | tuple[float, float] = (3.3, 7.0),
    graphene_vacancy_fraction: float | tuple[float, float] = (0.0, 0.05),
    hull_points: int | tuple[int, int] = (6, 12),
    margin: float = 2.0,
) -> Atoms:
    """Build a random MX2 nanoflake (optionally graphene-supported) in a cell of ``size``.

    Parameters
    ----------
    rng
        Source of every random draw; the same generator state gives the same structure.
    formula
        MX2 formula, e.g. "MoS2", "WSe2".
    kind
        "2H" (X atoms stacked in 2X columns) or "1T" (no 2X columns, so no vacancies).
    a, thickness
        In-plane lattice constant and X-X layer thickness [Å]; ``None`` uses ASE's MoS2
        defaults (3.18 Å, 3.19 Å).
    size
        Lateral cell lengths (x, y) [Å].
    cell_height
        Cell height [Å]. ``None`` picks the smallest height that holds the most tilted,
        supported case the options allow (it does not depend on the draw).
    vacancy_fraction
        Range of the fraction of 2X columns made 1X, drawn after the holes.
    hole_fraction
        Range of the fraction of all flake columns (M and 2X) removed.
    max_tilt
        Maximum tilt of the sheet normal off the optical axis [deg], in [0, 90]; the tilt
        axis is a random in-plane direction. Defaults to 1° (paper III; paper I used 10°).
    graphene
        Probability of a graphene support (``True`` = always, ``False`` = never).
    graphene_distance
        Range of the distance between the graphene plane and the bottom X plane [Å].
    graphene_vacancy_fraction
        Range of the fraction of graphene C atoms removed.
    hull_points
        Range of the number of random atoms whose convex hull cuts out a flake.
    margin
        Vacuum kept free of atoms at every cell face [Å].

    Returns
    -------
    ase.Atoms
        ``arrays["component"]`` is :data:`PARTICLE` (0) for the flake and :data:`SUPPORT` (1)
        for graphene. ``info`` holds ``model`` ("mx2"), ``formula``, ``kind``, ``tilt`` [deg],
        ``tilt_axis`` (unit vector), ``rotation`` [deg], ``vacancy_fraction`` and
        ``hole_fraction`` (drawn), ``columns`` (flake columns before defects), ``holes``,
        ``vacancies``, ``graphene`` (bool) and, with graphene, ``graphene_distance`` [Å] and
        ``graphene_rotation`` [deg, relative to the flake].
    """
    check_generator(rng)
    metal, chalcogen = mx2_elements(formula)
    opts = _check_options(kind, a, thickness, size, cell_height, vacancy_fraction, hole_fraction,
                          max_tilt, graphene, graphene_distance, graphene_vacancy_fraction,
                          hull_points, margin)
    lengths = np.array([*opts["size"], opts["height"]])

    draws = _draw(rng, opts)
    unit = mx2_sheet(formula, kind, opts["a"], opts["thickness"])
    flake = _cut_flake(unit, rng, lengths, opts, draws["rotation"], draws["hull_points"][0])
    labels, _ = column_labels(flake.positions[:, :2], radius=0.1)
    keep, counts = _defects(flake.numbers, labels, atomic_numbers[metal], rng,
                            draws["hole_fraction"], draws["vacancy_fraction"])
    flake, labels = flake[keep], labels[keep]
    flake.arrays["component"] = np.full(len(flake), PARTICLE, dtype=np.int8)
    system, groups = flake, labels
    if draws["graphene"]:
        support = _graphene(rng, lengths, opts, draws)
        support.positions[:, 2] -= opts["thickness"] / 2 + draws["graphene_distance"]
        # Each C atom is its own column for the final crop.
        groups = np.concatenate([labels, labels.max(initial=-1) + 1 + np.arange(len(support))])
        system = flake + support

    axis = np.array([np.cos(draws["tilt_azimuth"]), np.sin(draws["tilt_azimuth"]), 0.0])
    _tilt_and_centre(system, axis, draws["tilt"], lengths)
    # The inset keeps every atom inside; cropping whole columns is only a safety net that
    # can never turn a 2X column into a spurious 1X one.
    atoms = system[whole_groups(inside_box(system.positions, lengths, margin), groups)]
    atoms.set_cell(lengths)
    atoms.pbc = False
    atoms.info.update(
        model="mx2", formula=formula, kind=kind, tilt=draws["tilt"],
        tilt_axis=tuple(float(v) for v in axis), rotation=draws["rotation"],
        vacancy_fraction=draws["vacancy_fraction"], hole_fraction=draws["hole_fraction"],
        graphene=bool(draws["graphene"]), margin=float(margin), **counts,
    )
    if draws["graphene"]:
        atoms.info.update(graphene_distance=draws["graphene_distance"],
                          graphene_rotation=draws["graphene_rotation"])
    return atoms


def _check_options(kind, a, thickness, size, cell_height, vacancy_fraction, hole_fraction,
                   max_tilt, graphene, graphene_distance, graphene_vacancy_fraction,
                   hull_points, margin) -> dict:
    """Validate every option before any work; return the normalised ones."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {KINDS}, got {kind!r}")
    opts = {
        "a": MX2_LATTICE_CONSTANT if a is None else check_number("a", a, low=1.0),
        "thickness": MX2_THICKNESS if thickness is None
        else check_number("thickness", thickness, low=0.0),
        "size": check_lengths("size", size, 2),
        "vacancy_fraction": check_range("vacancy_fraction", vacancy_fraction, 0.0, 1.0),
        "hole_fraction": check_range("hole_fraction", hole_fraction, 0.0, 1.0),
        "max_tilt": check_number("max_tilt", max_tilt, 0.0, 90.0),
        "graphene": check_probability("graphene", graphene),
        "graphene_distance": check_range("graphene_distance", graphene_distance, low=0.0),
        "graphene_vacancy_fraction": check_range("graphene_vacancy_fraction",
                                                 graphene_vacancy_fraction, 0.0, 1.0),
        "hull_points": check_int_range("hull_points", hull_points, low=3),
        "margin": check_number("margin", margin, low=0.0),
    }
    if kind == "1T" and opts["vacancy_fraction"][1] > 0:
        raise ParameterError("vacancy_fraction must be 0 for kind='1T': it has no 2X columns "
                         "(use hole_fraction)")
    _fit_cell(opts, cell_height)
    return opts


def _fit_cell(opts: dict, cell_height: float | None) -> None:
    """Set the lateral inset and the cell height so a tilted system never leaves the cell.

    Tilting by t about the system centre moves an atom at height h above it laterally by at
    most |h| sin t (plus an inward contraction), and spreads a system of lateral width W and
    vertical extent E over at most E cos t + W sin t in z.
    """
    extent = opts["thickness"] + (opts["graphene_distance"][1] if opts["graphene"] > 0 else 0.0)
    tilt = np.radians(opts["max_tilt"])
    opts["inset"] = opts["margin"] + 0.5 * extent * np.sin(tilt)
    inner = np.array(opts["size"]) - 2.0 * opts["inset"]
    if inner.min() < 2.0 * opts["a"]:
        raise ParameterError(
            f"size {opts['size']} Å leaves no room for a flake: each length must exceed "
            f"{2.0 * opts['inset'] + 2.0 * opts['a']:.1f} Å (margin, tilt allowance and two "
            "lattice constants)"
        )
    width = float(np.hypot(*inner))
    worst = min(tilt, np.arctan2(width, extent))  # E cos t + W sin t peaks at atan(W / E)
    needed = extent * np.cos(worst) + width * np.sin(worst) + 2.0 * opts["margin"]
    if cell_height is None:
        opts["height"] = float(np.ceil(needed))
        return
    opts["height"] = check_number("cell_height", cell_height, low=0.0)
    if opts["height"] < needed:
        raise ParameterError(
            f"cell_height = {opts['height']:.1f} Å is too small: a flake tilted by up to "
            f"{opts['max_tilt']}° over a {width:.1f} Å wide cell with {extent:.1f} Å vertical "
            f"extent needs >= {needed:.1f} Å including the margins (or pass None)"
        )


def _draw(rng: np.random.Generator, opts: dict) -> dict:
    """All scalar draws, in a fixed order, whether or not they end up used."""
    choice = int(rng.integers(len(GRAPHENE_ROTATIONS)))
    random_rotation = rng.uniform(0.0, 360.0)
    fixed = GRAPHENE_ROTATIONS[choice]
    return {
        "rotation": float(rng.uniform(0.0, 360.0)),
        "tilt": float(rng.uniform(0.0, opts["max_tilt"])),
        "tilt_azimuth": float(rng.uniform(0.0, 2.0 * np.pi)),
        "vacancy_fraction": float(rng.uniform(*opts["vacancy_fraction"])),
        "hole_fraction": float(rng.uniform(*opts["hole_fraction"])),
        "hull_points": rng.integers(opts["hull_points"][0], opts["hull_points"][1] + 1, size=2),
        "graphene": bool(rng.random() < opts["graphene"]),
        "graphene_distance": float(rng.uniform(*opts["graphene_distance"])),
        "graphene_rotation": float(random_rotation if fixed is None else fixed),
        "graphene_vacancy_fraction": float(rng.uniform(*opts["graphene_vacancy_fraction"])),
    }


def _sheet(unit: Atoms, rng: np.random.Generator, lengths: np.ndarray,
           rotation: float) -> Atoms:
    """A sheet of ``unit`` covering the cell laterally, shifted by a random lattice fraction
    and rotated by ``rotation`` [deg] about the cell's vertical centre line."""
    a1, a2 = unit.cell.array[0, :2], unit.cell.array[1, :2]
    a = np.linalg.norm(a1)
    radius = 0.5 * np.hypot(*lengths[:2]) + 2.0 * a
    # The n x n rhombus has an inscribed radius n a sqrt(3)/4; it must hold the disc.
    n = int(np.ceil(4.0 * radius / (np.sqrt(3.0) * a)))
    sheet = unit.repeat((n, n, 1))
    shift = rng.random(2) @ np.array([a1, a2]) - 0.5 * n * (a1 + a2)
    sheet.positions[:, :2] += shift
    sheet = sheet[np.hypot(*sheet.positions[:, :2].T) <= radius]
    turn = rotation_matrix([0.0, 0.0, 1.0], rotation)
    sheet.positions = sheet.positions @ turn.T + [*(0.5 * lengths[:2]), 0.0]
    return sheet


def _hull_mask(xy: np.ndarray, rng: np.random.Generator, low: float, high: np.ndarray,
               n_points: int) -> np.ndarray:
    """Atoms inside the convex hull of ``n_points`` random atoms from ``[low, high]``."""
    candidates = np.flatnonzero(np.all((xy >= low) & (xy <= high), axis=1))
    chosen = rng.choice(candidates, size=min(int(n_points), len(candidates)), replace=False)
    # QJ joggles the input, so collinear picks still give a (thin) hull instead of an error.
    hull = ConvexHull(xy[chosen], qhull_options="QJ")
    distance = xy @ hull.equations[:, :2].T + hull.equations[:, 2]
    return np.all(distance <= 1e-3, axis=1)


def _cut_flake(unit: Atoms, rng: np.random.Generator, lengths: np.ndarray, opts: dict,
               rotation: float, n_points: int) -> Atoms:
    sheet = _sheet(unit, rng, lengths, rotation)
    inset = opts["inset"]
    return sheet[_hull_mask(sheet.positions[:, :2], rng, inset, lengths[:2] - inset, n_points)]


def _defects(numbers: np.ndarray, labels: np.ndarray, metal: int, rng: np.random.Generator,
             hole_fraction: float, vacancy_fraction: float) -> tuple[np.ndarray, dict]:
    """Mask of atoms kept after making holes, then X vacancies; and the counts made."""
    n_columns = int(labels.max(initial=-1)) + 1
    holes = rng.choice(n_columns, size=int(round(hole_fraction * n_columns)), replace=False)
    keep = ~np.isin(labels, holes)
    x_count = np.bincount(labels[keep & (numbers != metal)], minlength=n_columns)
    doubles = np.flatnonzero(x_count == 2)
    chosen = rng.choice(doubles, size=int(round(vacancy_fraction * len(doubles))), replace=False)
    order = np.argsort(labels, kind="stable")
    first = np.searchsorted(labels[order], chosen)
    # A 2X column holds exactly two atoms, contiguous in `order`: drop one of them at random.
    keep[order[first + rng.integers(0, 2, size=len(chosen))]] = False
    return keep, {"columns": n_columns, "holes": len(holes), "vacancies": len(chosen)}


def _graphene(rng: np.random.Generator, lengths: np.ndarray, opts: dict, draws: dict) -> Atoms:
    """A graphene flake with C vacancies, in the plane z = 0."""
    unit = graphene_sheet(a=GRAPHENE_LATTICE_CONSTANT)
    rotation = draws["rotation"] + draws["graphene_rotation"]
    sheet = _sheet(unit, rng, lengths, rotation)
    inset = opts["inset"]
    sheet = sheet[_hull_mask(sheet.positions[:, :2], rng, inset, lengths[:2] - inset,
                             draws["hull_points"][1])]
    n_vacancies = int(round(draws["graphene_vacancy_fraction"] * len(sheet)))
    del sheet[rng.choice(len(sheet), size=n_vacancies, replace=False)]
    sheet.arrays["component"] = np.full(len(sheet), SUPPORT, dtype=np.int8)
    return sheet


def _tilt_and_centre(atoms: Atoms, axis: np.ndarray, tilt: float, lengths: np.ndarray) -> None:
    """Tilt about ``axis`` through the system centre, then centre the system in the cell."""
    low, high = atoms.positions.min(axis=0), atoms.positions.max(axis=0)
    pivot = np.array([0.5 * lengths[0], 0.5 * lengths[1], 0.5 * (low[2] + high[2])])
    positions = (atoms.positions - pivot) @ rotation_matrix(axis, tilt).T + pivot
    positions[:, 2] += 0.5 * lengths[2] - 0.5 * (positions[:, 2].min() + positions[:, 2].max())
    atoms.positions = positions


__all__ = [
    "GRAPHENE_LATTICE_CONSTANT",
    "GRAPHENE_ROTATIONS",
    "KINDS",
    "MX2_LATTICE_CONSTANT",
    "MX2_THICKNESS",
    "mx2_elements",
    "mx2_flake",
]
