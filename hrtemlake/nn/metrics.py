"""Scores of network predictions against simulated ground truth (thesis §3.4, §4.3).

* **Pixel scores** (eqs. 3.5-3.7): every pixel of a binarised prediction is a true/false
  positive/negative of its channel; F1 = TP / (TP + (FN + FP)/2), P = TP / (TP + FP),
  R = TP / (TP + FN).
* **Atomic scores** (thesis §4.3, Publication III): peaks of each class's probability map
  are matched to the ground-truth sites of that class; a prediction within ``radius_px`` of
  a site is a true positive, FP = predicted atoms - TP (eq. 4.1), FN = ground-truth atoms -
  TP (eq. 4.2). The paper used 10 pixels (1 Å at 0.1 Å/pixel).
* **Exit waves**: root mean squared error (square root of eq. 2.6) and the complex values
  at the atomic columns for Argand plots (thesis Fig. 4.4).
* **Column heights** (Heights labels, seed 000): each column's predicted number of atoms is
  the mean of the prediction over the column's spot, rounded to the nearest integer; the
  score of an image is the fraction of its columns counted exactly, and the mean absolute
  error of the counts.

Conventions
-----------
Arrays are (y, x, c), channels last, as the networks output them. Positions are pixel
(row, col) coordinates, pixel (r, c) having its centre at (r, c); the lake's sites are
(x, y) [Å] and go through :meth:`~hrtemlake.simulate.epochs.EpochGeometry.pixels` first.

Undefined ratios: when a channel or class has nothing to find and nothing was found
(TP + FP + FN = 0) its F1 is 1 (a perfect score of an empty image); precision is NaN when
TP + FP = 0 and recall is NaN when TP + FN = 0.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from skimage.feature import peak_local_max

__all__ = [
    "argand_values",
    "atomic_scores",
    "column_height_scores",
    "complex_rmse",
    "f1_precision_recall",
    "match_points",
    "peak_positions",
    "pixel_scores",
    "plot_argand",
    "rmse",
]

#: Label values at or above this count as positive in pixel scores. For Gaussian labels
#: the half-maximum contour is the Disk label's disc, so both binarise alike.
LABEL_THRESHOLD = 0.5


def _as_channels(array: Any, name: str) -> np.ndarray:
    """``array`` as (y, x, c); a (y, x) array becomes one channel."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"{name} must be (y, x, c) or (y, x), got shape {array.shape}")
    return array


def f1_precision_recall(tp: Any, fp: Any, fn: Any) -> dict[str, np.ndarray]:
    """F1, precision and recall from counts (eqs. 3.5-3.7), elementwise.

    F1 is 1 where TP + FP + FN = 0; precision (recall) is NaN where TP + FP (TP + FN) = 0.

    Returns
    -------
    dict
        ``f1``, ``precision``, ``recall``: float64 arrays of the counts' shape.
    """
    tp, fp, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn))
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp + fp + fn == 0, 1.0, tp / (tp + 0.5 * (fp + fn)))
        precision = np.where(tp + fp == 0, np.nan, tp / (tp + fp))
        recall = np.where(tp + fn == 0, np.nan, tp / (tp + fn))
    return {"f1": f1, "precision": precision, "recall": recall}


def _binarise(prediction: np.ndarray, threshold: float, argmax: bool) -> np.ndarray:
    if not argmax:
        return prediction >= threshold
    winner = np.argmax(prediction, axis=-1)
    return winner[..., None] == np.arange(prediction.shape[-1])


def pixel_scores(
    prediction: Any, label: Any, threshold: float = 0.5, argmax: bool = False
) -> dict[str, np.ndarray]:
    """Pixel-wise F1, precision and recall of each channel (eqs. 3.5-3.7).

    Parameters
    ----------
    prediction : array (y, x, c) or (y, x)
        Probability maps (sigmoid or softmax output).
    label : array like ``prediction``
        Ground truth, binary or soft; values >= 0.5 are positive.
    threshold : float
        Probabilities >= ``threshold`` are positive (ignored when ``argmax``).
    argmax : bool
        Multi-class (softmax) scoring: each pixel belongs to exactly one channel, that of
        its largest probability (ties go to the first channel).

    Returns
    -------
    dict
        Arrays of length c: ``tp``, ``fp``, ``fn`` (int64) and ``f1``, ``precision``,
        ``recall`` (float64; see the module's conventions for empty channels).
    """
    prediction = _as_channels(prediction, "prediction")
    label = _as_channels(label, "label")
    if prediction.shape != label.shape:
        raise ValueError(f"prediction {prediction.shape} and label {label.shape} differ")
    predicted = _binarise(prediction, threshold, argmax)
    truth = label >= LABEL_THRESHOLD
    counts = {
        "tp": np.sum(predicted & truth, axis=(0, 1)),
        "fp": np.sum(predicted & ~truth, axis=(0, 1)),
        "fn": np.sum(~predicted & truth, axis=(0, 1)),
    }
    return {**counts, **f1_precision_recall(counts["tp"], counts["fp"], counts["fn"])}


def _plateau_centres(probability: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Replace peaks lying on one flat top (connected pixels equal to their 3×3 maximum)
    by the centroid of that top, so that a saturated disc gives one peak at its centre."""
    flat = probability == ndimage.maximum_filter(probability, size=3, mode="nearest")
    tops, _ = ndimage.label(flat, structure=np.ones((3, 3)))
    ids = np.unique(tops[peaks[:, 0], peaks[:, 1]])
    centres = ndimage.center_of_mass(flat, tops, ids)
    return np.asarray(centres, dtype=np.float64).reshape(-1, 2)


def peak_positions(
    probability: Any, threshold: float = 0.5, min_distance_px: int = 2
) -> np.ndarray:
    """Local maxima of a probability map above ``threshold``: the predicted atoms.

    Peaks are found with :func:`skimage.feature.peak_local_max` (values strictly above
    ``threshold``, at least ``min_distance_px`` apart, borders included). Peaks on one flat
    top (e.g. a saturated disc) are merged into its centroid, which may be fractional.

    Parameters
    ----------
    probability : array (y, x)
        One channel of a prediction.
    threshold : float
        Minimum probability of a peak (exclusive).
    min_distance_px : int
        Minimum separation of peaks [pixels] (Chebyshev, as in ``peak_local_max``).

    Returns
    -------
    ndarray (n, 2) float64
        Peak (row, col) [pixels], sorted by row then column.
    """
    probability = np.asarray(probability, dtype=np.float64)
    if probability.ndim != 2:
        raise ValueError(f"probability must be (y, x), got shape {probability.shape}")
    peaks = peak_local_max(
        probability, min_distance=max(int(min_distance_px), 1), threshold_abs=threshold,
        exclude_border=False,
    )  # fmt: skip
    if len(peaks) == 0:
        return np.empty((0, 2), dtype=np.float64)
    centres = _plateau_centres(probability, peaks)
    return centres[np.lexsort((centres[:, 1], centres[:, 0]))]


def _candidate_pairs(
    predicted: np.ndarray, sites: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (prediction, site, distance) pairs within ``radius``."""
    if len(predicted) == 0 or len(sites) == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty, np.empty(0)
    pairs = cKDTree(predicted).sparse_distance_matrix(
        cKDTree(sites), radius, output_type="ndarray"
    )
    return pairs["i"].astype(np.intp), pairs["j"].astype(np.intp), pairs["v"]


def match_points(
    predicted: np.ndarray, sites: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matching of predicted points to sites within ``radius``.

    The matching has the largest possible number of pairs and, among those, the smallest
    total distance (an optimal assignment, :func:`scipy.optimize.linear_sum_assignment`,
    solved separately on each cluster of points linked by distances <= ``radius``).

    Returns
    -------
    (ndarray, ndarray, ndarray)
        Indices into ``predicted`` and into ``sites`` of the matched pairs, and their
        distances [same unit as the points].
    """
    i, j, d = _candidate_pairs(np.asarray(predicted), np.asarray(sites), radius)
    if len(i) == 0:
        return i, j, d
    n_pred = len(predicted)
    graph = coo_matrix((np.ones(len(i)), (i, n_pred + j)), shape=(n_pred + len(sites),) * 2)
    _, cluster = connected_components(graph, directed=False)
    out = [_assign_cluster(i[m], j[m], d[m]) for m in _pair_groups(cluster[i])]
    return tuple(np.concatenate(parts) for parts in zip(*out))  # type: ignore[return-value]


def _pair_groups(cluster_of_pair: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(cluster_of_pair, kind="stable")
    splits = np.flatnonzero(np.diff(cluster_of_pair[order])) + 1
    return np.split(order, splits)


def _assign_cluster(
    i: np.ndarray, j: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal assignment within one cluster: forbidden pairs cost more than any set of
    allowed ones, so the number of matches is maximised before the distance is minimised."""
    rows, i_local = np.unique(i, return_inverse=True)
    cols, j_local = np.unique(j, return_inverse=True)
    forbidden = float(d.sum()) + 1.0
    cost = np.full((len(rows), len(cols)), forbidden)
    cost[i_local, j_local] = d
    r, c = linear_sum_assignment(cost)
    keep = cost[r, c] < forbidden
    return rows[r[keep]], cols[c[keep]], cost[r[keep], c[keep]]


def _sites_in_image(sites: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Mask of sites whose position lies on the image, [-0.5, n - 0.5) per axis."""
    inside = (sites >= -0.5) & (sites < np.asarray(shape, dtype=np.float64) - 0.5)
    return inside.all(axis=1)


def atomic_scores(
    prediction: Any,
    sites_px: Any,
    site_class: Any,
    radius_px: float,
    threshold: float = 0.5,
    min_distance_px: int = 2,
    background: bool = False,
) -> dict[str, Any]:
    """Atomic F1, precision and recall of each class (thesis §4.3, eqs. 4.1-4.2).

    The predicted atoms of class c are the peaks of channel c (:func:`peak_positions`).
    They are matched one-to-one to the sites with ``site_class == c`` within
    ``radius_px`` (:func:`match_points`): matched peaks are TP, the other peaks FP, the
    other sites FN. An atom found in the wrong class is thus an FN of its true class and
    an FP of the predicted one. Sites outside the image are left out.

    Parameters
    ----------
    prediction : array (y, x, c) or (y, x)
        Probability maps, one channel per class (plus a last background channel when
        ``background``).
    sites_px : array (n, 2)
        Ground-truth atomic columns, (row, col) [pixels].
    site_class : array (n,) of int
        Class of each site, 0 <= class < number of classes.
    radius_px : float
        Largest distance of a match [pixels], inclusive (10 in Publication III).
    threshold : float
        Minimum probability of a predicted atom (exclusive).
    min_distance_px : int
        Minimum separation of predicted atoms of one class [pixels].
    background : bool
        The last channel is background and is not scored.

    Returns
    -------
    dict
        Per class (arrays of length n_classes): ``tp``, ``fp``, ``fn`` (int64), ``f1``,
        ``precision``, ``recall`` and ``matched_distance`` (mean distance of the matches
        [pixels], NaN without matches); ``peaks``: list of the (k, 2) predicted atoms per
        class; ``f1_all``, ``precision_all``, ``recall_all``: floats from the counts
        summed over the classes (one atomic F1 per image).
    """
    prediction = _as_channels(prediction, "prediction")
    n_classes = prediction.shape[-1] - int(background)
    sites = np.asarray(sites_px, dtype=np.float64).reshape(-1, 2)
    classes = np.asarray(site_class).reshape(-1)
    _check_sites(sites, classes, n_classes, radius_px)
    keep = _sites_in_image(sites, prediction.shape[:2])
    sites, classes = sites[keep], classes[keep]

    peaks, counts, distances = [], np.zeros((3, n_classes), dtype=np.int64), []
    for c in range(n_classes):
        found = peak_positions(prediction[..., c], threshold, min_distance_px)
        truth = sites[classes == c]
        _, _, d = match_points(found, truth, radius_px)
        peaks.append(found)
        counts[:, c] = (len(d), len(found) - len(d), len(truth) - len(d))
        distances.append(float(d.mean()) if len(d) else np.nan)

    totals = f1_precision_recall(*counts.sum(axis=1))
    return {
        "tp": counts[0], "fp": counts[1], "fn": counts[2],
        **f1_precision_recall(*counts),
        "matched_distance": np.asarray(distances),
        "peaks": peaks,
        **{f"{key}_all": float(value) for key, value in totals.items()},
    }  # fmt: skip


def _check_sites(sites: np.ndarray, classes: np.ndarray, n_classes: int, radius: float) -> None:
    if len(classes) != len(sites):
        raise ValueError(f"{len(sites)} sites but {len(classes)} site classes")
    if not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"site_class must be integers, got dtype {classes.dtype}")
    if len(classes) and (classes.min() < 0 or classes.max() >= n_classes):
        raise ValueError(
            f"site_class must lie in [0, {n_classes}) for {n_classes} scored channels, "
            f"got [{classes.min()}, {classes.max()}]"
        )
    if not radius >= 0:
        raise ValueError(f"radius_px must be >= 0, got {radius}")


def column_height_scores(
    prediction: Any, label: Any, sites_px: Optional[Any] = None
) -> dict[str, Any]:
    """How many columns of one image a Heights prediction counts exactly (seed 000).

    A column's spot is made of the pixels where the label is positive (>= 0.5: heights are
    whole atoms). With ``sites_px`` each such pixel belongs to its nearest site, the rule
    the label was drawn with, so touching spots stay apart; without, the spots are the
    connected (8-neighbour) regions of the label. A column's predicted height is the mean
    of the prediction over its spot rounded to the nearest integer (halves to even), its
    true height the rounded median of the label there (robust to a pixel given to the
    wrong neighbour). Columns with no spot on the image are not scored.

    Parameters
    ----------
    prediction : array (y, x, 1) or (y, x)
        Predicted heights [atoms].
    label : array like ``prediction``
        The Heights label: atoms of the column on its spot, 0 elsewhere.
    sites_px : array (n, 2), optional
        Column positions (row, col) [pixels], support columns left out.

    Returns
    -------
    dict
        ``exact_fraction``: fraction of the scored columns whose predicted height equals
        the true one; ``mean_abs_error``: mean |predicted - true| [atoms] (both NaN
        without columns); ``predicted``, ``truth``: (k,) int64 heights of the scored
        columns; ``columns``: (k,) their index into ``sites_px`` (or region number - 1).
    """
    prediction = _single_channel(prediction, "prediction")
    label = _single_channel(label, "label")
    if prediction.shape != label.shape:
        raise ValueError(f"prediction {prediction.shape} and label {label.shape} differ")
    spots = _column_spots(label >= LABEL_THRESHOLD, sites_px)
    ids = np.unique(spots[spots > 0])
    if len(ids) == 0:
        empty = np.empty(0, dtype=np.int64)
        return {"exact_fraction": np.nan, "mean_abs_error": np.nan, "predicted": empty,
                "truth": empty, "columns": empty}  # fmt: skip
    predicted = np.rint(ndimage.mean(prediction, spots, ids)).astype(np.int64)
    truth = np.rint(ndimage.median(label, spots, ids)).astype(np.int64)
    return {
        "exact_fraction": float(np.mean(predicted == truth)),
        "mean_abs_error": float(np.mean(np.abs(predicted - truth))),
        "predicted": predicted, "truth": truth, "columns": (ids - 1).astype(np.int64),
    }  # fmt: skip


def _single_channel(array: Any, name: str) -> np.ndarray:
    array = _as_channels(array, name)
    if array.shape[-1] != 1:
        raise ValueError(f"{name} must hold one channel (heights), got shape {array.shape}")
    return array[..., 0].astype(np.float64)


def _column_spots(on: np.ndarray, sites_px: Optional[Any]) -> np.ndarray:
    """Integer map of the column spots: 0 off the columns, k + 1 on column k."""
    if sites_px is None:
        return ndimage.label(on, structure=np.ones((3, 3)))[0]
    sites = np.asarray(sites_px, dtype=np.float64).reshape(-1, 2)
    spots = np.zeros(on.shape, dtype=np.int64)
    if len(sites) and on.any():
        pixels = np.argwhere(on)
        spots[tuple(pixels.T)] = cKDTree(sites).query(pixels)[1] + 1
    return spots


def _pixel_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask broadcast to ``shape``: (y, x) masks apply to every channel."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == len(shape) - 1:
        mask = mask[..., None]
    mask = np.broadcast_to(mask, shape)
    if not mask.any():
        raise ValueError("mask selects no pixels")
    return mask


def _squared_error(prediction: Any, truth: Any) -> np.ndarray:
    prediction = np.asarray(prediction, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} differ")
    return (prediction - truth) ** 2


def rmse(prediction: Any, truth: Any, mask: Optional[Any] = None) -> float:
    """Root mean squared error over all values (every pixel and channel).

    Parameters
    ----------
    prediction, truth : array
        Same shape, e.g. (y, x, c).
    mask : bool array, optional
        Values to include: the arrays' shape, or (y, x) for every channel.
    """
    error = _squared_error(prediction, truth)
    if mask is not None:
        error = error[_pixel_mask(mask, error.shape)]
    return float(np.sqrt(error.mean()))


def complex_rmse(prediction: Any, truth: Any, mask: Optional[Any] = None) -> float:
    """RMSE of exit waves stored as (y, x, 2) real/imaginary channels: the square root of
    eq. 2.6, sqrt(mean over pixels of |ψ_pred - ψ_true|²).

    Equals ``sqrt(2) * rmse(prediction, truth)`` (eq. 2.6 sums over the channels, while
    :func:`rmse` averages over them).

    Parameters
    ----------
    prediction, truth : array (y, x, 2)
        Real and imaginary parts.
    mask : bool array (y, x), optional
        Pixels to include.
    """
    error = _squared_error(prediction, truth)
    if error.ndim != 3 or error.shape[-1] != 2:
        raise ValueError(f"exit waves must be (y, x, 2), got shape {error.shape}")
    error = error.sum(axis=-1)
    if mask is not None:
        error = error[_pixel_mask(mask, error.shape)]
    return float(np.sqrt(error.mean()))


def _as_complex(wave: Any, name: str) -> np.ndarray:
    wave = np.asarray(wave)
    if wave.ndim != 3 or wave.shape[-1] != 2:
        raise ValueError(f"{name} must be (y, x, 2) real/imaginary, got shape {wave.shape}")
    return wave[..., 0].astype(np.float64) + 1j * wave[..., 1].astype(np.float64)


def _sample(wave: np.ndarray, sites: np.ndarray, method: str) -> np.ndarray:
    if method == "nearest":
        rows, cols = np.rint(sites).astype(np.intp).T
        return wave[rows, cols]
    if method == "bilinear":
        sample = [
            ndimage.map_coordinates(part, sites.T, order=1, mode="nearest")
            for part in (wave.real, wave.imag)
        ]
        return sample[0] + 1j * sample[1]
    raise ValueError(f"method must be 'nearest' or 'bilinear', got {method!r}")


def argand_values(
    prediction: Any, truth: Any, sites_px: Any, method: str = "nearest"
) -> tuple[np.ndarray, np.ndarray]:
    """Complex exit-wave values at the atomic columns, for Argand plots (thesis Fig. 4.4).

    Parameters
    ----------
    prediction, truth : array (y, x, 2)
        Predicted and ground-truth exit waves, real and imaginary channels.
    sites_px : array (n, 2)
        Column positions (row, col) [pixels] on the image, [-0.5, n - 0.5) per axis.
    method : {"nearest", "bilinear"}
        "nearest" (default) takes the pixel whose centre is nearest (ties round half to
        even); "bilinear" interpolates the real and imaginary parts.

    Returns
    -------
    (ndarray, ndarray)
        complex128 (n,) values of the prediction and of the truth.
    """
    waves = [_as_complex(prediction, "prediction"), _as_complex(truth, "truth")]
    if waves[0].shape != waves[1].shape:
        raise ValueError(f"prediction {waves[0].shape} and truth {waves[1].shape} differ")
    sites = np.asarray(sites_px, dtype=np.float64).reshape(-1, 2)
    if not _sites_in_image(sites, waves[0].shape).all():
        raise ValueError("sites_px must lie on the image, [-0.5, n - 0.5) along each axis")
    return _sample(waves[0], sites, method), _sample(waves[1], sites, method)


def plot_argand(prediction: Any, truth: Any, ax: Optional[Any] = None) -> Any:
    """Argand plot: predicted and ground-truth column values in the complex plane.

    Parameters
    ----------
    prediction, truth : array (n,) complex
        Values from :func:`argand_values`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; by default a new figure (no pyplot, safe without a display).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(4.5, 4.5)).add_subplot()
    for values, marker, name in ((truth, "x", "ground truth"), (prediction, "+", "prediction")):
        values = np.asarray(values, dtype=np.complex128).reshape(-1)
        ax.scatter(values.real, values.imag, marker=marker, label=name)
    ax.set_xlabel("Re ψ")
    ax.set_ylabel("Im ψ")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend()
    return ax
