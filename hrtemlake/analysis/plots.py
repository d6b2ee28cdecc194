"""Figures of an analysed series: instances, track areas, Fourier peaks, columns, dose limit.

What a microscopist expects to see after the analysis stages (thesis ch.6, Figs. 6.2–6.6,
and Fig. 4.7): the tracked instances outlined on a frame (:func:`plot_frame_instances`),
the area of every particle over time (:func:`plot_track_areas`, Fig. 6.6), the intensity
and angle of a particle's Fourier reflections over time (:func:`plot_fourier_peaks`,
Fig. 6.5 b–c), the atomic columns counted per frame (:func:`plot_column_counts`) and the
segmented area against frame dose (:func:`plot_dose_limit`, Fig. 4.7 a).

Decisions
---------
Matplotlib object API
    Every function builds a :class:`matplotlib.figure.Figure` itself (no pyplot state), so
    it works headless and on Dask workers, and returns it; save it with ``fig.savefig``.
Units
    Areas are shown in nm² (1 nm² = 100 Å²; the Datasets hold Å²), positions by a scale bar.
    The x axis is the Dataset's ``time`` coordinate labelled ``time [time_units]``, or
    ``frame`` for ``time_units="frame"``; a non-numeric coordinate is replaced by the frame
    index.
Colours
    Instance and track ids take the colours of ``tab20``, the ten strong ones first (ids
    1–10), then the ten light ones (11–20), repeating after 20; a track has the same colour
    in the instance overlay and in the area plot.
Reflections
    The ``peak`` dimension of :func:`~hrtemlake.analysis.fourier.track_fourier_statistics`
    ranks pairs by intensity in each frame, so "pair 0" is not the same reflection in every
    frame (and its normalised intensity is always 1). :func:`plot_fourier_peaks` therefore
    links the pairs of consecutive frames into reflections (:func:`link_reflections`): a pair
    continues the reflection last seen within ``max_angle`` degrees (modulo 180°) and
    ``max_d_change`` relative d-spacing, the closest in angle first; one line per
    reflection.
Dose limit
    As in Fig. 4.7 a: the total segmented area of every frame against its dose (log axis),
    a dashed line at the converged area (the median over the quarter of frames with the
    highest dose) and a dashed line at the lowest dose whose area reaches half of it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import ndimage
from skimage.segmentation import find_boundaries

from hrtemlake.errors import ParameterError

__all__ = [
    "LEGEND_MAX",
    "link_reflections",
    "plot_column_counts",
    "plot_dose_limit",
    "plot_fourier_peaks",
    "plot_frame_instances",
    "plot_track_areas",
    "track_colours",
]

LEGEND_MAX = 10
"""Most lines that get a legend entry; plots with more lines have no legend."""

_A2_PER_NM2 = 100.0
_ON_ZONE_COLOUR = "#fde68a"


# --- instances ----------------------------------------------------------------------------


def plot_frame_instances(
    frame: Any,
    labels: Any,
    pixel_size: float,
    ids: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """One frame in grey with the outlines (and ids) of its instances and a scale bar.

    Parameters
    ----------
    frame
        Image (y, x).
    labels
        Instance or track ids (y, x), integers, 0 background, same shape as ``frame``.
    pixel_size
        Pixel size [Å/px], for the scale bar.
    ids
        Write each id at its instance's centroid.
    ax
        Axes to draw into; a new figure by default.
    title
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of ``ax`` (or the new one).
    """
    image, lab = _frame_and_labels(frame, labels)
    _check_positive(pixel_size, "pixel_size")
    if ax is None:
        height, width = lab.shape
        figure = Figure(figsize=(5.0, max(2.0, 5.0 * height / width)), layout="constrained")
        ax = figure.add_subplot()
    ax.imshow(image, cmap="gray", interpolation="nearest")
    ax.imshow(_outline_overlay(lab), interpolation="nearest")
    if ids:
        _write_ids(ax, lab)
    _scale_bar(ax, float(pixel_size), lab.shape[1])
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure


def track_colours(ids: Any) -> np.ndarray:
    """RGBA colours (n, 4) of instance or track ids (tab20, strong colours first)."""
    index = (np.asarray(ids, dtype=np.int64).ravel() - 1) % 20
    reordered = (2 * index) % 20 + (index >= 10)
    return colormaps["tab20"](reordered)


def _outline_overlay(labels: np.ndarray) -> np.ndarray:
    """RGBA image: each instance's inner boundary in its colour, transparent elsewhere."""
    edges = find_boundaries(labels, mode="inner") & (labels > 0)
    overlay = np.zeros((*labels.shape, 4))
    overlay[edges] = track_colours(labels[edges])
    return overlay


def _write_ids(ax: Axes, labels: np.ndarray) -> None:
    from matplotlib import patheffects

    present = np.unique(labels)
    present = present[present > 0]
    if present.size == 0:
        return
    centres = ndimage.center_of_mass(np.ones(labels.shape), labels, present)
    stroke = [patheffects.withStroke(linewidth=2, foreground="black")]
    for track_id, (row, col), colour in zip(present, centres, track_colours(present)):
        ax.text(col, row, str(int(track_id)), color=colour, fontsize=8, ha="center",
                va="center", fontweight="bold", path_effects=stroke)  # fmt: skip


def _scale_bar(ax: Axes, pixel_size: float, width: int) -> None:
    from hrtemlake.simulate.preview import add_scale_bar

    add_scale_bar(ax, pixel_size, width)


# --- track areas --------------------------------------------------------------------------


def plot_track_areas(tracks: xr.Dataset, time_units: str = "frame") -> Figure:
    """Area of every track over time (thesis Fig. 6.6), one line per track.

    Parameters
    ----------
    tracks
        :func:`~hrtemlake.analysis.tracking.track_properties` Dataset (``area`` [Å²],
        ``present``).
    time_units
        Units of the ``time`` coordinate, for the axis label ("frame": frame index).

    Returns
    -------
    matplotlib.figure.Figure
        One axes; a legend when there are at most :data:`LEGEND_MAX` tracks.
    """
    _require(tracks, ("area", "present"), "tracks")
    time, xlabel = _time_axis(tracks, time_units)
    area = np.where(tracks["present"].values, tracks["area"].values, np.nan) / _A2_PER_NM2
    ids = tracks["track"].values
    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = figure.add_subplot()
    for values, track_id, colour in zip(area, ids, track_colours(ids)):
        ax.plot(time, values, marker=".", markersize=4, color=colour, label=f"track {track_id}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("area [nm²]")
    ax.set_title(f"Area of {len(ids)} tracked instance{'s' if len(ids) != 1 else ''}")
    if 0 < len(ids) <= LEGEND_MAX:
        ax.legend(fontsize=8)
    return figure


# --- Fourier peaks ------------------------------------------------------------------------


def plot_fourier_peaks(
    fourier: xr.Dataset, track: int | None = None, time_units: str = "frame"
) -> Figure:
    """Intensity and angle of one track's Fourier reflections over time (Fig. 6.5 b–c).

    Parameters
    ----------
    fourier
        :func:`~hrtemlake.analysis.fourier.track_fourier_statistics` Dataset.
    track
        Track id; default the track with peaks in the most frames (smallest id on ties).
    time_units
        Units of the ``time`` coordinate, for the axis label ("frame": frame index).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing time: intensity (relative to the frame's brightest pair) and
        angle [deg], one line per reflection (:func:`link_reflections`); frames on a zone
        axis (``on_zone``) are shaded. A third axis shows the zone-axis classifier's
        probability (``on_zone_probability``) where the run has one.
    """
    _require(fourier, ("d_spacing", "angle", "intensity", "on_zone"), "fourier")
    track_id = _choose_track(fourier, track)
    one = fourier.sel(track=track_id)
    time, xlabel = _time_axis(fourier, time_units)
    d, angle = one["d_spacing"].values, one["angle"].values
    intensity = one["intensity"].values
    reflection = link_reflections(d, angle)
    probability = _classifier_probability(one)
    rows = 2 if probability is None else 3
    figure = Figure(figsize=(6.4, 2.8 * rows), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True)
    ax_i, ax_a = axes[:2]
    n_reflections = int(reflection.max()) + 1 if reflection.size else 0
    for r in range(n_reflections):
        values = [_per_frame(a, reflection == r) for a in (intensity, angle, d)]
        colour = colormaps["tab10"](r % 10)
        turned = _unwrap_degrees(values[1])
        first = turned[np.isfinite(turned)][0]
        label = f"d ≈ {np.nanmedian(values[2]):.2f} Å, {first:.0f}°"
        ax_i.plot(time, values[0], marker="o", markersize=3, color=colour, label=label)
        ax_a.plot(time, turned, marker="o", markersize=3, color=colour)
    on_zone = np.asarray(one["on_zone"].values, dtype=bool)
    for ax in axes:
        _shade_runs(ax, time, on_zone)
    if probability is not None:
        axes[2].plot(time, probability, marker="o", markersize=3, color="black")
        axes[2].set_ylim(-0.05, 1.05)
        axes[2].set_ylabel("P(on zone), classifier")
    ax_i.set_ylabel("intensity [rel. to brightest pair]")
    ax_a.set_ylabel("angle [deg]")
    axes[-1].set_xlabel(xlabel)
    ax_i.set_title(f"Fourier reflections of track {track_id} (shaded: on a zone axis)")
    if 0 < n_reflections <= LEGEND_MAX:
        ax_i.legend(fontsize=8)
    return figure


def _classifier_probability(one: xr.Dataset) -> np.ndarray | None:
    """The zone-axis classifier's probability over time, if the run has one."""
    if "on_zone_probability" not in one:
        return None
    values = np.asarray(one["on_zone_probability"].values, dtype=float)
    return values if np.isfinite(values).any() else None


def link_reflections(
    d_spacing: Any, angle: Any, max_angle: float = 5.0, max_d_change: float = 0.05
) -> np.ndarray:
    """Link the pairs of consecutive frames of one track into reflections.

    Parameters
    ----------
    d_spacing, angle
        (time, peak) d-spacings [Å] and angles [deg] of one track, NaN where no pair.
    max_angle
        Largest change of angle (modulo 180°) of a reflection since it was last seen [deg].
    max_d_change
        Largest relative change of d-spacing since it was last seen.

    Returns
    -------
    numpy.ndarray
        int (time, peak): reflection index 0, 1, ... in order of first appearance, -1 where
        there is no pair.
    """
    d = np.asarray(d_spacing, dtype=float)
    a = np.asarray(angle, dtype=float)
    out = np.full(d.shape, -1, dtype=np.int64)
    last: list[tuple[float, float]] = []  # (d, angle) of each reflection when last seen
    for t in range(d.shape[0]):
        peaks = np.flatnonzero(np.isfinite(d[t]) & np.isfinite(a[t]))
        pairs = []
        for p in peaks:
            for r, (d_r, a_r) in enumerate(last):
                gap = _angle_gap(a[t, p], a_r)
                if gap <= max_angle and abs(d[t, p] - d_r) <= max_d_change * d_r:
                    pairs.append((gap, int(p), r))
        taken: set[int] = set()
        for _, p, r in sorted(pairs):
            if out[t, p] < 0 and r not in taken:
                out[t, p] = r
                taken.add(r)
        for p in peaks:
            if out[t, p] < 0:
                out[t, p] = len(last)
                last.append((0.0, 0.0))
            last[out[t, p]] = (d[t, p], a[t, p])
    return out


def _angle_gap(a: float, b: float) -> float:
    return abs((a - b + 90.0) % 180.0 - 90.0)


def _per_frame(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The value of the one True entry of each row of ``mask`` (time, peak), NaN if none."""
    out = np.full(values.shape[0], np.nan)
    rows, cols = np.nonzero(mask)
    out[rows] = values[rows, cols]
    return out


def _unwrap_degrees(angle: np.ndarray) -> np.ndarray:
    """Angles modulo 180° made continuous over the finite values (no jump 179° → 0°)."""
    out = angle.copy()
    finite = np.isfinite(angle)
    if finite.any():
        out[finite] = np.unwrap(angle[finite], period=180.0)
    return out


def _choose_track(fourier: xr.Dataset, track: int | None) -> int:
    ids = fourier["track"].values
    if ids.size == 0:
        raise ParameterError("fourier has no tracks to plot")
    if track is None:
        frames_with_peaks = np.isfinite(fourier["d_spacing"].values).any(axis=2).sum(axis=1)
        return int(ids[int(np.argmax(frames_with_peaks))])
    if track not in set(ids.tolist()):
        raise ParameterError(f"track {track!r} is not in fourier (tracks {ids.tolist()[:10]}…)")
    return int(track)


def _shade_runs(ax: Axes, time: np.ndarray, mask: np.ndarray) -> None:
    """Shade the time spans of the runs of True in ``mask``, from mid-step to mid-step."""
    if not mask.any():
        return
    edges = _edges(time)
    change = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    for i, (start, end) in enumerate(zip(starts, ends)):
        ax.axvspan(edges[start], edges[end], color=_ON_ZONE_COLOUR, alpha=0.6, lw=0,
                   zorder=0, label="on zone axis" if i == 0 else None)  # fmt: skip


def _edges(time: np.ndarray) -> np.ndarray:
    """Bin edges around the time values: midpoints, half a step beyond the ends."""
    t = np.asarray(time, dtype=float)
    if t.size == 1:
        return np.array([t[0] - 0.5, t[0] + 0.5])
    middle = (t[1:] + t[:-1]) / 2
    return np.concatenate([[2 * t[0] - middle[0]], middle, [2 * t[-1] - middle[-1]]])


# --- columns ------------------------------------------------------------------------------


def plot_column_counts(columns: xr.Dataset, time_units: str = "frame") -> Figure:
    """Atomic columns per frame (per class), and appeared/disappeared columns when given.

    Parameters
    ----------
    columns
        Dataset with ``count`` over (time,) or (time, class)
        (:func:`~hrtemlake.analysis.columns.column_counts`), optionally ``appeared`` and
        ``disappeared`` over time (:func:`~hrtemlake.analysis.columns.column_event_series`).
    time_units
        Units of the ``time`` coordinate, for the axis label ("frame": frame index).

    Returns
    -------
    matplotlib.figure.Figure
        One axes of counts (a line per class), and a second of event bars (appeared up,
        disappeared down) when the Dataset has events.
    """
    _require(columns, ("count",), "columns")
    time, xlabel = _time_axis(columns, time_units)
    events = [name for name in ("appeared", "disappeared") if name in columns]
    figure = Figure(figsize=(6.4, 5.6 if events else 4.0), layout="constrained")
    axes = figure.subplots(2 if events else 1, 1, sharex=True, squeeze=False)[:, 0]
    count = columns["count"]
    classes = count["class"].values if "class" in count.dims else [None]
    for name in classes:
        values = count if name is None else count.sel({"class": name})
        label = "columns" if name is None else str(name)
        axes[0].plot(time, _over_time(values), marker=".", markersize=4, label=label)
    axes[0].set_ylabel("atomic columns [per frame]")
    axes[0].set_title("Atomic columns per frame")
    if len(classes) > 1:
        axes[0].legend(fontsize=8)
    if events:
        _event_bars(axes[1], time, columns, events)
    axes[-1].set_xlabel(xlabel)
    return figure


def _event_bars(ax: Axes, time: np.ndarray, columns: xr.Dataset, events: list[str]) -> None:
    steps = np.abs(np.diff(time))
    width = 0.8 * float(steps[steps > 0].min()) if (steps > 0).any() else 0.8
    style = {"appeared": (1.0, "tab:green"), "disappeared": (-1.0, "tab:red")}
    for name in events:
        sign, colour = style[name]
        values = np.nan_to_num(_over_time(columns[name]))
        ax.bar(time, sign * values, width=width, color=colour, label=name)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_ylabel("appeared (+) / disappeared (−)")
    ax.legend(fontsize=8)


def _over_time(values: xr.DataArray) -> np.ndarray:
    """A (time,) array: any other dimensions summed."""
    others = [dim for dim in values.dims if dim != "time"]
    return np.asarray(values.sum(others, min_count=1) if others else values, dtype=float)


# --- dose limit ---------------------------------------------------------------------------


def plot_dose_limit(tracks: xr.Dataset) -> Figure:
    """Total segmented area per frame against frame dose (thesis Fig. 4.7 a).

    Parameters
    ----------
    tracks
        :func:`~hrtemlake.analysis.tracking.track_properties` Dataset with ``area`` [Å²],
        ``present`` and, for the dose axis, ``dose`` (time) [e⁻/Å²].

    Returns
    -------
    matplotlib.figure.Figure
        One axes: area [nm²] against dose on a log axis, with dashed lines at the converged
        area and at the dose of half of it (module docstring). Without a usable dose (absent,
        or any value NaN or ≤ 0) the area is plotted against the frame index, with a note.
    """
    _require(tracks, ("area", "present"), "tracks")
    area = np.where(tracks["present"].values, tracks["area"].values, 0.0)
    total = area.sum(axis=0) / _A2_PER_NM2
    dose = np.asarray(tracks["dose"].values, dtype=float) if "dose" in tracks else None
    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = figure.add_subplot()
    ax.set_ylabel("segmented area [nm²]")
    ax.set_title("Segmented area against frame dose")
    if dose is None or dose.size == 0 or not (np.isfinite(dose) & (dose > 0)).all():
        ax.plot(np.arange(total.size), total, marker="o", markersize=4, color="tab:blue")
        ax.set_xlabel("frame")
        ax.text(0.02, 0.97, "no frame dose: area against frame index", transform=ax.transAxes,
                va="top", fontsize=8, color="tab:red")  # fmt: skip
        return figure
    order = np.argsort(dose, kind="stable")
    ax.plot(dose[order], total[order], marker="o", markersize=4, color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("frame dose [e⁻/Å²]")
    ax.set_ylim(bottom=0.0)
    _dose_references(ax, dose[order], total[order])
    return figure


def _dose_references(ax: Axes, dose: np.ndarray, total: np.ndarray) -> None:
    """Dashed lines at the converged area and at the lowest dose reaching half of it."""
    top = total[-max(1, math.ceil(total.size / 4)) :]
    converged = float(np.median(top))
    if converged <= 0:
        return
    ax.axhline(converged, color="black", ls="--", lw=1,
               label=f"converged area {converged:.3g} nm²")  # fmt: skip
    half = dose[total >= converged / 2]
    ax.axvline(half[0], color="tab:orange", ls="--", lw=1,
               label=f"50 % of it at {half[0]:.3g} e⁻/Å²")  # fmt: skip
    ax.legend(fontsize=8)


# --- helpers ------------------------------------------------------------------------------


def _time_axis(data: xr.Dataset, time_units: str) -> tuple[np.ndarray, str]:
    """Numeric x values of the ``time`` coordinate and the axis label."""
    values = np.asarray(data["time"].values)
    if values.dtype.kind not in "iuf":
        return np.arange(values.size, dtype=float), "frame"
    if time_units in ("frame", "frames", ""):
        return values.astype(float), "frame"
    return values.astype(float), f"time [{time_units}]"


def _require(data: Any, names: tuple[str, ...], what: str) -> None:
    if not isinstance(data, xr.Dataset):
        raise ParameterError(f"{what} must be an xarray.Dataset, got {type(data).__name__}")
    missing = [name for name in names if name not in data]
    if missing:
        raise ParameterError(f"{what} lacks variable(s) {missing}")


def _frame_and_labels(frame: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    image, lab = np.asarray(frame, dtype=float), np.asarray(labels)
    if image.ndim != 2 or image.shape != lab.shape:
        raise ParameterError(
            f"frame and labels must be 2-D (y, x) of one shape, got {image.shape}, {lab.shape}"
        )
    if lab.dtype.kind not in "iub":
        raise ParameterError(f"labels must be integers, got dtype {lab.dtype}")
    return image, lab.astype(np.int64)


def _check_positive(value: Any, name: str) -> None:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ParameterError(f"{name} must be a finite number > 0, got {value!r}")
