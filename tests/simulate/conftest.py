"""Shared fixtures for the simulate tests: a small abTEM exit wave of MoS2."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mos2_exit_wave():
    """A 2x1 orthogonal MoS2 cell at 80 keV and 0.05 Å sampling (abTEM multislice).

    Returns abTEM ``Waves`` (computed, complex64) of shape about (128, 111).
    """
    abtem = pytest.importorskip("abtem")
    ase_build = pytest.importorskip("ase.build")
    from abtem.atoms import orthogonalize_cell

    abtem.config.set({"diagnostics.task_progress": False})
    atoms = orthogonalize_cell(ase_build.mx2("MoS2", vacuum=2.0)) * (2, 1, 1)
    potential = abtem.Potential(
        atoms, sampling=0.05, slice_thickness=1.0, projection="infinite"
    )
    return abtem.PlaneWave(energy=80e3, sampling=0.05).multislice(potential).compute()
