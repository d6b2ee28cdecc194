"""Image epochs: many images of one exit wave under fresh microscope draws, batched.

The kernels of :mod:`hrtemlake.simulate.microscope` are written for clarity and checked
against abTEM; this module is their fast batched counterpart for the image-epoch path
(thesis §3.2, eqs. 1.9-1.28), checked against them in ``tests/simulate/test_images*``.
One image of an exit wave ψ (ny, nx) of pixel size s0 [Å] is made in five steps:

1. **Grid.** The drawn pixel size s gives the grid M = round(n s0 / s) per axis, which
   keeps the field of view n s0: the realised pixel size is n s0 / M (within 1/(2M) of s,
   relative), see :class:`EpochGeometry`.
2. **Band limit.** ψ̂ = FFT(ψ) is computed once per exit wave; each image keeps the
   frequencies of ψ̂ that exist on its grid (Fourier crop, or zero-padding when s < s0),
   :func:`spectrum_on_grid`. This is the Fourier resampling of the *wave*: the image is
   the intensity of the wave band-limited to the image's Nyquist frequency, sampled at
   the pixel centres. It equals abTEM's image when s = s0, and costs one inverse FFT of
   the image grid (resampling the intensity instead would cost two more FFTs of the
   finer exit-wave grid per image).
3. **Optics.** The CTF with its envelopes and blur (eq. 1.23) is built for a batch of a
   few images (epochs × focal series) on the image grid from precomputed frequency bases
   (:class:`TransferBasis`: a table over |k|² for round aberrations on square grids), only
   over the band of frequencies the envelopes let through (beyond it the CTF is below
   float32 resolution); one batched, pruned inverse FFT gives the image waves and |·|²
   their intensities (vacuum = 1).
4. **Geometry.** Centre crop or zero-pad to the image size (:func:`resampling.crop_or_pad`:
   pixel M//2 goes to L//2). Zero padding is "no signal": padded pixels only receive
   readout noise. Labels go through the same geometry (:meth:`EpochGeometry.pixels`).
5. **Detector.** Dose, Poisson shot noise, the parametric MTF and Poisson readout noise
   (eqs. 1.24-1.28) in :func:`detect`, in the order of
   :func:`~hrtemlake.simulate.detector.apply_dose_and_noise`.

Layout: arrays are the lake's (..., y, x), y along rows; sites are (x, y) [Å]. The
aberration azimuth is abTEM's φ = arctan2(k_y, k_x), so astigmatism angles mean what
they mean in abTEM (whose arrays are (x, y)).

Randomness: image epoch e of model m draws everything (parameters, then shot noise,
then readout noise) from its own generator, :func:`epoch_seeds`, so an image does not
depend on how models and epochs are batched or on the number of workers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from hrtemlake.backend import get_array_module, get_fft_module
from hrtemlake.simulate.optics import ABERRATION_SYMBOLS, _pair, wavelength
from hrtemlake.simulate.resampling import crop_or_pad, resampled_shape

__all__ = [
    "EpochGeometry",
    "TransferBasis",
    "detect",
    "epoch_seeds",
    "image_intensities",
    "centred_on_grid",
    "spectrum_on_grid",
]

#: Largest batch of image-grid pixels transformed at once (four 512² images: larger
#: batches fall out of the CPU caches and run slower per image).
MAX_BATCH_PIXELS = 1 << 20
#: Readout rates [e⁻/pixel] up to which readout noise is drawn as a Poisson total spread
#: uniformly over the pixels (exactly iid Poisson per pixel; far cheaper for small N0).
SPARSE_READOUT = 1.0


def epoch_seeds(seed: Optional[int], model: int, epochs: int | Sequence[int]) -> list:
    """Seed sequences of the image epochs of one model.

    Epoch ``e`` of model ``m`` uses ``SeedSequence(seed, spawn_key=(m, e))``, the e-th
    child of the sequence of ``model_rng(seed, m)``, so it is the same image however it
    is batched.

    Parameters
    ----------
    seed : int or None
        The parameter file's seed; None draws fresh entropy (not reproducible).
    model : int
        Model index in the dataset.
    epochs : int or sequence of int
        Number of epochs (0..epochs-1) or their indices.
    """
    indices = range(epochs) if isinstance(epochs, (int, np.integer)) else epochs
    if seed is None:
        return [np.random.SeedSequence() for _ in indices]
    return [np.random.SeedSequence(seed, spawn_key=(int(model), int(e))) for e in indices]


@dataclass(frozen=True)
class EpochGeometry:
    """How an exit wave's grid maps onto one image (steps 1 and 4 of the module doc).

    Attributes
    ----------
    grid : (int, int)
        Resampled grid (My, Mx) [pixels], field of view of the exit wave.
    sampling : (float, float)
        Realised pixel size (s_y, s_x) [Å].
    size : (int, int)
        Image size (Ly, Lx) [pixels].
    offset : (int, int)
        Image pixel of the grid's pixel 0: image pixel (r, c) is at
        y = (r - offset[0]) s_y, x = (c - offset[1]) s_x in the cell [Å].
    """

    grid: tuple[int, int]
    sampling: tuple[float, float]
    size: tuple[int, int]
    offset: tuple[int, int]

    @classmethod
    def from_sampling(
        cls, wave_shape: tuple[int, int], wave_sampling: Any, sampling: float,
        size: tuple[int, int],
    ) -> "EpochGeometry":  # fmt: skip
        """Geometry of an image of pixel size ``sampling`` [Å] and ``size`` (Ly, Lx) made
        from an exit wave of ``wave_shape`` (ny, nx) and pixel size ``wave_sampling`` [Å]
        (a float, or (s_y, s_x))."""
        grid = resampled_shape(tuple(wave_shape), wave_sampling, sampling)
        realised = tuple(n * s / m for n, s, m in zip(wave_shape, _pair(wave_sampling), grid))
        offset = tuple(s // 2 - m // 2 for s, m in zip(size, grid))
        return cls(tuple(grid), realised, tuple(size), offset)  # type: ignore[arg-type]

    def pixels(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional image (row, column) of positions ``xy`` (n, 2) = (x, y) [Å]."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        rows = xy[:, 1] / self.sampling[0] + self.offset[0]
        cols = xy[:, 0] / self.sampling[1] + self.offset[1]
        return rows, cols


def centred_on_grid(spectrum: Any, grid: tuple[int, int]) -> Any:
    """The part of an unshifted spectrum (..., ny, nx) that exists on an (My, Mx) grid,
    in centred (``fftshift``) order.

    Frequencies beyond the new Nyquist frequency are dropped and missing ones are zero
    (:func:`resampling.crop_or_pad` of the centred spectrum); values are scaled by
    My Mx / (ny nx) so that an inverse FFT of the result samples the same function.
    """
    xp = get_array_module(spectrum)
    centred = xp.fft.fftshift(spectrum, axes=(-2, -1))
    if tuple(grid) == spectrum.shape[-2:]:
        return centred
    (ny, nx), (my, mx) = spectrum.shape[-2:], grid
    return crop_or_pad(centred, grid) * spectrum.real.dtype.type(my * mx / (ny * nx))


def spectrum_on_grid(spectrum: Any, grid: tuple[int, int]) -> Any:
    """As :func:`centred_on_grid` in unshifted FFT order: the Fourier resampling of
    :func:`resampling.fourier_resample`, for a spectrum."""
    xp = get_array_module(spectrum)
    return xp.fft.ifftshift(centred_on_grid(spectrum, grid), axes=(-2, -1))


class TransferBasis:
    """Batched CTFs of one image grid (thesis eq. 1.23) from precomputed frequency bases.

    The phase error χ and the envelope exponent are linear in the aberration
    coefficients given the bases k^p cos(mφ), k^p sin(mφ) of the grid, so a batch of
    CTFs costs a few multiply-adds plus cos, sin and exp in float32. Matches
    :func:`~hrtemlake.simulate.optics.ctf` (abTEM conventions, no aperture) with the
    grid in (y, x) layout and φ = arctan2(k_y, k_x).

    Internally the bases are in centred (``fftshift``) order so that the band of
    frequencies a batch transfers is one rectangular block: beyond the wave number where
    the temporal-coherence and blur envelopes fall below e^-20 (2e-9, below float32
    resolution) the CTF is zero to working precision and is not computed
    (:meth:`band`). Other envelopes only damp more.

    Parameters
    ----------
    grid : (int, int)
        (My, Mx) [pixels].
    sampling : (float, float)
        (s_y, s_x) [Å].
    energy : float
        Electron energy [eV].
    xp : module
        NumPy or CuPy.
    """

    #: Envelope exponent beyond which the CTF counts as zero (e^-20 ≈ 2e-9, below the
    #: float32 resolution of the spectrum's largest, zero-frequency, term).
    NEGLIGIBLE = 20.0

    def __init__(self, grid: tuple[int, int], sampling: tuple[float, float], energy: float,
                 xp: Any = np):  # fmt: skip
        self.xp = get_array_module(xp)
        self.grid = tuple(grid)
        self.wavelength = wavelength(energy)
        self._ky = np.fft.fftshift(np.fft.fftfreq(grid[0], sampling[0]))
        self._kx = np.fft.fftshift(np.fft.fftfreq(grid[1], sampling[1]))
        ky, kx = self._ky[:, None], self._kx[None, :]
        self._k = np.sqrt(kx**2 + ky**2)
        self._phi = np.arctan2(ky + 0 * kx, kx + 0 * ky)
        self._cache: dict[tuple[str, int, int], Any] = {}
        # Square frequency grids: |k|² = q dk² with integer q, so round CTFs are tables
        # over q, read out per pixel (half the transcendental work of a block).
        self._dk = 1 / (grid[0] * sampling[0])
        self._q = None
        if math.isclose(self._dk, 1 / (grid[1] * sampling[1]), rel_tol=1e-9):
            iy, ix = (np.arange(n) - n // 2 for n in grid)
            self._iy2, self._ix2 = iy**2, ix**2
            self._q = self.xp.asarray(self._iy2[:, None] + self._ix2[None, :], dtype=np.int32)

    def _basis(self, kind: str, power: int, m: int) -> Any:
        """k^power cos(mφ) ("c") or k^power sin(mφ) ("s"), float32 on the device."""
        key = (kind, power, m)
        if key not in self._cache:
            angular = np.cos(m * self._phi) if kind == "c" else np.sin(m * self._phi)
            values = self._k**power * (angular if m else 1.0)
            self._cache[key] = self.xp.asarray(values, dtype=np.float32)
        return self._cache[key]

    def _radial(self, power: int) -> Any:
        """k^power over q = 0, 1, ... (|k| = √q dk), float32 on the device."""
        key = ("q", power, 0)
        if key not in self._cache:
            q = np.arange(int(self._iy2.max() + self._ix2.max()) + 1)
            self._cache[key] = self.xp.asarray((np.sqrt(q) * self._dk) ** power, np.float32)
        return self._cache[key]

    def reach(self, focal_spread: Any, blur: Any) -> np.ndarray:
        """|k| [1/Å] beyond which the temporal envelope × blur is below e^-NEGLIGIBLE."""
        lam = self.wavelength
        t = (0.5 * np.pi * lam * np.asarray(focal_spread, np.float64)) ** 2  # × k⁴
        b = 2 * np.pi**2 * np.asarray(blur, np.float64) ** 2  # × k²
        with np.errstate(divide="ignore", invalid="ignore"):
            k2 = np.where(t > 0, (np.sqrt(b**2 + 4 * t * self.NEGLIGIBLE) - b) / (2 * t),
                          self.NEGLIGIBLE / b)  # fmt: skip
        return np.sqrt(k2) * (1 + 1e-6)

    def band(self, focal_spread: Any, blur: Any) -> tuple[slice, slice]:
        """Centred rows and columns holding every frequency that a batch transfers.

        The half-width is rounded up to a multiple of 8 pixels, so that images with
        similar envelopes share a band (and an image's band, hence its exact floating-
        point result, depends on its own parameters only, not on its batch).
        """
        reach = float(np.max(self.reach(focal_spread, blur)))
        out = []
        for k, n in zip((self._ky, self._kx), self.grid):
            step = k[1] - k[0] if n > 1 else 1.0
            half = 8 * math.ceil(reach / step / 8) if math.isfinite(reach) else n
            out.append(slice(max(0, n // 2 - half), min(n, n // 2 + half + 1)))
        return tuple(out)  # type: ignore[return-value]

    def _combine(self, columns: list[tuple[np.ndarray, Any]], shape: tuple) -> Any:
        """Σ coefficient (B,) × basis over ``columns``, float32 of ``shape``."""
        if not columns:
            return self.xp.zeros(shape, dtype=np.float32)
        expand = (-1,) + (1,) * (len(shape) - 1)
        weight = lambda c: self.xp.asarray(c, dtype=np.float32).reshape(expand)  # noqa: E731
        out = weight(columns[0][0]) * columns[0][1]
        for coefficients, basis in columns[1:]:
            out += weight(coefficients) * basis
        return out

    def centred(
        self,
        aberrations: Mapping[str, Any],
        focal_spread: Any = 0.0,
        blur: Any = 0.0,
        angular_spread: Any = 0.0,
        band: Optional[tuple[slice, slice]] = None,
    ) -> Any:
        """Transfer functions over ``band`` (default all) in centred order, complex64
        (B, rows, cols); arguments as for :meth:`__call__`."""
        lam = self.wavelength
        rows, cols = band or (slice(None), slice(None))
        terms = _polar_terms(aberrations)
        table = self._q is not None and all(m == 0 for _, m in terms)
        if table:  # round aberrations: a table over q, read out per pixel at the end
            size = int(self._iy2[rows].max() + self._ix2[cols].max()) + 1
            view = lambda kind, p, m: self._radial(p)[:size]  # noqa: E731
        else:
            view = lambda kind, p, m: self._basis(kind, p, m)[rows, cols]  # noqa: E731
        shapes = [np.shape(v) for pair in terms.values() for v in pair]
        shapes += [np.shape(focal_spread), np.shape(blur), np.shape(angular_spread)]
        batch = int(np.prod(np.broadcast_shapes(*shapes), dtype=int))
        flat = lambda v: np.broadcast_to(np.asarray(v, np.float64), (batch,))  # noqa: E731
        beta = flat(angular_spread) * 1e-3
        chi_cols, grad_r, grad_a = [], [], []
        for (n, m), (amplitude, angle) in terms.items():
            amplitude, angle = flat(amplitude), flat(angle)
            g = 2 * np.pi / lam * amplitude
            cos_a, sin_a = np.cos(m * angle), np.sin(m * angle)
            scale, grad = -g * lam ** (n + 1) / (n + 1), g * lam**n  # scale: of -χ
            chi_cols.append((scale * cos_a, view("c", n + 1, m)))
            if m:
                chi_cols.append((scale * sin_a, view("s", n + 1, m)))
            if np.any(beta):
                grad_r.append((grad * cos_a, view("c", n, m)))
                if m:
                    grad_r.append((grad * sin_a, view("s", n, m)))
                    grad_a.append((-grad * m / (n + 1) * cos_a, view("s", n, m)))
                    grad_a.append((grad * m / (n + 1) * sin_a, view("c", n, m)))
        env_cols = [(-((0.5 * np.pi * lam * flat(focal_spread)) ** 2), view("c", 4, 0)),
                    (-2 * np.pi**2 * flat(blur) ** 2, view("c", 2, 0))]  # fmt: skip
        shape = (batch,) + view("c", 2, 0).shape
        minus_chi = self._combine(chi_cols, shape)
        envelope = self._combine(env_cols, shape)  # the exponent, made the envelope in place
        if np.any(beta):
            radial, azimuthal = self._combine(grad_r, shape), self._combine(grad_a, shape)
            weight = self.xp.asarray((beta / 2) ** 2, dtype=np.float32)
            envelope -= weight.reshape((-1,) + (1,) * (len(shape) - 1)) * (
                radial**2 + azimuthal**2)  # fmt: skip
        self.xp.exp(envelope, out=envelope)
        out = self.xp.empty(shape, dtype=np.complex64)
        self.xp.multiply(envelope, self.xp.cos(minus_chi), out=out.real)
        self.xp.multiply(envelope, self.xp.sin(minus_chi, out=minus_chi), out=out.imag)
        return self.xp.take(out, self._q[rows, cols], axis=1) if table else out

    def __call__(
        self,
        aberrations: Mapping[str, Any],
        focal_spread: Any = 0.0,
        blur: Any = 0.0,
        angular_spread: Any = 0.0,
    ) -> Any:
        """Transfer functions of a batch, complex64 (B, My, Mx), unshifted FFT order.

        Parameters
        ----------
        aberrations : mapping
            abTEM polar symbols ``C10, C12, phi12, ..., C45, phi45`` [Å], [rad], each a
            scalar or a (B,) array (e.g. from ``aberrations_from_draw``, flattened).
        focal_spread, blur, angular_spread : float or (B,) array
            1/e half-width of the defocus spread [Å], Gaussian blur σ [Å], beam
            convergence β [mrad].
        """
        transfer = self.centred(aberrations, focal_spread, blur, angular_spread)
        return self.xp.fft.ifftshift(transfer, axes=(-2, -1))


@functools.lru_cache(maxsize=8)
def _transfer_basis(grid: tuple, sampling: tuple, energy: float, xp: Any) -> TransferBasis:
    """Bases shared by every wave with the same image grid (a batch job has few)."""
    return TransferBasis(grid, sampling, energy, xp)


def _polar_terms(aberrations: Mapping[str, Any]) -> dict[tuple[int, int], tuple[Any, Any]]:
    """{(n, m): (C_nm, phi_nm)} for the symbols given with a non-zero amplitude."""
    terms = {}
    for key, value in aberrations.items():
        if key.startswith("phi"):
            continue
        if key not in ABERRATION_SYMBOLS:
            raise ValueError(f"unknown aberration {key!r} (abTEM polar symbols C10 ... C56)")
        n, m = ABERRATION_SYMBOLS[key]
        if np.any(np.asarray(value) != 0):
            terms[(n, m)] = (value, aberrations.get(f"phi{n}{m}", 0.0))
    return terms


def _fft_kwargs(xp: Any, workers: int) -> dict:
    return {"workers": workers} if xp is np else {}


def image_intensities(
    spectrum: Any,
    energy: float,
    geometries: Sequence[EpochGeometry],
    aberrations: Mapping[str, np.ndarray],
    focal_spread: np.ndarray,
    blur: np.ndarray,
    angular_spread: np.ndarray,
    workers: int = 1,
) -> Iterator[tuple[int, Any]]:
    """Noise-free image intensities of one exit wave under a batch of draws (steps 2-4).

    A generator: batches of a few images are made at a time (memory stays bounded and
    caches warm whatever the number of epochs) and handed out epoch by epoch.

    Parameters
    ----------
    spectrum : complex array (ny, nx)
        FFT of the exit wave (unshifted, lake layout).
    energy : float
        Electron energy [eV].
    geometries : sequence of EpochGeometry
        One per epoch.
    aberrations : mapping of str to arrays (epoch, focus)
        abTEM polar symbols, e.g. from
        :func:`~hrtemlake.simulate.draw.aberrations_from_draw`.
    focal_spread, blur, angular_spread : arrays (epoch,)
        1/e half-width of the defocus spread [Å], Gaussian blur σ [Å], beam convergence
        β [mrad].
    workers : int
        Threads of ``scipy.fft`` (CPU only).

    Yields
    ------
    index : int
        The epoch (position in ``geometries``).
    intensity : real float32 array (focus, Ly, Lx)
        Intensity relative to the incident beam (vacuum = 1), zero in padded pixels.

    Notes
    -----
    The image waves are transformed from the centred spectrum: that multiplies them by
    a phase factor of modulus one, which the intensity does not see.
    """
    xp = get_array_module(spectrum)
    fft = get_fft_module(xp)
    focal = int(np.shape(aberrations["C10"])[1])
    groups: dict[tuple, list[int]] = {}
    for index, geometry in enumerate(geometries):
        groups.setdefault((geometry.grid, geometry.sampling), []).append(index)
    for (grid, sampling), members in groups.items():
        centred = centred_on_grid(spectrum, grid)
        basis = _transfer_basis(grid, sampling, float(energy), xp)
        per_chunk = max(1, MAX_BATCH_PIXELS // (grid[0] * grid[1] * focal))
        bands: dict[tuple, list[int]] = {}  # epochs batch with others of the same band
        for i in members:
            band = basis.band(focal_spread[i], blur[i])
            bands.setdefault((band[0].indices(grid[0]), band[1].indices(grid[1])), []).append(i)
        for (row_range, col_range), same in bands.items():
            rows, cols = slice(*row_range), slice(*col_range)
            yield from _chunk_intensities(
                basis, centred, geometries, same, per_chunk, focal, (rows, cols), aberrations,
                (focal_spread, blur, angular_spread), fft, _fft_kwargs(xp, workers),
            )  # fmt: skip


def _chunk_intensities(basis, centred, geometries, members, per_chunk, focal, band,
                       aberrations, spreads_by_epoch, fft, kwargs):  # fmt: skip
    """Intensities of ``members`` (epochs of one grid and band), a few at a time."""
    xp, (rows, cols) = basis.xp, band
    for start in range(0, len(members), per_chunk):
        chunk = members[start : start + per_chunk]
        spreads = [np.repeat(np.asarray(v, np.float64)[chunk], focal) for v in spreads_by_epoch]
        chunk_aberrations = {k: np.asarray(v)[chunk].ravel() for k, v in aberrations.items()}
        transfer = basis.centred(chunk_aberrations, *spreads, band=band)
        waves = _image_waves(transfer, centred[rows, cols], basis.grid, rows, cols, fft, kwargs)
        intensity = xp.abs(waves)
        intensity *= intensity
        for n, i in enumerate(chunk):
            image = intensity[n * focal : (n + 1) * focal]
            if image.shape[-2:] != geometries[i].size:
                image = crop_or_pad(image, geometries[i].size)
            yield i, image


def _image_waves(transfer: Any, spectrum: Any, grid: tuple, rows: slice, cols: slice,
                 fft: Any, kwargs: dict) -> Any:  # fmt: skip
    """Inverse 2-D FFT of transfer × spectrum, given on the block (rows, cols) of the
    ``grid`` and zero elsewhere: the row transforms skip the zero rows (a pruned FFT)."""
    xp = get_array_module(transfer)
    half = _zero_outside(xp.empty(transfer.shape[:-1] + (grid[1],), np.complex64), cols)
    xp.multiply(transfer, spectrum, out=half[..., cols])
    half = fft.ifft(half, axis=-1, overwrite_x=True, **kwargs)
    if transfer.shape[-2] == grid[0]:
        full = half
    else:
        full = _zero_outside(xp.empty(transfer.shape[:-2] + tuple(grid), np.complex64), rows,
                             axis=-2)  # fmt: skip
        full[..., rows, :] = half
    return fft.ifft(full, axis=-2, overwrite_x=True, **kwargs)


def _zero_outside(array: Any, block: slice, axis: int = -1) -> Any:
    """Zero ``array`` along ``axis`` outside ``block`` (the block is written next)."""
    index = [slice(None)] * array.ndim
    for part in (slice(0, block.start), slice(block.stop, None)):
        index[axis] = part
        array[tuple(index)] = 0
    return array


@functools.lru_cache(maxsize=32)
def _log_nyquist_frequencies(size: tuple[int, int]) -> np.ndarray:
    """log(q̃) on the half spectrum of ``rfft2`` of an image of ``size`` (-inf at 0)."""
    q0 = 2 * np.fft.fftfreq(size[0])[:, None]
    q1 = 2 * np.fft.rfftfreq(size[1])[None, :]
    with np.errstate(divide="ignore"):
        return np.log(np.sqrt(q0**2 + q1**2)).astype(np.float32)


def _mtf_rfft(size: tuple[int, int], c0: float, c3: float, floor: float, xp: Any) -> Any:
    """The MTF of eq. 1.25, (1 - C)/(1 + (q̃/c0)^c3) + C, on the half spectrum of
    ``rfft2`` of an image of ``size`` (float32; :func:`detector.mtf` in float64)."""
    log_q = xp.asarray(_log_nyquist_frequencies(tuple(size)))
    with np.errstate(over="ignore"):
        power = xp.exp(np.float32(c3) * (log_q - np.float32(np.log(c0))))
    power += 1
    return np.float32(1 - floor) / power + np.float32(floor)


def _poisson(rng: np.random.Generator, lam: Any, xp: Any) -> Any:
    if xp is np:
        return rng.poisson(lam)
    seed = int(rng.integers(2**63 - 1))  # pragma: no cover - GPU only
    return xp.random.RandomState(seed).poisson(lam)  # pragma: no cover


def _add_readout(counts: Any, rng: np.random.Generator, rate: float) -> Any:
    """Add Poisson(rate) counts per pixel to ``counts`` (float32, in place).

    For small rates a Poisson total is spread uniformly over the pixels (Poisson
    splitting: the same distribution, iid per pixel, at a cost of the few events).
    """
    xp = get_array_module(counts)
    if rate > SPARSE_READOUT or xp is not np:
        counts += _poisson(rng, xp.full(counts.shape, rate, dtype=np.float64), xp)
        return counts
    events = rng.integers(0, counts.size, size=rng.poisson(rate * counts.size))
    pixels, hits = np.unique(events, return_counts=True)
    counts[np.unravel_index(pixels, counts.shape)] += hits
    return counts


def detect(
    intensity: Any,
    electrons: float,
    rng: np.random.Generator,
    mtf: Optional[tuple[float, float, float]] = None,
    readout: Optional[float] = None,
    *,
    noise: bool = True,
    workers: int = 1,
    out: Any = None,
) -> Any:
    """Detector counts of one epoch's images (thesis eqs. 1.24-1.28), float32.

    The same model as :func:`~hrtemlake.simulate.detector.apply_dose_and_noise`: mean
    counts N_D = electrons × intensity, Poisson shot noise, the MTF applied to the
    counts' spectrum, then Poisson readout noise N0 (expectations when ``noise`` is off).

    Parameters
    ----------
    intensity : real array (F, Ly, Lx)
        Intensity relative to the incident beam.
    electrons : float
        Dose × pixel area [e⁻/pixel] of vacuum.
    rng : numpy.random.Generator
        The epoch's generator (shot noise is drawn before readout noise).
    mtf : (c0, c3, C) or None
        Parameters of eq. 1.25: half-maximum frequency c0 [q_Nyquist], exponent c3
        and floor C (see :func:`~hrtemlake.simulate.detector.mtf`).
    readout : float or None
        Readout noise N0 [e⁻/pixel].
    noise : bool
        Draw Poisson noise (True) or use expectations.
    workers : int
        Threads of ``scipy.fft`` (CPU only).
    out : float32 array like ``intensity``, optional
        Where to write the counts (returned).
    """
    xp = get_array_module(intensity)
    out = xp.empty(intensity.shape, dtype=np.float32) if out is None else out
    mean = xp.multiply(intensity, float(electrons), dtype=np.float64)
    counts = _poisson(rng, mean, xp) if noise else mean
    if mtf is None:
        out[...] = counts
    else:
        fft = get_fft_module(xp)
        kwargs = {**_fft_kwargs(xp, workers), "axes": (-2, -1), "overwrite_x": True}
        size = out.shape[-2:]
        spectrum = fft.rfft2(counts.astype(np.float32), **kwargs)
        spectrum *= _mtf_rfft(size, *mtf, xp)
        if xp is np:  # the last axis by numpy's irfft, which writes into ``out``
            spectrum = fft.ifft(spectrum, axis=-2, overwrite_x=True, workers=workers)
            np.fft.irfft(spectrum, n=size[1], axis=-1, out=out)
        else:
            out[...] = fft.irfft2(spectrum, s=size, **kwargs)
    if readout and noise:
        _add_readout(out, rng, float(readout))
    elif readout:
        out += np.float32(readout)
    return out
