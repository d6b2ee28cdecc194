"""Detector model: electron dose, shot noise, MTF and readout noise (thesis ch. 1.3).

The order of operations follows the thesis exactly (eqs. 1.24-1.28; Paper II, eqs. 1-3):

1. Expected electrons per pixel N_D = dose [e⁻/Å²] × pixel area [Å²] × intensity, where
   the intensity is relative to the incident beam (abTEM's plane waves have |ψ|² = 1 in
   vacuum), so a vacuum image has N_D = dose × pixel area on average.
2. Shot noise: counts ~ Poisson(N_D) (eq. 1.24), if noise is on.
3. MTF of the scintillator applied to the (noisy) image as a product in Fourier space,
   I_f(q) = I(q) · MTF(q̃) (eq. 1.26), with the parametric MTF of eq. 1.25. The MTF
   thus shapes both the signal and the shot noise.
4. Readout noise: an independent Poisson(N0) per pixel added *after* the MTF
   (eqs. 1.27-1.28), so it is white; without the MTF the total is Poisson(N_D + N0).

With noise off, steps 2 and 4 use expectations (N_D, and + N0 if a readout is given).

Note: the papers fit eq. 1.25 to the power spectrum of vacuum images; applying it to
the Fourier amplitudes as eq. 1.26 says shapes the noise power by MTF² (abTEM's
``abtem.mtf.MTF`` multiplies by sqrt(MTF) instead). The thesis' form is used here.

References
----------
Thesis (project seed 003), ch. 1.3, eqs. 1.24-1.28, Fig. 1.4; Paper II (thesis ch. 8),
eqs. 1-3. Parametric MTF: Lee et al. (thesis ref. [45]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

import numpy as np

from hrtemlake.backend import get_array_module
from hrtemlake.simulate.optics import _expand, fft2, ifft2

__all__ = [
    "apply_dose_and_noise",
    "apply_mtf",
    "mtf",
    "nyquist_frequencies",
]


def nyquist_frequencies(shape: tuple[int, int], xp: Any = np) -> Any:
    """|q| / q_Nyquist on an FFT grid, q̃ = 2 q s (thesis eq. 1.25); shape (n0, n1).

    Independent of the pixel size s: q̃ = 2 · fftfreq(n) along each axis, 1 at the
    Nyquist frequency of an axis and up to √2 in the corners.
    """
    xp = get_array_module(xp)
    q0 = 2 * xp.fft.fftfreq(shape[0])[:, None]
    q1 = 2 * xp.fft.fftfreq(shape[1])[None, :]
    return xp.sqrt(q0**2 + q1**2)


def mtf(q_tilde: Any, c0: Any, c3: Any, C: Any) -> Any:
    """Parametric modulation transfer function, thesis eq. 1.25.

    MTF(q̃) = (1 - C) / (1 + (q̃/c0)^c3) + C; 1 at q̃ = 0 and C for q̃ → ∞.

    Parameters
    ----------
    q_tilde : array
        Spatial frequency in units of the Nyquist frequency (:func:`nyquist_frequencies`).
    c0 : float or array
        Frequency of the half-maximum (of the part above C) [q_Nyquist], > 0.
    c3 : float or array
        Exponent (2 is Lorentzian-like; large values approach a step), > 0.
    C : float or array
        High-frequency floor (noise floor).

    Returns
    -------
    array, shape ``batch + q_tilde.shape`` for batch-shaped parameters
    """
    xp = get_array_module(q_tilde)
    ndim = xp.ndim(q_tilde)
    c0, c3, C = (_expand(p, ndim, xp) for p in (c0, c3, C))
    return (1 - C) / (1 + (q_tilde / c0) ** c3) + C


def apply_mtf(image: Any, mtf_array: Any) -> Any:
    """Multiply the image spectrum by the MTF, thesis eq. 1.26 (real part returned).

    Parameters
    ----------
    image : real array, shape (..., n0, n1)
    mtf_array : real array broadcastable to ``image`` (unshifted FFT order)
    """
    return ifft2(fft2(image) * mtf_array).real


def _mtf_arguments(mtf_params: Any) -> tuple[Any, Any, Any]:
    if isinstance(mtf_params, Mapping):
        missing = {"c0", "c3", "C"} - set(mtf_params)
        if missing:
            raise ValueError(f"mtf_params needs c0, c3 and C; missing {sorted(missing)}")
        return mtf_params["c0"], mtf_params["c3"], mtf_params["C"]
    if isinstance(mtf_params, Sequence) and len(mtf_params) == 3:
        return tuple(mtf_params)  # type: ignore[return-value]
    raise TypeError("mtf_params must be a mapping {c0, c3, C} or a tuple (c0, c3, C)")


def _poisson(rng: Any, lam: Any, xp: Any) -> Any:
    if xp is np:
        return rng.poisson(lam).astype(np.float64)
    seed = int(rng.integers(2**31 - 1))  # pragma: no cover - GPU only
    return xp.random.RandomState(seed).poisson(lam).astype(xp.float64)


def apply_dose_and_noise(
    intensity: Any,
    dose: Any,
    pixel_area: Any,
    rng: Any,
    mtf_params: Optional[Any] = None,
    readout: Optional[Any] = None,
    *,
    noise: bool = True,
    normalize: bool = False,
) -> Any:
    """Turn image intensities into detector counts (thesis eqs. 1.24-1.28).

    Parameters
    ----------
    intensity : real array, shape (..., n0, n1)
        Image intensity relative to the incident beam (vacuum = 1).
    dose : float or array of batch shape
        Electron dose [e⁻/Å²].
    pixel_area : float or array of batch shape
        Area of one pixel [Å²] (sampling² for square pixels).
    rng : numpy.random.Generator or int
        Random generator (or seed).
    mtf_params : mapping {"c0", "c3", "C"} or (c0, c3, C), optional
        Parameters of eq. 1.25 (scalars or batch arrays); None for no MTF.
    readout : float or array of batch shape, optional
        Readout noise N0 [e⁻/pixel]; None for none.
    noise : bool
        Draw Poisson shot and readout noise (True) or use expectations (False).
    normalize : bool
        Divide each image by its mean first, so that the mean count is exactly
        dose × pixel area (default False: intensities are already relative to the
        incident beam).

    Returns
    -------
    real array, shape (..., n0, n1)
        Counts [e⁻/pixel] (real-valued after the MTF).
    """
    xp = get_array_module(intensity)
    rng = np.random.default_rng(rng) if not hasattr(rng, "poisson") else rng
    intensity = xp.asarray(intensity, dtype=xp.float64)
    if normalize:
        intensity = intensity / intensity.mean(axis=(-2, -1), keepdims=True)
    electrons = _expand(dose, 2, xp) * _expand(pixel_area, 2, xp)
    counts = electrons * xp.clip(intensity, 0.0, None)
    if noise:
        counts = _poisson(rng, counts, xp)
    if mtf_params is not None:
        q_tilde = nyquist_frequencies(intensity.shape[-2:], xp)
        counts = apply_mtf(counts, mtf(q_tilde, *_mtf_arguments(mtf_params)))
    if readout is not None:
        n0 = xp.broadcast_to(_expand(readout, 2, xp), counts.shape)
        counts = counts + (_poisson(rng, n0, xp) if noise else n0)
    return counts
