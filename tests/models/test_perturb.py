"""Gaussian distortion and the Debye-Waller amplitude of thesis eq. 5.2."""

import numpy as np
import pytest
from ase import Atoms
from scipy import constants

from hrtemlake.models import debye_waller_msd, debye_waller_sigma, distort


def test_debye_waller_against_hand_computation():
    # Sulphur, Θ_D = 580 K (bulk MoS2), T = 300 K, thesis eq. 5.2.
    mass = 32.06 * constants.atomic_mass
    hand = (3 * constants.hbar**2 / (2 * mass * constants.k * 580.0)
            * (0.25 + 300.0 / 580.0) * 2.0 / 3.0) / 1e-20
    assert hand == pytest.approx(0.0020015, rel=1e-4)
    assert debye_waller_msd(580.0, "S", 300.0) == pytest.approx(hand, rel=1e-4)
    assert debye_waller_msd(580.0, 32.06, 300.0) == pytest.approx(hand, rel=1e-12)
    # Paper I quotes 0.0030 Å² for the same case, without eq. 5.2's factor 2/3.
    assert 1.5 * debye_waller_msd(580.0, "S") == pytest.approx(0.0030, abs=5e-5)
    # sigma per Cartesian direction: <u²> covers the two in-plane directions.
    assert debye_waller_sigma(580.0, "S") == pytest.approx(np.sqrt(hand / 2), rel=1e-4)
    assert debye_waller_sigma(580.0, "S") == pytest.approx(0.03163, abs=1e-5)


def test_debye_waller_trends_and_errors():
    assert debye_waller_msd(580.0, "S", 600.0) > debye_waller_msd(580.0, "S", 300.0)
    assert debye_waller_msd(580.0, "Mo") < debye_waller_msd(580.0, "S")
    for args, match in (((0.0, "S"), "debye_temperature"), ((580.0, -1.0), "mass"),
                        ((580.0, "Xx"), "mass"), ((580.0, "S", -5.0), "temperature")):
        with pytest.raises(ValueError, match=match):
            debye_waller_msd(*args)


def test_distort_is_gaussian_with_sigma_per_direction():
    atoms = Atoms("C" * 20000, positions=np.zeros((20000, 3)))
    shaken = distort(atoms, 0.05, np.random.default_rng(0))
    assert np.all(atoms.positions == 0)  # the input is left alone
    assert np.allclose(shaken.positions.std(axis=0), 0.05, rtol=0.03)
    assert np.allclose(shaken.positions.mean(axis=0), 0.0, atol=2e-3)
    again = distort(atoms, 0.05, np.random.default_rng(0))
    assert np.array_equal(shaken.positions, again.positions)
    assert np.array_equal(distort(atoms, 0.0, np.random.default_rng(1)).positions,
                          atoms.positions)


def test_distort_errors():
    atoms = Atoms("C", positions=[[0, 0, 0]])
    with pytest.raises(ValueError, match="sigma"):
        distort(atoms, -0.1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        distort(atoms, 0.1, 0)


def test_sigma_matches_abtem_frozen_phonons():
    # abTEM's FrozenPhonons sigmas is the standard deviation per direction, as is distort's.
    abtem = pytest.importorskip("abtem")
    atoms = Atoms("S" * 20000, positions=np.zeros((20000, 3)), cell=[10, 10, 10])
    sigma = debye_waller_sigma(580.0, "S")
    displaced = abtem.FrozenPhonons(atoms, num_configs=1, sigmas=sigma, seed=0).randomize(atoms)
    assert np.allclose(displaced.positions.std(axis=0), sigma, rtol=0.03)
