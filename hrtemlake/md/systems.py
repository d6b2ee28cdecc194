"""Starting structures of molecular-dynamics runs: named systems or any file ASE reads.

``mos2-flake``
    A small deterministic MoS2 nanoflake in vacuum (thesis Fig. 5.1 a): the Mo atoms within
    ``rings`` lattice constants of a central Mo (7 Mo for one ring, 19 for two), and every S
    atom bonded to at least ``min_bonds`` of them. With ``min_bonds=1`` the edges carry S
    atoms with a single Mo neighbour, the edge atoms of the directional edge method.
``mos2-cell``
    The periodic 2H-MoS2 cell (``repeat`` × ``repeat`` unit cells, vacuum along z), for
    Γ-point runs in tests.
``FILE``
    Any structure file :func:`ase.io.read` understands (its last image).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from hrtemlake.errors import ParameterError
from hrtemlake.models._checks import check_number

__all__ = ["SYSTEMS", "build_system", "mos2_flake", "mos2_cell"]

MOS2_A = 3.18
"""In-plane lattice constant of MoS2 [Å] (ASE's ``mx2`` default)."""
MOS2_THICKNESS = 3.19
"""S–S distance across the layer [Å] (ASE's ``mx2`` default)."""
_MO_S_BOND = 2.6
"""Mo–S distance [Å] below which an S atom counts as bonded when cutting a flake (2.41 Å)."""


def mos2_flake(rings: int = 1, min_bonds: int = 1, vacuum: float = 5.0) -> Atoms:
    """A small hexagonal MoS2 flake, centred in a box with ``vacuum`` on every side.

    Parameters
    ----------
    rings
        Rings of Mo around the central Mo atom (1: 7 Mo and 24 S; 2: 19 Mo and 54 S).
    min_bonds
        Mo neighbours an S atom needs to be kept (1, 2 or 3); 1 keeps singly bonded edge S.
    vacuum
        Vacuum between the flake and each cell face [Å].
    """
    from ase.build import mx2

    if isinstance(rings, bool) or not isinstance(rings, (int, np.integer)) or not 1 <= rings <= 6:
        raise ParameterError(f"mos2-flake: rings must be an integer in [1, 6], got {rings!r}")
    if min_bonds not in (1, 2, 3):
        raise ParameterError(f"mos2-flake: min_bonds must be 1, 2 or 3, got {min_bonds!r}")
    vacuum = check_number("mos2-flake: vacuum", vacuum, low=0.0)
    n = 2 * int(rings) + 4
    sheet = mx2("MoS2", kind="2H", a=MOS2_A, thickness=MOS2_THICKNESS, size=(n, n, 1), vacuum=0.0)
    metal = sheet.numbers == 42
    xy = sheet.positions[:, :2]
    middle = xy[metal].mean(axis=0)
    centre = np.flatnonzero(metal)[np.argmin(np.linalg.norm(xy[metal] - middle, axis=1))]
    keep_metal = metal & (np.linalg.norm(xy - xy[centre], axis=1) < rings * MOS2_A + 0.1)
    distances = np.linalg.norm(
        sheet.positions[:, None, :] - sheet.positions[None, keep_metal, :], axis=-1
    )
    bonds = (distances < _MO_S_BOND).sum(axis=1)
    keep = keep_metal | (~metal & (bonds >= min_bonds))
    flake = sheet[keep]
    flake.pbc = False
    flake.set_cell(np.zeros((3, 3)))
    flake.center(vacuum=vacuum)
    return flake


def mos2_cell(repeat: int = 1, vacuum: float = 3.0) -> Atoms:
    """Periodic 2H-MoS2: ``repeat`` × ``repeat`` unit cells, ``vacuum`` above and below [Å]."""
    from ase.build import mx2

    if isinstance(repeat, bool) or not isinstance(repeat, (int, np.integer)) or repeat < 1:
        raise ParameterError(f"mos2-cell: repeat must be a positive integer, got {repeat!r}")
    vacuum = check_number("mos2-cell: vacuum", vacuum, low=0.0)
    cell = mx2("MoS2", kind="2H", a=MOS2_A, thickness=MOS2_THICKNESS,
               size=(int(repeat), int(repeat), 1), vacuum=vacuum)  # fmt: skip
    cell.pbc = (True, True, False)
    return cell


SYSTEMS: dict[str, Callable[..., Atoms]] = {"mos2-flake": mos2_flake, "mos2-cell": mos2_cell}
"""Named systems -> builder ``(**options) -> ase.Atoms``."""


def build_system(system: str | os.PathLike, options: Mapping[str, Any] | None = None) -> Atoms:
    """The starting structure ``system``: a name of :data:`SYSTEMS` or a structure file.

    Raises
    ------
    ParameterError
        For an unknown name, a file ASE cannot read, or bad builder options.
    """
    options = dict(options or {})
    name = os.fspath(system)
    if name in SYSTEMS:
        try:
            return SYSTEMS[name](**options)
        except TypeError as err:
            raise ParameterError(f"system {name!r}: {err}") from None
    path = Path(name)
    if not path.is_file():
        raise ParameterError(
            f"unknown system {name!r}: expected one of {sorted(SYSTEMS)} or a structure file"
        )
    if options:
        raise ParameterError(f"system options {sorted(options)} apply to named systems only")
    import ase.io

    try:
        atoms = ase.io.read(path)
    except Exception as err:  # ASE raises many kinds for unreadable files
        raise ParameterError(f"cannot read system file {name!r}: {err}") from None
    if isinstance(atoms, list):  # pragma: no cover - read() without index returns one image
        atoms = atoms[-1]
    if len(atoms) == 0:
        raise ParameterError(f"system file {name!r} holds no atoms")
    atoms.calc = None
    return atoms
