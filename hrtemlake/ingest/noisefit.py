"""Dose and MTF / noise fits of a whole series, into ``experiments/<series>/noise``.

:func:`fit_series_noise` measures every frame of an ingested series in one vacuum window:
the dose [e⁻/Å²] (:func:`~hrtemlake.ingest.noise.frame_dose`) and the fit of the window's
radially averaged noise power spectrum (:func:`~hrtemlake.ingest.noise.fit_mtf`, paper II
eq. A.1 with q̃ = q / q_Nyquist), stored as one row per frame: ``dose, c0, c1, c2, c3, r2,
C``. :func:`series_readout` then fits the readout level N0 from C against the electrons per
pixel (paper II Fig. 5) and :func:`series_parameter_fragment` turns the fits into the noise
ranges of a simulation parameter file.

Decisions
---------
* Row ``i`` of the noise table is frame ``i`` of the series. A rerun fits only the frames
  ingested since (a growing series is fitted incrementally); a frame whose fit fails gets a
  row of NaN so rows stay aligned.
* One window for the whole series: the given ``(y0, x0, height, width)``, or the flattest
  bright window (:func:`~hrtemlake.ingest.noise.find_vacuum_window`) of the first frame
  fitted, of :func:`default_window_size`. It is stored in the ``window`` attribute (with
  ``window_source``) and reused by every later run.
* Gain (counts per electron), per frame: the ``counts_per_electron`` argument, else the
  frame's metadata (:func:`~hrtemlake.ingest.noise.counts_per_electron_from_metadata`),
  else :data:`~hrtemlake.ingest.noise.DEFAULT_COUNTS_PER_ELECTRON` (1, right for
  electron-counting cameras; pass the gain for scintillator cameras). The attribute
  ``counts_per_electron`` says which was used.
* The options (window or "auto", window size, gain override, offset, power, q_min,
  detrend) are the group's parameters: a rerun with other options is refused; delete
  ``experiments/<series>/noise`` to refit with them.
* ``power=2`` (default) fits PSD = (c1 − c2) L² + c2 so c0 and c3 are the MTF's own
  parameters, ready for simulations; ``power=1`` fits eq. A.1 to the PSD literally (see
  :mod:`hrtemlake.ingest.noise`). C = c2 / c1 either way.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.ingest.noise import (
    DEFAULT_COUNTS_PER_ELECTRON,
    MTFFit,
    ReadoutFit,
    Window,
    counts_per_electron_from_metadata,
    find_vacuum_window,
    fit_mtf,
    frame_dose,
    parameter_fragment,
    radial_power_spectrum,
    readout_from_series,
)
from hrtemlake.lake import Lake, as_lake
from hrtemlake.lake.schema import WRITE_SESSION

__all__ = [
    "NOISE_VARIABLES",
    "NoiseFitResult",
    "default_window_size",
    "gain_of",
    "fit_series_noise",
    "series_fits",
    "spectrum_and_fit",
    "series_readout",
    "series_parameter_fragment",
]

NOISE_VARIABLES = ("dose", "c0", "c1", "c2", "c3", "r2", "C")
_APPEND_ROWS = 64


def default_window_size(shape: tuple[int, int]) -> int:
    """Side of the automatic vacuum window [pixels]: a quarter of the shorter side, 32–256."""
    return int(min(256, max(32, min(shape) // 4), min(shape)))


def gain_of(metadata: Mapping, counts_per_electron: float | None = None) -> tuple[float, str]:
    """Counts per electron for a frame and where it came from (argument, metadata, default)."""
    if counts_per_electron is not None:
        return float(counts_per_electron), "given"
    found = counts_per_electron_from_metadata(metadata)
    if found is not None:
        return found, "metadata"
    return DEFAULT_COUNTS_PER_ELECTRON, "default"


@dataclass
class NoiseFitResult:
    """What one :func:`fit_series_noise` run did.

    Attributes
    ----------
    series : str
    fitted : int
        Frames fitted by this run.
    total : int
        Rows in the noise table after the run (= frames of the series).
    window : tuple of int
        (y0, x0, height, width) [pixels].
    window_source : str
    gain_sources : dict
        How many frames of this run used each gain source ("given", "metadata", "default").
    failed : int
        Frames of this run whose fit did not converge (NaN rows).
    readout : ReadoutFit or None
        N0 fitted over the whole table, when at least two frames allow it.
    seconds : float
    """

    series: str
    fitted: int
    total: int
    window: tuple[int, int, int, int]
    window_source: str
    gain_sources: dict[str, int]
    failed: int
    readout: ReadoutFit | None
    seconds: float

    def summary(self) -> str:
        y0, x0, h, w = self.window
        gains = ", ".join(f"{n} {k}" for k, n in self.gain_sources.items()) or "none"
        text = (f"{self.series}: {self.fitted} frame(s) fitted ({self.failed} failed), "
                f"{self.total} in the noise table; window y={y0} x={x0} {h}×{w} px "
                f"({self.window_source}); gain: {gains}")  # fmt: skip
        if self.readout is not None:
            r = self.readout
            text += f"; readout N0 = {r.n0:.4g} ± {r.n0_stderr:.2g} e⁻/pixel (R² {r.r2:.3f})"
        return text


def _window(value: Any, shape: tuple[int, int]) -> Window:
    try:
        y0, x0, h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        message = f"window must be four integers Y X HEIGHT WIDTH, got {value!r}"
        raise ParameterError(message) from None
    if min(y0, x0) < 0 or min(h, w) < 8 or y0 + h > shape[0] or x0 + w > shape[1]:
        raise ParameterError(
            f"window (y0={y0}, x0={x0}, height={h}, width={w}) must be at least 8×8 pixels "
            f"inside the {shape[0]}×{shape[1]} frames"
        )
    return y0, x0, h, w


def _series_frames(lake: Lake, series: str) -> tuple[int, tuple[int, int], tuple[float, float]]:
    """Complete frames, frame shape and pixel size (y, x) [Å] of a series."""
    group = lake.group("frames", series=series)
    done = group[WRITE_SESSION][:] > 0
    n = done.size if done.all() else int(np.argmin(done))
    y, x = group["y"][:], group["x"][:]
    spacing = [float(c[1] - c[0]) if c.size > 1 else 1.0 for c in (y, x)]
    pixel_size = tuple(group.attrs.get("pixel_size", spacing))
    return n, (y.size, x.size), pixel_size


def _rows(lake: Lake, series: str) -> int:
    if not lake.exists("noise", series=series):
        return 0
    done = lake.read("noise", WRITE_SESSION, series=series) > 0
    return done.size if done.all() else int(np.argmin(done))


def fit_series_noise(
    lake: Lake | str | os.PathLike | None,
    series: str,
    *,
    window: Window | None = None,
    window_size: int | None = None,
    counts_per_electron: float | None = None,
    offset: float = 0.0,
    power: int = 2,
    q_min: float = 0.0,
    detrend: str = "mean",
    progress: Callable[[int, int], None] | None = None,
) -> NoiseFitResult:
    """Fit dose and MTF / noise of the series' frames not fitted yet; append them to the lake.

    Parameters
    ----------
    lake : Lake or str or os.PathLike or None
        A lake opened with ``mode="a"``, or its location.
    series : str
        An ingested series.
    window : (int, int, int, int), optional
        Vacuum window (y0, x0, height, width) [pixels]; found automatically when None.
    window_size : int, optional
        Side of the automatic window [pixels] (default :func:`default_window_size`).
    counts_per_electron : float, optional
        Detector gain [counts/e⁻] overriding the metadata and the default.
    offset : float
        Counts to subtract before the dose (a dark level left in the data) [counts].
    power : {2, 1}
        2: c0, c3 are the MTF's own parameters; 1: paper II eq. A.1 fitted to the PSD.
    q_min : float
        Ignore spectrum bins below this q̃ (illumination gradients).
    detrend : {"mean", "plane"}
        What to subtract from the window before its spectrum.
    progress : callable, optional
        ``progress(done, total)`` after each block of rows.

    Returns
    -------
    NoiseFitResult

    Raises
    ------
    ParameterError
        For an invalid window or option.
    LakeError
        If the series does not exist, or its noise table was fitted with other options.
    """
    start = time.perf_counter()
    if power not in (1, 2) or detrend not in ("mean", "plane"):
        raise ParameterError(
            f"power must be 1 or 2 and detrend 'mean' or 'plane', got {power}, {detrend!r}"
        )
    if counts_per_electron is not None and not counts_per_electron > 0:
        raise ParameterError(f"counts_per_electron must be positive, got {counts_per_electron}")
    if not isinstance(lake, Lake):
        lake = Lake(lake, mode="a")
    n_frames, shape, pixel_size = _series_frames(lake, series)
    size = window_size or default_window_size(shape)
    if window is not None:
        window = _window(window, shape)
    elif not 8 <= size <= min(shape):
        raise ParameterError(f"window_size must be 8 to {min(shape)} pixels, got {size}")
    parameters = {
        "window": list(window) if window is not None else "auto",
        "window_size": None if window is not None else size,
        "counts_per_electron": counts_per_electron, "offset": offset, "power": power,
        "q_min": q_min, "detrend": detrend,
    }  # fmt: skip
    first = _rows(lake, series)
    writer = None
    if lake.exists("noise", series=series):
        group = lake.group("noise", series=series)
        _check_parameters(series, group.attrs.get("parameters", {}), parameters)
        window, window_source = tuple(group.attrs["window"]), group.attrs.get("window_source", "")
    else:
        window_source = "given"
    gains: dict[str, int] = {}
    failed = 0
    cached: tuple[str, float, str] | None = None
    has_metadata = "metadata" in lake.group("frames", series=series)
    for block_start in range(first, n_frames, _APPEND_ROWS):
        block = range(block_start, min(block_start + _APPEND_ROWS, n_frames))
        texts = (lake.read("frames", "metadata", slice(block.start, block.stop), series=series)
                 if has_metadata else [""] * len(block))  # fmt: skip
        rows: dict[str, list[float]] = {name: [] for name in NOISE_VARIABLES}
        for i, text in zip(block, texts):
            frame = lake.read("frames", "frame", slice(i, i + 1), series=series)[0]
            if window is None:
                window = find_vacuum_window(frame, size)
                window_source = (f"found automatically on frame {i} (flattest bright "
                                 f"{size}×{size} window)")  # fmt: skip
            if cached is None or cached[0] != text:  # frames of one file share metadata
                cached = (text, *gain_of(json.loads(text) if text else {}, counts_per_electron))
            _, gain, source = cached
            gains[source] = gains.get(source, 0) + 1
            fit, dose = _fit_frame(frame, window, pixel_size, gain, offset, power, q_min, detrend)
            failed += not math.isfinite(fit.r2)
            for name in NOISE_VARIABLES:
                rows[name].append(dose if name == "dose" else getattr(fit, name))
        if writer is None:
            writer = lake.writer(
                "noise", series=series, parameters=parameters,
                attrs={"window": list(window), "window_source": window_source,
                       "counts_per_electron": _gain_note(counts_per_electron),
                       "pixel_size": list(pixel_size), "fit_power": power},
            )  # fmt: skip
        writer.append({name: np.asarray(values, np.float64) for name, values in rows.items()})
        if progress is not None:
            progress(block.stop - first, n_frames - first)
    if window is None:  # nothing to fit and no table yet
        window = (0, 0, 0, 0)
        window_source = "none (no frames)"
    readout = _readout_or_none(lake, series)
    return NoiseFitResult(
        series=series, fitted=n_frames - first, total=max(n_frames, first), window=tuple(window),
        window_source=window_source, gain_sources=gains, failed=failed, readout=readout,
        seconds=time.perf_counter() - start,
    )  # fmt: skip


def _gain_note(counts_per_electron: float | None) -> str:
    if counts_per_electron is not None:
        return f"given: {counts_per_electron} counts/e⁻ for every frame"
    return (f"per frame from the metadata when it has it, else the default "
            f"{DEFAULT_COUNTS_PER_ELECTRON} counts/e⁻")  # fmt: skip


def _check_parameters(series: str, before: dict, parameters: dict) -> None:
    if before != parameters:
        diff = sorted(k for k in {*before, *parameters} if before.get(k) != parameters.get(k))
        raise LakeError(
            f"the noise table of series '{series}' was fitted with other options "
            f"({', '.join(f'{k}={before.get(k)!r}' for k in diff)}); use them, or delete "
            f"experiments/{series}/noise to refit"
        )


def _fit_frame(
    frame, window, pixel_size, gain, offset, power, q_min, detrend
) -> tuple[MTFFit, float]:
    y0, x0, h, w = window
    crop = frame[y0 : y0 + h, x0 : x0 + w]
    dose = frame_dose(frame, window, pixel_size, gain, offset)
    q, psd = radial_power_spectrum(crop, detrend=detrend)
    try:
        fit = fit_mtf(q, psd, power=power, q_min=q_min)
    except ValueError:  # too few bins above q_min
        fit = MTFFit(*(math.nan,) * 6, power=power)
    return fit, dose


# -- reading fits back -----------------------------------------------------------------------


def series_fits(
    lake: Lake | str | os.PathLike | None, series: str
) -> tuple[list[MTFFit], np.ndarray]:
    """The stored fits (as :class:`MTFFit`) and the electrons per pixel of each frame."""
    lake = as_lake(lake, "r")
    n = _rows(lake, series)
    if n == 0:
        raise LakeError(f"series '{series}' has no noise fits: run `hrtemlake noise fit` first")
    group = lake.group("noise", series=series)
    power = int(group.attrs.get("fit_power", 2))
    columns = {name: lake.read("noise", name, slice(0, n), series=series)
               for name in NOISE_VARIABLES}  # fmt: skip
    fits = [
        MTFFit(c0=columns["c0"][i], c1=columns["c1"][i], c2=columns["c2"][i], c3=columns["c3"][i],
               r2=columns["r2"][i], C=columns["C"][i], power=power)
        for i in range(n)
    ]  # fmt: skip
    dy, dx = group.attrs.get("pixel_size", (1.0, 1.0))
    return fits, columns["dose"] * dy * dx


def spectrum_and_fit(
    lake: Lake | str | os.PathLike | None, series: str, i: int
) -> tuple[np.ndarray, np.ndarray, MTFFit]:
    """Frame ``i``'s window spectrum (q̃, PSD) and its stored fit, e.g. for plotting."""
    lake = as_lake(lake, "r")
    fits, _ = series_fits(lake, series)
    group = lake.group("noise", series=series)
    y0, x0, h, w = group.attrs["window"]
    detrend = group.attrs.get("parameters", {}).get("detrend", "mean")
    frame = lake.read("frames", "frame", slice(i, i + 1), series=series)[0]
    q, psd = radial_power_spectrum(frame[y0 : y0 + h, x0 : x0 + w], detrend=detrend)
    return q, psd, fits[i]


def series_readout(
    lake: Lake | str | os.PathLike | None,
    series: str,
    *,
    r2_min: float = 0.5,
    readout_in_mean: bool = True,
) -> ReadoutFit:
    """Readout level N0 [e⁻/pixel] from C against the electrons per pixel (paper II Fig. 5).

    Parameters
    ----------
    r2_min : float
        Use frames whose fit reaches this R². Low: at low dose the floor dominates and the
        MTF's shape, hence R², is poorly determined, yet C is measured well.
    readout_in_mean : bool
        True (the thesis' detector model, eq. 1.27): readout counts add to the mean, so the
        measured electrons per pixel are N_D + N0 and N_D is solved for with N0. False for
        dark-subtracted cameras whose readout noise has zero mean.
    """
    fits, electrons = series_fits(lake, series)
    keep = np.array([math.isfinite(f.r2) and f.r2 >= r2_min for f in fits])
    C = np.array([f.C for f in fits])[keep]
    measured = electrons[keep]
    if not readout_in_mean:
        return readout_from_series(C, measured)
    # measured = N_D + N0, so C = N0 / (N_D + N0) = N0 / measured: linear in N0
    good = np.isfinite(C) & np.isfinite(measured) & (C > 0) & (C < 1) & (measured > 0)
    C, measured = C[good], measured[good]
    if C.size < 2:
        raise ValueError(f"need at least 2 frames with 0 < C < 1 and a positive dose, got {C.size}")
    inverse = 1.0 / measured
    n0 = float(np.sum(C * inverse) / np.sum(inverse**2))
    residual = float(np.sum((C - n0 * inverse) ** 2))
    total = float(np.sum((C - C.mean()) ** 2))
    stderr = math.sqrt(residual / (C.size - 1) / np.sum(inverse**2))
    r2 = 1.0 - residual / total if total > 0 else math.nan
    return ReadoutFit(n0=n0, n0_stderr=stderr, r2=r2, n_points=int(C.size))


def _readout_or_none(lake: Lake, series: str) -> ReadoutFit | None:
    try:
        return series_readout(lake, series)
    except (ValueError, RuntimeError, LakeError):
        return None


def series_parameter_fragment(
    lake: Lake | str | os.PathLike | None,
    series: str,
    *,
    r2_min: float = 0.9,
    readout: float | None = None,
    readout_spread: float = 0.5,
) -> dict[str, Any]:
    """The noise ranges of a parameter file (thesis Table 3.2) seen in a fitted series.

    MTF c0 and c3 span the frames fitted with R² ≥ `r2_min` (0.9: a single frame's
    spectrum scatters more than paper II's averaged ones, which used 0.98); the readout
    range is N0 ± `readout_spread` with N0 given or from :func:`series_readout`. See
    :func:`hrtemlake.ingest.noise.parameter_fragment`.
    """
    fits, _ = series_fits(lake, series)
    if readout is None:
        try:
            readout = series_readout(lake, series).n0
        except (ValueError, RuntimeError):
            readout = None
    return parameter_fragment(fits, readout=readout, r2_min=r2_min, readout_spread=readout_spread)
