"""Data augmentation of training images and labels (thesis §3.3, eqs. 3.2-3.4).

Three intensity augmentations act on the image only, in this order:

* **brightness** (eq. 3.2): Î = I + U[a, b];
* **contrast** (eq. 3.3): Î = (I - Ī_c) · U[a, b] + Ī_c, with Ī_c the mean of channel c;
* **gamma** (eq. 3.4): Î = (I - min_c I) · U[a, b] + min_c I, with min_c I the minimum of
  channel c. Despite its name (kept from the thesis), this is a linear stretch about the
  minimum, not a power law.

The thesis calls U[a, b] "a random number" in an equation over all x, y and channels z, so
each augmentation draws **one number per image, shared by all its channels**: the images
of a focal series keep their relative intensities, while the mean (contrast) and minimum
(gamma) are taken per channel. The draws are made in the order brightness, contrast, gamma,
always, so that a range that disables one augmentation does not shift the random stream of
the others. A range (a, a) draws a; the identity ranges (0, 0) for brightness and (1, 1)
for contrast and gamma leave the image bit for bit unchanged.

Geometric augmentation (:func:`random_flips`) flips image and label together, horizontally
and vertically, each with probability 1/2.

Arrays are (y, x, c), channels last, as the networks take them. The defaults suit locally
standardised images (eq. 3.1: mean 0, standard deviation 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Optional

import numpy as np

from hrtemlake.errors import ParameterError

__all__ = ["Augmentation", "augment_image", "random_flips"]

#: Default ranges for locally standardised images (mean 0, std 1).
DEFAULT_BRIGHTNESS = (-0.1, 0.1)
DEFAULT_CONTRAST = (0.9, 1.1)
DEFAULT_GAMMA = (0.9, 1.1)

Range = tuple[float, float]


def _check_range(name: str, value: Any, non_negative: bool = False) -> Range:
    """``value`` as a (low, high) pair of finite floats with low <= high.

    Raises
    ------
    ParameterError
        Naming the field ``name`` when the range is malformed.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ParameterError(f"augmentation field '{name}': expected a pair (a, b), got {value!r}")
    try:
        low, high = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise ParameterError(
            f"augmentation field '{name}': bounds must be numbers, got {value!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ParameterError(f"augmentation field '{name}': bounds must be finite, got {value!r}")
    if low > high:
        raise ParameterError(f"augmentation field '{name}': lower bound {low} > upper bound {high}")
    if non_negative and low < 0:
        raise ParameterError(f"augmentation field '{name}': factors must be >= 0, got {low}")
    return low, high


def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"{name} must be (y, x, c), got shape {image.shape}")
    return image


def _scale_about(image: np.ndarray, centre: np.ndarray, factor: float) -> np.ndarray:
    """(image - centre) · factor + centre; the image itself when factor is exactly 1."""
    if factor == 1.0:
        return image
    centre = centre.astype(image.dtype)
    return (image - centre) * image.dtype.type(factor) + centre


def augment_image(
    image: np.ndarray,
    rng: np.random.Generator,
    brightness: Range = DEFAULT_BRIGHTNESS,
    contrast: Range = DEFAULT_CONTRAST,
    gamma: Range = DEFAULT_GAMMA,
) -> np.ndarray:
    """Random brightness, contrast and gamma of one image (eqs. 3.2-3.4).

    Parameters
    ----------
    image : ndarray (y, x, c)
        Image, e.g. a locally standardised focal series; floating point (integers are
        converted to float32).
    rng : numpy.random.Generator
        Source of the three draws (brightness, contrast, gamma, in this order).
    brightness : (float, float)
        Range [a, b] of the offset added to every pixel (eq. 3.2); (0, 0) disables.
    contrast : (float, float)
        Range [a, b] >= 0 of the factor scaling each channel about its mean (eq. 3.3);
        (1, 1) disables.
    gamma : (float, float)
        Range [a, b] >= 0 of the factor scaling each channel about its minimum (eq. 3.4);
        (1, 1) disables.

    Returns
    -------
    ndarray (y, x, c)
        New array of the image's floating dtype (float32 for float32 input).

    Raises
    ------
    ParameterError
        A ValueError naming the field of a malformed range (e.g. a > b).
    """
    offset_range = _check_range("brightness", brightness)
    contrast_range = _check_range("contrast", contrast, non_negative=True)
    gamma_range = _check_range("gamma", gamma, non_negative=True)
    image = _check_image(image)
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    offset = rng.uniform(*offset_range)
    contrast_factor = rng.uniform(*contrast_range)
    gamma_factor = rng.uniform(*gamma_range)

    out = image + image.dtype.type(offset) if offset != 0.0 else image.copy()
    mean = out.mean(axis=(0, 1), dtype=np.float64)
    out = _scale_about(out, mean, contrast_factor)
    minimum = out.min(axis=(0, 1))
    return _scale_about(out, minimum, gamma_factor)


def random_flips(
    image: np.ndarray, label: Optional[np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Flip image and label together, left-right and up-down, each with probability 1/2.

    Parameters
    ----------
    image : ndarray (y, x, c)
        Image.
    label : ndarray (y, x, c) or None
        Label on the image's pixel grid; None flips the image alone.
    rng : numpy.random.Generator
        Source of the two draws (horizontal, then vertical).

    Returns
    -------
    (ndarray, ndarray or None)
        Contiguous flipped copies of image and label (the same flips for both).
    """
    image = _check_image(image)
    if label is not None:
        label = _check_image(label, "label")
        if label.shape[:2] != image.shape[:2]:
            raise ValueError(f"label {label.shape} and image {image.shape} differ in (y, x)")
    horizontal, vertical = rng.random(2) < 0.5
    axes = tuple(axis for axis, flip in ((1, horizontal), (0, vertical)) if flip)

    def flipped(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.flip(array, axis=axes) if axes else array.copy())

    return flipped(image), None if label is None else flipped(label)


@dataclass(frozen=True)
class Augmentation:
    """The augmentations of a training run: intensity ranges and random flips.

    Attributes
    ----------
    brightness : (float, float)
        Offset range, eq. 3.2 (identity: (0, 0)).
    contrast : (float, float)
        Factor range about the channel mean, eq. 3.3 (identity: (1, 1)).
    gamma : (float, float)
        Factor range about the channel minimum, eq. 3.4 (identity: (1, 1)).
    flips : bool
        Random horizontal and vertical flips of image and label.
    """

    brightness: Range = DEFAULT_BRIGHTNESS
    contrast: Range = DEFAULT_CONTRAST
    gamma: Range = DEFAULT_GAMMA
    flips: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "brightness", _check_range("brightness", self.brightness))
        object.__setattr__(self, "contrast", _check_range("contrast", self.contrast, True))
        object.__setattr__(self, "gamma", _check_range("gamma", self.gamma, True))
        if not isinstance(self.flips, (bool, np.bool_)):
            raise ParameterError(f"augmentation field 'flips': expected a bool, got {self.flips!r}")
        object.__setattr__(self, "flips", bool(self.flips))

    @classmethod
    def none(cls) -> "Augmentation":
        """No augmentation at all (identity ranges, no flips)."""
        return cls(brightness=(0.0, 0.0), contrast=(1.0, 1.0), gamma=(1.0, 1.0), flips=False)

    def apply(
        self, image: np.ndarray, label: Optional[np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Augment one (image, label) pair: intensities of the image, then flips of both.

        The label's values are never changed, only flipped with the image.
        """
        image = augment_image(image, rng, self.brightness, self.contrast, self.gamma)
        if not self.flips:
            return image, None if label is None else np.array(label, copy=True)
        return random_flips(image, label, rng)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-ready form (ranges as lists)."""
        return {
            "brightness": list(self.brightness),
            "contrast": list(self.contrast),
            "gamma": list(self.gamma),
            "flips": self.flips,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Augmentation":
        """Inverse of :meth:`to_dict`; missing fields take their defaults.

        Raises
        ------
        ParameterError
            On unknown fields or malformed values (the message names the field).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(
                f"augmentation: unknown field(s) {unknown}; known: {sorted(known)}"
            )
        return cls(**dict(data))
