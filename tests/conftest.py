"""Shared fixtures: real Zarr stores in tmp dirs and one Prefect server per test session."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED_TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


@pytest.fixture(scope="session", autouse=True)
def _own_cache_folder(tmp_path_factory):
    """Keep the session's measured FFT plans out of the user's cache folder."""
    previous = os.environ.get("HRTEMLAKE_CACHE")
    os.environ["HRTEMLAKE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("HRTEMLAKE_CACHE", None)
    else:
        os.environ["HRTEMLAKE_CACHE"] = previous


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
        _follow_current_stderr()
        yield PREFECT_API_URL.value()
    if previous is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = previous


class _CurrentStderr:
    """Writes to whatever sys.stderr is now: capsys swaps it per test and closes the old one."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return False


def _follow_current_stderr() -> None:
    """Point Prefect's console log handlers at the current sys.stderr, not the one of the
    test that happened to configure them (a CLI test's capsys stream, closed after it)."""
    from prefect.logging.configuration import setup_logging
    from prefect.logging.handlers import PrefectConsoleHandler

    setup_logging()
    stream = _CurrentStderr()
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setStream(stream)
                handler.console.file = stream


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
