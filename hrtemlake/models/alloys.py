"""Bimetallic (e.g. Co/Ag) nanoparticles with core-shell, Janus or random-alloy ordering.

Seed 004 (Int. J. Hydrogen Energy 42, 21751 (2017)) classifies HR-TEM images of Co/Ag
nanoalloys whose chemical orderings (core-shell, Janus, disordered alloy) were stabilised by
TB-SMA quenches; thesis §7.1 proposes a zone-axis classifier trained on particles aligned on,
and tilted off, a zone axis. This builder makes both kinds of training structures without an
MD engine:

* the particle is one FCC lattice (``ase.cluster.wulff_construction`` with the surface
  energies :data:`SURFACE_ENERGIES`, or a sphere cut from the lattice), so every column is
  straight. Its lattice constant follows Vegard's law between the two elements' FCC-equivalent
  constants (√2 × the nearest-neighbour distance of ASE's reference bulk, e.g. 3.53 Å for
  hcp Co, 4.09 Å for Ag), weighted by the drawn fraction; there is no relaxation of the
  Co/Ag misfit;
* its ``zone_axis`` (crystal indices, [110] by default) is turned onto the beam (z), the
  particle is spun about z by a random angle, then tilted by ``tilt`` about a random in-plane
  axis and placed at a random position in the cell;
* chemical ordering, for a drawn fraction f of the first element:

  ``"core-shell"``
      the first element fills the round(f · N) atoms nearest to the core centre, i.e. every
      atom within ``core_radius`` of it, the second element every atom outside. The core
      centre is the particle's centroid displaced by a random vector, uniform in a ball of
      radius ``core_offset`` (1 Å by default: a generic point, so no two atoms are equally
      far from it and the core is an exact sphere of exactly the requested count; a few Å
      give the off-centre cores Co@Ag is known for). ``core_radius`` lies halfway between
      the farthest core atom and the nearest shell atom. With ``core_offset=0`` atoms of the
      boundary coordination shell are equally far; they are split by their order.
  ``"janus"``
      a plane of random orientation through the particle splits it: the first element lies
      on the side opposite to ``janus_normal``, exactly round(f · N) atoms.
  ``"random"``
      round(f · N) atoms drawn at random are of the first element (a disordered alloy).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from numbers import Integral

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.cluster import wulff_construction
from ase.data import atomic_numbers
from ase.neighborlist import neighbor_list

from hrtemlake.models._checks import check_generator, check_lengths, check_number, check_range
from hrtemlake.models._geometry import fcc_points, inside_box, random_offset, rotation_matrix
from hrtemlake.models.sites import PARTICLE
from hrtemlake.errors import ParameterError

KINDS = ("core-shell", "janus", "random")
SHAPES = ("wulff", "sphere")
SURFACES = ((1, 0, 0), (1, 1, 0), (1, 1, 1))
SURFACE_ENERGIES = (1.0, 1.1, 0.9)
"""Relative surface energies of :data:`SURFACES` for the Wulff shape (ASE's example values:
a truncated octahedron with small {110} facets)."""


def fcc_equivalent_lattice_constant(element: str) -> float:
    """FCC lattice constant [Å] with ``element``'s nearest-neighbour distance: √2 · d_nn.

    d_nn is measured on ``ase.build.bulk(element)`` (ASE's reference state), so it works for
    fcc, hcp and bcc metals alike (Ag 4.09 Å; hcp Co 2.50 Å → 3.53 Å).

    Raises
    ------
    ParameterError
        If the element is unknown or ASE has no crystalline reference state for it.
    """
    if not isinstance(element, str) or element not in atomic_numbers:
        raise ParameterError(f"elements: {element!r} is not a known chemical symbol")
    return _fcc_equivalent(element)


@lru_cache(maxsize=None)
def _fcc_equivalent(element: str) -> float:
    try:
        crystal = bulk(element)
    except Exception:  # ASE raises several types for elements without a bulk reference
        raise ParameterError(f"elements: {element!r} has no crystalline reference state in ASE; "
                             "pass lattice_constant") from None
    distances = neighbor_list("d", crystal, 4.0)
    if len(distances) == 0:
        raise ParameterError(f"elements: {element!r} has no neighbour within 4 Å in its ASE "
                             "reference state; pass lattice_constant")
    return float(np.sqrt(2.0) * distances.min())


def bimetallic_nanoparticle(
    rng: np.random.Generator,
    elements: Sequence[str] = ("Co", "Ag"),
    kind: str | Sequence[str] = "core-shell",
    radius: float | tuple[float, float] = (8.0, 14.0),
    fraction: float | tuple[float, float] = (0.3, 0.7),
    tilt: float | tuple[float, float] | None = None,
    zone_axis: Sequence[int] = (1, 1, 0),
    shape: str = "wulff",
    cell: Sequence[float] = (50.0, 50.0, 50.0),
    lattice_constant: float | None = None,
    surface_energies: Sequence[float] = SURFACE_ENERGIES,
    core_offset: float = 1.0,
    margin: float = 2.0,
) -> Atoms:
    """Build a free FCC bimetallic particle seen along ``zone_axis``, optionally tilted off it.

    Parameters
    ----------
    rng
        Source of every random draw; the same generator state gives the same structure.
    elements
        Two different chemical symbols (first, second); ``fraction`` is the first's.
    kind
        Chemical ordering, "core-shell" (first element in the core), "janus" or "random";
        or a sequence of them to draw from uniformly (e.g. :data:`KINDS`).
    radius
        Radius [Å] of the sphere with the particle's volume (sets its number of atoms,
        4 atoms per a³), or a (min, max) range to draw it from.
    fraction
        Atomic fraction of the first element, in [0, 1], or a range to draw it from.
    tilt
        Tilt of the zone axis off the beam [deg], in [0, 90], about a random in-plane axis;
        a (min, max) range draws it; ``None`` is 0 (exactly on zone).
    zone_axis
        Crystal direction [uvw] put along the beam (integers, not all zero).
    shape
        "wulff" (``ase.cluster.wulff_construction``) or "sphere" (atoms of the lattice within
        the radius of a lattice site).
    cell
        Cell lengths (x, y, z) [Å]; the largest particle must fit in any orientation.
    lattice_constant
        FCC lattice constant [Å]; ``None`` uses Vegard's law (module docstring).
    surface_energies
        Relative energies of the {100}, {110} and {111} facets for the Wulff shape.
    core_offset
        Largest distance [Å] of a core-shell particle's core centre from its centroid.
    margin
        Vacuum kept free of atoms at every cell face [Å].

    Returns
    -------
    ase.Atoms
        ``arrays["component"]`` is :data:`~hrtemlake.models.sites.PARTICLE` everywhere.
        ``info`` holds ``model`` ("alloy"), ``elements``, ``kind``, ``composition``
        ({symbol: count}), ``fraction`` (realised) and ``requested_fraction`` (drawn),
        ``radius`` [Å] (drawn), ``n_atoms``, ``shape``, ``lattice_constant`` [Å], ``zone``
        (the crystal indices), ``zone_axis`` (its unit vector in the cell frame, tilted),
        ``tilt`` [deg], ``tilt_axis`` (unit vector), ``rotation`` [deg] about z, ``center``
        (the particle's centroid) [Å], ``core_center`` [Å] and ``core_radius`` [Å]
        (core-shell, else ``None``: the first element lies within ``core_radius`` of
        ``core_center``, the second outside),
        ``janus_normal`` and ``janus_offset`` [Å] (Janus, else ``None``: the first element
        has ``(r - center) · janus_normal < janus_offset``), ``particle_clipped`` and
        ``margin``.
    """
    check_generator(rng)
    opts = _check_options(elements, kind, radius, fraction, tilt, zone_axis, shape, cell,
                          lattice_constant, surface_energies, margin)
    check_number("core_offset", core_offset, low=0.0)
    first, second = opts["elements"]

    # Every scalar draw, in a fixed order, whether or not it is used.
    kind_drawn = opts["kinds"][int(rng.integers(len(opts["kinds"])))]
    radius_drawn = float(rng.uniform(*opts["radius"]))
    fraction_drawn = float(rng.uniform(*opts["fraction"]))
    tilt_drawn = float(rng.uniform(*opts["tilt"]))
    rotation = float(rng.uniform(0.0, 360.0))
    azimuth = float(rng.uniform(0.0, 360.0))
    normal = rng.normal(size=3)
    core_shift = rng.normal(size=3)
    core_shift *= core_offset * rng.random() ** (1.0 / 3.0) / np.linalg.norm(core_shift)

    a = opts["lattice_constant"] or _vegard(first, second, fraction_drawn)
    crystal = _particle(shape, a, radius_drawn, opts["surface_energies"])
    crystal = crystal - crystal.mean(axis=0)

    tilt_axis = np.array([np.cos(np.radians(azimuth)), np.sin(np.radians(azimuth)), 0.0])
    turn = (rotation_matrix(tilt_axis, tilt_drawn) @ rotation_matrix([0.0, 0.0, 1.0], rotation)
            @ crystal_to_beam(opts["zone"]))
    positions = crystal @ turn.T
    lengths = np.asarray(opts["cell"])
    offset = random_offset(rng, positions.min(axis=0), positions.max(axis=0), lengths, margin)
    positions += offset
    # Last, as the random ordering's draw depends on the number of atoms.
    is_first, extra = _decorate(kind_drawn, crystal, fraction_drawn, normal, core_shift, rng)
    inside = inside_box(positions, lengths, margin)
    symbols = np.where(is_first, first, second)[inside]

    atoms = Atoms(list(symbols), positions=positions[inside], cell=lengths, pbc=False)
    atoms.arrays["component"] = np.full(len(atoms), PARTICLE, dtype=np.int8)
    n_first = int(np.count_nonzero(symbols == first))
    if extra["janus_normal"] is not None:
        extra["janus_normal"] = tuple(float(v) for v in turn @ extra["janus_normal"])
    if extra["core_center"] is not None:
        extra["core_center"] = tuple(float(v) for v in turn @ extra["core_center"] + offset)
    atoms.info.update(
        model="alloy",
        elements=(first, second),
        kind=kind_drawn,
        composition={first: n_first, second: len(atoms) - n_first},
        fraction=n_first / len(atoms) if len(atoms) else 0.0,
        requested_fraction=fraction_drawn,
        radius=radius_drawn,
        n_atoms=len(atoms),
        shape=shape,
        lattice_constant=float(a),
        zone=opts["zone"],
        zone_axis=tuple(float(v) for v in turn @ _unit(opts["zone"])),
        tilt=tilt_drawn,
        tilt_axis=tuple(float(v) for v in tilt_axis),
        rotation=rotation,
        center=tuple(float(v) for v in offset),
        particle_clipped=bool(not inside.all()),
        margin=float(margin),
        **extra,
    )
    return atoms


def crystal_to_beam(zone: Sequence[int]) -> np.ndarray:
    """Rotation (rows are the cell axes in crystal coordinates) putting ``zone`` along z.

    x is the crystal direction perpendicular to the zone closest to the cube axis [001]
    (or [100] when the zone is [001] itself): for [110], x = [001] and y = [1-10]/√2.
    """
    z = _unit(zone)
    reference = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = reference - np.dot(reference, z) * z
    x /= np.linalg.norm(x)
    return np.array([x, np.cross(z, x), z])


def _unit(vector: Sequence[float]) -> np.ndarray:
    vector = np.asarray(vector, dtype=float)
    return vector / np.linalg.norm(vector)


def _vegard(first: str, second: str, fraction: float) -> float:
    """Lattice constant [Å] interpolated linearly between the elements' FCC equivalents."""
    return (fraction * fcc_equivalent_lattice_constant(first)
            + (1.0 - fraction) * fcc_equivalent_lattice_constant(second))


def _n_atoms(radius: float, a: float) -> int:
    """Atoms of an FCC sphere of ``radius`` [Å]: 4 per cubic cell of side ``a``."""
    return max(1, int(round(4.0 * (4.0 / 3.0) * np.pi * radius ** 3 / a ** 3)))


def _particle(shape: str, a: float, radius: float, energies: tuple[float, ...]) -> np.ndarray:
    """Positions [Å] of the particle in crystal axes (a copy, safe to modify)."""
    if shape == "wulff":
        return a * _wulff(_n_atoms(radius, a), energies)  # the shape scales with a
    points = fcc_points(np.full(3, -radius), np.full(3, radius), a)
    return points[np.linalg.norm(points, axis=1) <= radius + 1e-9]


@lru_cache(maxsize=256)
def _wulff(n_atoms: int, energies: tuple[float, ...]) -> np.ndarray:
    """Wulff cluster positions for a lattice constant of 1 (cached: a dataset reuses the
    same few sizes; the symbol is a placeholder, the atoms are relabelled)."""
    cluster = wulff_construction("Cu", list(SURFACES), list(energies), n_atoms, "fcc",
                                 rounding="closest", latticeconstant=1.0)
    positions = cluster.positions.copy()
    positions.flags.writeable = False
    return positions


def _decorate(kind: str, crystal: np.ndarray, fraction: float, normal: np.ndarray,
              core_shift: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Mask of first-element atoms, and the ordering's geometry (``info`` entries).

    ``crystal`` is centred on its centroid; the geometry is returned in its frame.
    """
    n = len(crystal)
    k = int(round(fraction * n))
    extra = {"core_center": None, "core_radius": None, "janus_normal": None,
             "janus_offset": None}
    if kind == "random":
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size=k, replace=False)] = True
        return mask, extra
    if kind == "core-shell":
        key = np.linalg.norm(crystal - core_shift, axis=1)
    else:
        unit = normal / np.linalg.norm(normal)
        key = crystal @ unit
    # The first element takes the k atoms of smallest key; the boundary lies halfway between.
    order = np.argsort(key, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    inner = key[order[k - 1]] if k > 0 else (0.0 if kind == "core-shell" else key.min() - 1.0)
    outer = key[order[k]] if k < n else key.max() + 1.0
    boundary = float(0.5 * (inner + outer))
    if kind == "core-shell":
        extra.update(core_center=core_shift, core_radius=boundary)
    else:
        extra.update(janus_normal=unit, janus_offset=boundary)
    return mask, extra


def _check_options(elements, kind, radius, fraction, tilt, zone_axis, shape, cell,
                   lattice_constant, surface_energies, margin) -> dict:
    """Validate every option before any work; return the normalised ones."""
    if isinstance(elements, str):
        raise ParameterError(f"elements must be a pair of symbols, e.g. ('Co', 'Ag'), "
                             f"got {elements!r}")
    try:
        first, second = elements
    except (TypeError, ValueError):
        raise ParameterError(f"elements must be a pair of symbols, got {elements!r}") from None
    for element in (first, second):
        if not isinstance(element, str) or element not in atomic_numbers:
            raise ParameterError(f"elements: {element!r} is not a known chemical symbol")
    if first == second:
        raise ParameterError(f"elements must be two different symbols, got {elements!r}")
    kinds = (kind,) if isinstance(kind, str) else kind
    try:
        kinds = tuple(kinds)
    except TypeError:
        raise ParameterError(f"kind must be one of {KINDS} or a sequence of them, "
                             f"got {kind!r}") from None
    if not kinds or any(k not in KINDS for k in kinds):
        raise ParameterError(f"kind must be one of {KINDS} or a sequence of them, got {kind!r}")
    opts = {"elements": (first, second), "kinds": kinds}
    opts["radius"] = check_range("radius", radius, low=0.0)
    if opts["radius"][0] <= 0:
        raise ParameterError(f"radius must be > 0, got {radius!r}")
    opts["fraction"] = check_range("fraction", fraction, 0.0, 1.0)
    opts["tilt"] = (0.0, 0.0) if tilt is None else check_range("tilt", tilt, 0.0, 90.0)
    opts["zone"] = _check_zone(zone_axis)
    if shape not in SHAPES:
        raise ParameterError(f"shape must be one of {SHAPES}, got {shape!r}")
    opts["cell"] = check_lengths("cell", cell, 3)
    opts["lattice_constant"] = (None if lattice_constant is None
                                else check_number("lattice_constant", lattice_constant, low=1.0))
    energies = check_lengths("surface_energies", surface_energies, len(SURFACES))
    opts["surface_energies"] = energies
    check_number("margin", margin, low=0.0)
    largest = opts["lattice_constant"] or max(fcc_equivalent_lattice_constant(first),
                                              fcc_equivalent_lattice_constant(second))
    _check_fits(shape, largest, opts["radius"][1], energies, opts["cell"], margin)
    return opts


def _check_zone(zone_axis) -> tuple[int, int, int]:
    try:
        items = tuple(zone_axis)
    except TypeError:
        raise ParameterError(f"zone_axis must be three integers [uvw], got {zone_axis!r}") from None
    if len(items) != 3 or any(isinstance(v, bool) or not isinstance(v, Integral) for v in items):
        raise ParameterError(f"zone_axis must be three integers [uvw], got {zone_axis!r}")
    if not any(items):
        raise ParameterError("zone_axis must not be [000]")
    return tuple(int(v) for v in items)


def _check_fits(shape: str, a: float, radius: float, energies: tuple[float, ...],
                cell: Sequence[float], margin: float) -> None:
    """Raise if the largest particle the options allow may not fit in every orientation.

    The largest particle is built (cached, no randomness); in any orientation its extent is
    at most twice its largest distance from its centroid.
    """
    positions = _particle(shape, a, radius, energies)
    reach = np.linalg.norm(positions - positions.mean(axis=0), axis=1).max()
    needed = 2.0 * reach + 2.0 * margin
    if min(cell) < needed:
        raise ParameterError(
            f"cell {tuple(cell)} Å is too small for the largest particle (radius {radius} Å): "
            f"every length needs >= {needed:.1f} Å (particle diameter {2.0 * reach:.1f} Å "
            f"+ 2 x margin {margin:.1f} Å)"
        )


__all__ = [
    "KINDS",
    "SHAPES",
    "SURFACES",
    "SURFACE_ENERGIES",
    "bimetallic_nanoparticle",
    "crystal_to_beam",
    "fcc_equivalent_lattice_constant",
]
