"""Shared MD test helpers: a quick Lennard-Jones calculator for MoS2 (EMT has no Mo or S)."""

from __future__ import annotations

import pytest

from hrtemlake.lake import Lake
from hrtemlake.md import MDSettings

#: Lennard-Jones with its minimum near the Mo–S bond: fast, stable for a few hundred steps.
LJ = {"sigma": 2.2, "epsilon": 0.1, "rc": 5.0}


def lj_settings(**changes) -> MDSettings:
    values = {"calculator": "lj", "calculator_options": LJ, "relax_steps": 0, **changes}
    return MDSettings(**values)


@pytest.fixture
def lake(lake_path) -> Lake:
    return Lake(lake_path, mode="a")
