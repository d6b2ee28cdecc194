"""The microscope model: optics, detector, resampling and parameter draws (one import).

This module gathers the vectorised microscope kernels, which live in focused modules:

* :mod:`hrtemlake.simulate.optics` - wavelength, aberration phase χ, coherence
  envelopes, blur, aperture, the CTF and batched image intensities (thesis eqs.
  1.9-1.23, abTEM conventions);
* :mod:`hrtemlake.simulate.detector` - dose, Poisson shot noise, the parametric MTF and
  readout noise (thesis eqs. 1.24-1.28);
* :mod:`hrtemlake.simulate.resampling` - Fourier resampling to a drawn pixel size and
  crop/zero-pad to the image size;
* :mod:`hrtemlake.simulate.draw` - per-image parameters drawn from an
  :class:`~hrtemlake.simulate.params.ImageParameters` file.

A typical image epoch (``params`` from :func:`~hrtemlake.simulate.params.load_parameters`,
``wave`` an exit wave of pixel size ``s`` [Å] at energy ``E`` [eV])::

    draw = draw_microscope(params, rng, n)
    H = ctf(wave.shape, s, E, aberrations_from_draw(draw),
            focal_spread=draw["focal_spread"][:, None], blur=draw["blur"][:, None],
            angular_spread=draw["angular_spread"][:, None])       # (n, m, n0, n1)
    images = image_intensity(fft2(wave), H)                       # (n, m, n0, n1)
    # then per image: fourier_resample to draw["sampling"], crop_or_pad to
    # params.image_size, apply_dose_and_noise(dose=draw["dose"], pixel_area=s_new**2,
    # mtf_params=mtf_params_from_draw(draw), readout=draw["readout"])
"""

from hrtemlake.simulate.detector import (
    apply_dose_and_noise,
    apply_mtf,
    mtf,
    nyquist_frequencies,
)
from hrtemlake.simulate.draw import (
    aberrations_from_draw,
    draw_microscope,
    mtf_params_from_draw,
    per_image,
    regression_targets,
)
from hrtemlake.simulate.optics import (
    ABERRATION_SYMBOLS,
    aberration_gradient,
    aberration_phase,
    aperture,
    ctf,
    fft2,
    gaussian_blur_transfer,
    ifft2,
    image_intensity,
    polar_spatial_frequencies,
    scherzer_defocus,
    spatial_envelope,
    spatial_frequencies,
    temporal_envelope,
    wavelength,
)
from hrtemlake.simulate.resampling import crop_or_pad, fourier_resample, resampled_shape

__all__ = [
    "ABERRATION_SYMBOLS",
    "aberration_gradient",
    "aberration_phase",
    "aberrations_from_draw",
    "aperture",
    "apply_dose_and_noise",
    "apply_mtf",
    "crop_or_pad",
    "ctf",
    "draw_microscope",
    "fft2",
    "fourier_resample",
    "gaussian_blur_transfer",
    "ifft2",
    "image_intensity",
    "mtf",
    "mtf_params_from_draw",
    "nyquist_frequencies",
    "per_image",
    "polar_spatial_frequencies",
    "regression_targets",
    "resampled_shape",
    "scherzer_defocus",
    "spatial_envelope",
    "spatial_frequencies",
    "temporal_envelope",
    "wavelength",
]
