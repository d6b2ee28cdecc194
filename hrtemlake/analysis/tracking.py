"""Tracking of instances across frames by overlap, and per-track properties over time.

The "2+1D connectivity" of the thesis (§3.5, Fig. 3.11; ch.6): instances are separated in each
2-D frame (:mod:`hrtemlake.analysis.instances`) and connected along time. An instance of frame
``t`` takes the id of the instance of frame ``t-1`` it overlaps most, if that overlap exceeds a
threshold (50 % by default); otherwise it starts a new track. :func:`track_properties` then
measures every track in every frame (area, centre of mass, bounding box, equivalent
diameter, orientation, mean intensity; Table 3.3, "Get ROI properties") as an
:class:`xarray.Dataset` over (track, time), and :func:`track_summary` boils that down to
one row per track.

Decisions
---------
Overlap fraction
    For a previous instance ``p`` and a current instance ``c`` with ``I`` pixels in common,
    the overlap is ``I / min(area(p), area(c))`` (the overlap coefficient): the intersection
    over the *smaller* instance's own area. For a particle that moves or shrinks it is the
    fraction of the current instance that lies on its predecessor; for one that grows it is
    the fraction of the predecessor that the current instance covers. It treats splits and
    merges alike: each child of a split lies wholly on its parent (overlap ≈ 1, however
    many children), and a merged instance covers each of its parents wholly (overlap ≈ 1,
    however many parents), so neither is mistaken for a new particle merely because its
    partner took part of the area. A pair is *significant* when its overlap is strictly
    greater than ``min_overlap``.
Matching (moves, splits, merges)
    Significant pairs are matched one to one, greedily, in order of decreasing intersection
    ``I`` (ties: larger overlap fraction, then smaller previous track id, then smaller
    current label): a pair is taken when neither its previous nor its current instance
    is taken yet. So a current instance takes the id of the predecessor it overlaps most;
    on a split the child with the largest intersection keeps the parent's id and the other
    children get new ids (unless one of them also overlaps another, free predecessor
    significantly); on a merge the merged instance keeps the id of the parent it overlaps
    most and the other parents' tracks end. Ids are never reused, even after a gap.
Id order
    New tracks get ids 1, 2, ... in order of first appearance: by frame, and within a frame
    in raster order of the instance's first pixel (row by row). The labels given need not be
    consecutive, and their values do not matter, only which pixels share a value.
Speed and memory
    Per frame the work is one pass over the frame to find its labelled pixels (a few
    percent of a frame); everything else works on those pixels only: areas, first pixels
    and overlaps (the pairs of (previous, current) labels on the pixels labelled in both
    frames, counted with :func:`numpy.bincount` on a combined key, or :func:`numpy.unique`
    when the label counts are too large for a dense table), and the properties. Python
    only loops over instance pairs. Frames are read one at a time (``labels[t]``), so Zarr
    or Dask stacks are never loaded whole, and :func:`iter_tracked` streams.
Properties
    Positions are in Å from the centre of pixel (0, 0), i.e. index × ``pixel_size``, with y
    along rows and x along columns; the bounding box is ``[y0, y1) × [x0, x1)``
    (skimage's half-open box) times ``pixel_size``. ``orientation`` is skimage's: the angle
    between the row (y) axis and the major axis of the instance's inertia ellipse, in
    degrees in [-90, 90], counter-clockwise as seen with rows growing downwards; 0 means
    elongated along y and ±90 elongated along x. Values of a track in frames where it is
    absent are NaN (``present`` is False).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from skimage.measure import regionprops

from hrtemlake.errors import ParameterError

__all__ = [
    "DEFAULT_MIN_OVERLAP",
    "PROPERTY_UNITS",
    "iter_tracked",
    "match_instances",
    "track_instances",
    "track_properties",
    "track_summary",
]

DEFAULT_MIN_OVERLAP = 0.5
"""An instance continues a track when its overlap with it exceeds this fraction (thesis)."""

PROPERTY_UNITS = {
    "area": "Å²",
    "com_y": "Å",
    "com_x": "Å",
    "bbox_y0": "Å",
    "bbox_x0": "Å",
    "bbox_y1": "Å",
    "bbox_x1": "Å",
    "equivalent_diameter": "Å",
    "orientation": "deg",
    "mean_intensity": "1",
    "present": "1",
    "dose": "e-/Å²",
}
"""Units (attribute ``units``) of the variables of :func:`track_properties`."""

_LONG_NAMES = {
    "area": "area of the instance",
    "com_y": "centre of mass, y (rows)",
    "com_x": "centre of mass, x (columns)",
    "bbox_y0": "bounding box, first row",
    "bbox_x0": "bounding box, first column",
    "bbox_y1": "bounding box, end row (exclusive)",
    "bbox_x1": "bounding box, end column (exclusive)",
    "equivalent_diameter": "diameter of the disc of the same area",
    "orientation": "angle between the y axis and the major axis (skimage convention)",
    "mean_intensity": "mean frame value inside the instance (the frames' own scale)",
    "present": "whether the track has an instance in the frame",
    "dose": "electron dose of the frame",
}

# dense (previous × current) tables up to this many cells (32 MiB of counts), else sparse
_DENSE_CELLS = 1 << 22


# --- tracking -----------------------------------------------------------------------------


def match_instances(
    previous: np.ndarray, current: np.ndarray, min_overlap: float = DEFAULT_MIN_OVERLAP
) -> dict[int, int]:
    """Which previous label each current label continues, by the rule of this module.

    Parameters
    ----------
    previous, current
        Label images (y, x) of two consecutive frames (non-negative integers, 0 background).
    min_overlap
        Least overlap fraction, ``I / min(area(p), area(c))``, exclusive.

    Returns
    -------
    dict
        ``{current label: previous label}`` for the current instances that continue one;
        the others start new tracks.
    """
    _check_min_overlap(min_overlap)
    prev = _labelled(_as_label_frame(previous, "previous", check_sign=False), "previous")
    cur = _labelled(_as_label_frame(current, "current", check_sign=False), "current")
    if prev.shape != cur.shape:
        raise ParameterError(f"previous {prev.shape} and current {cur.shape} differ in shape")
    pairs = _match(prev, prev.values, cur, min_overlap)
    return {int(cur.values[c - 1]): int(prev.values[p - 1]) for c, p in pairs.items()}


def iter_tracked(
    labels: Iterable[Any],
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    *,
    previous: np.ndarray | None = None,
    next_id: int = 1,
) -> Iterator[np.ndarray]:
    """Yield the tracked frame (int32 track ids) for each label frame in turn.

    Parameters
    ----------
    labels
        Iterable of label images (y, x) of one shape: instance labels per frame, e.g. the
        frames of :func:`hrtemlake.analysis.instances.segment_series`.
    min_overlap
        Least overlap fraction to continue a track (exclusive; module docstring).
    previous, next_id
        To continue tracking a series that has grown: the last tracked frame (track ids)
        before ``labels``, and one more than the largest track id so far.  The result is
        the same as tracking the whole series again, since each tracked frame is a
        one-to-one relabelling of its instances.
    """
    _check_min_overlap(min_overlap)
    prev = prev_ids = None
    if previous is not None:
        prev = _labelled(_as_label_frame(previous, "previous", check_sign=False), "previous")
        prev_ids = np.concatenate([[0], prev.values]).astype(np.int32)
        if prev.values.size and next_id <= prev.values.max():
            raise ParameterError(f"next_id {next_id} must exceed the previous frame's ids")
    for t, frame in enumerate(labels):
        name = f"labels[{t}]"
        cur = _labelled(_as_label_frame(frame, name, check_sign=False), name)
        if prev is not None and cur.shape != prev.shape:
            raise ParameterError(f"labels[{t}] has shape {cur.shape}, earlier frames {prev.shape}")
        n = cur.values.size
        ids = np.zeros(n + 1, dtype=np.int32)
        if prev is not None and n:
            for c, p in _match(prev, prev_ids[1:], cur, min_overlap).items():
                ids[c] = prev_ids[p]
        new = np.flatnonzero(ids[1:] == 0) + 1
        if new.size:
            new = new[np.argsort(cur.first[new - 1], kind="stable")]
            ids[new] = np.arange(next_id, next_id + new.size, dtype=np.int32)
            next_id += new.size
        tracked = np.zeros(cur.shape, dtype=np.int32)
        tracked.ravel()[cur.pixels] = ids[cur.compact]
        yield tracked
        prev, prev_ids = cur, ids


def track_instances(
    labels: Any, min_overlap: float = DEFAULT_MIN_OVERLAP, *, out: Any = None
) -> Any:
    """Connect the instances of a (time, y, x) label stack into tracks.

    Parameters
    ----------
    labels
        Instance labels (time, y, x), non-negative integers, 0 background; each frame
        labelled on its own (e.g. :func:`~hrtemlake.analysis.instances.segment_series`).
        Any array-like with ``shape`` and indexing along time (NumPy, Zarr, Dask).
    min_overlap
        An instance continues the track of the previous frame's instance it overlaps most
        when the overlap fraction ``I / min(area(p), area(c))`` exceeds this (default 0.5).
    out
        Optional (time, y, x) array to write into frame by frame (e.g. a Zarr array).

    Returns
    -------
    numpy.ndarray or the ``out`` given
        int32 (time, y, x) track ids, 1..n in order of first appearance, 0 background.

    Notes
    -----
    The matching of moves, splits and merges is described in the module docstring.
    """
    shape = getattr(labels, "shape", None)
    if shape is None or len(shape) != 3:
        got = "no shape" if shape is None else f"{len(shape)}-D shape {tuple(shape)}"
        raise ParameterError(f"labels must be 3-D (time, y, x), got {got}")
    shape = tuple(shape)
    if out is None:
        out = np.zeros(shape, dtype=np.int32)
    elif tuple(out.shape) != shape:
        raise ParameterError(f"out: shape {tuple(out.shape)} differs from labels {shape}")
    frames = (labels[t] for t in range(shape[0]))
    for t, tracked in enumerate(iter_tracked(frames, min_overlap)):
        out[t] = tracked
    return out


class _Labelled:
    """The labelled pixels of one frame, all that tracking and properties need.

    ``pixels``: flat (raster) indices of the pixels with a label > 0, in raster order;
    ``compact``: their labels as 1..n (by increasing label value); ``values``: the label of
    each of 1..n; ``areas``: pixel counts of 1..n; ``first``: flat index of the first pixel
    of each of 1..n.
    """

    __slots__ = ("shape", "pixels", "compact", "values", "areas", "first")

    def __init__(self, shape, pixels, compact, values, areas, first):
        self.shape, self.pixels, self.compact = shape, pixels, compact
        self.values, self.areas, self.first = values, areas, first


def _labelled(frame: np.ndarray, name: str) -> _Labelled:
    """:class:`_Labelled` of a label frame (one pass over the frame, then its labelled
    pixels only); negative labels are an error naming ``name``."""
    flat = frame.ravel()
    pixels = np.flatnonzero(flat != 0)  # (a boolean's nonzero is the faster)
    labels = flat[pixels]
    if labels.size and labels.dtype.kind == "i" and labels.min() < 0:
        raise ParameterError(f"{name} has negative labels; labels are >= 0 (0 = background)")
    top = int(labels.max()) if labels.size else 0
    if top <= max(4 * labels.size, 1 << 16):
        counts = np.bincount(labels, minlength=top + 1)
        values = np.flatnonzero(counts)
        lookup = np.zeros(top + 1, dtype=np.int32)
        lookup[values] = np.arange(1, values.size + 1, dtype=np.int32)
        compact = lookup[labels]
        areas = counts[values]
        first = np.full(values.size + 1, flat.size, dtype=np.intp)
        np.minimum.at(first, compact, np.arange(compact.size, dtype=np.intp))
        first = pixels[first[1:]] if values.size else np.zeros(0, dtype=np.intp)
    else:
        values, index, inverse, areas = np.unique(
            labels, return_index=True, return_inverse=True, return_counts=True
        )
        compact = (inverse.ravel() + 1).astype(np.int32)
        first = pixels[index]
    return _Labelled(frame.shape, pixels, compact, values, areas, first)


def _match(
    prev: _Labelled, prev_ids: np.ndarray, cur: _Labelled, min_overlap: float
) -> dict[int, int]:
    """Greedy one-to-one matching of compact labels: ``{current: previous}`` (1-based).

    ``prev_ids`` (one per previous label) breaks ties in favour of the smaller id.
    """
    n_prev, n_cur = prev.areas.size, cur.areas.size
    if n_prev == 0 or n_cur == 0:
        return {}
    p, c, inter = _contingency(prev, cur)
    fraction = inter / np.minimum(prev.areas[p - 1], cur.areas[c - 1])
    significant = fraction > min_overlap
    p, c, inter, fraction = (a[significant] for a in (p, c, inter, fraction))
    order = np.lexsort((c, prev_ids[p - 1], -fraction, -inter))
    taken_prev = np.zeros(n_prev + 1, dtype=bool)
    matched: dict[int, int] = {}
    for i in order:
        pi, ci = int(p[i]), int(c[i])
        if not taken_prev[pi] and ci not in matched:
            taken_prev[pi] = True
            matched[ci] = pi
    return matched


def _contingency(prev: _Labelled, cur: _Labelled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel counts of every (previous, current) pair of labels > 0 that overlap, from the
    pixels labelled in both frames; ordered by (previous, current)."""
    n_prev, n_cur = prev.areas.size, cur.areas.size
    at = np.searchsorted(prev.pixels, cur.pixels)
    np.minimum(at, prev.pixels.size - 1, out=at)
    both = prev.pixels[at] == cur.pixels
    key = np.multiply(prev.compact[at[both]], n_cur + 1, dtype=np.intp)
    key += cur.compact[both]
    cells = (n_prev + 1) * (n_cur + 1)
    if cells <= _DENSE_CELLS:
        table = np.bincount(key, minlength=cells)
        keys = np.flatnonzero(table)
        counts = table[keys]
    else:
        keys, counts = np.unique(key, return_counts=True)
    return keys // (n_cur + 1), keys % (n_cur + 1), counts


# --- properties ---------------------------------------------------------------------------


_PROPERTIES = (
    "area",
    "com_y",
    "com_x",
    "bbox_y0",
    "bbox_x0",
    "bbox_y1",
    "bbox_x1",
    "equivalent_diameter",
    "orientation",
    "mean_intensity",
)


def track_properties(
    tracked: Any,
    frames: Any = None,
    pixel_size: float = 1.0,
    dose: Any = None,
    times: Any = None,
) -> xr.Dataset:
    """Properties of every track in every frame, as a Dataset over (track, time).

    Parameters
    ----------
    tracked
        Track ids (time, y, x) from :func:`track_instances` (any non-negative integer
        labels whose values are consistent across frames).
    frames
        The image frames (time, y, x) for ``mean_intensity``; NaN without them.
    pixel_size
        Pixel size [Å/px]; 1.0 gives everything in pixels.
    dose
        Electron dose per frame (time,) [e⁻/Å²], stored as variable ``dose``.
    times
        Values of the ``time`` coordinate (time,); frame indices 0..T-1 by default.

    Returns
    -------
    xarray.Dataset
        Coordinates ``track`` (ids, ascending) and ``time``; variables (track, time):
        ``area`` [Å²], ``com_y``, ``com_x`` [Å], ``bbox_y0``, ``bbox_x0``, ``bbox_y1``,
        ``bbox_x1`` [Å], ``equivalent_diameter`` [Å], ``orientation`` [deg],
        ``mean_intensity``, all NaN where the track is absent, and ``present`` (bool);
        ``dose`` (time) when given. Conventions in the module docstring; each variable has
        ``units`` and ``long_name`` attributes.
    """
    shape = getattr(tracked, "shape", None)
    if shape is None or len(shape) != 3:
        got = "no shape" if shape is None else f"{len(shape)}-D shape {tuple(shape)}"
        raise ParameterError(f"tracked must be 3-D (time, y, x), got {got}")
    n_time = int(shape[0])
    if frames is not None and tuple(frames.shape) != tuple(shape):
        raise ParameterError(
            f"frames: shape {tuple(frames.shape)} differs from tracked {tuple(shape)}"
        )
    if (
        not isinstance(pixel_size, numbers.Real)
        or isinstance(pixel_size, bool)
        or not math.isfinite(pixel_size)
        or pixel_size <= 0
    ):
        raise ParameterError(f"pixel_size must be a finite number > 0 [Å], got {pixel_size!r}")
    dose = _per_frame("dose", dose, n_time)
    if times is None:
        time_values = np.arange(n_time)
    else:
        time_values = _per_frame("times", times, n_time, numeric=False)

    tables = []
    for t in range(n_time):
        name = f"tracked[{t}]"
        frame = _labelled(_as_label_frame(_read(tracked, t), name, check_sign=False), name)
        image = None if frames is None else _read(frames, t)
        tables.append(_region_table(frame, image))

    ids = np.unique(np.concatenate([tab["label"] for tab in tables]).astype(np.int64))
    values = {name: np.full((ids.size, n_time), np.nan) for name in _PROPERTIES}
    present = np.zeros((ids.size, n_time), dtype=bool)
    for t, table in enumerate(tables):
        rows = np.searchsorted(ids, table["label"].astype(np.int64))
        present[rows, t] = True
        for name in _PROPERTIES:
            if name in table:
                values[name][rows, t] = table[name]

    scale = {"area": pixel_size**2, "orientation": 180.0 / math.pi}
    data_vars: dict[str, Any] = {}
    for name, array in values.items():
        if name != "mean_intensity":
            array = array * scale.get(name, pixel_size)
        data_vars[name] = (("track", "time"), array, _attrs(name))
    data_vars["present"] = (("track", "time"), present, _attrs("present"))
    if dose is not None:
        data_vars["dose"] = (("time",), dose, _attrs("dose"))
    return xr.Dataset(
        data_vars,
        coords={"track": ("track", ids), "time": ("time", time_values)},
        attrs={
            "pixel_size": float(pixel_size),
            "pixel_size_units": "Å",
            "positions": "index × pixel_size from the centre of pixel (0, 0); y rows, x columns",
            "orientation_convention": "skimage: angle from the y (row) axis to the major axis",
        },
    )


def _read(stack: Any, t: int) -> np.ndarray:
    """Frame ``t`` of a (time, y, x) array-like as NumPy; a Dask array is computed in this
    thread (no scheduler round trip for one frame)."""
    item = stack[t]
    if hasattr(item, "__dask_graph__"):
        from dask.local import get_sync

        item = item.compute(scheduler=get_sync)
    return np.asarray(item)


def _region_table(frame: _Labelled, image: np.ndarray | None) -> dict[str, np.ndarray]:
    """Properties (in pixels) of each label of a frame, from its labelled pixels only.

    The values are those of :func:`skimage.measure.regionprops` (``label``, ``area``,
    ``centroid``, ``bbox``, ``equivalent_diameter_area``, ``orientation`` and
    ``intensity_mean`` of ``image`` as float64), computed alike: centres of mass are exact
    integer sums over the area, and the mean intensity is NumPy's mean of the region's
    values in raster order. The orientation comes from the exact (integer) second central
    moments, within rounding of skimage's floating-point ones; where the mixed moment or
    the difference of the other two is exactly zero (a mirror-symmetric or round region,
    whose angle rests on rounding: ±90° or ±45°), skimage itself decides, on the region's
    box (rare, and exactly as regionprops does it).
    """
    n = frame.values.size
    if n == 0:
        return {"label": frame.values}
    order = np.argsort(frame.compact, kind="stable")  # by label, raster order within one
    pixels = frame.pixels[order]
    rows, cols = np.divmod(pixels, frame.shape[1])
    starts = np.zeros(n, dtype=np.intp)
    np.cumsum(frame.areas[:-1], out=starts[1:])
    ends = starts + frame.areas
    area = frame.areas.astype(np.float64)
    sums = [np.add.reduceat(v, starts) for v in (rows, cols, rows * rows, cols * cols, rows * cols)]
    table = {
        "label": frame.values,
        "area": area,
        "com_y": sums[0] / area,
        "com_x": sums[1] / area,
        "bbox_y0": rows[starts],
        "bbox_x0": np.minimum.reduceat(cols, starts),
        "bbox_y1": rows[ends - 1] + 1,
        "bbox_x1": np.maximum.reduceat(cols, starts) + 1,
        "equivalent_diameter": np.array([(4 * a / math.pi) ** (1 / 2) for a in area]),
    }
    orientation = np.empty(n)
    for k, (m, sr, sc, srr, scc, src) in enumerate(zip(frame.areas.tolist(),
                                                       *(v.tolist() for v in sums))):  # fmt: skip
        # m² × central moments, exactly: rows (mu20), columns (mu02), mixed (mu11)
        mu20, mu02, mu11 = m * srr - sr * sr, m * scc - sc * sc, m * src - sr * sc
        if mu11 == 0 or mu20 == mu02:
            y0, x0 = int(table["bbox_y0"][k]), int(table["bbox_x0"][k])
            box = np.zeros((int(table["bbox_y1"][k]) - y0, int(table["bbox_x1"][k]) - x0), np.uint8)
            box[rows[starts[k] : ends[k]] - y0, cols[starts[k] : ends[k]] - x0] = 1
            orientation[k] = regionprops(box)[0].orientation
        else:
            orientation[k] = 0.5 * math.atan2(2 * mu11, mu20 - mu02)
    table["orientation"] = orientation
    if image is not None:
        values = image.ravel()[pixels].astype(np.float64)
        table["mean_intensity"] = np.array(
            [values[a:b].mean() for a, b in zip(starts.tolist(), ends.tolist())]
        )
    return table


def track_summary(props: xr.Dataset) -> pd.DataFrame:
    """One row per track of a :func:`track_properties` Dataset.

    Columns: ``first_frame``, ``last_frame`` (frame indices), ``frames_present``,
    ``mean_area`` [Å²] (over the frames present), ``displacement`` [Å] (straight distance
    between the centres of mass in the first and last frames present) and ``path_length``
    [Å] (sum of the centre's steps between consecutive frames present). Indexed by track id.
    """
    present = np.asarray(props["present"].values, dtype=bool)
    n_track = present.shape[0]
    columns = [
        "first_frame", "last_frame", "frames_present", "mean_area", "displacement", "path_length"
    ]
    if n_track == 0:
        frame = pd.DataFrame({name: pd.Series(dtype=float) for name in columns})
        frame.index = pd.Index(np.asarray(props["track"].values), name="track")
        return frame.astype({"first_frame": int, "last_frame": int, "frames_present": int})
    first = np.argmax(present, axis=1)
    last = present.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    com = np.stack([props["com_y"].values, props["com_x"].values], axis=-1)  # (track, time, 2)
    rows = np.arange(n_track)
    displacement = np.linalg.norm(com[rows, last] - com[rows, first], axis=-1)
    path = np.zeros(n_track)
    for k in range(n_track):
        steps = np.diff(com[k, present[k]], axis=0)
        path[k] = np.linalg.norm(steps, axis=-1).sum()
    area = np.where(present, props["area"].values, np.nan)
    return pd.DataFrame(
        {
            "first_frame": first,
            "last_frame": last,
            "frames_present": present.sum(axis=1),
            "mean_area": np.nanmean(area, axis=1),
            "displacement": displacement,
            "path_length": path,
        },
        index=pd.Index(np.asarray(props["track"].values), name="track"),
    )


def _attrs(name: str) -> dict[str, str]:
    return {"units": PROPERTY_UNITS[name], "long_name": _LONG_NAMES[name]}


def _per_frame(name: str, value: Any, n_time: int, numeric: bool = True) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64 if numeric else None)
    if array.shape != (n_time,):
        raise ParameterError(
            f"{name} must have one value per frame ({n_time},), got shape {array.shape}"
        )
    if numeric and not np.isfinite(array).all():
        raise ParameterError(f"{name} has non-finite values")
    return array


# --- validation ---------------------------------------------------------------------------


def _check_min_overlap(min_overlap: float) -> None:
    if (
        not isinstance(min_overlap, numbers.Real)
        or isinstance(min_overlap, bool)
        or not 0.0 <= min_overlap < 1.0
    ):
        raise ParameterError(f"min_overlap must be a fraction in [0, 1), got {min_overlap!r}")


def _as_label_frame(frame: Any, name: str, check_sign: bool = True) -> np.ndarray:
    """A 2-D integer label frame (bool as int32); ``check_sign=False`` leaves the check
    for negative labels to :func:`_labelled`, which makes it on the labelled pixels."""
    array = np.asarray(frame)
    if array.ndim != 2:
        raise ParameterError(
            f"{name} must be a 2-D label image (y, x), got {array.ndim}-D {array.shape}"
        )
    if array.dtype == bool:
        return array.astype(np.int32)
    if array.dtype.kind not in "iu":
        raise ParameterError(f"{name} must hold integer labels, got dtype {array.dtype}")
    if check_sign and array.size and array.dtype.kind == "i" and array.min() < 0:
        raise ParameterError(f"{name} has negative labels; labels are >= 0 (0 = background)")
    return array
