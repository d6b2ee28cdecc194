"""Provenance records: what produced a write, attached to every group written."""

from __future__ import annotations

import getpass
import platform
import subprocess
import sys
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from hrtemlake._version import __version__

__all__ = ["provenance_record", "package_versions", "code_version", "prefect_run_ids"]

_PACKAGES = (
    "numpy", "scipy", "zarr", "xarray", "dask", "ase", "abtem", "scikit-image",
    "hyperspy", "rosettasciio", "prefect", "tensorflow", "keras", "gpaw",
)  # fmt: skip


@cache
def package_versions() -> dict[str, str]:
    """Versions of the scientific stack that is installed (not imported)."""
    versions = {"python": platform.python_version(), "hrtemlake": __version__}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@cache
def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    source = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "describe", "--always", "--dirty", "--tags"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{out.stdout.strip()}"


def prefect_run_ids() -> dict[str, str]:
    """Flow-run and task-run ids when called inside a Prefect run, else empty.

    Prefect is only consulted when the caller already imported it, so plain library use
    in a notebook never pays for importing Prefect.
    """
    if "prefect" not in sys.modules:
        return {}
    from prefect.context import FlowRunContext, TaskRunContext

    ids = {}
    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        ids["flow_run_id"] = str(flow_ctx.flow_run.id)
        ids["flow_run_name"] = str(flow_ctx.flow_run.name)
    task_ctx = TaskRunContext.get()
    if task_ctx is not None:
        ids["task_run_id"] = str(task_ctx.task_run.id)
        if "flow_run_id" not in ids and task_ctx.task_run.flow_run_id is not None:
            ids["flow_run_id"] = str(task_ctx.task_run.flow_run_id)
    return ids


def provenance_record(
    parameters: dict[str, Any] | None = None,
    seed: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A JSON-serialisable record of what is writing now.

    Parameters
    ----------
    parameters
        The parameters that define the written data (parameter file, CLI options).
    seed
        The seed all randomness of the write flows from.
    extra
        Further fields, e.g. ``source`` files.
    """
    record: dict[str, Any] = {
        "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "hrtemlake_version": __version__,
        "code_version": code_version(),
        "packages": package_versions(),
        "parameters": parameters or {},
        "seed": seed,
        "host": platform.node(),
        "user": _user(),
        "command": " ".join(sys.argv),
    }
    record.update(prefect_run_ids())
    record.update(extra)
    return record


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
