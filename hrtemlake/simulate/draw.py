"""Drawing per-image microscope parameters from the ranges of a parameter file.

Distributions (thesis ch. 3.2; Papers I-III, Table 1: "All distributions are uniform,
except for the dose which is exponential"):

* every range field is drawn uniformly between its bounds;
* ``log_dose`` is uniform, so ``dose = 10**log_dose`` [e⁻/Å²] is log-uniform;
* with ``multifocus = (count, step, jitter)`` each image has a focal series: the first
  defocus is uniform in the part of the ``defocus`` range that keeps the whole series
  inside it (Paper I, Table 1: "The defocus of the first image is picked so the defocus
  of all images are within the bound specified"), and each following defocus adds a
  step drawn uniformly from [step - jitter, step + jitter] (e.g. (3, 50, 1): 3 images
  (50 ± 1) Å apart, thesis Table 3.2).

Draws are made in a fixed order for every field, whether or not noise or the MTF is on,
so a seed always gives the same values for the same ranges.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from hrtemlake.simulate._validation import focal_series_offsets
from hrtemlake.simulate.params import RANGE_FIELDS, ImageParameters

__all__ = [
    "aberrations_from_draw",
    "draw_microscope",
    "mtf_params_from_draw",
    "per_image",
    "regression_targets",
]

_ABERRATIONS = ("c30", "c12", "phi12", "c21", "phi21", "c23", "phi23",
                "c32", "phi32", "c34", "phi34", "c45", "phi45")


def _generator(rng: Any, params: ImageParameters) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(params.seed if rng is None else rng)


def _focal_series(params: ImageParameters, u: np.ndarray, rng: np.random.Generator):
    lower, upper = params.defocus
    if params.multifocus is None:
        return (lower + (upper - lower) * u)[:, None]
    count, step, jitter = params.multifocus
    low, high = focal_series_offsets(int(count), step, jitter)
    first = (lower - low) + ((upper - high) - (lower - low)) * u
    steps = step + jitter * (2 * rng.random((u.size, int(count) - 1)) - 1)
    offsets = np.concatenate([np.zeros((u.size, 1)), np.cumsum(steps, axis=1)], axis=1)
    return first[:, None] + offsets


def draw_microscope(
    params: ImageParameters, rng: Optional[Any] = None, n: int = 1
) -> dict[str, np.ndarray]:
    """Draw the microscope parameters of ``n`` images.

    Parameters
    ----------
    params : ImageParameters
        The parameter file.
    rng : numpy.random.Generator, int or None
        Generator, or a seed; None uses ``params.seed``.
    n : int
        Number of images (or focal series).

    Returns
    -------
    dict of str to ndarray
        One entry per range field of the parameter file (``sampling`` [Å/pixel],
        ``log_dose``, ``blur`` [Å], ``focal_spread`` [Å], ``angular_spread`` [mrad],
        ``ctf_c30`` ... [Å], ``ctf_phi12`` ... [rad], ``mtf_c1`` (c0), ``mtf_c2`` (C),
        ``mtf_c3`` (c3), ``readout`` [e⁻/pixel]), each of shape (n,), plus ``dose``
        [e⁻/Å²] of shape (n,) and ``defocus`` [Å] of shape (n, num_focal) (one column
        per image of the focal series; one column without ``multifocus``).
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    rng = _generator(rng, params)
    uniforms = {name: rng.random(n) for name in RANGE_FIELDS}
    out: dict[str, np.ndarray] = {}
    for name in RANGE_FIELDS:
        lower, upper = getattr(params, name)
        out[name] = lower + (upper - lower) * uniforms[name]
    out["defocus"] = _focal_series(params, uniforms["defocus"], rng)
    out["dose"] = 10.0 ** out["log_dose"]
    return out


def per_image(draw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every drawn array broadcast to the (n, num_focal) shape of ``defocus``."""
    shape = draw["defocus"].shape
    return {
        name: np.broadcast_to(value if value.ndim == 2 else value[:, None], shape)
        for name, value in draw.items()
    }


def aberrations_from_draw(draw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """abTEM polar aberration symbols (C10 = -defocus, C30, C12, phi12 ...) of shape
    (n, num_focal), ready for :func:`~hrtemlake.simulate.optics.ctf`."""
    images = per_image(draw)
    out = {"C10": -images["defocus"]}
    for name in _ABERRATIONS:
        out[name.upper() if name.startswith("c") else name] = images[f"ctf_{name}"]
    return out


def mtf_params_from_draw(draw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """MTF parameters of eq. 1.25 for ``apply_dose_and_noise``: c0 = ``mtf_c1``,
    C = ``mtf_c2``, c3 = ``mtf_c3`` (see :mod:`hrtemlake.simulate.params`)."""
    return {"c0": draw["mtf_c1"], "C": draw["mtf_c2"], "c3": draw["mtf_c3"]}


def regression_targets(draw: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    """Regression label values, shape (n, len(names)); ``defocus`` is the defocus of
    the first image of each focal series [Å]."""
    columns = [draw[name][:, 0] if name == "defocus" else draw[name] for name in names]
    return np.stack(columns, axis=1)
