"""Atomic models for HR-TEM simulation: builders, atomic columns (sites) and perturbations.

Every builder takes a :class:`numpy.random.Generator` as its first argument and draws all of its
randomness from it, so one seed gives one structure whichever worker builds it::

    rng = numpy.random.default_rng(seed)
    atoms = build_model("mx2", rng, graphene=0.5)
    sites = find_sites(atoms)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms

from hrtemlake.models.alloys import bimetallic_nanoparticle
from hrtemlake.models.amorphous import amorphous_carbon, on_amorphous_support
from hrtemlake.models.mx2 import mx2_flake
from hrtemlake.models.nanoparticles import supported_nanoparticle
from hrtemlake.models.nanotubes import CHIRALITIES, chirality_class, nanotube
from hrtemlake.models.perturb import debye_waller_msd, debye_waller_sigma, distort
from hrtemlake.models.sites import PARTICLE, SUPPORT, Sites, find_sites
from hrtemlake.errors import ParameterError

BUILDERS: dict[str, Callable[..., Atoms]] = {
    "nanoparticle": supported_nanoparticle,
    "mx2": mx2_flake,
    "nanotube": nanotube,
    "amorphous": amorphous_carbon,
    "alloy": bimetallic_nanoparticle,
}
"""Model kind -> builder ``(rng, **options) -> ase.Atoms``."""


def build_model(kind: str, rng: np.random.Generator, /, **options) -> Atoms:
    """Build one random structure of ``kind`` (a key of :data:`BUILDERS`: "nanoparticle",
    "mx2", "nanotube", "amorphous" or "alloy").

    ``options`` are passed to the builder (:func:`supported_nanoparticle`, :func:`mx2_flake`,
    :func:`nanotube`, :func:`amorphous_carbon`, :func:`bimetallic_nanoparticle`); a
    builder's own ``kind`` option (e.g. an alloy's "core-shell") passes through too.

    Raises
    ------
    ValueError
        For an unknown kind.
    """
    try:
        builder = BUILDERS[kind]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown model kind {kind!r}; expected one of {sorted(BUILDERS)}") \
            from None
    return builder(rng, **options)


__all__ = [
    "BUILDERS",
    "CHIRALITIES",
    "PARTICLE",
    "SUPPORT",
    "Sites",
    "amorphous_carbon",
    "bimetallic_nanoparticle",
    "build_model",
    "chirality_class",
    "debye_waller_msd",
    "debye_waller_sigma",
    "distort",
    "find_sites",
    "mx2_flake",
    "nanotube",
    "on_amorphous_support",
    "supported_nanoparticle",
]
