"""Shared fixtures: real Zarr stores in tmp dirs and one Prefect server per test session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


@pytest.fixture
def lake_path(tmp_path: Path) -> str:
    """A fresh lake location (not yet created)."""
    return str(tmp_path / "lake.zarr")


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for every flow test of the session.

    Exported through $PREFECT_API_URL so that Dask worker processes report to it too,
    instead of each starting a server of its own.
    """
    from prefect.testing.utilities import prefect_test_harness
    from prefect.settings import PREFECT_API_URL

    previous = os.environ.get("PREFECT_API_URL")
    with prefect_test_harness(server_startup_timeout=120):
        os.environ["PREFECT_API_URL"] = PREFECT_API_URL.value()
        yield PREFECT_API_URL.value()
    if previous is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = previous


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
