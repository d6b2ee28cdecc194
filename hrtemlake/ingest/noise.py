"""Dose, noise power spectra and MTF / readout-noise fitting of experimental frames.

Implements the noise characterisation of paper II (Leth Larsen et al., arXiv:2302.12629,
Appendix A.3) and the detector model of the thesis (§1.3, eqs. 1.24–1.28):

* the detector MTF (thesis eq. 1.25, Lee et al.) multiplies the Fourier transform of the
  Poisson shot-noise image of ``N_D`` electrons per pixel (eq. 1.26);
* Poisson readout noise of mean ``N0`` is added afterwards, unshaped by the MTF (eq. 1.27).

The noise power spectrum of a vacuum frame, per pixel and for ``g`` counts per electron, is
then exactly::

    PSD(q̃) = g² [N_D MTF(q̃)² + N0],     q̃ = q / q_Nyquist

so its q̃ → 0 limit is ``c1 = g² (N_D + N0)`` (MTF(0) = 1) and its q̃ → ∞ limit is
``c2 = g² (N_D C_det² + N0)``, with ``C_det`` the floor of the MTF itself. Paper II's noise
floor ``C = c2 / c1`` is therefore::

    C = (N_D C_det² + N0) / (N_D + N0)  →  N0 / (N_D + N0)   for C_det = 0,

which is how :func:`readout_from_series` reads ``N0`` off ``C`` against the dose per pixel
(paper II Fig. 5). The relation only uses the two limits, so it holds for any MTF shape.

Because the MTF acts on amplitudes, the PSD carries MTF²; :func:`fit_mtf` by default fits
``(c1 - c2) L(q̃)² + c2`` with ``L = 1 / (1 + (q̃/c0)^c3)`` so that ``c0`` and ``c3`` are the
detector MTF's own parameters, ready to be drawn again in simulations. ``power=1`` fits
paper II eq. A.1 to the PSD literally, to compare with its published values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage, optimize

from hrtemlake.preprocess import local_standardise

__all__ = [
    "DEFAULT_COUNTS_PER_ELECTRON",
    "PARAMETER_FIELDS",
    "Window",
    "MTFFit",
    "ReadoutFit",
    "local_standardise",
    "find_vacuum_window",
    "mean_electrons_per_pixel",
    "frame_dose",
    "counts_per_electron_from_metadata",
    "radial_power_spectrum",
    "mtf",
    "psd_model",
    "fit_mtf",
    "readout_from_series",
    "parameter_fragment",
    "plot_mtf_fit",
    "simulate_vacuum",
]

#: Detector counts per incident electron when the metadata does not say [counts/e⁻].
#: 1.0 is right for electron-counting cameras; scintillator cameras (e.g. Gatan OneView)
#: need their own gain, so pass it explicitly to :func:`frame_dose`.
DEFAULT_COUNTS_PER_ELECTRON = 1.0

#: Parameter-file field of each noise parameter. Follows :mod:`hrtemlake.simulate.params`,
#: which reads Listing A.1 ('mtf_c1': (0.2, 0.6) is c0, 'mtf_c2': (0, 0) is C, matching
#: paper II Table 3); Table 3.2's wording "c1 ≡ C, c2 ≡ c0" would make Listing A.1's c0
#: zero. Keep the two modules in step: this is the one place to change here.
PARAMETER_FIELDS = {"c0": "mtf_c1", "C": "mtf_c2", "c3": "mtf_c3", "N0": "readout"}

#: A rectangular image region: (y0, x0, height, width) [pixels].
Window = tuple[int, int, int, int]


# -- dose -----------------------------------------------------------------------------------


def _window_shape(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if np.isscalar(size) else size
    if h < 1 or w < 1:
        raise ValueError(f"window size must be positive, got {size}")
    return int(h), int(w)


def _window_sums(values: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sum of every h × w window (top-left indexed) via an integral image."""
    integral = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    integral[1:, 1:] = values.cumsum(0).cumsum(1)
    return integral[h:, w:] - integral[:-h, w:] - integral[h:, :-w] + integral[:-h, :-w]


def find_vacuum_window(
    image: np.ndarray,
    size: int | tuple[int, int],
    *,
    smooth_px: float = 2.0,
    bright_quantile: float = 0.75,
) -> Window:
    """Find the flattest bright window of an image: the best vacuum region.

    Criterion: the image is smoothed with a Gaussian of `smooth_px` so shot noise no longer
    dominates its variations; among the windows whose mean lies in the brightest quarter
    (`bright_quantile`) — in bright-field HR-TEM vacuum transmits the most — the one with
    the lowest relative standard deviation (std / mean) of the smoothed image is returned.
    Candidate positions lie on a grid of ``min(size) // 16`` pixels.

    Parameters
    ----------
    image : numpy.ndarray
        (y, x) frame [counts].
    size : int or (int, int)
        Window (height, width) [pixels].
    smooth_px : float
        Gaussian smoothing width [pixels].
    bright_quantile : float
        Quantile of the window means a candidate must reach.

    Returns
    -------
    Window
        (y0, x0, height, width) [pixels].
    """
    img = np.asarray(image, dtype=np.float64)
    h, w = _window_shape(size)
    if img.ndim != 2 or h > img.shape[0] or w > img.shape[1]:
        raise ValueError(f"a {h}×{w} window does not fit an image of shape {img.shape}")
    step = max(1, min(h, w) // 16)
    smooth = ndimage.gaussian_filter(img, smooth_px)
    ny, nx = (n // step for n in img.shape)
    binned = smooth[: ny * step, : nx * step].reshape(ny, step, nx, step).mean(axis=(1, 3))
    hb, wb = h // step, w // step
    level = binned.mean()  # centred sums keep E[x²] - E[x]² accurate at high counts
    shifted = _window_sums(binned - level, hb, wb) / (hb * wb)
    var = np.maximum(_window_sums((binned - level) ** 2, hb, wb) / (hb * wb) - shifted**2, 0.0)
    mean = shifted + level
    relative = np.sqrt(var) / np.maximum(np.abs(mean), 1e-300)
    relative[mean < np.quantile(mean, bright_quantile)] = np.inf
    yb, xb = np.unravel_index(np.argmin(relative), relative.shape)
    y0, x0 = min(yb * step, img.shape[0] - h), min(xb * step, img.shape[1] - w)
    return int(y0), int(x0), h, w


def _crop(image: np.ndarray, window: Window) -> np.ndarray:
    y0, x0, h, w = window
    return np.asarray(image)[y0 : y0 + h, x0 : x0 + w]


def mean_electrons_per_pixel(
    image: np.ndarray,
    window: Window,
    counts_per_electron: float = DEFAULT_COUNTS_PER_ELECTRON,
    offset: float = 0.0,
) -> float:
    """Mean number of electrons per pixel in a (vacuum) window [e⁻/pixel].

    Parameters
    ----------
    image : numpy.ndarray
        (y, x) frame [counts].
    window : Window
        (y0, x0, height, width) [pixels], e.g. from :func:`find_vacuum_window`.
    counts_per_electron : float
        Detector gain [counts/e⁻].
    offset : float
        Counts to subtract first (a dark level left in the data) [counts].
    """
    return float((_crop(image, window).mean() - offset) / counts_per_electron)


def frame_dose(
    image: np.ndarray,
    window: Window,
    pixel_size: float | tuple[float, float],
    counts_per_electron: float = DEFAULT_COUNTS_PER_ELECTRON,
    offset: float = 0.0,
) -> float:
    """Electron dose of a frame from a vacuum window [e⁻/Å²].

    In vacuum every incident electron reaches the detector, so the dose is the mean count
    per pixel divided by the gain and the pixel area.

    Parameters
    ----------
    image : numpy.ndarray
        (y, x) frame [counts].
    window : Window
        (y0, x0, height, width) of a vacuum region [pixels].
    pixel_size : float or (float, float)
        Pixel size, square or (y, x) [Å].
    counts_per_electron : float
        Detector gain [counts/e⁻]; see :func:`counts_per_electron_from_metadata`.
    offset : float
        Counts to subtract first [counts].

    Returns
    -------
    float
        Dose [e⁻/Å²].
    """
    dy, dx = (pixel_size, pixel_size) if np.isscalar(pixel_size) else pixel_size
    electrons = mean_electrons_per_pixel(image, window, counts_per_electron, offset)
    return electrons / (float(dy) * float(dx))


_GAIN_KEYS = {"countsperelectron": 1, "countperelectron": 1, "electronspercount": -1}
_ELECTRON_UNITS = {"e", "e-", "e⁻", "electron", "electrons"}


def _walk(tree: Any) -> Any:
    """Yield every (key, value) pair of a nested dict."""
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            yield key, value
            yield from _walk(value)


def counts_per_electron_from_metadata(metadata: Mapping) -> float | None:
    """Detector gain from a frame record's metadata [counts/e⁻], or None when absent.

    Looks for a key spelled like "counts per electron" (or "electrons per count", inverted)
    anywhere in the tree, then for a DigitalMicrograph intensity calibration
    (``Calibrations/Brightness``) in electrons, whose ``Scale`` is electrons per count.
    """
    brightness = None
    for key, value in _walk(metadata):
        name = "".join(ch for ch in str(key).lower() if ch.isalnum())
        if name in _GAIN_KEYS:
            gain = _positive(value)
            if gain is not None:
                return gain ** _GAIN_KEYS[name]
        if key == "Brightness" and isinstance(value, Mapping) and brightness is None:
            if str(value.get("Units", "")).strip().lower() in _ELECTRON_UNITS:
                brightness = _positive(value.get("Scale"))
    return None if brightness is None else 1.0 / brightness


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


# -- power spectrum and MTF ------------------------------------------------------------------


def _q_tilde(shape: tuple[int, int], real: bool = False) -> np.ndarray:
    """|q| / q_Nyquist on the FFT grid (rfft grid along x when `real`)."""
    qy = 2.0 * np.fft.fftfreq(shape[0])
    qx = 2.0 * (np.fft.rfftfreq(shape[1]) if real else np.fft.fftfreq(shape[1]))
    return np.hypot(qy[:, None], qx[None, :])


def _detrend(frame: np.ndarray, how: str) -> np.ndarray:
    if how == "mean":
        return frame - frame.mean()
    if how == "plane":
        yy, xx = np.indices(frame.shape)
        design = np.column_stack([np.ones(frame.size), yy.ravel(), xx.ravel()])
        coef, *_ = np.linalg.lstsq(design, frame.ravel(), rcond=None)
        return frame - (design @ coef).reshape(frame.shape)
    raise ValueError(f"detrend must be 'mean' or 'plane', got {how!r}")


def radial_power_spectrum(
    window: np.ndarray, *, detrend: str = "mean", q_max: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged noise power spectrum of a vacuum region.

    The region's mean is subtracted first (``detrend="mean"``, as paper II: the DC term is
    the dose, not noise), or a fitted plane (``"plane"``) to also drop an illumination
    gradient. The PSD is ``|FFT|² / (ny nx)`` so white noise of variance σ² gives σ² in
    every bin. Bins are one Fourier pixel of the shorter side wide; the q̃ = 0 bin is left
    out and only bins up to `q_max` are kept (beyond Nyquist along an axis a ring is
    incomplete).

    Parameters
    ----------
    window : numpy.ndarray
        (y, x) region [counts], or (frame, y, x) regions whose PSDs are averaged.
    detrend : {"mean", "plane"}
    q_max : float
        Largest q̃ = q / q_Nyquist kept.

    Returns
    -------
    q_tilde : numpy.ndarray
        Mean q̃ of each bin [q_Nyquist].
    psd : numpy.ndarray
        Mean power of each bin [counts²].
    """
    frames = np.asarray(window, dtype=np.float64)
    frames = frames[None] if frames.ndim == 2 else frames
    if frames.ndim != 3 or min(frames.shape[1:]) < 4:
        raise ValueError(f"expected (y, x) or (frame, y, x) of at least 4×4, got {frames.shape}")
    shape = frames.shape[1:]
    power = np.zeros(shape)
    for frame in frames:
        power += np.abs(np.fft.fft2(_detrend(frame, detrend))) ** 2
    power /= len(frames) * math.prod(shape)
    q = _q_tilde(shape)
    width = 2.0 / min(shape)
    bins = np.rint(q / width).astype(np.int64).ravel()
    counts = np.bincount(bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        q_mean = np.bincount(bins, q.ravel()) / counts
        psd = np.bincount(bins, power.ravel()) / counts
    keep = (np.arange(len(counts)) > 0) & (counts > 0) & (q_mean <= q_max + 1e-12)
    return q_mean[keep], psd[keep]


def mtf(q_tilde: np.ndarray, c0: float, c3: float, C: float = 0.0) -> np.ndarray:
    """Parametric detector MTF (thesis eq. 1.25, Lee et al.).

    ``MTF(q̃) = (1 - C) / (1 + (q̃ / c0)^c3) + C``: 1 at q̃ = 0, C for q̃ → ∞, half-way at
    q̃ = c0.

    Parameters
    ----------
    q_tilde : numpy.ndarray
        Spatial frequency over the Nyquist frequency [q_Nyquist].
    c0 : float
        Half-maximum frequency [q_Nyquist].
    c3 : float
        Steepness (2 is Lorentzian; large values approach a step).
    C : float
        High-frequency floor.
    """
    return (1.0 - C) / (1.0 + (np.asarray(q_tilde) / c0) ** c3) + C


def psd_model(
    q_tilde: np.ndarray, c0: float, c1: float, c2: float, c3: float, power: int = 2
) -> np.ndarray:
    """Noise power spectrum model ``(c1 - c2) L^power + c2`` with ``L = 1/(1+(q̃/c0)^c3)``.

    ``power=1`` is paper II eq. A.1; ``power=2`` is the PSD of MTF-shaped shot noise plus
    white readout noise (see the module notes).
    """
    lorentz = 1.0 / (1.0 + (np.asarray(q_tilde) / c0) ** c3)
    return (c1 - c2) * lorentz**power + c2


@dataclass(frozen=True)
class MTFFit:
    """A fitted noise power spectrum.

    Attributes
    ----------
    c0 : float
        Half-maximum frequency of the MTF [q_Nyquist].
    c1 : float
        PSD for q̃ → 0 [counts²].
    c2 : float
        PSD for q̃ → ∞, the noise floor [counts²].
    c3 : float
        Steepness of the MTF.
    r2 : float
        Coefficient of determination of the fit to the PSD.
    C : float
        Noise floor fraction c2 / c1 (paper II eq. 1).
    power : int
        2: c0, c3 describe the MTF (PSD ∝ MTF²); 1: paper II's literal fit to the PSD.
    """

    c0: float
    c1: float
    c2: float
    c3: float
    r2: float
    C: float
    power: int = 2

    def model(self, q_tilde: np.ndarray) -> np.ndarray:
        """The fitted PSD at `q_tilde` [counts²]."""
        return psd_model(q_tilde, self.c0, self.c1, self.c2, self.c3, self.power)

    def normalised(self, q_tilde: np.ndarray) -> np.ndarray:
        """The fitted PSD divided by its q̃ → 0 limit c1 (paper II Figs. A.12–13, bottom)."""
        return self.model(q_tilde) / self.c1

    def as_dict(self) -> dict[str, float]:
        """Plain dict, e.g. for lake attributes."""
        return asdict(self)


_FAILED = dict(c0=math.nan, c1=math.nan, c2=math.nan, c3=math.nan, r2=math.nan, C=math.nan)


def _initial_guess(q: np.ndarray, psd: np.ndarray, power: int) -> list[float]:
    n_edge = max(3, len(q) // 10)
    c1, c2 = float(np.mean(psd[:3])), float(np.mean(psd[-n_edge:]))
    drop = (psd - c2) / (c1 - c2) if c1 > c2 else np.zeros_like(psd)
    below = np.nonzero(drop < 0.5**power)[0]
    c0 = float(q[below[0]]) if below.size else 0.5
    return [min(max(c0, 0.02), 1.5), max(c1, 1e-12), max(c2, 0.0), 2.5]


def fit_mtf(
    q_tilde: np.ndarray, psd: np.ndarray, *, power: int = 2, q_min: float = 0.0
) -> MTFFit:
    """Fit the parametric MTF to a radially averaged noise power spectrum.

    Fits ``PSD(q̃) = (c1 − c2) L(q̃)^power + c2`` with ``L = 1 / (1 + (q̃/c0)^c3)``
    (paper II eq. A.1 for ``power=1``) by weighted least squares
    (:func:`scipy.optimize.curve_fit`). A ring's PSD has relative scatter ~ 1/√(pixels in
    the ring) ∝ 1/√q̃, so a first fit's model sets the weights of a second one.
    Bounds: 0.005 ≤ c0 ≤ 4, c1, c2 ≥ 0, 0.2 ≤ c3 ≤ 20.

    Parameters
    ----------
    q_tilde, psd : numpy.ndarray
        Output of :func:`radial_power_spectrum`.
    power : {2, 1}
        2 (default) when the MTF multiplies Fourier amplitudes (thesis eq. 1.26) so c0, c3
        are the MTF's; 1 to reproduce paper II's fit of eq. A.1 to the PSD itself.
    q_min : float
        Ignore bins below this q̃ (e.g. illumination gradients in real data).

    Returns
    -------
    MTFFit
        All NaN when the fit does not converge.
    """
    if power not in (1, 2):
        raise ValueError(f"power must be 1 or 2, got {power}")
    q, p = np.asarray(q_tilde, float), np.asarray(psd, float)
    keep = np.isfinite(q) & np.isfinite(p) & (q > 0) & (q >= q_min)
    q, p = q[keep], p[keep]
    if q.size < 6:
        raise ValueError(f"need at least 6 spectrum bins to fit 4 parameters, got {q.size}")

    def model(x, c0, c1, c2, c3):
        return psd_model(x, c0, c1, c2, c3, power)

    bounds = ([0.005, 0.0, 0.0, 0.2], [4.0, np.inf, np.inf, 20.0])
    params = _initial_guess(q, p, power)
    try:
        for _ in range(2):
            sigma = np.maximum(np.abs(model(q, *params)), 1e-300) / np.sqrt(q)
            params, _ = optimize.curve_fit(model, q, p, p0=params, sigma=sigma, bounds=bounds,
                                           maxfev=20000)
    except (RuntimeError, ValueError):
        return MTFFit(**_FAILED, power=power)
    c0, c1, c2, c3 = (float(v) for v in params)
    residual = np.sum((p - model(q, *params)) ** 2)
    total = np.sum((p - p.mean()) ** 2)
    r2 = float(1.0 - residual / total) if total > 0 else math.nan
    return MTFFit(c0=c0, c1=c1, c2=c2, c3=c3, r2=r2, C=c2 / c1 if c1 > 0 else math.nan,
                  power=power)


# -- readout noise ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadoutFit:
    """Readout noise level fitted from a dose series.

    Attributes
    ----------
    n0 : float
        Readout noise level N0 [e⁻/pixel] (Poisson mean, in electrons).
    n0_stderr : float
        Standard error of `n0` [e⁻/pixel].
    r2 : float
        Coefficient of determination of ``C = N0 / (N_D + N0)``.
    n_points : int
        Frames used.
    """

    n0: float
    n0_stderr: float
    r2: float
    n_points: int


def readout_from_series(C: Sequence[float], electrons_per_pixel: Sequence[float]) -> ReadoutFit:
    """Fit the readout level N0 from the noise floor C of frames of increasing dose.

    Uses ``C = N0 / (N_D + N0)`` (module notes; paper II Fig. 5), valid when the MTF's own
    floor is zero so the whole floor is readout noise.

    Parameters
    ----------
    C : sequence of float
        Noise floor fraction c2 / c1 of each frame (:attr:`MTFFit.C`).
    electrons_per_pixel : sequence of float
        Dose N_D of each frame [e⁻/pixel] (:func:`mean_electrons_per_pixel`).

    Returns
    -------
    ReadoutFit
    """
    c = np.asarray(C, float)
    nd = np.asarray(electrons_per_pixel, float)
    if c.shape != nd.shape:
        raise ValueError(f"C and electrons_per_pixel differ in shape: {c.shape} vs {nd.shape}")
    keep = np.isfinite(c) & np.isfinite(nd) & (c > 0) & (c < 1) & (nd > 0)
    c, nd = c[keep], nd[keep]
    if c.size < 2:
        raise ValueError(f"need at least 2 frames with 0 < C < 1 and a positive dose, got {c.size}")

    def model(x, n0):
        return n0 / (x + n0)

    guess = float(np.median(nd * c / (1.0 - c)))
    (n0,), cov = optimize.curve_fit(model, nd, c, p0=[guess], bounds=([0.0], [np.inf]))
    residual = np.sum((c - model(nd, n0)) ** 2)
    total = np.sum((c - c.mean()) ** 2)
    r2 = float(1.0 - residual / total) if total > 0 else math.nan
    stderr = float(np.sqrt(cov[0, 0]))
    return ReadoutFit(n0=float(n0), n0_stderr=stderr, r2=r2, n_points=int(c.size))


def _sig(value: float) -> float:
    return float(f"{value:.4g}")


def parameter_fragment(
    fits: Sequence[MTFFit],
    *,
    electrons_per_pixel: Sequence[float] | None = None,
    readout: float | None = None,
    r2_min: float = 0.98,
    readout_spread: float = 0.5,
) -> dict[str, Any]:
    """Parameter-file fragment (thesis Table 3.2) with the noise ranges seen in a series.

    The MTF c0 and c3 ranges span the fits with ``r2 >= r2_min`` (paper II marks those).
    The readout range is N0 ± `readout_spread` (paper II: ±50 %), N0 given or fitted with
    :func:`readout_from_series`. The MTF floor C is set to (0, 0): in simulations the floor
    comes from the separately drawn readout noise. Field names follow
    :data:`PARAMETER_FIELDS`.

    Parameters
    ----------
    fits : sequence of MTFFit
        One fit per frame (``power=2`` fits, so c0 and c3 are the MTF's).
    electrons_per_pixel : sequence of float, optional
        Dose of each frame [e⁻/pixel], aligned with `fits`, to fit N0.
    readout : float, optional
        A known N0 [e⁻/pixel]; takes precedence over fitting.
    r2_min : float
        Minimum R² of fits to use.
    readout_spread : float
        Relative half-width of the readout range.

    Returns
    -------
    dict
        e.g. ``{"mtf": "parametric", "mtf_c1": (0.21, 0.29), "mtf_c2": (0.0, 0.0),
        "mtf_c3": (2.1, 2.9), "readout": (0.005, 0.015)}``; no ``"readout"`` key when N0 is
        neither given nor fittable.
    """
    good = [i for i, f in enumerate(fits) if np.isfinite(f.r2) and f.r2 >= r2_min]
    if not good:
        raise ValueError(f"no MTF fit reaches R² ≥ {r2_min}")
    if any(fits[i].power != 2 for i in good):
        raise ValueError("parameter ranges need power=2 fits (the MTF's own c0, c3)")
    c0 = [fits[i].c0 for i in good]
    c3 = [fits[i].c3 for i in good]
    fragment: dict[str, Any] = {
        "mtf": "parametric",
        PARAMETER_FIELDS["c0"]: (_sig(min(c0)), _sig(max(c0))),
        PARAMETER_FIELDS["C"]: (0.0, 0.0),
        PARAMETER_FIELDS["c3"]: (_sig(min(c3)), _sig(max(c3))),
    }
    if readout is None and electrons_per_pixel is not None:
        dose = np.asarray(electrons_per_pixel, float)
        if dose.shape != (len(fits),):
            raise ValueError(f"need one dose per fit: {dose.shape} doses, {len(fits)} fits")
        readout = readout_from_series([fits[i].C for i in good], dose[good]).n0
    if readout is not None:
        spread = (1.0 - readout_spread, 1.0 + readout_spread)
        fragment[PARAMETER_FIELDS["N0"]] = tuple(_sig(readout * s) for s in spread)
    return fragment


def plot_mtf_fit(q_tilde: np.ndarray, psd: np.ndarray, fit: MTFFit, ax: Any = None) -> Any:
    """Plot a radially averaged PSD, its fitted model and noise floor.

    Parameters
    ----------
    q_tilde, psd : numpy.ndarray
        Output of :func:`radial_power_spectrum`.
    fit : MTFFit
        Output of :func:`fit_mtf`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(q_tilde, psd, ".", ms=3, color="0.4", label="PSD")
    if np.isfinite(fit.c0):
        q = np.linspace(0.0, max(float(np.max(q_tilde)), 1.0), 400)
        label = (f"fit: c0={fit.c0:.3f}, c3={fit.c3:.2f}, C={fit.C:.3f}, "
                 f"R²={fit.r2:.3f}")
        ax.plot(q, fit.model(q), "-", color="C1", label=label)
        ax.axhline(fit.c2, ls="--", color="k", lw=0.8, label="noise floor c2")
    ax.set_xlabel("q̃ = q / q_Nyquist")
    ax.set_ylabel("PSD [counts²]")
    ax.legend(fontsize="small")
    return ax


# -- simulation ------------------------------------------------------------------------------


def simulate_vacuum(
    shape: tuple[int, int],
    electrons_per_pixel: float,
    c0: float,
    c3: float,
    readout: float,
    rng: np.random.Generator | int | None = None,
    *,
    C: float = 0.0,
    counts_per_electron: float = 1.0,
) -> np.ndarray:
    """Simulate a vacuum frame from a scintillator camera (thesis eqs. 1.24–1.27).

    Poisson shot noise of `electrons_per_pixel` is multiplied in Fourier space by the MTF
    (eq. 1.26), then Poisson readout noise of mean `readout` is added (eq. 1.27).

    Parameters
    ----------
    shape : (int, int)
        Frame shape (y, x) [pixels].
    electrons_per_pixel : float
        Dose N_D [e⁻/pixel].
    c0, c3 : float
        MTF half-maximum frequency [q_Nyquist] and steepness (eq. 1.25).
    readout : float
        Readout noise level N0 [e⁻/pixel].
    rng : numpy.random.Generator or int, optional
        Random generator or seed.
    C : float
        Floor of the MTF itself (0: all of the floor is readout noise, as paper II).
    counts_per_electron : float
        Gain applied at the end [counts/e⁻].

    Returns
    -------
    numpy.ndarray
        float64 frame [counts]; its mean is ``(N_D + N0) · gain``.
    """
    rng = np.random.default_rng(rng)
    shot = rng.poisson(electrons_per_pixel, size=shape).astype(np.float64)
    transfer = mtf(_q_tilde(shape, real=True), c0, c3, C)
    shaped = np.fft.irfft2(np.fft.rfft2(shot) * transfer, s=shape)
    return (shaped + rng.poisson(readout, size=shape)) * counts_per_electron
