"""Image preprocessing shared by training, evaluation and analysis.

The local standardisation of the thesis (eq. 3.1) makes a network's input independent of
dose, gain and slowly varying illumination. Its Gaussian is wide (the parameter file's
``normalizedistance``, 12 Å by default, is 20-120 pixels at typical pixel sizes), so the
blur goes through a cosine transform or a coarser grid: a direct convolution with a kernel of
8σ taps costs 10-100× more per image and would dominate training and analysis time on a CPU.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from scipy import ndimage, sparse

__all__ = ["gaussian_blur", "local_standardise"]

#: σ [pixels] of the Gaussian on the coarse grid of a wide blur (see gaussian_blur).
_BLOCK_SIGMA = 16.0
#: Least σ [pixels] blurred through the cosine transform rather than by a direct convolution.
_FFT_SIGMA = 6.0
#: Gains of the Gaussian below this are dropped from the cosine-transform blur: they weigh
#: less than the transforms' own rounding, even for float64.
_LEAST_GAIN = 1e-12


def gaussian_blur(stack: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of a (y, x, channel) stack over y and x, mirror-padded at the edges.

    Same boundary handling as ``scipy.ndimage.gaussian_filter(mode="reflect")``, by the
    cheapest of three routes for the width:

    * σ < 6 px: ``scipy.ndimage.gaussian_filter`` itself;
    * 6 ≤ σ < 32 px: through the discrete cosine transform (DCT-II), whose implied
      extension of the image is exactly the mirror (``reflect``) one: the Gaussian's gain
      multiplies the coefficients, with no padding and no wrap-around, so the result is the
      untruncated Gaussian's to the transforms' rounding (~1e-6 of the signal in float32,
      1e-14 in float64; scipy's kernel, cut at 4σ, differs by ~1e-4). Coefficients whose
      gain is below 1e-12 are dropped, so after the first transform along x only the
      lowest fifth (σ = 12 px; fewer for wider σ) is transformed along y and back, and
      the cost hardly grows with σ (a 4096² float32 frame: ~0.15 s);
    * σ ≥ 32 px: on the stack averaged over f×f blocks (f = ⌊σ/16⌋) and interpolated
      back linearly, both steps sparse matrices along y and x. The block average adds a
      variance of f²/12 px² (σ grows by < 0.1 %) and the result is smooth on the scale of
      f, so the interpolation is accurate to ~1e-4 of the signal (a few 1e-3 once σ nears
      the image size, where the mirrored edges dominate): the cheap route for the small
      training images, whose σ is often 70-120 px.
    """
    factor = int(sigma_px // _BLOCK_SIGMA)
    if factor >= 2:
        return _coarse_blur(stack, sigma_px, factor)
    if sigma_px >= _FFT_SIGMA:
        return _dct_blur(stack, sigma_px)
    return ndimage.gaussian_filter(stack, (sigma_px, sigma_px, 0))


def _dct_blur(stack: np.ndarray, sigma_px: float) -> np.ndarray:
    """Mirror-boundary Gaussian blur over axes 0 and 1 by the DCT-II, in the stack's own
    precision (float32 stays float32).

    The DCT-II of n samples is the DFT of their mirror extension (period 2n), so a
    Gaussian convolution of that extension is a product with the Gaussian's gain at
    frequency k / 2n; coefficients with a gain below ``_LEAST_GAIN`` are left out.
    """
    ny, nx, _ = stack.shape
    real = np.float32 if stack.dtype == np.float32 else np.float64

    def gains(n: int) -> np.ndarray:
        gain = np.exp(-2 * (np.pi * sigma_px * np.arange(n) / (2 * n)) ** 2)
        return gain[: max(1, int(np.count_nonzero(gain >= _LEAST_GAIN)))].astype(real)

    gain_y, gain_x = gains(ny), gains(nx)
    spectrum = sfft.dct(stack, type=2, axis=1)[:, : gain_x.size]
    spectrum *= gain_x[None, :, None]
    spectrum = sfft.dct(spectrum, type=2, axis=0, overwrite_x=True)[: gain_y.size]
    spectrum *= gain_y[:, None, None]
    spectrum = sfft.idct(spectrum, type=2, n=ny, axis=0, overwrite_x=True)
    blurred = sfft.idct(spectrum, type=2, n=nx, axis=1, overwrite_x=True)
    return blurred.astype(stack.dtype, copy=False)


def _coarse_blur(stack: np.ndarray, sigma_px: float, factor: int) -> np.ndarray:
    ny, nx, nc = stack.shape
    average_y, average_x = _block_average(ny, factor), _block_average(nx, factor)
    spread_y, spread_x = _linear_interpolation(ny, factor), _linear_interpolation(nx, factor)
    out = np.empty(stack.shape, dtype=stack.dtype)
    for c in range(nc):
        coarse = (average_x @ (average_y @ stack[..., c]).T).T
        coarse = ndimage.gaussian_filter(coarse, sigma_px / factor)
        out[..., c] = (spread_x @ (spread_y @ coarse).T).T
    return out


def _block_average(n: int, factor: int) -> sparse.csr_matrix:
    """(⌈n/f⌉, n) means over blocks of f pixels; the last block mirrors the edge."""
    index = np.arange(-(-n // factor) * factor)
    source = np.where(index < n, index, 2 * n - 1 - index)
    weights = np.full(index.size, 1.0 / factor, dtype=np.float32)
    return sparse.csr_matrix((weights, (index // factor, source)), shape=(-(-n // factor), n))


def _linear_interpolation(n: int, factor: int) -> sparse.csr_matrix:
    """(n, ⌈n/f⌉) linear interpolation from block centres back to pixels."""
    blocks = -(-n // factor)
    # pixel i lies at block coordinate (i - (f - 1)/2) / f
    coords = np.clip((np.arange(n) - (factor - 1) / 2) / factor, 0, blocks - 1)
    low = np.minimum(np.floor(coords).astype(int), max(blocks - 2, 0))
    high = np.minimum(low + 1, blocks - 1)
    weight = (coords - low).astype(np.float32)
    rows = np.repeat(np.arange(n), 2)
    values = np.stack([1 - weight, weight], axis=1).ravel()
    return sparse.csr_matrix((values, (rows, np.stack([low, high], axis=1).ravel())), shape=(n, blocks))


def local_standardise(image: np.ndarray, sigma_px: float, eps: float = 1e-6) -> np.ndarray:
    """Local standardisation of an image (thesis eq. 3.1).

    Subtracts the Gaussian-weighted local mean and divides by the Gaussian-weighted local
    standard deviation, which makes a network robust to uneven illumination and to empty or
    saturated regions. For a focal series (channels last) both terms are averaged over the
    channels, as in eq. 3.1.

    Parameters
    ----------
    image : numpy.ndarray
        (y, x) image, or (y, x, channel) focal series.
    sigma_px : float
        Width of the Gaussian [pixels]; the parameter file's "normalisation distance" [Å]
        divided by the pixel size [Å]. Should exceed the size of the image features.
    eps : float
        Lower bound of the local standard deviation relative to the image's largest
        magnitude, so flat regions give 0 instead of amplified rounding errors.

    Returns
    -------
    numpy.ndarray
        Array of the input's shape; float32 for float32 input, else float64.
    """
    dtype = np.float32 if np.asarray(image).dtype == np.float32 else np.float64
    img = np.asarray(image, dtype=dtype)
    if img.ndim not in (2, 3):
        raise ValueError(f"expected a (y, x) or (y, x, channel) image, got shape {img.shape}")
    if not sigma_px > 0:
        raise ValueError(f"sigma_px must be > 0, got {sigma_px}")
    stack = img[..., None] if img.ndim == 2 else img
    several = stack.shape[-1] > 1  # the channel means (of one channel: itself)
    # in place where it can be: a 4096² frame's temporaries are 64 MiB each
    mean = gaussian_blur(stack, sigma_px)
    centred = stack - (mean.mean(axis=-1, keepdims=True) if several else mean)
    del mean
    variance = gaussian_blur(np.square(centred), sigma_px)
    std = np.sqrt(np.maximum(variance, 0, out=variance), out=variance)
    if several:
        std = std.mean(axis=-1, keepdims=True)
    peak = np.maximum(stack.max(), -stack.min())  # the largest magnitude
    floor = eps * max(float(peak), np.finfo(dtype).tiny)
    # = where(std > floor, centred, 0) / maximum(std, floor)
    np.copyto(centred, 0, where=~(std > floor))
    out = np.divide(centred, np.maximum(std, floor, out=std), out=centred)
    out = out.astype(dtype, copy=False)
    return out[..., 0] if img.ndim == 2 else out
