"""Tiled inference with Hamming-window blending over frames of any size.

A network trained on, say, 256² images is applied to a 4096² frame window by window, and the
windows' outputs are blended with a 2-D Hamming window so that window borders leave no seams
(seed 002, Leth Larsen et al., M&M 2022: "the segmentation is carried out in windows across
the image [...] Hamming filters are applied to each window to smoothen out borders"; thesis
§3.5). :func:`tiled_predict` takes any callable that maps a batch of windows to a batch of
outputs (a Keras ``model.predict_on_batch``, a NumPy function, ...), so this module imports
no deep-learning framework.

Decisions
---------
Overlap
    ``overlap`` is a *fraction* of the window in [0, 1): neighbouring windows share
    ``round(overlap * window)`` pixels, so the nominal step is ``window - round(overlap *
    window)``. Windows are spread evenly between the first and the last position (the last
    one ends flush with the padded frame), so the actual step is at most the nominal one.
Padding and coverage
    The frame is extended by reflection (NumPy ``mode="reflect"``, SciPy ``"mirror"``: the
    edge pixel is not repeated) by ``round(overlap * window) // 2`` pixels on every side,
    and further where the frame is smaller than one window. Every frame pixel then lies at
    least that far from the border of one window covering it, i.e. in a window's centre
    region: the frame's own edge pixels are not predicted only from a window's edge, where
    networks with zero padding are least reliable. The reflected pixels are gathered per
    window by index arithmetic; the padded frame is never built.
Blending weights
    Each window's output is multiplied by ``np.outer(h, h)``, ``h = np.hamming(window - 2 *
    margin)`` placed between ``margin`` zeros on each side, accumulated, and divided by the
    accumulated weights. ``np.hamming`` ends at 0.08, not 0, so every pixel covered by a
    window's non-discarded part has weight ≥ 0.08² and the division is always safe; no floor
    is needed. ``margin`` (default 0: pure Hamming blending as in seed 002) discards a band
    of each window's output outright. With ``margin`` ≥ the receptive-field radius of a
    translation-equivariant model, the tiled result equals whole-frame prediction up to
    rounding, since only exact values are blended; it needs ``2 * margin ≤ overlap pixels``
    so that the kept parts of the windows still cover the frame.
Memory
    Window positions (a small (n, 2) array) are processed ``batch_size`` at a time; besides the
    frame, only one batch of windows, its output, the (y, x, c_out) sum and the (y, x)
    weights exist at once. Accumulation is in float32 (the dtype networks return).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from hrtemlake.errors import ParameterError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_OVERLAP",
    "DEFAULT_WINDOW",
    "MIN_WINDOW",
    "blend_weights",
    "tiled_predict",
    "window_positions",
]

DEFAULT_WINDOW = 256
"""Window side [px]."""

DEFAULT_OVERLAP = 0.25
"""Fraction of the window shared by neighbouring windows."""

DEFAULT_BATCH_SIZE = 8
"""Windows passed to ``predict`` per call."""

MIN_WINDOW = 8
"""Smallest window side accepted [px]."""

Predict = Callable[[np.ndarray], Any]


def window_positions(shape: tuple[int, int], window: int, step: int) -> np.ndarray:
    """Top-left corners of windows that cover a frame.

    Along each axis the windows start at 0 and the last one ends flush with the frame; their
    number is the least for which no step exceeds ``step``, and they are spread evenly
    (positions rounded to whole pixels). An axis no longer than ``window`` gets one window
    at 0 (the frame must be padded to the window by the caller).

    Parameters
    ----------
    shape
        Frame shape (y, x) [px].
    window
        Window side [px].
    step
        Largest step between neighbouring windows [px], ``1 ≤ step ≤ window``.

    Returns
    -------
    numpy.ndarray
        (n, 2) int64 array of (y0, x0), in raster order (row by row).
    """
    window = _check_window(window)
    if not _is_int(step) or not 1 <= step <= window:
        raise ParameterError(f"step must be an integer in [1, window={window}], got {step!r}")
    if len(shape) != 2 or any(int(n) < 1 for n in shape):
        raise ParameterError(f"shape must be two positive lengths (y, x), got {shape!r}")
    ys, xs = (_axis_starts(int(n), window, int(step)) for n in shape)
    grid = np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1)
    return grid.reshape(-1, 2)


def blend_weights(window: int, margin: int = 0) -> np.ndarray:
    """The (window, window) float32 blending weights: a 2-D Hamming window inside ``margin``.

    ``np.outer(h, h)`` with ``h = np.hamming(window - 2 * margin)`` padded by ``margin``
    zeros on both sides; the weights are ≥ 0.08² wherever they are not zero.
    """
    window = _check_window(window)
    margin = _check_margin(margin, window)
    h = np.zeros(window, dtype=np.float64)
    h[margin : window - margin] = np.hamming(window - 2 * margin)
    return np.outer(h, h).astype(np.float32)


def tiled_predict(
    frame: Any,
    predict: Predict,
    window: int = DEFAULT_WINDOW,
    overlap: float = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    channels_out: int | None = None,
    margin: int = 0,
) -> np.ndarray:
    """Apply ``predict`` to a frame of any size in overlapping, Hamming-blended windows.

    Parameters
    ----------
    frame
        (y, x) or (y, x, c_in) image of any size, smaller than one window included.
    predict
        Callable mapping a float32 batch (n, window, window, c_in), ``n ≤ batch_size``, to an
        array (n, window, window, c_out); an (n, window, window) result counts as one
        channel. A Keras ``model.predict_on_batch`` fits.
    window
        Window side [px], at least :data:`MIN_WINDOW`; use the size the network was trained
        for (any size its down-sampling accepts).
    overlap
        Fraction of the window shared by neighbouring windows, in [0, 1).
    batch_size
        Most windows passed to ``predict`` per call.
    channels_out
        Expected number of output channels; ``None`` takes it from the first batch.
    margin
        Pixels discarded (weight 0) along every border of each window's output [px];
        ``2 * margin`` must not exceed the overlap in pixels. Set it to the model's
        receptive-field radius to reproduce whole-frame prediction exactly.

    Returns
    -------
    numpy.ndarray
        (y, x, c_out) float32 blended prediction, aligned with ``frame``.

    Raises
    ------
    hrtemlake.errors.ParameterError
        (a ``ValueError``) for a bad frame or parameter, or when ``predict`` returns an array
        of the wrong shape.
    """
    image = _as_frame(frame)
    window = _check_window(window)
    overlap_px = _overlap_pixels(overlap, window)
    margin = _check_margin(margin, window)
    if 2 * margin > overlap_px:
        raise ParameterError(
            f"margin={margin} px discards more than half of the overlap ({overlap_px} px for "
            f"overlap={overlap} of window={window}): the kept parts of the windows would leave "
            "gaps; raise overlap or lower margin"
        )
    if not _is_int(batch_size) or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    if channels_out is not None and (not _is_int(channels_out) or channels_out < 1):
        raise ParameterError(
            f"channels_out must be a positive integer or None, got {channels_out!r}"
        )
    if not callable(predict):
        raise ParameterError(f"predict must be callable, got {type(predict).__name__}")

    ny, nx, c_in = image.shape
    pad = overlap_px // 2
    # Padded extent per axis: `pad` on both sides, then at least one window.
    before = (pad, pad)
    extent = tuple(max(n + 2 * pad, window) for n in (ny, nx))
    positions = window_positions(extent, window, window - overlap_px)
    weights_2d = blend_weights(window, margin)

    total: np.ndarray | None = None
    weight_sum = np.zeros((ny, nx), dtype=np.float32)
    for batch in _batches(positions, int(batch_size)):
        tiles = np.empty((len(batch), window, window, c_in), dtype=np.float32)
        for i, (y0, x0) in enumerate(batch):
            rows = _reflect(np.arange(y0, y0 + window) - before[0], ny)
            cols = _reflect(np.arange(x0, x0 + window) - before[1], nx)
            tiles[i] = image[np.ix_(rows, cols)]
        out = _check_output(predict(tiles), len(batch), window, channels_out)
        if total is None:
            channels_out = out.shape[-1]
            total = np.zeros((ny, nx, channels_out), dtype=np.float32)
        for i, (y0, x0) in enumerate(batch):
            fy, ty = _overlap_slices(y0 - before[0], window, ny)
            fx, tx = _overlap_slices(x0 - before[1], window, nx)
            w = weights_2d[ty, tx]
            total[fy, fx] += out[i, ty, tx] * w[..., None]
            weight_sum[fy, fx] += w
    assert total is not None  # at least one window always exists
    # Every pixel is covered by a kept part of a window (weight ≥ 0.08²); guard anyway.
    np.maximum(weight_sum, np.finfo(np.float32).tiny, out=weight_sum)
    total /= weight_sum[..., None]
    return total


# -- helpers ---------------------------------------------------------------------------------


def _axis_starts(size: int, window: int, step: int) -> np.ndarray:
    if size <= window:
        return np.zeros(1, dtype=np.int64)
    n = math.ceil((size - window) / step) + 1
    return np.round(np.linspace(0, size - window, n)).astype(np.int64)


def _batches(positions: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(positions), batch_size):
        yield positions[start : start + batch_size]


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Map indices outside [0, n) back by reflection about the edge pixels (NumPy 'reflect')."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    index = np.mod(index, period)
    return np.where(index >= n, period - index, index)


def _overlap_slices(start: int, window: int, n: int) -> tuple[slice, slice]:
    """Slices of the frame [0, n) and of a window starting at ``start`` that overlap."""
    lo, hi = max(start, 0), min(start + window, n)
    return slice(lo, hi), slice(lo - start, hi - start)


def _as_frame(frame: Any) -> np.ndarray:
    image = np.asarray(frame)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ParameterError(
            f"frame must be (y, x) or (y, x, channel), got an array of shape {image.shape}"
        )
    if min(image.shape) < 1:
        raise ParameterError(f"frame is empty: shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool) or np.iscomplexobj(image):
        raise ParameterError(f"frame must be real numbers, got dtype {image.dtype}")
    return image


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_window(window: Any) -> int:
    if not _is_int(window) or window < MIN_WINDOW:
        raise ParameterError(
            f"window must be an integer of at least {MIN_WINDOW} px, got {window!r}"
        )
    return int(window)


def _check_margin(margin: Any, window: int) -> int:
    if not _is_int(margin) or margin < 0:
        raise ParameterError(f"margin must be a non-negative integer [px], got {margin!r}")
    if window - 2 * int(margin) < 2:
        raise ParameterError(f"margin={margin} px leaves nothing of a window of {window} px")
    return int(margin)


def _overlap_pixels(overlap: Any, window: int) -> int:
    if isinstance(overlap, bool) or not isinstance(overlap, numbers.Real):
        raise ParameterError(f"overlap must be a fraction of the window in [0, 1), got {overlap!r}")
    if not 0.0 <= float(overlap) < 1.0:
        raise ParameterError(
            f"overlap is a fraction of the window and must lie in [0, 1), got {overlap!r}"
        )
    return min(int(round(float(overlap) * window)), window - 1)


def _check_output(out: Any, n: int, window: int, channels_out: int | None) -> np.ndarray:
    array = np.asarray(out)
    if array.ndim == 3:
        array = array[..., None]
    expected = f"({n}, {window}, {window}, {channels_out if channels_out else 'c_out'})"
    if array.ndim != 4 or array.shape[:3] != (n, window, window):
        raise ParameterError(
            f"predict returned shape {np.shape(out)} for a batch of shape "
            f"({n}, {window}, {window}, c_in); expected {expected}"
        )
    if channels_out is not None and array.shape[3] != channels_out:
        raise ParameterError(
            f"predict returned {array.shape[3]} channels, expected {channels_out} "
            f"(shape {np.shape(out)}, expected {expected})"
        )
    if np.iscomplexobj(array) or not np.issubdtype(array.dtype, np.number):
        raise ParameterError(f"predict must return real numbers, got dtype {array.dtype}")
    return array.astype(np.float32, copy=False)
