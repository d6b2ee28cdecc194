"""Instance segmentation of probability maps: threshold → distance map → peaks → watershed.

The pseudo-instance segmentation of the thesis (§3.5, Fig. 3.10) and of its "Label by 2+1D
Connectivity" tool (ch.6): a network's probability map of one frame is thresholded into a
binary mask (paper II: 0.9, "pixels that the network classifies with at least 90 %
confidence"), the Euclidean distance map of the mask peaks at the centres of the segmented
regions, those peaks are the markers of a watershed on the negated distance map, and the
watershed splits touching or overlapping regions into one instance each. One parameter, the
minimum separation in nm, sets both the least distance between two markers and, squared,
the least area of an instance; smaller instances (noise, artefacts) are removed.

:func:`segment_instances` does one frame, :func:`segment_series` a (time, y, x) stack frame by
frame; instances of different frames are independent (connect them with
:func:`hrtemlake.analysis.tracking.track_instances`).

Decisions
---------
Units
    ``min_separation`` is in nm, as in the thesis' menu item, and ``pixel_size`` in Å, as
    everywhere in the lake: ``min_separation`` nm is ``10 * min_separation / pixel_size``
    pixels (:func:`separation_in_pixels`; 1 nm at 0.5 Å/px is 20 px).
Threshold
    A pixel belongs to the mask when ``probability >= threshold``. A boolean array is a mask
    already and is used as it is.
Markers
    :func:`skimage.feature.peak_local_max` with ``min_distance`` = the separation in pixels
    (rounded, at least 1), run on each connected component of the mask separately
    (``labels`` = the components) so that a peak never suppresses one in another component,
    and with ``exclude_border=False`` so that particles at the frame's edge keep their
    marker. A component left without a marker (one so thin that its distance map is flat)
    becomes one instance of its own rather than being lost.
Minimum area
    An instance whose area in pixels is smaller than (separation in pixels)² is removed.
Label order
    Labels are consecutive 1..n in raster order of each instance's first pixel (row by row,
    like :func:`scipy.ndimage.label`), 0 is background; the dtype is int32.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.segmentation import watershed

from hrtemlake.errors import ParameterError

__all__ = [
    "DEFAULT_MIN_SEPARATION",
    "DEFAULT_THRESHOLD",
    "binary_mask",
    "iter_segmented",
    "segment_instances",
    "segment_series",
    "separation_in_pixels",
]

DEFAULT_THRESHOLD = 0.9
"""Probability threshold of the binary mask (paper II)."""

DEFAULT_MIN_SEPARATION = 1.0
"""Minimum separation of instances [nm]; its square is the minimum instance area."""


def separation_in_pixels(min_separation: float, pixel_size: float) -> float:
    """The minimum separation in pixels.

    Parameters
    ----------
    min_separation
        Minimum separation between instances [nm].
    pixel_size
        Pixel size of the frame [Å/px].

    Returns
    -------
    float
        ``10 * min_separation / pixel_size`` [px].
    """
    _check_real("min_separation", min_separation, minimum=0.0, unit="nm")
    _check_real("pixel_size", pixel_size, minimum=0.0, strict=True, unit="Å")
    return 10.0 * float(min_separation) / float(pixel_size)


def binary_mask(probability: Any, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """``probability >= threshold`` after validation; a boolean input is returned as is.

    Parameters
    ----------
    probability
        Probability map (y, x) or stack (time, y, x), or a boolean mask.
    threshold
        Least probability of a mask pixel.
    """
    array = _as_probability(probability, ndims=(2, 3))
    _check_real("threshold", threshold)
    if array.dtype == bool:
        return array
    return array >= threshold


def segment_instances(
    probability: Any,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    min_separation: float = DEFAULT_MIN_SEPARATION,
    pixel_size: float,
) -> np.ndarray:
    """Instance labels of one frame: threshold, distance map, peaks, watershed.

    Parameters
    ----------
    probability
        Probability map of one frame (y, x), finite, or a boolean mask.
    threshold
        A pixel is in the mask when ``probability >= threshold`` (default 0.9, paper II).
    min_separation
        Minimum separation between instance markers [nm]; its square is the minimum
        instance area.
    pixel_size
        Pixel size of the frame [Å/px].

    Returns
    -------
    numpy.ndarray
        int32 (y, x): 0 background, instances 1..n in raster order of their first pixel.

    Raises
    ------
    hrtemlake.errors.ParameterError
        (a ``ValueError``) naming the argument: not 2-D, non-finite values, a pixel size
        that is not > 0, a negative separation.
    """
    array = _as_probability(probability, ndims=(2,), hint="use segment_series for (time, y, x)")
    _check_real("threshold", threshold)
    separation = separation_in_pixels(min_separation, pixel_size)
    mask = array if array.dtype == bool else array >= threshold
    return _segment_mask(mask, separation)


def iter_segmented(
    probabilities: Any,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    min_separation: float = DEFAULT_MIN_SEPARATION,
    pixel_size: float,
) -> Iterator[np.ndarray]:
    """Yield :func:`segment_instances` of each frame of a (time, y, x) array-like in turn.

    Frames are read one at a time (``probabilities[t]``), so a Zarr or Dask array is
    never loaded whole.
    """
    _check_stack("probabilities", probabilities)
    _check_real("threshold", threshold)
    separation_in_pixels(min_separation, pixel_size)
    for t in range(probabilities.shape[0]):
        yield segment_instances(
            probabilities[t], threshold, min_separation=min_separation, pixel_size=pixel_size
        )


def segment_series(
    probabilities: Any,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    min_separation: float = DEFAULT_MIN_SEPARATION,
    pixel_size: float,
    out: Any = None,
) -> Any:
    """:func:`segment_instances` of every frame of a (time, y, x) stack.

    Parameters
    ----------
    probabilities
        Probability maps (time, y, x) (or boolean masks); any array-like with ``shape``
        and integer indexing along time (NumPy, Zarr, Dask).
    threshold, min_separation, pixel_size
        As in :func:`segment_instances` ([nm] and [Å/px]).
    out
        Optional (time, y, x) array to write the labels into, frame by frame (e.g. a Zarr
        array); a new int32 NumPy array by default.

    Returns
    -------
    numpy.ndarray or the ``out`` given
        int32 (time, y, x); each frame's instances are labelled 1..n independently.
    """
    _check_stack("probabilities", probabilities)
    shape = tuple(probabilities.shape)
    if out is None:
        out = np.zeros(shape, dtype=np.int32)
    elif tuple(out.shape) != shape:
        raise ParameterError(f"out: shape {tuple(out.shape)} differs from probabilities {shape}")
    frames = iter_segmented(
        probabilities, threshold, min_separation=min_separation, pixel_size=pixel_size
    )
    for t, labels in enumerate(frames):
        out[t] = labels
    return out


# --- kernel -------------------------------------------------------------------------------


def _segment_mask(mask: np.ndarray, separation: float) -> np.ndarray:
    """Watershed instances of a boolean mask, filtered by area and relabelled.

    Each connected component is split on its own bounding box (the distance map, peaks and
    watershed of one component never depend on another), so the work follows the particles
    rather than the frame (a 4096² frame with ~300 particles: ~0.25 s instead of 8 s for
    the whole-frame transforms). Distances and markers are those of the whole frame; only the
    order in which pixels at equal distance are flooded may differ, which can move a
    watershed line between two pieces by a pixel.

    Whole-frame work is one labelling and a few passes over the mask pixels (~1 % of a
    frame): areas and bounding boxes come from the flat indices of the mask pixels, and
    the area filter and raster order are settled per piece on its component's box, so
    the result is written once, on the particles' pixels only (the same labels as
    filtering and relabelling the whole frame, at a third of the cost).
    """
    components, n = ndimage.label(mask)
    min_area = max(separation**2, 1.0)
    pixels = np.flatnonzero(mask)  # raster order
    owner = components.ravel()[pixels]
    # a component below the minimum area can only give instances below it: drop it before
    # the per-component peak search (noisy maps hold tens of thousands of specks)
    keep = np.bincount(owner, minlength=n + 1) >= min_area
    keep[0] = False
    big = keep[owner]
    boxes = zip(*label_boxes(pixels[big], owner[big], mask.shape[1]))
    width = mask.shape[1]
    found = []  # (component box, its pieces 1..k, the piece labels present)
    firsts, areas = [], []  # per piece, in the order of `found`
    for label, box in boxes:
        own = components[box] == label
        pieces = _split_component(components, keep, label, box, own, separation)
        # area and first pixel (in the frame's raster order) of each piece 1..k
        flat = pieces.ravel()
        inside = np.flatnonzero(flat)
        values, first, counts = np.unique(flat[inside], return_index=True, return_counts=True)
        rows, cols = np.divmod(inside[first], box[1].stop - box[1].start)
        firsts.append((rows + box[0].start) * width + cols + box[1].start)
        areas.append(counts)
        found.append((box, pieces, values))
    labels = np.zeros(mask.shape, dtype=np.int32)
    if not found:
        return labels
    firsts, areas = np.concatenate(firsts), np.concatenate(areas)
    kept = areas >= min_area
    # new labels 1..m in raster order of the kept pieces' first pixels
    final = np.zeros(firsts.size, dtype=np.int32)
    order = np.argsort(np.where(kept, firsts, mask.size), kind="stable")[: np.count_nonzero(kept)]
    final[order] = np.arange(1, order.size + 1, dtype=np.int32)
    start = 0
    for box, pieces, values in found:
        lookup = np.zeros(int(values[-1]) + 1 if values.size else 1, dtype=np.int32)
        lookup[values] = final[start : start + values.size]
        start += values.size
        np.copyto(labels[box], lookup[pieces], where=pieces > 0)
    return labels


def label_boxes(pixels: np.ndarray, values: np.ndarray, width: int) -> tuple[np.ndarray, list]:
    """The labels present (ascending) and their bounding boxes, from the flat (raster)
    indices of the labelled pixels of a frame ``width`` pixels wide and their labels: what
    :func:`scipy.ndimage.find_objects` gives, from the labelled pixels only."""
    if values.size == 0:
        return values, []
    order = np.argsort(values, kind="stable")  # by label, raster order within one
    values, pixels = values[order], pixels[order]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    rows, cols = np.divmod(pixels, width)
    top, bottom = rows[starts], rows[np.r_[starts[1:], rows.size] - 1] + 1
    left = np.minimum.reduceat(cols, starts)
    right = np.maximum.reduceat(cols, starts) + 1
    boxes = [(slice(int(t), int(b)), slice(int(l), int(r)))
             for t, b, l, r in zip(top, bottom, left, right)]  # fmt: skip
    return values[starts], boxes


def _split_component(components: np.ndarray, keep: np.ndarray, label: int, box: tuple,
                     own: np.ndarray, separation: float) -> np.ndarray:  # fmt: skip
    """Watershed pieces 1..k of component ``label`` (pixels ``own`` of its box ``box``)."""
    distance = _component_distance(components, keep, box, own)
    peaks = peak_local_max(distance, min_distance=max(1, int(round(separation))),
                           labels=own.astype(np.int32), exclude_border=False)  # fmt: skip
    if len(peaks) <= 1:
        # no peak (a flat distance map): the component stays whole; one peak would flood
        # the whole (connected) component: the same result without the watershed
        return own.astype(np.int32)
    markers = np.zeros(own.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    pieces = watershed(-distance, markers, mask=own)
    unmarked = own & (pieces == 0)
    if unmarked.any():
        rest, _ = ndimage.label(unmarked)
        pieces[unmarked] = rest[unmarked] + len(peaks)
    return pieces


def _component_distance(components: np.ndarray, keep: np.ndarray, box: tuple,
                        own: np.ndarray) -> np.ndarray:  # fmt: skip
    """The frame's Euclidean distance map (to the nearest background pixel) on ``box``,
    zero outside ``own``; the foreground is the components with ``keep[label]``.

    Computed on the box widened by a margin, which is exact for every pixel whose distance
    found is no longer than its way out of the widened box (a background pixel beyond is
    at least that far); the margin doubles until that holds for the whole component."""
    height, width = components.shape
    margin = 2
    while True:
        rows = slice(max(box[0].start - margin, 0), min(box[0].stop + margin, height))
        cols = slice(max(box[1].start - margin, 0), min(box[1].stop + margin, width))
        distance = ndimage.distance_transform_edt(keep[components[rows, cols]])
        inner = (slice(box[0].start - rows.start, box[0].stop - rows.start),
                 slice(box[1].start - cols.start, box[1].stop - cols.start))  # fmt: skip
        found = np.where(own, distance[inner], 0)
        way = _way_out(rows, cols, components.shape)[inner]
        if (found <= way).all():
            return found
        margin *= 2


def _way_out(rows: slice, cols: slice, shape: tuple) -> np.ndarray:
    """Per pixel of the crop ``rows, cols``: the distance to the nearest pixel outside it
    (sides on the frame's edge have nothing beyond)."""
    h, w = rows.stop - rows.start, cols.stop - cols.start
    r, c = np.arange(h, dtype=float)[:, None], np.arange(w, dtype=float)[None, :]
    way = np.full((h, w), np.inf)
    for beyond, gap in ((rows.start > 0, r + 1), (rows.stop < shape[0], h - r),
                        (cols.start > 0, c + 1), (cols.stop < shape[1], w - c)):  # fmt: skip
        if beyond:
            way = np.minimum(way, gap)
    return way


# --- validation ---------------------------------------------------------------------------


def _check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    strict: bool = False,
    unit: str = "",
) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        relation = ">" if strict else ">="
        suffix = f" [{unit}]" if unit else ""
        raise ParameterError(f"{name} must be {relation} {minimum:g}{suffix}, got {value!r}")


def _check_stack(name: str, array: Any) -> None:
    shape = getattr(array, "shape", None)
    if shape is None:
        raise ParameterError(f"{name} must be an array (time, y, x), got {type(array).__name__}")
    if len(shape) != 3:
        raise ParameterError(f"{name} must be 3-D (time, y, x), got {len(shape)}-D {tuple(shape)}")


def _as_probability(probability: Any, ndims: tuple[int, ...], hint: str = "") -> np.ndarray:
    array = np.asarray(probability)
    if array.ndim not in ndims:
        dims = {2: "2-D (y, x)", 3: "3-D (time, y, x)"}
        wanted = " or ".join(dims[n] for n in ndims)
        extra = f"; {hint}" if hint and array.ndim == 3 else ""
        raise ParameterError(
            f"probability must be {wanted}, got {array.ndim}-D shape {array.shape}{extra}"
        )
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "iuf":
        raise ParameterError(f"probability must be real numbers, got dtype {array.dtype}")
    # all finite ⇔ min and max finite (NaN propagates): no frame-sized temporary
    if array.dtype.kind == "f" and array.size and not (
        np.isfinite(array.min()) and np.isfinite(array.max())
    ):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ParameterError(f"probability has {bad} non-finite values (NaN or inf)")
    return array
