"""Single-wall carbon nanotubes seen side-on, for chirality classification.

After Förster et al., Carbon 169, 465 (2020) (seed 004): a CNN classifies HR-TEM images of
single-wall nanotubes by their chirality (n, m); the experimental tubes were told apart among
(11, 6) and its neighbours (10, 6), (11, 5), (11, 7) and (12, 6), which are the default
classes here (:data:`CHIRALITIES`).

The tube is rolled by :func:`ase.build.nanotube`, cut to a random length at a random phase of
its translational period, spun about its own axis by a random angle, laid with its axis in the
image plane (perpendicular to the beam, z) at a random angle from x, optionally tilted out of
the plane, and placed at a random position in the cell. Tubes longer than the cell are centred
and clipped at the margin, like tubes that cross the field of view.

Chirality conventions: ``n >= m >= 0`` and ``n >= 1``; (m, n) is the mirror image of (n, m).
The diameter is ``d = a / π · sqrt(n² + n m + m²)`` with the graphene lattice constant
``a = √3 · bond`` (2.46 Å for the default C-C bond of 1.42 Å), and the chiral angle is
``atan(√3 m / (2 n + m))`` (0° zigzag, 30° armchair). A tube is metallic when ``n - m`` is a
multiple of 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
from ase import Atoms
from ase.build import nanotube as ase_nanotube
from ase.data import atomic_numbers

from hrtemlake.models._checks import check_generator, check_lengths, check_number, check_range
from hrtemlake.models._geometry import inside_box, random_offset, rotation_matrix
from hrtemlake.models.sites import PARTICLE
from hrtemlake.errors import ParameterError

CHIRALITIES: tuple[tuple[int, int], ...] = ((10, 6), (11, 5), (11, 6), (11, 7), (12, 6))
"""Default chirality classes: (11, 6) and the neighbours the seed's classifier confused it
with (Carbon 169, 465 (2020), table of experimental regions). Diameters 11.1-12.4 Å."""
CC_BOND = 1.42
"""C-C bond length [Å] (``ase.build.nanotube``'s default); a = √3 · 1.42 Å ≈ 2.46 Å."""


def tube_diameter(n: int, m: int, bond: float = CC_BOND) -> float:
    """Diameter [Å] of an (n, m) tube: ``√3 · bond / π · sqrt(n² + n m + m²)``."""
    n, m = check_chirality("chirality", (n, m))
    return float(np.sqrt(3.0) * bond / np.pi * np.sqrt(n * n + n * m + m * m))


def chiral_angle(n: int, m: int) -> float:
    """Chiral angle [deg] of an (n, m) tube: 0 for zigzag (n, 0), 30 for armchair (n, n)."""
    n, m = check_chirality("chirality", (n, m))
    return float(np.degrees(np.arctan2(np.sqrt(3.0) * m, 2.0 * n + m)))


def chirality_class(n: int, m: int,
                    chiralities: Sequence[tuple[int, int]] = CHIRALITIES) -> int:
    """Index of (n, m) in ``chiralities``: the class label of a tube for a classifier.

    Raises
    ------
    ParameterError
        If (n, m) is not a valid chirality or not one of ``chiralities``.
    """
    pair = check_chirality("chirality", (n, m))
    classes = check_chiralities(chiralities)
    try:
        return classes.index(pair)
    except ValueError:
        raise ParameterError(f"chirality {pair} is not one of the classes {classes}") from None


def chirality_name(pair: Sequence[int]) -> str:
    """The class name of a chirality: ``"(n,m)"`` (no spaces), e.g. ``"(11,6)"``."""
    n, m = pair
    return f"({int(n)},{int(m)})"


def check_chirality(name: str, value: object) -> tuple[int, int]:
    """Return ``value`` as an (n, m) pair of ints with ``n >= m >= 0`` and ``n >= 1``."""
    try:
        n, m = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be an (n, m) pair of integers, got {value!r}") from None
    for item in (n, m):
        if isinstance(item, bool) or not isinstance(item, Integral):
            raise ParameterError(f"{name} must hold integers, got {value!r}")
    if not (n >= 1 and 0 <= m <= n):
        raise ParameterError(f"{name} must satisfy n >= m >= 0 and n >= 1 (use (n, m), not its "
                             f"mirror (m, n)), got ({n}, {m})")
    return int(n), int(m)


def check_chiralities(value: object) -> list[tuple[int, int]]:
    """Return a non-empty list of distinct valid (n, m) pairs."""
    if isinstance(value, (str, bytes)):
        raise ParameterError(f"chiralities must be a sequence of (n, m) pairs, got {value!r}")
    try:
        items = list(value)  # type: ignore[arg-type]
    except TypeError:
        raise ParameterError(f"chiralities must be a sequence of (n, m) pairs, "
                             f"got {value!r}") from None
    pairs = [check_chirality(f"chiralities[{i}]", item) for i, item in enumerate(items)]
    if not pairs:
        raise ParameterError("chiralities must hold at least one (n, m) pair")
    if len(set(pairs)) != len(pairs):
        raise ParameterError(f"chiralities must be distinct, got {pairs}")
    return pairs


def nanotube(
    rng: np.random.Generator,
    n: int | None = None,
    m: int | None = None,
    length: float | tuple[float, float] = (20.0, 40.0),
    cell: Sequence[float] = (60.0, 60.0, 30.0),
    chiralities: Sequence[tuple[int, int]] = CHIRALITIES,
    max_tilt: float = 0.0,
    bond: float = CC_BOND,
    symbol: str = "C",
    margin: float = 2.0,
) -> Atoms:
    """Build a single-wall nanotube lying in the image plane at a random angle and position.

    Parameters
    ----------
    rng
        Source of every random draw; the same generator state gives the same structure.
    n, m
        Chirality, both or neither; ``None`` draws it uniformly from ``chiralities``.
    length
        Tube length [Å], or a (min, max) range to draw it from uniformly.
    cell
        Cell lengths (x, y, z) [Å]; z is along the beam and must hold the tube's diameter
        plus twice the margin.
    chiralities
        Classes to draw (n, m) from; ``info["chirality_class"]`` indexes into them.
    max_tilt
        Maximum tilt of the tube axis out of the image plane [deg], in [0, 90]; the drawn tilt
        is uniform in [0, max_tilt] with a random sign. 0 keeps the axis perpendicular to
        the beam.
    bond
        C-C bond length [Å] (lattice constant a = √3 · bond).
    symbol
        Chemical symbol of the tube's atoms.
    margin
        Vacuum kept free of atoms at every cell face [Å]; atoms closer are removed.

    Returns
    -------
    ase.Atoms
        ``arrays["component"]`` is :data:`~hrtemlake.models.sites.PARTICLE` everywhere.
        ``info`` holds ``model`` ("nanotube"), ``element``, ``chirality`` (n, m),
        ``chirality_class`` (index into ``chiralities``, ``None`` for a given chirality not
        among them), ``diameter`` [Å] (from the chirality formula), ``chiral_angle`` [deg],
        ``class`` (the chirality as text, ``"(n,m)"``, see :func:`chirality_name`),
        ``class_names`` (``chiralities`` as such texts: the dataset's classes, see
        :func:`hrtemlake.simulate.dataset.simulate_structures`), ``metallic``, ``length`` [Å], ``angle`` [deg] (axis azimuth from x, in [0, 180)),
        ``tilt`` [deg] (signed, out of the image plane), ``axis`` (unit vector),
        ``center`` (a point of the axis, mid-length) [Å], ``spin`` [deg] (rotation about the
        tube's own axis), ``clipped`` (atoms were cut at the cell faces) and ``margin``.
    """
    check_generator(rng)
    classes = check_chiralities(chiralities)
    if (n is None) != (m is None):
        raise ParameterError(f"n and m must be given together (or neither), got n={n!r}, m={m!r}")
    given = None if n is None else check_chirality("(n, m)", (n, m))
    lengths_range = check_range("length", length, low=0.0)
    if lengths_range[0] <= 0:
        raise ParameterError(f"length must be > 0, got {length!r}")
    lengths = np.array(check_lengths("cell", cell, 3))
    check_number("max_tilt", max_tilt, 0.0, 90.0)
    check_number("bond", bond, low=0.5)
    if not isinstance(symbol, str) or symbol not in atomic_numbers:
        raise ParameterError(f"symbol {symbol!r} is not a known chemical symbol")
    check_number("margin", margin, low=0.0)
    candidates = [given] if given is not None else classes
    widest = max(tube_diameter(*pair, bond=bond) for pair in candidates)
    if lengths[2] < widest + 2.0 * margin:
        raise ParameterError(
            f"cell[2] = {lengths[2]:.1f} Å is too small: the tube needs >= "
            f"{widest + 2.0 * margin:.1f} Å along the beam (diameter {widest:.1f} Å + "
            f"2 x margin {margin:.1f} Å)"
        )

    # Every draw, in a fixed order, whether or not it is used.
    index = int(rng.integers(len(classes)))
    tube_length = float(rng.uniform(*lengths_range))
    phase = float(rng.random())
    spin = float(rng.uniform(0.0, 360.0))
    angle = float(rng.uniform(0.0, 180.0))
    tilt = float(rng.uniform(0.0, max_tilt) * rng.choice((-1.0, 1.0)))

    chirality = given if given is not None else classes[index]
    positions = _tube(chirality, tube_length, phase, bond, symbol)
    # Axis z -> x (a rotation about y), tilt out of the plane about y, then turn about z.
    to_x = rotation_matrix([0.0, 1.0, 0.0], 90.0)
    turn = (rotation_matrix([0.0, 0.0, 1.0], angle) @ rotation_matrix([0.0, 1.0, 0.0], -tilt)
            @ to_x @ rotation_matrix([0.0, 0.0, 1.0], spin))
    positions = positions @ turn.T
    offset = random_offset(rng, positions.min(axis=0), positions.max(axis=0), lengths, margin)
    positions += offset
    inside = inside_box(positions, lengths, margin)

    atoms = Atoms([symbol] * int(inside.sum()), positions=positions[inside], cell=lengths,
                  pbc=False)
    atoms.arrays["component"] = np.full(len(atoms), PARTICLE, dtype=np.int8)
    axis = turn @ np.array([0.0, 0.0, 1.0])
    atoms.info.update(
        model="nanotube",
        element=symbol,
        chirality=chirality,
        chirality_class=classes.index(chirality) if chirality in classes else None,
        # the class of the model for a classifier (stored by simulate_structures as the
        # index of "class" in "class_names": the dataset's classes)
        **{"class": chirality_name(chirality),
           "class_names": [chirality_name(pair) for pair in classes]},
        diameter=tube_diameter(*chirality, bond=bond),
        chiral_angle=chiral_angle(*chirality),
        metallic=bool((chirality[0] - chirality[1]) % 3 == 0),
        length=tube_length,
        angle=angle,
        tilt=tilt,
        axis=tuple(float(v) for v in axis),
        center=tuple(float(v) for v in offset),
        spin=spin,
        clipped=bool(not inside.all()),
        margin=float(margin),
    )
    return atoms


def _tube(chirality: tuple[int, int], length: float, phase: float, bond: float,
          symbol: str) -> np.ndarray:
    """Positions [Å] of a tube of ``length`` along z, centred at the origin.

    The tube is cut from whole translational periods starting at ``phase`` (a fraction of one
    period), so its ends fall at a random place of the helical lattice.
    """
    period = float(ase_nanotube(*chirality, length=1, bond=bond, symbol=symbol).cell[2, 2])
    periods = int(np.ceil(length / period)) + 1
    tube = ase_nanotube(*chirality, length=periods, bond=bond, symbol=symbol)
    start = phase * period
    z = tube.positions[:, 2]
    positions = tube.positions[(z >= start) & (z < start + length)]
    positions[:, 2] -= start + 0.5 * length  # ASE rolls the tube about the z axis itself
    return positions


__all__ = [
    "CC_BOND",
    "CHIRALITIES",
    "chiral_angle",
    "chirality_class",
    "chirality_name",
    "nanotube",
    "tube_diameter",
]
