"""The Dask LocalCluster of hrtemlake's flows: Dask's, with glibc's own memory thresholds.

Dask starts its worker processes with ``MALLOC_TRIM_THRESHOLD_=65536`` so that they hand freed
memory back to the system at once.  Setting any malloc threshold switches off glibc's
adaptive one, so every array above 128 KiB is then mapped afresh and page-faulted on first
touch: allocating a 1000² complex64 wave costs four times as much, and an abTEM multislice,
which allocates such waves at every slice, runs about 25 % slower than in a plain process
(``benchmarks/bench_exitwaves.py``).  This cluster starts its workers with the thresholds
glibc's adaptive rule reaches for such arrays instead (mmap above 32 MiB, trim above 64 MiB),
which still returns large frees to the system.  A threshold set in the environment or in a
Dask configuration other than Dask's default is left as it is.
"""

from __future__ import annotations

from typing import Any

import dask
import distributed

__all__ = ["LocalCluster", "worker_environment"]

_DASK_DEFAULT_TRIM = 65536
_STEADY_STATE = {"MALLOC_MMAP_THRESHOLD_": 32 * 2**20, "MALLOC_TRIM_THRESHOLD_": 64 * 2**20}


def worker_environment() -> dict[str, Any]:
    """Dask's pre-spawn environment for workers, with glibc's steady-state thresholds."""
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    if str(environ.get("MALLOC_TRIM_THRESHOLD_")) == str(_DASK_DEFAULT_TRIM):
        environ.update(_STEADY_STATE)
    return environ


class LocalCluster(distributed.LocalCluster):
    """:class:`distributed.LocalCluster` whose workers start with :func:`worker_environment`."""

    def __init__(self, *args: Any, **kwargs: Any):
        with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environment()}):
            super().__init__(*args, **kwargs)
