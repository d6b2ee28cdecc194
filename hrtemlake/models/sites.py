"""Atomic columns ("sites") seen along the optical axis, and their classes (thesis §3.1).

Atoms within ``radius`` of each other in the (x, y) plane are linked, and every connected group
is one column, positioned at its centre of mass. Linking is transitive, so a slightly tilted
column whose consecutive atoms drift by less than ``radius`` stays one column; a radius well
below the projected column spacing keeps neighbouring columns apart.

Classification schemes (picked from ``atoms.info["model"]`` unless given):

``"mx2"``
    Classes (M, "2X", "1X"), e.g. ("Mo", "2S", "1S"): a column with any M atom is M, otherwise
    it is 2X or 1X by its number of X atoms (3 or more X, which needs a radius larger than the
    in-plane X-X distance, also counts as 2X). Support (graphene) atoms are excluded: they are
    in no site and their ``Sites.labels`` entry is -1, so a label map is the flake's alone.
``"nanoparticle"``
    Classes (element, "support"), e.g. ("Au", "support"). Particle and support atoms are never
    linked into the same column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from hrtemlake.models._checks import check_number, mx2_elements
from hrtemlake.errors import ParameterError

PARTICLE = 0
"""``atoms.arrays["component"]`` value of the imaged object (particle, flake)."""
SUPPORT = 1
"""``atoms.arrays["component"]`` value of support atoms (CeO2, graphene)."""


@dataclass(frozen=True, eq=False)  # array fields: element-wise == is ambiguous
class Sites:
    """Atomic columns of one structure.

    Attributes
    ----------
    positions
        (n, 2) column centres of mass in the (x, y) plane [Å].
    classes
        (n,) class index of each column into ``class_names``.
    class_names
        Name of each class, e.g. ("Mo", "2S", "1S").
    counts
        (n,) number of atoms in each column.
    labels
        (n_atoms,) column index of each atom of the structure, -1 for excluded atoms.
    """

    positions: np.ndarray
    classes: np.ndarray
    class_names: tuple[str, ...]
    counts: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)

    def as_dict(self) -> dict[str, np.ndarray]:
        """Arrays named as in the thesis' "Points" files (Table 3.1): sites and classes."""
        return {
            "sites": self.positions,
            "classes": self.classes,
            "class_names": np.array(self.class_names),
            "counts": self.counts,
        }


def column_labels(xy: np.ndarray, radius: float,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Label atoms by column: connected components of the ``radius`` neighbour graph.

    Parameters
    ----------
    xy
        (n, 2) lateral positions [Å].
    radius
        Linking distance [Å].
    groups
        Optional (n,) integers; atoms of different groups are never linked.

    Returns
    -------
    labels, n_columns
        (n,) column index of each atom in 0..n_columns-1, numbered in order of each column's
        first atom, so the numbering depends only on the input order.
    """
    n = len(xy)
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    pairs = cKDTree(xy).query_pairs(radius, output_type="ndarray")
    if groups is not None and len(pairs):
        pairs = pairs[groups[pairs[:, 0]] == groups[pairs[:, 1]]]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    n_columns, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64), int(n_columns)


def find_sites(atoms: Atoms, radius: float = 0.3, scheme: str | None = None) -> Sites:
    """Cluster the atoms into columns along z and classify them.

    Parameters
    ----------
    atoms
        A structure from :func:`~hrtemlake.models.mx2_flake` or
        :func:`~hrtemlake.models.supported_nanoparticle` (or any with the ``info`` and
        ``arrays["component"]`` entries its scheme needs).
    radius
        Lateral linking distance [Å]; well below the projected column spacing, above the
        expected perturbations (0.3 Å in the thesis).
    scheme
        "mx2" or "nanoparticle"; ``None`` uses ``atoms.info["model"]``.

    Returns
    -------
    Sites
    """
    if check_number("radius", radius) <= 0:
        raise ParameterError(f"radius must be > 0, got {radius}")
    scheme = atoms.info.get("model") if scheme is None else scheme
    if scheme not in SCHEMES:
        raise ParameterError(f"scheme must be one of {tuple(SCHEMES)}, got {scheme!r} "
                         "(pass scheme= or set atoms.info['model'])")
    include_support, classify = SCHEMES[scheme]
    component = _components(atoms)
    included = np.ones(len(atoms), bool) if include_support else component != SUPPORT
    sub_labels, n_sites = column_labels(atoms.positions[included, :2], radius,
                                        groups=component[included])
    labels = np.full(len(atoms), -1, dtype=np.int64)
    labels[included] = sub_labels
    masses = atoms.get_masses()[included]
    total = np.bincount(sub_labels, weights=masses, minlength=n_sites)
    positions = np.stack([np.bincount(sub_labels, weights=masses * atoms.positions[included, i],
                                      minlength=n_sites) for i in (0, 1)], axis=1) / total[:, None]
    classes, names = classify(atoms, labels, n_sites)
    return Sites(positions=positions, classes=classes, class_names=names,
                 counts=np.bincount(sub_labels, minlength=n_sites), labels=labels)


def _components(atoms: Atoms) -> np.ndarray:
    if "component" in atoms.arrays:
        return np.asarray(atoms.arrays["component"])
    return np.full(len(atoms), PARTICLE)


def _count(labels: np.ndarray, mask: np.ndarray, n_sites: int) -> np.ndarray:
    """Number of atoms selected by ``mask`` in each site."""
    return np.bincount(labels[mask & (labels >= 0)], minlength=n_sites)


def classify_mx2(atoms: Atoms, labels: np.ndarray, n_sites: int) -> tuple[np.ndarray, tuple]:
    """Classes 0 = M, 1 = 2X, 2 = 1X from each column's composition."""
    formula = atoms.info.get("formula")
    if formula is None:
        raise ParameterError("the 'mx2' scheme needs atoms.info['formula'], e.g. 'MoS2'")
    metal, chalcogen = mx2_elements(formula)
    symbols = np.array(atoms.get_chemical_symbols())
    n_metal = _count(labels, symbols == metal, n_sites)
    n_chalcogen = _count(labels, symbols == chalcogen, n_sites)
    classes = np.where(n_metal > 0, 0, np.where(n_chalcogen >= 2, 1, 2))
    return classes.astype(np.int64), (metal, f"2{chalcogen}", f"1{chalcogen}")


def classify_nanoparticle(atoms: Atoms, labels: np.ndarray,
                          n_sites: int) -> tuple[np.ndarray, tuple]:
    """Classes 0 = particle element, 1 = support."""
    component = _components(atoms)
    element = atoms.info.get("element")
    if element is None:
        symbols = np.array(atoms.get_chemical_symbols())[component == PARTICLE]
        element = max(set(symbols), key=list(symbols).count) if len(symbols) else "particle"
    n_particle = _count(labels, component == PARTICLE, n_sites)
    classes = np.where(n_particle > 0, 0, 1)
    return classes.astype(np.int64), (str(element), "support")


def classify_alloy(atoms: Atoms, labels: np.ndarray, n_sites: int) -> tuple[np.ndarray, tuple]:
    """Classes 0 = first element only, 1 = second only, 2 = both, 3 = support."""
    elements = atoms.info.get("elements")
    if elements is None:
        raise ParameterError("the 'alloy' scheme needs atoms.info['elements'], e.g. ('Co', 'Ag')")
    first, second = elements
    particle = _components(atoms) == PARTICLE
    symbols = np.array(atoms.get_chemical_symbols())
    n_first = _count(labels, particle & (symbols == first), n_sites)
    n_second = _count(labels, particle & (symbols == second), n_sites)
    classes = np.select([(n_first > 0) & (n_second > 0), n_first > 0, n_second > 0],
                        [2, 0, 1], default=3)  # fmt: skip
    return classes.astype(np.int64), (first, second, f"{first}+{second}", "support")


SCHEMES: dict[str, tuple[bool, Callable]] = {
    "mx2": (False, classify_mx2),
    "nanoparticle": (True, classify_nanoparticle),
    "nanotube": (True, classify_nanoparticle),  # ("C", "support")
    "amorphous": (True, classify_nanoparticle),  # ("C", "support")
    "alloy": (True, classify_alloy),  # ("Co", "Ag", "Co+Ag", "support")
}
"""Scheme name -> (whether support atoms form sites, classifier)."""

__all__ = [
    "PARTICLE",
    "SCHEMES",
    "SUPPORT",
    "Sites",
    "classify_alloy",
    "classify_mx2",
    "classify_nanoparticle",
    "column_labels",
    "find_sites",
]
