"""CeO2-supported FCC nanoparticles (thesis §3.1 and Fig. 3.2; paper II, methods).

Geometry, before the random rotation about the optical axis (the "lab" frame):

* z (optical axis) is the particle's and the support's [110] zone axis;
* x is the normal of the (1-11) interface facet, which contains [110], so the particle/support
  interface is seen edge-on, as in thesis Fig. 3.2. The support (a CeO2(1-11) half-space of
  whole O-Ce-O trilayers) lies at x < 0 with its top O plane at x = 0; the particle's facet
  lies ``interface_distance`` above it;
* the off-zone tilt is a rotation of the particle alone about x (the interface normal), which
  keeps the facet parallel to the support (thesis Fig. 3.2: "rotated about the x-axis").

Then the whole system is rotated about z by a random angle, the particle is placed at a random
position in the cell where it fits, the support fills the rest of the cell on its side of the
interface, and everything closer than ``margin`` to a cell face is removed. The support's extent
along z, i.e. its thickness seen by the beam, is the drawn cell height minus twice the margin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.cluster import FaceCenteredCubic
from ase.data import atomic_numbers, reference_states

from hrtemlake.models._checks import (
    check_generator,
    check_int_range,
    check_lengths,
    check_number,
    check_range,
)
from hrtemlake.models._geometry import (
    fcc_points,
    inside_box,
    random_offset,
    rotation_matrix,
    whole_groups,
)
from hrtemlake.models.sites import PARTICLE, SUPPORT
from hrtemlake.errors import ParameterError

SURFACES = ((1, 0, 0), (1, 1, 0), (1, 1, 1))
"""Miller families whose numbers of layers set the particle size (thesis §3.1)."""
CERIA_LATTICE_CONSTANT = 5.47
"""CeO2 fluorite lattice constant [Å] (Materials Project, thesis §3.1)."""
SUPPORTS = ("CeO2", None)

_ZONE_AXIS = np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)
# A {111} normal perpendicular to [110]: the interface is then parallel to the beam.
_INTERFACE_NORMAL = np.array([1.0, -1.0, 1.0]) / np.sqrt(3.0)


def crystal_to_lab() -> np.ndarray:
    """Rotation taking cubic crystal coordinates to the lab frame (rows are lab axes).

    x = [1-11] (interface normal), z = [110] (zone axis), y = z × x = [1 -1 -2]/√6.
    """
    y = np.cross(_ZONE_AXIS, _INTERFACE_NORMAL)
    return np.array([_INTERFACE_NORMAL, y, _ZONE_AXIS])


def fcc_lattice_constant(element: str, lattice_constant: float | None = None) -> float:
    """Check that ``element`` is FCC in ASE's reference states; return its lattice constant [Å].

    Raises
    ------
    ValueError
        If the element is unknown or its reference state is not FCC.
    """
    number = atomic_numbers.get(element) if isinstance(element, str) else None
    if number is None:
        raise ParameterError(f"element {element!r} is not a known chemical symbol")
    state = reference_states[number]
    symmetry = None if state is None else state.get("symmetry")
    if symmetry != "fcc":
        raise ParameterError(
            f"element {element!r} is not FCC (its ASE reference state is {symmetry!r}); "
            "supported_nanoparticle builds FCC particles only"
        )
    if lattice_constant is None:
        return float(state["a"])
    return check_number("lattice_constant", lattice_constant, low=0.5)


def supported_nanoparticle(
    rng: np.random.Generator,
    element: str = "Au",
    layers: tuple[int, int] = (7, 15),
    max_tilt: float = 3.0,
    cell: Sequence[float] = (60.0, 60.0, 60.0),
    cell_height: float | tuple[float, float] | None = None,
    support: str | None = "CeO2",
    truncation: tuple[float, float] = (0.25, 0.5),
    interface_distance: float = 1.0,
    margin: float = 2.0,
    lattice_constant: float | None = None,
    support_lattice_constant: float = CERIA_LATTICE_CONSTANT,
) -> Atoms:
    """Build a random FCC nanoparticle on a CeO2(111) support, viewed along [110].

    Parameters
    ----------
    rng
        Source of every random draw; the same generator state gives the same structure.
    element
        Chemical symbol of an FCC element (ASE reference state), e.g. "Au", "Pt", "Pd".
    layers
        Range (inclusive) of the numbers of (100), (110) and (111) layers, drawn independently
        for each family (``ase.cluster.FaceCenteredCubic``; 7-15 in the thesis).
    max_tilt
        Maximum tilt of the particle's [110] zone axis off the optical axis [deg], in [0, 90]
        (3° in paper II). The drawn tilt is uniform in [0, max_tilt].
    cell
        Cell lengths (x, y, z) [Å]. z is the cell height unless ``cell_height`` is given.
    cell_height
        Cell height [Å], or a (min, max) range to draw it from; it sets the support thickness
        along the beam (thesis Fig. 3.2). ``None`` uses ``cell[2]``.
    support
        "CeO2" or ``None`` for an unsupported particle.
    truncation
        Range of the fraction of the particle's (1-11) layers cut away below the facet;
        0.5 cuts at the centre layer.
    interface_distance
        Distance between the particle's facet plane and the support's top O plane [Å].
    margin
        Vacuum kept free of atoms at every cell face [Å]; atoms closer are removed.
    lattice_constant
        Particle lattice constant [Å]; ``None`` uses ASE's reference value.
    support_lattice_constant
        CeO2 lattice constant [Å].

    Returns
    -------
    ase.Atoms
        ``arrays["component"]`` is :data:`PARTICLE` (0) or :data:`SUPPORT` (1).
        ``info`` holds the draws: ``model``, ``element``, ``layers``, ``tilt`` [deg],
        ``tilt_axis`` (unit vector, final frame, right-handed), ``zone_axis`` (the particle's
        [110], final frame), ``interface_normal`` (final frame, support to particle),
        ``rotation`` [deg] about z, ``truncation_layer``, ``particle_clipped``.

    Notes
    -----
    Particles larger than the cell are centred and clipped at the margin, as in the thesis;
    the support is cropped in whole CeO2 formula units (one Ce with the O above and below it in
    its trilayer), so its O/Ce ratio is exactly 2.
    """
    check_generator(rng)
    a = fcc_lattice_constant(element, lattice_constant)
    options = _check_options(layers, max_tilt, cell, cell_height, support, truncation,
                             interface_distance, margin, support_lattice_constant)
    _check_particle_fits(element, a, options["layers"][0], options["cell"],
                         options["heights"][0], margin)

    smallest, largest = options["layers"]
    n_layers = tuple(int(n) for n in rng.integers(smallest, largest + 1, size=3))
    height = rng.uniform(*options["heights"])
    tilt = rng.uniform(0.0, max_tilt)
    tilt_sign = rng.choice((-1.0, 1.0))
    rotation = rng.uniform(0.0, 360.0)
    cut_fraction = rng.uniform(*options["truncation"])
    registry = rng.uniform(0.0, support_lattice_constant, size=2)

    lab, cut_layer = _truncated_particle(element, a, n_layers, cut_fraction, interface_distance)
    tilt_axis = np.array([tilt_sign, 0.0, 0.0])
    spin = rotation_matrix([0.0, 0.0, 1.0], rotation)
    lab = lab @ rotation_matrix(tilt_axis, tilt).T
    turned = lab @ spin.T
    lengths = np.array([*options["cell"][:2], height])
    offset = random_offset(rng, turned.min(axis=0), turned.max(axis=0), lengths, margin)

    particle = Atoms([element] * len(turned), positions=turned + offset)
    inside = inside_box(particle.positions, lengths, margin)
    atoms = particle[inside]
    atoms.arrays["component"] = np.full(len(atoms), PARTICLE, dtype=np.int8)
    if support is not None:
        atoms += _ceria_support(spin, offset, registry, lengths, margin, support_lattice_constant)
    atoms.set_cell(lengths)
    atoms.pbc = False

    tilted_zone = spin @ rotation_matrix(tilt_axis, tilt) @ np.array([0.0, 0.0, 1.0])
    atoms.info.update(
        model="nanoparticle",
        element=element,
        support=support,
        layers=n_layers,
        tilt=float(tilt),
        tilt_axis=tuple(float(v) for v in spin @ tilt_axis),
        zone_axis=tuple(float(v) for v in tilted_zone),
        interface_normal=tuple(float(v) for v in spin @ np.array([1.0, 0.0, 0.0])),
        rotation=float(rotation),
        truncation_layer=int(cut_layer),
        particle_clipped=bool(not inside.all()),
        margin=float(margin),
    )
    return atoms


def _check_options(layers, max_tilt, cell, cell_height, support, truncation,
                   interface_distance, margin, support_lattice_constant) -> dict:
    """Validate every option before any work; return the normalised ones."""
    options = {"layers": check_int_range("layers", layers, low=1)}
    check_number("max_tilt", max_tilt, 0.0, 90.0)
    options["cell"] = check_lengths("cell", cell, 3)
    if cell_height is None:
        cell_height = options["cell"][2]
    options["heights"] = check_range("cell_height", cell_height, low=0.0)
    if options["heights"][0] <= 0:
        raise ParameterError(f"cell_height must be > 0, got {cell_height!r}")
    if support not in SUPPORTS:
        raise ParameterError(f"support must be one of {SUPPORTS}, got {support!r}")
    options["truncation"] = check_range("truncation", truncation, 0.0, 0.99)
    check_number("interface_distance", interface_distance, low=0.0)
    check_number("margin", margin, low=0.0)
    check_number("support_lattice_constant", support_lattice_constant, low=1.0)
    return options


def _particle(element: str, a: float, layers: Sequence[int]) -> np.ndarray:
    """Positions [Å] of the untruncated particle in crystal axes, centred at the origin."""
    cluster = FaceCenteredCubic(element, list(SURFACES), list(layers), latticeconstant=a)
    return cluster.positions


def _check_particle_fits(element: str, a: float, smallest: int, cell: Sequence[float],
                         height: float, margin: float) -> None:
    """Raise if even the smallest particle the options allow cannot fit in the cell.

    The smallest particle (every family at the lower layer count) is built here; it is cheap
    and consumes no randomness. Its diameter is bounded by twice its largest distance from the
    centroid, which holds for any rotation.
    """
    positions = _particle(element, a, (smallest,) * 3)
    diameter = 2.0 * np.linalg.norm(positions - positions.mean(axis=0), axis=1).max()
    needed = diameter + 2.0 * margin
    for name, length in (("x", cell[0]), ("y", cell[1]), ("z (cell_height)", height)):
        if length < needed:
            raise ParameterError(
                f"cell {name} = {length:.1f} Å is too small for the smallest particle "
                f"({element}, layers={smallest}): it needs >= {needed:.1f} Å "
                f"(particle diameter {diameter:.1f} Å + 2 x margin {margin:.1f} Å)"
            )


def _truncated_particle(element: str, a: float, layers: Sequence[int], cut_fraction: float,
                        interface_distance: float) -> tuple[np.ndarray, int]:
    """Particle in the lab frame, cut by a (1-11) plane, facet at x = interface_distance.

    The facet's centre lies on the x axis, so tilting about x keeps it in place.
    Returns the positions [Å] and the index of the cut layer counted from the bottom.
    """
    lab = _particle(element, a, layers) @ crystal_to_lab().T
    spacing = a / np.sqrt(3.0)  # (111) interplanar distance
    index = np.rint((lab[:, 0] - lab[:, 0].min()) / spacing).astype(int)
    cut = int(round(cut_fraction * index.max()))
    lab = lab[index >= cut]
    facet = index[index >= cut] == cut
    lab[:, 0] += interface_distance - lab[facet, 0].mean()
    lab[:, 1:] -= lab[facet, 1:].mean(axis=0)
    return lab, cut


def ceria_formula_unit(a: float = CERIA_LATTICE_CONSTANT) -> np.ndarray:
    """Offsets [Å] of the two O of a CeO2 formula unit from its Ce, in crystal axes.

    Taken from ``ase.build.bulk('CeO2', 'fluorite')`` and wrapped to the nearest image:
    ±(a/4)(1, 1, 1). Along any <111> normal they sit a/(4√3) above and below the Ce, i.e.
    a unit is exactly one O-Ce-O column of a (111) trilayer.
    """
    prim = bulk("CeO2", "fluorite", a=a)
    ce = prim.positions[prim.numbers == atomic_numbers["Ce"]][0]
    offsets = prim.positions[prim.numbers == atomic_numbers["O"]] - ce
    fractional = np.linalg.solve(prim.cell.array.T, offsets.T).T
    return (fractional - np.rint(fractional)) @ prim.cell.array


def _ceria_support(spin: np.ndarray, offset: np.ndarray, registry: np.ndarray,
                   lengths: np.ndarray, margin: float, a: float) -> Atoms:
    """CeO2 half-space (x_lab < 0, whole trilayers) cropped to the cell in whole formula units.

    ``registry`` shifts the lattice in the interface plane (lab y, z) [Å] so the particle lands
    on a random site of the support.
    """
    to_lab = crystal_to_lab()
    depth = a / (4.0 * np.sqrt(3.0))  # top O plane lies this far above its Ce plane
    shift = np.array([-depth, registry[0], registry[1]])
    corners = np.stack(np.meshgrid(*([0.0, length] for length in lengths), indexing="ij"),
                       axis=-1).reshape(-1, 3)
    crystal = ((corners - offset) @ spin - shift) @ to_lab  # inverse of the placement
    ce = fcc_points(crystal.min(axis=0), crystal.max(axis=0), a) @ to_lab.T + shift
    ce = ce[ce[:, 0] < 0.0]
    units = np.concatenate([ce[:, None, :], ce[:, None, :] + ceria_formula_unit(a) @ to_lab.T],
                           axis=1)
    positions = units.reshape(-1, 3) @ spin.T + offset
    unit_id = np.repeat(np.arange(len(ce)), 3)
    keep = whole_groups(inside_box(positions, lengths, margin), unit_id)
    symbols = np.tile([atomic_numbers["Ce"], atomic_numbers["O"], atomic_numbers["O"]], len(ce))
    support = Atoms(numbers=symbols[keep], positions=positions[keep])
    support.arrays["component"] = np.full(len(support), SUPPORT, dtype=np.int8)
    return support


__all__ = [
    "CERIA_LATTICE_CONSTANT",
    "PARTICLE",
    "SUPPORT",
    "SURFACES",
    "ceria_formula_unit",
    "crystal_to_lab",
    "fcc_lattice_constant",
    "supported_nanoparticle",
]
