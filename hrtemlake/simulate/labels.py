"""Labels aligned with image epochs (thesis §3.2; Denoise and Regression from seed 004;
Heights from seed 000).

Every label is built on the image's own pixel grid (its realised sampling, crop and
padding, :class:`~hrtemlake.simulate.epochs.EpochGeometry`), never interpolated from
another grid. Pixel (r, c) stands for the point y = (r - o_y) s_y, x = (c - o_x) s_x of
the cell, the same point the image samples there.

Channels, in this order, and their values:

* **Mask** - "mask": 1 at pixel centres inside the convex hull of the sites (support
  sites, class "support", left out: the particle's outline), else 0.
* **Disk** - one channel per site class: 1 at pixels within ``spotsize``/2 [Å] of a site
  of that class, else 0; a pixel within reach of several sites belongs to the nearest,
  so channels never overlap.
* **Gaussian** - one channel per site class: the maximum over its sites of
  exp(-d²/2σ²) with FWHM = ``spotsize`` (its half-maximum contour is the Disk disc).
* **Exitwave** - "real", "imaginary": the exit wave after a Gaussian filter of σ = 15 pm,
  resampled to the image like the image wave; 0 where the image is padded.
* **Denoise** - "focus_i": the noise-free intensity of focus image i (same optics, no
  noise, no MTF) relative to vacuum = 1; × dose × pixel area gives the image's expected
  counts.
* **ClassMask** - one channel per model class (the dataset's ``class_names``): the Mask
  outline of the model in the channel of its class (``structure_class``), 0 in the others;
  the class per region (e.g. zone axis vs. tilted).
* **Heights** - "height": the number of atoms of the column (the site's ``site_count``,
  its height) at pixels within ``spotsize``/2 [Å] of a site, else 0; support sites, class
  "support", left out. As for Disk, a pixel within reach of several sites belongs to the
  nearest, so spots never overlap. No null class.

With ``null_class`` a last channel "background" is added to segmentation labels:
1 - (sum of the others), exact for Mask and Disk, clipped to [0, 1] for Gaussian.
Regression labels are the drawn parameters named in ``regression_targets``
(:func:`~hrtemlake.simulate.draw.regression_targets`), stored as ``target``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from hrtemlake.backend import asnumpy, get_array_module, get_fft_module
from hrtemlake.simulate.epochs import EpochGeometry, spectrum_on_grid
from hrtemlake.simulate.params import ImageParameters
from hrtemlake.simulate.resampling import crop_or_pad

__all__ = [
    "BACKGROUND",
    "EXITWAVE_FILTER",
    "SUPPORT_CLASS",
    "channel_names",
    "disk_label",
    "exitwave_label",
    "gaussian_label",
    "height_label",
    "mask_label",
    "with_background",
]

#: Standard deviation of the Gaussian filter of Exitwave labels [Å] (15 pm).
EXITWAVE_FILTER = 0.15
#: Name of the null (background) channel.
BACKGROUND = "background"
#: Site class excluded from Mask and Heights labels (the support of a nanoparticle).
SUPPORT_CLASS = "support"
_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))  # FWHM / σ of a Gaussian
_GAUSSIAN_REACH = 5.0  # spots are cut at 5σ (exp(-12.5) ≈ 4e-6)


def channel_names(
    params: ImageParameters, class_names: Optional[Sequence[str]] = None
) -> list[str]:
    """Names of the label channels (regression: of the targets) for ``params``;
    ``class_names``: the site classes (Disk, Gaussian) or the model classes (ClassMask)."""
    background = [BACKGROUND] if params.null_class else []
    if params.label == "Mask":
        return ["mask", *background]
    if params.label in ("Disk", "Gaussian", "ClassMask"):
        if class_names is None:
            class_names = [f"class_{i}" for i in range(params.num_classes - len(background))]
        return [str(name) for name in class_names] + background
    if params.label == "Exitwave":
        return ["real", "imaginary"]
    if params.label == "Heights":
        return ["height"]
    if params.label == "Denoise":
        return [f"focus_{i}" for i in range(params.num_focal)]
    if params.label == "Class":
        return ["class"]
    return list(params.regression_targets)


def with_background(channels: np.ndarray, clip: bool = False) -> np.ndarray:
    """Append the null channel 1 - sum(channels) (clipped to [0, 1] with ``clip``)."""
    null = 1.0 - channels.sum(axis=0, dtype=np.float32)
    if clip:
        null = np.clip(null, 0.0, 1.0)
    return np.concatenate([channels, null[None].astype(channels.dtype)])


def mask_label(geometry: EpochGeometry, positions: np.ndarray) -> np.ndarray:
    """Pixels whose centres lie inside the convex hull of ``positions`` (n, 2) (x, y) [Å].

    Returns float32 (Ly, Lx) of 0/1; all zero for fewer than three non-collinear sites.
    """
    out = np.zeros(geometry.size, dtype=np.float32)
    rows, cols = geometry.pixels(positions)
    points = np.column_stack([cols, rows])
    try:
        vertices = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):
        return out
    x0, y0 = vertices[:, 0], vertices[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    first = max(0, int(np.ceil(y0.min())))
    last = min(geometry.size[0] - 1, int(np.floor(y0.max())))
    if last < first:
        return out
    r = np.arange(first, last + 1, dtype=np.float64)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (r - y0) / (y1 - y0)
    crossing = (t >= 0) & (t <= 1)
    x = x0 + np.where(crossing, t, 0.0) * (x1 - x0)
    left = np.where(crossing, x, np.inf).min(axis=1)
    right = np.where(crossing, x, -np.inf).max(axis=1)
    for row, a, b in zip(range(first, last + 1), left, right):
        if a <= b:
            start = max(0, int(np.ceil(a - 1e-9)))
            out[row, start : max(start, int(np.floor(b + 1e-9)) + 1)] = 1.0
    return out


def _neighbourhood(geometry: EpochGeometry, positions: np.ndarray, reach: float):
    """Pixels within ``reach`` [Å] of each site: flat pixel index, squared distance [Å²]
    and site index, for every (site, pixel) pair."""
    rows, cols = geometry.pixels(positions)
    (sy, sx), (ly, lx) = geometry.sampling, geometry.size
    span_y, span_x = int(np.ceil(2 * reach / sy)) + 2, int(np.ceil(2 * reach / sx)) + 2
    rr = np.floor(rows - reach / sy).astype(np.int64)[:, None] + np.arange(span_y)
    cc = np.floor(cols - reach / sx).astype(np.int64)[:, None] + np.arange(span_x)
    dy2, dx2 = ((rr - rows[:, None]) * sy) ** 2, ((cc - cols[:, None]) * sx) ** 2
    d2 = dy2[:, :, None] + dx2[:, None, :]
    inside = ((rr >= 0) & (rr < ly))[:, :, None] & ((cc >= 0) & (cc < lx))[:, None, :]
    keep = inside & (d2 <= reach**2)
    pixel = rr[:, :, None] * lx + cc[:, None, :]
    site = np.broadcast_to(np.arange(len(rows))[:, None, None], keep.shape)
    return pixel[keep], d2[keep], site[keep]


def disk_label(
    geometry: EpochGeometry, positions: np.ndarray, classes: np.ndarray, num_classes: int,
    spotsize: float,
) -> np.ndarray:  # fmt: skip
    """One 0/1 channel per class: discs of diameter ``spotsize`` [Å] around the sites.

    A pixel is in a disc when its centre is within ``spotsize / 2`` of the site; where
    discs of different classes overlap the nearest site wins. Returns float32
    (num_classes, Ly, Lx).
    """
    out = np.zeros((num_classes, geometry.size[0] * geometry.size[1]), dtype=np.float32)
    if len(positions):
        pixel, site = _nearest_site(geometry, positions, spotsize / 2)
        out[np.asarray(classes)[site], pixel] = 1.0
    return out.reshape((num_classes,) + geometry.size)


def height_label(
    geometry: EpochGeometry, positions: np.ndarray, counts: np.ndarray, spotsize: float
) -> np.ndarray:
    """Column heights: each site's number of atoms on its disc of diameter ``spotsize``.

    Parameters
    ----------
    geometry : EpochGeometry
        The image's grid, pixel size, size and offset.
    positions : array (n, 2)
        Sites (x, y) [Å]; support sites already left out.
    counts : array (n,)
        Atoms in each site's column (the lake's ``site_count``).
    spotsize : float
        Disc diameter [Å]; where discs overlap the nearest site wins, as in
        :func:`disk_label`.

    Returns
    -------
    float32 array (1, Ly, Lx)
        The site's count inside its disc, 0 elsewhere.
    """
    out = np.zeros(geometry.size[0] * geometry.size[1], dtype=np.float32)
    if len(positions):
        pixel, site = _nearest_site(geometry, positions, spotsize / 2)
        out[pixel] = np.asarray(counts, dtype=np.float32)[site]
    return out.reshape((1,) + geometry.size)


def _nearest_site(geometry: EpochGeometry, positions: np.ndarray, reach: float):
    """Pixels within ``reach`` [Å] of a site, each once, with the index of its nearest
    site: the rule that keeps Disk and Heights spots from overlapping."""
    pixel, d2, site = _neighbourhood(geometry, positions, reach)
    order = np.lexsort((d2, pixel))
    pixel, site = pixel[order], site[order]
    nearest = np.unique(pixel, return_index=True)[1]
    return pixel[nearest], site[nearest]


def gaussian_label(
    geometry: EpochGeometry, positions: np.ndarray, classes: np.ndarray, num_classes: int,
    spotsize: float,
) -> np.ndarray:  # fmt: skip
    """One channel per class: the maximum over its sites of Gaussian spots of FWHM
    ``spotsize`` [Å] (peak 1). Returns float32 (num_classes, Ly, Lx)."""
    out = np.zeros((num_classes, geometry.size[0] * geometry.size[1]), dtype=np.float32)
    if len(positions):
        sigma = spotsize / _FWHM
        pixel, d2, site = _neighbourhood(geometry, positions, _GAUSSIAN_REACH * sigma)
        values = np.exp(-d2 / (2 * sigma**2)).astype(np.float32)
        np.maximum.at(out, (np.asarray(classes)[site], pixel), values)
    return out.reshape((num_classes,) + geometry.size)


def exitwave_label(
    spectrum: Any, geometry: EpochGeometry, sigma: float = EXITWAVE_FILTER, workers: int = 1
) -> np.ndarray:
    """Real and imaginary part of the filtered exit wave on the image grid.

    Parameters
    ----------
    spectrum : complex array (ny, nx)
        FFT of the exit wave (unshifted).
    geometry : EpochGeometry
        The image's grid, pixel size, size and offset.
    sigma : float
        Standard deviation of the Gaussian filter [Å] (thesis: 15 pm).
    workers : int
        Threads of ``scipy.fft`` (CPU only).

    Returns
    -------
    float32 array (2, Ly, Lx)
    """
    xp = get_array_module(spectrum)
    on_grid = spectrum_on_grid(spectrum, geometry.grid)
    ky = np.fft.fftfreq(geometry.grid[0], geometry.sampling[0])[:, None]
    kx = np.fft.fftfreq(geometry.grid[1], geometry.sampling[1])[None, :]
    gaussian = np.exp(-2 * np.pi**2 * sigma**2 * (kx**2 + ky**2)).astype(np.float32)
    kwargs = {"workers": workers} if xp is np else {}
    wave = get_fft_module(xp).ifft2(on_grid * xp.asarray(gaussian), **kwargs)
    wave = asnumpy(crop_or_pad(wave, geometry.size))
    return np.stack([wave.real, wave.imag]).astype(np.float32)
