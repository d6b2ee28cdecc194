"""Static disorder and thermal vibration amplitudes (thesis §3.1 ``distort``, ch. 5 eq. 5.2).

Conventions
-----------
Thesis eq. 5.2 (Debye model, after paper I eq. 1, with an extra factor 2/3):

    <u²> = 3ħ² / (2 m k_B Θ_D) · (1/4 + T/Θ_D) · 2/3

Paper I's expression (without the 2/3) is read here as the total, three-dimensional mean-square
displacement, and the thesis' 2/3 as keeping the two in-plane Cartesian components, i.e.
``<u²> = <u_x²> + <u_y²>`` — the part that blurs a projected column. For isotropic vibrations
each Cartesian component then has variance ``<u_x²> = <u²> / 2``, and that standard deviation,
``sigma = sqrt(<u²> / 2)``, is what abTEM's ``FrozenPhonons(sigmas=...)`` and
:func:`distort` take (one independent Gaussian per direction). For sulphur with Θ_D = 580 K at
300 K, paper I's value is 0.0030 Å², eq. 5.2 gives 0.0020 Å² and sigma = 0.032 Å.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from scipy import constants

from hrtemlake.models._checks import check_generator, check_number
from hrtemlake.errors import ParameterError


def distort(atoms: Atoms, sigma: float, rng: np.random.Generator) -> Atoms:
    """Return a copy with every position moved by an isotropic Gaussian.

    Parameters
    ----------
    atoms
        Structure to perturb (left unchanged).
    sigma
        Standard deviation of the displacement along each of x, y and z [Å] (0.01 Å in
        papers I and III).
    rng
        Source of the displacements.
    """
    check_generator(rng)
    sigma = check_number("sigma", sigma, low=0.0)
    distorted = atoms.copy()
    distorted.positions = atoms.positions + rng.normal(0.0, sigma, size=(len(atoms), 3))
    return distorted


def _mass(mass: float | str) -> float:
    """Atomic mass [u] from a number or a chemical symbol."""
    if isinstance(mass, str):
        if mass not in atomic_numbers:
            raise ParameterError(f"mass {mass!r} is neither a number nor a chemical symbol")
        return float(atomic_masses[atomic_numbers[mass]])
    value = check_number("mass", mass)
    if value <= 0:
        raise ParameterError(f"mass must be > 0 [u], got {mass}")
    return value


def debye_waller_msd(debye_temperature: float, mass: float | str,
                     temperature: float = 300.0) -> float:
    """In-plane mean-square displacement <u²> of thesis eq. 5.2 [Å²].

    Parameters
    ----------
    debye_temperature
        Debye temperature Θ_D [K] (580 K for bulk MoS2).
    mass
        Atomic mass [u], or a chemical symbol (paper I uses sulphur's for MoS2).
    temperature
        Temperature T [K].
    """
    theta = check_number("debye_temperature", debye_temperature)
    if theta <= 0:
        raise ParameterError(f"debye_temperature must be > 0 [K], got {debye_temperature}")
    temperature = check_number("temperature", temperature, low=0.0)
    m = _mass(mass) * constants.atomic_mass
    prefactor = 3.0 * constants.hbar**2 / (2.0 * m * constants.k * theta)
    msd = prefactor * (0.25 + temperature / theta) * 2.0 / 3.0  # [m²]
    return msd / constants.angstrom**2


def debye_waller_sigma(debye_temperature: float, mass: float | str,
                       temperature: float = 300.0) -> float:
    """Standard deviation of the displacement along one Cartesian direction [Å].

    ``sqrt(<u²> / 2)`` with <u²> from :func:`debye_waller_msd` (two in-plane components); pass
    it as abTEM's ``FrozenPhonons(sigmas=...)`` or :func:`distort`'s ``sigma``.
    """
    return float(np.sqrt(debye_waller_msd(debye_temperature, mass, temperature) / 2.0))


__all__ = ["debye_waller_msd", "debye_waller_sigma", "distort"]
