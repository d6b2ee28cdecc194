"""Shared fixtures of the ingest tests: the real DigitalMicrograph test files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# ../shared/testdata/ beside the repository (see its README); HRTEMLAKE_TESTDATA overrides.
_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
TESTDATA = Path(os.environ.get("HRTEMLAKE_TESTDATA", _DEFAULT))
DM_DIR = TESTDATA / "dm"


@pytest.fixture(scope="session")
def dm_dir() -> Path:
    """Folder of the real DM test files; skips the test when it is absent."""
    if not DM_DIR.is_dir():
        pytest.skip(f"real DM test files not found at {DM_DIR} (set HRTEMLAKE_TESTDATA)")
    pytest.importorskip("rsciio", reason="reading DM files needs RosettaSciIO (extra 'exp')")
    return DM_DIR
