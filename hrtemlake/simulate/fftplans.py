"""FFT plans for exit waves: fast, and the same in every worker.

abTEM computes its FFTs with FFTW.  FFTW's ``MEASURE`` planner times candidate algorithms
and keeps the fastest: for a 1000² complex64 wave its plans make a multislice about 1.6×
faster than ``ESTIMATE``'s (``benchmarks/bench_exitwaves.py``).  Because the choice is made by
timing, two processes may choose different algorithms, which round differently in the last
bits, and a dataset would then depend on which worker computed which model.

So one process measures the plans (:func:`fft_wisdom`) and every worker imports that FFTW
wisdom before its first exit wave (:func:`use_wisdom`): all workers run the same
algorithms.  The wisdom is also kept in a file in the user's cache folder, so that later runs
on the same machine (a resumed or extended dataset, another worker count) use the same plans
and give the same bits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms

if TYPE_CHECKING:
    from hrtemlake.simulate.exitwaves import ExitWaveSettings

__all__ = ["Wisdom", "cache_folder", "fft_wisdom", "use_wisdom", "wisdom_file"]

Wisdom = tuple[bytes, ...]
"""FFTW wisdom as :func:`pyfftw.export_wisdom` returns it (double, single, long double)."""

_IMPORTED: set[str] = set()


def cache_folder() -> Path:
    """``$HRTEMLAKE_CACHE``, else ``$XDG_CACHE_HOME/hrtemlake``, else ``~/.cache/hrtemlake``."""
    if os.environ.get("HRTEMLAKE_CACHE"):
        return Path(os.environ["HRTEMLAKE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hrtemlake"


def wisdom_file() -> Path:
    """The file that keeps the measured FFT plans of this machine."""
    return cache_folder() / "fftw-wisdom.json"


def fft_wisdom(atoms: Atoms, settings: ExitWaveSettings) -> Wisdom | None:
    """FFTW wisdom covering the exit waves of models with ``atoms``' cell and ``settings``.

    Read from :func:`wisdom_file` when this grid was measured before; otherwise measured
    here on a one-atom, one-slice stand-in with the same lateral cell (the FFTs depend on
    the grid and the number of frozen-phonon configurations, not on the atoms or the
    thickness) and added to the file.
    Returns None on the GPU, where cuFFT plans are deterministic.
    """
    if settings.device != "cpu":
        return None
    import pyfftw

    key = _plan_key(atoms, settings)
    cached = _read_cache()
    if key in cached["keys"]:
        return cached["wisdom"]
    use_wisdom(cached["wisdom"])
    _stand_in_exit_wave(atoms, settings)
    wisdom = pyfftw.export_wisdom()
    _write_cache({"keys": cached["keys"] | {key}, "wisdom": wisdom})
    _IMPORTED.add(_digest(wisdom))
    return wisdom


def use_wisdom(wisdom: Wisdom | None) -> None:
    """Import ``wisdom`` into this process's FFTW (once; later plans are taken from it)."""
    if not wisdom:
        return
    digest = _digest(wisdom)
    if digest in _IMPORTED:
        return
    import pyfftw

    pyfftw.import_wisdom(wisdom)
    _IMPORTED.add(digest)


def _plan_key(atoms: Atoms, settings: ExitWaveSettings) -> str:
    ny, nx = settings.grid(atoms)
    return f"{ny}x{nx}/configurations={max(settings.frozen_phonons, 1)}"


def _stand_in_exit_wave(atoms: Atoms, settings: ExitWaveSettings) -> None:
    """One slice of one atom in ``atoms``' lateral cell: every slice runs the same FFTs."""
    from hrtemlake.simulate.exitwaves import measure_exit_wave

    cell = np.array(atoms.cell)
    cell[2] = [0.0, 0.0, settings.slice_thickness]
    stand_in = Atoms("C", positions=[cell.sum(axis=0) / 2], cell=cell, pbc=True)
    sigma = settings.phonon_sigma or (0.05 if settings.frozen_phonons else 0.0)
    measure_exit_wave(stand_in, replace(settings, vibrations=None, phonon_sigma=sigma), seed=0)


def _digest(wisdom: Wisdom) -> str:
    return hashlib.sha1(b"\0".join(wisdom)).hexdigest()


def _read_cache() -> dict:
    try:
        cached = json.loads(wisdom_file().read_text())
        return {"keys": set(cached["keys"]),
                "wisdom": tuple(base64.b64decode(w) for w in cached["wisdom"])}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return {"keys": set(), "wisdom": ()}  # no cache yet, or an unreadable one: measure


def _write_cache(cached: dict) -> None:
    """Write the cache atomically; a folder we may not write to only costs speed later."""
    path = wisdom_file()
    text = json.dumps({"keys": sorted(cached["keys"]),
                       "wisdom": [base64.b64encode(w).decode() for w in cached["wisdom"]]})  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(text)
        os.replace(partial, path)
    except OSError:
        pass
