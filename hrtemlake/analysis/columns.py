"""Atomic columns from column-probability maps: positions, counts and events over time.

A network trained on Disk labels outputs, per pixel, the probability of an atomic column (one
channel per column class). The columns are the peaks of that map — the network acts "as an
advanced filter, giving a clean signal for peak detection" (seeds 000/001, Madsen, Schiøtz
et al.) — and following them through a series shows "the presence or absence of individual
columns of atoms" over time; counting the columns that appear and disappear between frames
counts diffusion events (seed 002, Leth Larsen et al., M&M 2022).

:func:`column_positions` finds the columns of one map, :func:`column_counts` counts them per
frame and class, :func:`match_columns` pairs the columns of two frames, and
:func:`column_events`, :func:`column_event_series` and :func:`column_presence` turn the pairing
into appeared / disappeared / persisted columns. :func:`column_heights` reads the number of
atoms of each column from a network's Heights map (seed 000: counting atoms per column).

Decisions
---------
Positions
    Peaks are the local maxima above ``threshold`` (:func:`skimage.feature.peak_local_max`,
    ``min_distance_px`` apart, ``exclude_border=False``); a flat maximum (a saturated
    probability plateau) counts once, however wide. The pixels above the threshold are split
    between the peaks by a watershed on the negated probability, and each column's position is
    the centre of mass of its region weighted by ``probability - threshold``: the weights
    vanish at the region's edge, so the pixel grid barely biases it (a Gaussian at a sub-pixel
    position is recovered within a few hundredths of a pixel). Positions are (row, col) in
    pixels, pixel centres at integer indices, sorted by row, then column.
Matching
    Columns of two frames are paired one to one within ``radius_px`` (inclusive): the largest
    number of pairs, and among those the smallest total distance (an assignment problem,
    :func:`scipy.optimize.linear_sum_assignment`, solved per connected group of nearby columns
    found with :class:`scipy.spatial.cKDTree`, so large frames stay cheap). A paired column
    *persisted*, an unpaired column of the earlier frame *disappeared*, an unpaired one of the
    later frame *appeared*.
Series
    Events of frame t are those between frames t-1 and t; frame 0 has none, marked NaN (the
    event counts are therefore float64).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage, sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from skimage.feature import peak_local_max
from skimage.segmentation import watershed

from hrtemlake.errors import ParameterError

__all__ = [
    "DEFAULT_MIN_DISTANCE_PX",
    "DEFAULT_THRESHOLD",
    "column_counts",
    "column_event_series",
    "column_events",
    "column_heights",
    "column_positions",
    "column_presence",
    "match_columns",
]

DEFAULT_THRESHOLD = 0.5
"""Probability above which a pixel can belong to a column."""

DEFAULT_MIN_DISTANCE_PX = 3
"""Least distance between two column peaks [px]."""


def column_positions(
    probability: Any,
    threshold: float = DEFAULT_THRESHOLD,
    min_distance_px: int = DEFAULT_MIN_DISTANCE_PX,
) -> np.ndarray:
    """Sub-pixel positions of the atomic columns of one probability map.

    Parameters
    ----------
    probability
        (y, x) column probability (one class).
    threshold
        Least probability of a column peak; pixels above it make up the columns.
    min_distance_px
        Least distance between two peaks [px].

    Returns
    -------
    numpy.ndarray
        (n, 2) float64 (row, col) centres of mass [px], sorted by row then column.
    """
    p = _as_map(probability, "probability", ndim=2)
    threshold = _check_threshold(threshold)
    min_distance = _check_int(min_distance_px, "min_distance_px", minimum=1)
    above = p > threshold
    if not above.any():
        return np.empty((0, 2))
    peaks = peak_local_max(
        p, min_distance=min_distance, threshold_abs=threshold, exclude_border=False
    )
    if len(peaks) == 0:
        return np.empty((0, 2))
    # Flat maxima: every pixel equal to the maximum of its 3 × 3 neighbourhood, grouped into
    # connected plateaus; peaks on one plateau make one marker.
    flat = above & (ndimage.maximum_filter(p, size=3, mode="nearest") == p)
    plateaus, _ = ndimage.label(flat, structure=np.ones((3, 3)))
    chosen = np.unique(plateaus[peaks[:, 0], peaks[:, 1]])
    chosen = chosen[chosen > 0]
    markers = np.where(np.isin(plateaus, chosen), plateaus, 0)
    regions = watershed(-p, markers=markers, mask=above)
    weights = np.where(above, p - threshold, 0.0)
    centres = np.array(ndimage.center_of_mass(weights, regions, chosen), dtype=float)
    centres = centres.reshape(-1, 2)
    return centres[np.lexsort((centres[:, 1], centres[:, 0]))]


def column_counts(
    probabilities: Any,
    threshold: float = DEFAULT_THRESHOLD,
    min_distance_px: int = DEFAULT_MIN_DISTANCE_PX,
) -> xr.Dataset:
    """Number of atomic columns per frame (and class).

    Parameters
    ----------
    probabilities
        (time, y, x) or (time, class, y, x) column probabilities; an xarray DataArray keeps
        its ``time`` and ``class`` coordinates. Read one frame at a time.
    threshold, min_distance_px
        As in :func:`column_positions`.

    Returns
    -------
    xarray.Dataset
        ``count`` (int64) over (time,) or (time, class).
    """
    shape = np.shape(probabilities)
    if len(shape) not in (3, 4):
        raise ParameterError(
            f"probabilities must be (time, y, x) or (time, class, y, x), got shape {shape}"
        )
    threshold = _check_threshold(threshold)
    _check_int(min_distance_px, "min_distance_px", minimum=1)
    n_time = shape[0]
    per_class = len(shape) == 4
    n_class = shape[1] if per_class else 1
    counts = np.zeros((n_time, n_class), dtype=np.int64)
    for t in range(n_time):
        frame = np.asarray(probabilities[t])
        maps = frame if per_class else frame[None]
        for c in range(n_class):
            counts[t, c] = len(column_positions(maps[c], threshold, min_distance_px))
    dims: tuple[str, ...] = ("time", "class") if per_class else ("time",)
    coords = {"time": _coordinate(probabilities, "time", n_time)}
    if per_class:
        coords["class"] = _coordinate(probabilities, "class", n_class)
    return xr.Dataset(
        {
            "count": (
                dims,
                counts if per_class else counts[:, 0],
                {"units": "1", "long_name": "atomic columns found"},
            )
        },
        coords=coords,
        attrs={"threshold": threshold, "min_distance_px": int(min_distance_px)},
    )


def match_columns(positions_a: Any, positions_b: Any, radius_px: float) -> np.ndarray:
    """One-to-one pairs of columns of two frames within a radius.

    Parameters
    ----------
    positions_a, positions_b
        (n_a, 2) and (n_b, 2) column positions [px].
    radius_px
        Largest distance of a pair [px] (inclusive).

    Returns
    -------
    numpy.ndarray
        (k, 2) int64 index pairs (i in ``positions_a``, j in ``positions_b``), sorted by i;
        the most pairs possible and, among those, the least total distance.
    """
    a = _as_positions(positions_a, "positions_a")
    b = _as_positions(positions_b, "positions_b")
    radius = _check_radius(radius_px)
    if len(a) == 0 or len(b) == 0:
        return np.empty((0, 2), dtype=np.int64)
    neighbours = cKDTree(a).query_ball_tree(cKDTree(b), radius)
    rows = np.repeat(np.arange(len(a)), [len(n) for n in neighbours])
    cols = np.fromiter((j for n in neighbours for j in n), dtype=np.int64, count=len(rows))
    if rows.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    distance = np.linalg.norm(a[rows] - b[cols], axis=1)
    # Connected groups of the bipartite graph (a nodes 0..n_a-1, b nodes n_a..).
    n_a, n_b = len(a), len(b)
    graph = sparse.coo_matrix(
        (np.ones(rows.size), (rows, cols + n_a)), shape=(n_a + n_b, n_a + n_b)
    )
    _, group = connected_components(graph, directed=False)
    pairs = []
    edge_group = group[rows]
    for g in np.unique(edge_group):
        sel = edge_group == g
        ia, ia_index = np.unique(rows[sel], return_inverse=True)
        jb, jb_index = np.unique(cols[sel], return_inverse=True)
        # Non-edges cost more than all edges together: maximum pairs first, then distance.
        big = (radius + 1.0) * (min(len(ia), len(jb)) + 1)
        cost = np.full((len(ia), len(jb)), big)
        cost[ia_index, jb_index] = distance[sel]
        r, c = linear_sum_assignment(cost)
        keep = cost[r, c] < big
        pairs.append(np.stack([ia[r[keep]], jb[c[keep]]], axis=1))
    result = np.concatenate(pairs).astype(np.int64)
    return result[np.argsort(result[:, 0], kind="stable")]


def column_events(positions_t0: Any, positions_t1: Any, radius_px: float) -> dict[str, Any]:
    """Columns that persisted, disappeared or appeared between two frames.

    Parameters
    ----------
    positions_t0, positions_t1
        (n0, 2) and (n1, 2) column positions of the earlier and the later frame [px].
    radius_px
        Largest displacement of a column that persisted [px].

    Returns
    -------
    dict
        ``appeared``, ``disappeared``, ``persisted``: counts (int);
        ``appeared_index``: indices into ``positions_t1`` of the new columns;
        ``disappeared_index``: indices into ``positions_t0`` of the lost columns;
        ``matches``: (persisted, 2) index pairs (i0, i1) of :func:`match_columns`.
    """
    p0 = _as_positions(positions_t0, "positions_t0")
    p1 = _as_positions(positions_t1, "positions_t1")
    matches = match_columns(p0, p1, radius_px)
    disappeared = np.setdiff1d(np.arange(len(p0)), matches[:, 0])
    appeared = np.setdiff1d(np.arange(len(p1)), matches[:, 1])
    return {
        "appeared": int(appeared.size),
        "disappeared": int(disappeared.size),
        "persisted": int(len(matches)),
        "appeared_index": appeared,
        "disappeared_index": disappeared,
        "matches": matches,
    }


def column_event_series(
    positions: Sequence[Any], radius_px: float, time: Any = None
) -> xr.Dataset:
    """Column counts and appear / disappear / persist events along a series.

    Parameters
    ----------
    positions
        One (n_t, 2) array of column positions [px] per frame.
    radius_px
        Largest displacement of a column that persisted between frames [px].
    time
        Coordinate of the ``time`` dimension; default 0..n-1.

    Returns
    -------
    xarray.Dataset
        Over ``time``: ``count`` (int64) columns per frame; ``appeared``, ``disappeared``,
        ``persisted`` (float64) between frame t-1 and t, NaN at the first frame.
    """
    frames = [_as_positions(p, f"positions[{t}]") for t, p in enumerate(positions)]
    radius = _check_radius(radius_px)
    n = len(frames)
    count = np.array([len(p) for p in frames], dtype=np.int64)
    events = {key: np.full(n, np.nan) for key in ("appeared", "disappeared", "persisted")}
    for t in range(1, n):
        result = column_events(frames[t - 1], frames[t], radius)
        for key in events:
            events[key][t] = result[key]
    between = "between frame t-1 and t (NaN at the first frame)"
    return xr.Dataset(
        {
            "count": ("time", count, {"units": "1", "long_name": "atomic columns"}),
            "appeared": (
                "time",
                events["appeared"],
                {"units": "1", "long_name": f"columns appeared {between}"},
            ),
            "disappeared": (
                "time",
                events["disappeared"],
                {"units": "1", "long_name": f"columns disappeared {between}"},
            ),
            "persisted": (
                "time",
                events["persisted"],
                {"units": "1", "long_name": f"columns persisted {between}"},
            ),
        },
        coords={"time": _time_values(time, n)},
        attrs={"radius_px": radius},
    )


def column_presence(
    positions: Sequence[Any], reference: Any, radius_px: float, time: Any = None
) -> xr.DataArray:
    """Presence of each reference column in each frame (seeds 000/001).

    Parameters
    ----------
    positions
        One (n_t, 2) array of column positions [px] per frame.
    reference
        (m, 2) positions of the columns to follow [px], e.g. those of a first or averaged
        frame.
    radius_px
        Largest distance at which a found column is the reference column [px].
    time
        Coordinate of the ``time`` dimension; default 0..n-1.

    Returns
    -------
    xarray.DataArray
        ``present`` (bool) over (time, column); ``column_row``/``column_col`` coordinates
        hold the reference positions.
    """
    ref = _as_positions(reference, "reference")
    radius = _check_radius(radius_px)
    frames = [_as_positions(p, f"positions[{t}]") for t, p in enumerate(positions)]
    present = np.zeros((len(frames), len(ref)), dtype=bool)
    for t, found in enumerate(frames):
        present[t, match_columns(ref, found, radius)[:, 0]] = True
    return xr.DataArray(
        present,
        dims=("time", "column"),
        coords={
            "time": _time_values(time, len(frames)),
            "column": np.arange(len(ref)),
            "column_row": ("column", ref[:, 0], {"units": "px"}),
            "column_col": ("column", ref[:, 1], {"units": "px"}),
        },
        name="present",
        attrs={"long_name": "reference column found within radius_px", "radius_px": radius},
    )


# -- helpers ---------------------------------------------------------------------------------


def _as_map(array: Any, name: str, ndim: int) -> np.ndarray:
    values = np.asarray(array)
    if values.ndim != ndim:
        raise ParameterError(f"{name} must have {ndim} dimensions, got shape {values.shape}")
    real = np.issubdtype(values.dtype, np.number) or values.dtype == bool
    if np.iscomplexobj(values) or not real:
        raise ParameterError(f"{name} must be real numbers, got dtype {values.dtype}")
    return values.astype(np.float64, copy=False)


def _as_positions(positions: Any, name: str) -> np.ndarray:
    values = np.asarray(positions, dtype=float)
    if values.size == 0:
        return np.empty((0, 2))
    if values.ndim != 2 or values.shape[1] != 2:
        raise ParameterError(
            f"{name} must be an (n, 2) array of (row, col), got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ParameterError(f"{name} holds non-finite positions")
    return values


def _check_threshold(threshold: Any) -> float:
    if not _is_real(threshold) or not math.isfinite(threshold):
        raise ParameterError(f"threshold must be a finite number, got {threshold!r}")
    return float(threshold)


def _check_radius(radius: Any) -> float:
    if not _is_real(radius) or not (math.isfinite(radius) and radius >= 0):
        raise ParameterError(f"radius_px must be a finite number ≥ 0 [px], got {radius!r}")
    return float(radius)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _coordinate(array: Any, name: str, n: int) -> Any:
    coords = getattr(array, "coords", None)
    if coords is not None and name in coords and coords[name].ndim == 1:
        return (name, np.asarray(coords[name].values), dict(coords[name].attrs))
    return (name, np.arange(n))


def _time_values(time: Any, n: int) -> np.ndarray:
    if time is None:
        return np.arange(n)
    values = np.asarray(time)
    if values.shape != (n,):
        raise ParameterError(f"time must have one value per frame ({n}), got shape {values.shape}")
    return values


def column_heights(height_map: Any, positions: Any, pixel_size: float,
                   radius: float) -> np.ndarray:  # fmt: skip
    """Number of atoms of each column: the rounded mean of a Heights map around it.

    Every pixel within ``radius`` (inclusive) of a column counts for the nearest column
    only, the rule the Heights labels are drawn with, so close columns do not mix.

    Parameters
    ----------
    height_map
        (y, x) predicted column heights [atoms], e.g. a Heights network's output.
    positions
        (n, 2) column positions (y, x) [Å], pixel (r, c) being at y = r ``pixel_size``,
        x = c ``pixel_size``.
    pixel_size
        [Å/px].
    radius
        Radius of the disc averaged around each column [Å], e.g. half the label's
        ``spotsize``.

    Returns
    -------
    numpy.ndarray
        (n,) float64 whole numbers of atoms (halves round to even); NaN for a column with
        no pixel of the map within ``radius``.
    """
    heights = _as_map(height_map, "height_map", ndim=2)
    if not _is_real(pixel_size) or not (math.isfinite(pixel_size) and pixel_size > 0):
        raise ParameterError(f"pixel_size must be a positive number [Å/px], got {pixel_size!r}")
    if not _is_real(radius) or not (math.isfinite(radius) and radius >= 0):
        raise ParameterError(f"radius must be a finite number ≥ 0 [Å], got {radius!r}")
    centres = _as_positions(positions, "positions") / pixel_size
    out = np.full(len(centres), np.nan)
    if len(centres) == 0:
        return out
    pixels = np.indices(heights.shape).reshape(2, -1).T
    reach = radius / pixel_size * (1 + 1e-9) + 1e-9  # the query's bound is exclusive
    distance, column = cKDTree(centres).query(pixels, distance_upper_bound=reach)
    near = np.isfinite(distance)
    column, values = column[near], heights.ravel()[near]
    area = np.bincount(column, minlength=len(centres))
    total = np.bincount(column, weights=values, minlength=len(centres))
    found = area > 0
    out[found] = np.rint(total[found] / area[found])
    return out
