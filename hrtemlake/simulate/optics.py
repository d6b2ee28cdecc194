"""Objective-lens optics: wavelength, aberrations, envelopes and the CTF (vectorised).

Conventions are abTEM's (``abtem.transfer``, version 1.0.11) so that images made here
match ``waves.apply_ctf(CTF(...)).intensity()``:

* Units: lengths [Å], energies [eV], spatial frequencies k [1/Å] (no 2π), scattering
  angles α = λk [rad] internally, ``angular_spread`` and ``semiangle_cutoff`` [mrad].
* Arrays are ``(..., n0, n1)`` with the first spatial axis abTEM's x axis; the azimuth
  is φ = arctan2(k1, k0).
* Polar aberration coefficients ``C{n}{m}`` [Å] with angles ``phi{n}{m}`` [rad] up to
  fifth order; defocus = -C10 (Krivanek notation, Cs ≡ C30). Positive defocus is
  underfocus and the Scherzer defocus is positive for positive Cs (the thesis writes
  eqs. 1.13 and 1.17 with the opposite sign of Δf; its Fig. 1.3 uses this one).
* Phase error χ(α, φ) = 2π/λ Σ C_nm α^(n+1) cos(m(φ - φ_nm)) / (n + 1) and transfer
  T = exp(-iχ) (thesis eq. 1.11).
* Parameters may be arrays: a parameter of shape ``s`` gives transfer functions of
  shape ``s + (n0, n1)``, so ``(n,)`` arrays give a batch ``(n, n0, n1)``; parameters
  of different shapes must broadcast against each other.

Every kernel takes its array module from its input (NumPy or CuPy, see
:mod:`hrtemlake.backend`).

References
----------
Thesis (project seed 003), ch. 1.2, eqs. 1.9-1.23. E. J. Kirkland, *Advanced Computing
in Electron Microscopy*, 2nd ed. (Springer, 2010), ch. 3. J. Madsen and T. Susi, abTEM,
Open Res. Europe 1, 24 (2021).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np
from scipy import constants

from hrtemlake.backend import asnumpy, fft_kwargs, get_array_module, get_fft_module

__all__ = [
    "ABERRATION_SYMBOLS",
    "aberration_gradient",
    "aberration_phase",
    "aperture",
    "ctf",
    "fft2",
    "gaussian_blur_transfer",
    "ifft2",
    "image_intensity",
    "polar_spatial_frequencies",
    "scherzer_defocus",
    "spatial_envelope",
    "spatial_frequencies",
    "temporal_envelope",
    "wavelength",
]

#: Polar aberration amplitudes (n, m) as in abTEM: C_nm multiplies α^(n+1) cos(mφ).
ABERRATION_SYMBOLS: dict[str, tuple[int, int]] = {
    f"C{n}{m}": (n, m)
    for n in range(1, 6)
    for m in range(n + 2)
    if (n + m) % 2 == 1
}
_ANGLE_SYMBOLS = tuple(f"phi{n}{m}" for n, m in ABERRATION_SYMBOLS.values() if m > 0)
_ALIASES = {"Cs": "C30", "C5": "C50"}


def wavelength(energy: Any) -> Any:
    """Relativistic electron wavelength λ = hc / sqrt(E (2 m c² + E)) [Å].

    Parameters
    ----------
    energy : float or array
        Kinetic energy of the electrons [eV].
    """
    e = np.asarray(energy, dtype=np.float64)
    if np.any(e <= 0):
        raise ValueError(f"electron energy must be positive [eV], got {energy}")
    mc2 = constants.m_e * constants.c**2 / constants.e  # rest energy [eV]
    lam = constants.h * constants.c / (constants.e * np.sqrt(e * (2 * mc2 + e))) * 1e10
    return float(lam) if lam.ndim == 0 else lam


def scherzer_defocus(cs: float, energy: float) -> float:
    """Scherzer defocus sign(Cs) sqrt(3/2 |Cs| λ) [Å], abTEM's convention.

    This is the defocus (= -C10) at which the first zero of sin χ lies furthest out;
    the thesis' "extended" value (eq. 1.17) is 1.2 sqrt(λ Cs) instead of sqrt(1.5).

    Parameters
    ----------
    cs : float
        Spherical aberration C30 [Å].
    energy : float
        Electron energy [eV].
    """
    return float(np.sign(cs) * np.sqrt(1.5 * abs(cs) * wavelength(energy)))


def _pair(value: Any) -> tuple[float, float]:
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), (2,))
    return float(values[0]), float(values[1])


def spatial_frequencies(shape: tuple[int, int], sampling: Any, xp: Any = np) -> tuple:
    """Spatial frequencies of an FFT grid (unshifted, ``fftfreq`` order) [1/Å].

    Parameters
    ----------
    shape : (int, int)
        Grid points (n0, n1).
    sampling : float or (float, float)
        Real-space pixel size [Å].
    xp : module, optional
        Array module (NumPy or CuPy).

    Returns
    -------
    k0, k1 : arrays of shape (n0, 1) and (1, n1)
    """
    xp = get_array_module(xp)
    s0, s1 = _pair(sampling)
    k0 = xp.fft.fftfreq(shape[0], s0).astype(xp.float64)
    k1 = xp.fft.fftfreq(shape[1], s1).astype(xp.float64)
    return k0[:, None], k1[None, :]


def polar_spatial_frequencies(shape: tuple[int, int], sampling: Any, xp: Any = np) -> tuple:
    """Radial frequency |k| [1/Å] and azimuth φ = arctan2(k1, k0) [rad], shape (n0, n1)."""
    xp = get_array_module(xp)
    k0, k1 = spatial_frequencies(shape, sampling, xp)
    return xp.sqrt(k0**2 + k1**2), xp.arctan2(k1 + 0 * k0, k0 + 0 * k1)


def _expand(value: Any, ndim: int, xp: Any) -> Any:
    """Parameter as an array with ``ndim`` trailing axes of length 1 (for batching)."""
    array = xp.asarray(value, dtype=xp.float64)
    return array.reshape(array.shape + (1,) * ndim)


def _coefficients(aberrations: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """Canonical ``C{n}{m}``/``phi{n}{m}`` coefficients; ``defocus`` becomes -C10."""
    known = tuple(ABERRATION_SYMBOLS) + _ANGLE_SYMBOLS + tuple(_ALIASES) + ("defocus",)
    out: dict[str, Any] = {}
    for key, value in (aberrations or {}).items():
        if key not in known:
            match = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{match[0]}'?)" if match else ""
            raise ValueError(f"unknown aberration {key!r}{hint}")
        if key == "defocus":
            key, value = "C10", -np.asarray(value)
        key = _ALIASES.get(key, key)
        if key in out:
            raise ValueError(f"aberration {key} given twice (check defocus vs C10)")
        out[key] = value
    return out


def _terms(aberrations: Optional[Mapping[str, Any]], ndim: int, xp: Any):
    """Yield (n, m, C_nm, phi_nm) for every non-zero amplitude, batch-expanded."""
    coefficients = _coefficients(aberrations)
    for symbol, (n, m) in ABERRATION_SYMBOLS.items():
        if symbol not in coefficients:
            continue
        amplitude = _expand(coefficients[symbol], ndim, xp)
        if not xp.any(amplitude):
            continue
        angle = _expand(coefficients.get(f"phi{n}{m}", 0.0), ndim, xp)
        yield n, m, amplitude, angle


def aberration_phase(k: Any, phi: Any, wavelength: float, aberrations: Mapping[str, Any]) -> Any:
    """Phase error χ(k) of the objective lens [rad] (thesis eqs. 1.11, 1.13).

    χ = 2π/λ Σ_nm C_nm α^(n+1) cos(m(φ - φ_nm)) / (n + 1) with α = λ|k| (abTEM's
    ``Aberrations``). Multiply as ``exp(-1j * χ)``.

    Parameters
    ----------
    k : array
        Radial spatial frequency |k| [1/Å], e.g. from :func:`polar_spatial_frequencies`.
    phi : array
        Azimuth of k [rad].
    wavelength : float
        Electron wavelength [Å].
    aberrations : mapping
        ``C10, C12, phi12, C21, phi21, C23, phi23, C30, C32, phi32, C34, phi34, C45,
        phi45`` (and the other abTEM polar symbols up to C56) [Å] and [rad], or
        ``defocus`` (= -C10) [Å]; values are scalars or batch arrays.

    Returns
    -------
    array of shape ``batch + k.shape``
    """
    xp = get_array_module(k)
    alpha = wavelength * k
    chi = xp.zeros_like(alpha)
    for n, m, amplitude, angle in _terms(aberrations, k.ndim, xp):
        chi = chi + amplitude * alpha ** (n + 1) * xp.cos(m * (phi - angle)) / (n + 1)
    return 2 * np.pi / wavelength * chi


def aberration_gradient(k: Any, phi: Any, wavelength: float, aberrations: Mapping[str, Any]):
    """Gradient of χ with respect to the scattering angle α = λk [rad/rad].

    Returns
    -------
    dchi_dalpha, dchi_dphi_over_alpha : arrays
        ∂χ/∂α and (1/α) ∂χ/∂φ (the two polar components of ∇_α χ), as in abTEM's
        ``SpatialEnvelope``.
    """
    xp = get_array_module(k)
    alpha = wavelength * k
    radial = xp.zeros_like(alpha)
    azimuthal = xp.zeros_like(alpha)
    for n, m, amplitude, angle in _terms(aberrations, k.ndim, xp):
        radial = radial + amplitude * alpha**n * xp.cos(m * (phi - angle))
        azimuthal = azimuthal - amplitude * m / (n + 1) * alpha**n * xp.sin(m * (phi - angle))
    scale = 2 * np.pi / wavelength
    return scale * radial, scale * azimuthal


def temporal_envelope(k: Any, wavelength: float, focal_spread: Any) -> Any:
    """Envelope of partial temporal coherence (focal spread), thesis eq. 1.21.

    E_t(k) = exp(-(π λ Δ k² / 2)²), i.e. exp(-Δ²/4 (∂χ/∂Δf)²) with ∂χ/∂Δf = πλk².
    Δ is the **1/e half-width** of the Gaussian distribution of defoci,
    p(f) ∝ exp(-f²/Δ²) (so Δ = √2 σ); this is abTEM's ``focal_spread`` convention.

    Parameters
    ----------
    k : array
        |k| [1/Å].
    wavelength : float
        Electron wavelength [Å].
    focal_spread : float or array
        Δ [Å]; an array gives a batch.
    """
    xp = get_array_module(k)
    delta = _expand(focal_spread, k.ndim, xp)
    return xp.exp(-((0.5 * np.pi * wavelength * delta * k**2) ** 2))


def spatial_envelope(
    k: Any, phi: Any, wavelength: float, angular_spread: Any, aberrations: Mapping[str, Any]
) -> Any:
    """Envelope of partial spatial coherence (beam convergence), thesis eq. 1.20.

    E_s(k) = exp(-(β/2)² |∇_α χ|²) with α = λk, identical to exp(-β²/(4λ²) |∂χ/∂q|²)
    of eq. 1.20 and to abTEM's ``SpatialEnvelope``; β is the 1/e width of the Gaussian
    distribution of incident beam directions (eq. 1.19, q_s = β/λ).

    Parameters
    ----------
    angular_spread : float or array
        β [mrad]; an array gives a batch.
    aberrations : mapping
        As for :func:`aberration_phase`.
    """
    xp = get_array_module(k)
    beta = _expand(angular_spread, k.ndim, xp) * 1e-3
    radial, azimuthal = aberration_gradient(k, phi, wavelength, aberrations)
    return xp.exp(-((beta / 2) ** 2) * (radial**2 + azimuthal**2))


def gaussian_blur_transfer(k: Any, blur: Any) -> Any:
    """Transfer function of a Gaussian blur, thesis eq. 1.22.

    T_G(k) = exp(-2π² σ² k²): the Fourier transform of a normalised Gaussian point
    spread of standard deviation σ, i.e. eq. 1.22's exp(-σ² q² / 2) with q = 2πk the
    angular spatial frequency. Models vibrations, drift and other incoherent blur.

    Parameters
    ----------
    k : array
        |k| [1/Å].
    blur : float or array
        σ [Å]; an array gives a batch.
    """
    xp = get_array_module(k)
    sigma = _expand(blur, k.ndim, xp)
    return xp.exp(-2 * np.pi**2 * sigma**2 * k**2)


def aperture(
    k: Any,
    wavelength: float,
    semiangle_cutoff: Any,
    phi: Any = None,
    reciprocal_sampling: Optional[tuple[float, float]] = None,
) -> Any:
    """Objective aperture A(k) (thesis eq. 1.12): 1 for α ≤ α_cut, 0 beyond.

    With ``phi`` and ``reciprocal_sampling`` the edge is softened over one pixel as in
    abTEM's ``soft_aperture``; otherwise it is hard (abTEM's ``hard_aperture``).

    Parameters
    ----------
    semiangle_cutoff : float or array
        α_cut [mrad]; ``inf`` for no aperture.
    reciprocal_sampling : (float, float), optional
        FFT grid spacing (1/(n0 s0), 1/(n1 s1)) [1/Å] for the soft edge.
    """
    xp = get_array_module(k)
    cutoff = _expand(semiangle_cutoff, k.ndim, xp) * 1e-3
    alpha = wavelength * k
    if phi is None or reciprocal_sampling is None:
        return (alpha <= cutoff).astype(xp.float64)
    d0, d1 = (wavelength * d for d in reciprocal_sampling)
    width = xp.sqrt((xp.cos(phi) * d0) ** 2 + (xp.sin(phi) * d1) ** 2)
    width = xp.where(k == 0, 1.0, width)
    soft = xp.clip((cutoff - alpha) / width + 0.5, 0.0, 1.0)
    return xp.where(k == 0, 1.0, soft)


def _any_nonzero(value: Any) -> bool:
    return bool(np.any(asnumpy(value) != 0))


def ctf(
    shape: tuple[int, int],
    sampling: Any,
    energy: float,
    aberrations: Optional[Mapping[str, Any]] = None,
    *,
    focal_spread: Any = 0.0,
    angular_spread: Any = 0.0,
    blur: Any = 0.0,
    semiangle_cutoff: Any = np.inf,
    soft_aperture: bool = True,
    xp: Any = np,
    dtype: Any = np.complex64,
) -> Any:
    """Total transfer function of the microscope, thesis eq. 1.23.

    H(k) = A(k) exp(-iχ(k)) E_s(k) E_t(k) T_G(k): aberrations (eq. 1.11), spatial
    (eq. 1.20) and temporal (eq. 1.21) coherence envelopes in the quasi-coherent
    approximation, the Gaussian blur (eq. 1.22) and the aperture (eq. 1.12). With
    ``blur=0`` this equals abTEM's ``CTF`` with the same arguments.

    Parameters
    ----------
    shape : (int, int)
        Grid points (n0, n1) of the exit wave.
    sampling : float or (float, float)
        Pixel size of the exit wave [Å].
    energy : float
        Electron energy [eV].
    aberrations : mapping, optional
        Polar coefficients (see :func:`aberration_phase`), scalars or batch arrays.
    focal_spread : float or array
        1/e half-width of the defocus distribution [Å].
    angular_spread : float or array
        Beam convergence β [mrad].
    blur : float or array
        Standard deviation of the Gaussian blur [Å].
    semiangle_cutoff : float or array
        Objective aperture [mrad] (default: none).
    soft_aperture : bool
        Soften the aperture edge over one pixel (abTEM's default).
    xp : module
        NumPy or CuPy.
    dtype : dtype
        Complex output dtype (complex64 like abTEM's default precision).

    Returns
    -------
    array, shape ``batch + shape``, in unshifted FFT order
    """
    xp = get_array_module(xp)
    k, phi = polar_spatial_frequencies(shape, sampling, xp)
    lam = wavelength(energy)
    transfer = xp.exp(-1j * aberration_phase(k, phi, lam, aberrations or {}))
    if _any_nonzero(angular_spread):
        transfer = transfer * spatial_envelope(k, phi, lam, angular_spread, aberrations or {})
    if _any_nonzero(focal_spread):
        transfer = transfer * temporal_envelope(k, lam, focal_spread)
    if _any_nonzero(blur):
        transfer = transfer * gaussian_blur_transfer(k, blur)
    if np.any(np.isfinite(asnumpy(semiangle_cutoff))):
        s0, s1 = _pair(sampling)
        spacing = (1 / (shape[0] * s0), 1 / (shape[1] * s1)) if soft_aperture else None
        transfer = transfer * aperture(k, lam, semiangle_cutoff, phi, spacing)
    return transfer.astype(dtype)


def fft2(array: Any) -> Any:
    """2D FFT over the last two axes (``scipy.fft`` on all cores, or CuPy)."""
    return get_fft_module(array).fft2(array, axes=(-2, -1), **fft_kwargs(array))


def ifft2(array: Any) -> Any:
    """Inverse 2D FFT over the last two axes (``scipy.fft`` on all cores, or CuPy)."""
    return get_fft_module(array).ifft2(array, axes=(-2, -1), **fft_kwargs(array))


def image_intensity(exit_wave_fft: Any, ctf_batch: Any) -> Any:
    """Image intensity |IFFT(ψ̂_ew · H)|² (thesis eqs. 1.10, 1.23), batched.

    Parameters
    ----------
    exit_wave_fft : complex array, shape (n0, n1) or broadcastable to ``ctf_batch``
        FFT of the exit wave (:func:`fft2`, unshifted).
    ctf_batch : complex array, shape (..., n0, n1)
        Transfer functions from :func:`ctf`.

    Returns
    -------
    real array, shape (..., n0, n1)
        Intensity relative to the incident beam (1 for vacuum with abTEM's plane waves).
    """
    wave = ifft2(exit_wave_fft * ctf_batch)
    return wave.real**2 + wave.imag**2
