"""Chirality (n, m) of single-wall carbon nanotubes from the Fourier transform of one image.

Seed 004 (Förster et al., Carbon 169, 465 (2020)): a CNN tells the chirality of a nanotube
from an HR-TEM image among (11, 6) and its neighbours (10, 6), (11, 5), (11, 7) and (12, 6)
(:data:`hrtemlake.models.CHIRALITIES`), > 90 % on simulated images, and reports per region
the three likeliest chiralities with their probabilities. A CNN on raw images of tubes at
random in-plane angles and positions does not learn this from a few thousand images: the
chiralities differ in diameter by ~0.06 nm in pairs and otherwise only in chiral angle. Both
show in the power spectrum of a tube seen side-on, in a frame tied to the tube axis: the
graphene {100} reflections of the front and back walls lie on layer lines perpendicular to
the axis, split by ± the chiral angle (the first layer line, at 0.47 sin(30° - θ) Å⁻¹ from
the equator, moves by ~0.01 Å⁻¹ between neighbouring classes), and the equatorial line
oscillates along q with a period of ~1 / diameter. This module gives the classifier
(:func:`hrtemlake.nn.heads.build_classifier`, 1 channel, one class per chirality) exactly
that view:

* :func:`tube_axis_angle`: the in-plane angle of the tube axis, from the power spectrum;
* :func:`chirality_input`: one image (or region crop) → the classifier input, its power
  spectrum in the tube's frame on a fixed reciprocal-space grid;
* :func:`chirality_probabilities`: per image or region, the probability of every class and
  the ``top`` likeliest (the seed's table: region → chirality 1/2/3 with probabilities, a
  :class:`ChiralityTable`; :func:`chirality_table` makes one from probabilities scored
  elsewhere); :func:`chirality_by_region` does it for the labelled regions of a frame (e.g.
  the instance stage's labels), from crops centred on each (:func:`region_crops`), and
  :func:`track_chirality` for every track of an analysis run in every frame, ranked per
  track by :func:`chirality_summary` (``hrtemlake analyze chirality``);
* :func:`simulate_chirality_samples`: training data (nanotubes of
  :func:`hrtemlake.models.nanotubes.nanotube`, abTEM exit waves, noisy images of
  :func:`~hrtemlake.simulate.images.synthesize_images`);
* :func:`train_chirality_classifier`, :func:`register_chirality_classifier` and
  :func:`load_chirality_classifier`: train it, store it in the lake's network registry
  (``networks/<name>``) and load it back by name with the input settings it was trained on.

It follows the zone-axis classifier (:mod:`hrtemlake.analysis.zoneaxis`) and shares its
grid, training loop and registry helpers.

Decisions
---------
Window
    The image minus its (windowed) mean is multiplied by a disc-shaped window: 1 inside 85 %
    of the radius of the largest centred disc, a cos² taper to 0 at its edge. A disc is
    unchanged by a rotation about the image centre, so a tube turned in the image gives the
    same windowed image turned, and the rotation to the tube's frame brings nothing in from
    the corners; the taper also softens the image edges (no cross of edge streaks in the
    spectrum). The tube should lie in that disc (a region crop centred on it).
Axis angle
    Projection-slice theorem: the power along the line through q = 0 perpendicular to the
    axis is the power spectrum of the image projected along the axis, whose walls make it
    the strongest line of the spectrum (the equatorial line). The angle [deg, 0-180,
    from the x axis (columns) towards the y axis (rows) of the (y, x) image, as
    ``info["angle"]`` of :func:`~hrtemlake.models.nanotubes.nanotube` in the lake's layout]
    is where the power summed along that line is largest: first on a 1° grid over 0.02-0.25
    Å⁻¹ (walls only), then on a 0.1° grid within ±2° with the power weighted by q² up to
    0.4 Å⁻¹ (the line's angular width falls as 1 / q, so longer radii place it more
    sharply), refined by a parabola through the best three. The spectrum is the FFT of the
    windowed image zero-padded to twice its side, read by bilinear interpolation. On 400
    simulated held-out images (0.31 Å/px, 10⁴ e⁻/Å², defocus ±100 Å): median error 0.09°,
    90 % within 0.47°, 94.5 % within 1°; the large misses seen were images near Gaussian
    focus, where the walls have almost no contrast.
Fixed grid, folded
    The windowed image is turned (cubic spline, about its centre) so that the axis lies
    along x. Its power on the centred grid of ``2 size`` points of
    :func:`hrtemlake.analysis.zoneaxis.zone_axis_input` (direct sub-sampled DTFT, spacing
    Δq = q_max / size) is folded: input pixel (i, j) is the mean power at (±i Δq, ±j Δq),
    rows |q| across the axis, columns |q| along it. The power of a real image is
    centrosymmetric, and the tube's front and back walls are mirror images about its axis
    (so are (n, m) and (m, n)), so folding averages copies of the same pattern: it doubles
    the resolution of a grid of the same size and halves the noise. A reflection at d Å
    lands on the same input pixel whatever the pixel size. The defaults (``q_max`` = 0.6
    Å⁻¹, 64 px: Δq ≈ 0.0094 Å⁻¹) hold the graphene {100} layer lines (|q| = 0.47 Å⁻¹; along
    the axis 0.06-0.10, 0.36 and 0.44 Å⁻¹) and resolve the first layer line's shift between
    classes to about one pixel.
Scale
    As the zone-axis input: ``log1p(power / median)``, standardised to mean 0 and
    standard deviation 1.
Training data
    Tube i has chirality ``chiralities[i % len(chiralities)]`` (balanced classes); its
    length (default 24-60 Å), phase, spin, in-plane angle and position come from
    ``numpy.random.default_rng([seed, i])``. 80 keV exit waves at 0.1 Å with 1 Å slices in
    a 40 × 40 Å cell; images of :data:`DEFAULT_IMAGE_PARAMETERS` (128 px of 0.31 Å, 10⁴
    e⁻/Å², defocus ±100 Å, Cs ±2 µm, and the parameter file's default blur, focal spread,
    MTF and readout noise). Near Gaussian focus a carbon tube is a weak phase object with
    almost no contrast: those images are hard to classify, and they are kept (the held-out
    accuracy counts them; ``benchmarks/accuracy_chirality.py`` reports it per |defocus|).
Training
    :func:`hrtemlake.analysis.zoneaxis.train_classifier` (Adam with AMSGrad, sparse
    categorical cross-entropy, accuracy) without augmentation: the folded grid in the
    tube's frame has no exact symmetry left.
Registry
    ``networks/<name>`` with ``training["task"]`` ``"chirality"``, the input settings
    (``q_max``, ``size``) under ``training["input"]`` and the class names ``"(n,m)"``, as
    :func:`hrtemlake.analysis.zoneaxis.register_classifier` writes them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import ndimage

from hrtemlake.analysis.zoneaxis import (
    ZoneAxisSamples,
    _check_grid,
    _count,
    _pixel_sizes,
    _positive,
    _positive_scale,
    _power_on_grid,
    _real_image,
    _standardise,
    load_classifier,
    register_classifier,
    train_classifier,
)
from hrtemlake.errors import ParameterError
from hrtemlake.models.nanotubes import (
    CHIRALITIES,
    check_chiralities,
    chirality_name,
    tube_diameter,
)

__all__ = [
    "CHIRALITY_CLASSES",
    "ChiralitySamples",
    "ChiralityTable",
    "DEFAULT_CELL",
    "DEFAULT_IMAGE_PARAMETERS",
    "DEFAULT_INPUT_SIZE",
    "DEFAULT_LENGTH",
    "DEFAULT_NETWORK",
    "DEFAULT_Q_MAX",
    "DEFAULT_WAVES",
    "chirality_by_region",
    "chirality_input",
    "chirality_probabilities",
    "chirality_summary",
    "chirality_table",
    "load_chirality_classifier",
    "region_crops",
    "register_chirality_classifier",
    "simulate_chirality_samples",
    "track_chirality",
    "train_chirality_classifier",
    "tube_axis_angle",
]

CHIRALITY_CLASSES = tuple(chirality_name(pair) for pair in CHIRALITIES)
"""Class names of the default classifier, ``"(n,m)"``, in the order of its outputs."""

DEFAULT_Q_MAX = 0.6
"""Extent of the input's folded reciprocal-space grid [Å⁻¹] (graphene {100}: 0.47 Å⁻¹)."""

DEFAULT_INPUT_SIZE = 64
"""Side of the input grid [px]."""

DEFAULT_NETWORK = "chirality"
"""Default registry name of the chirality classifier."""

DEFAULT_CELL = 40.0
"""Side of the square cell of the training tubes [Å] (the image's field of view)."""

DEFAULT_LENGTH = (24.0, 60.0)
"""Range of the training tubes' lengths [Å] (0.6-1.5 cells; longer ones are clipped)."""

DEFAULT_WAVES = MappingProxyType({"energy": 80e3, "sampling": 0.1, "slice_thickness": 1.0})
"""Exit-wave settings of the training tubes (:class:`ExitWaveSettings` keywords)."""

DEFAULT_IMAGE_PARAMETERS = MappingProxyType({
    "label": "Class", "image_epochs": 1, "sampling": (0.30625, 0.3125),
    "log_dose": (4.0, 4.0), "defocus": (-100.0, 100.0), "ctf_c30": (-2e4, 2e4),
    "normalizedistance": 12.0, "debug": None, "seed": None,
})  # fmt: skip
"""Image parameters of the training images (parameter-file fields; ``image_size`` is set
from the cell and the largest pixel size unless given: 128 px for the defaults)."""

_TAPER = 0.15  # outer fraction of the window's radius that tapers to 0
_COARSE_Q = (0.02, 0.25)  # [Å⁻¹] radii of the coarse axis search: the walls' profile
_FINE_Q = (0.02, 0.4)  # [Å⁻¹] radii of the fine search
_FINE_SPAN, _FINE_STEP = 2.0, 0.1  # [deg]
_MIN_SIDE = 16
_MARGIN = 2.0  # [Å] vacuum between the tube and the cell faces


# -- checks -------------------------------------------------------------------------------


def _square_pixel(pixel_size: Any) -> float:
    """One pixel size [Å/px]; a (p_y, p_x) pair must be square (the image is rotated)."""
    p_y, p_x = _pixel_sizes(pixel_size)
    if not math.isclose(p_y, p_x, rel_tol=1e-6):
        raise ParameterError(f"pixel_size must be square (the image is rotated to the tube's "
                             f"frame), got (p_y, p_x) = ({p_y:g}, {p_x:g}); resample the "
                             f"image first")  # fmt: skip
    return p_x


def _image(array: Any, name: str = "image") -> np.ndarray:
    image = _real_image(array, name)
    if min(image.shape) < _MIN_SIDE:
        raise ParameterError(f"{name} must be at least {_MIN_SIDE} × {_MIN_SIDE} px, got "
                             f"shape {image.shape}")  # fmt: skip
    return image


def _angle(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ParameterError(f"angle must be a finite number [deg], got {value!r}")
    return float(value) % 180.0


# -- axis ---------------------------------------------------------------------------------


def _window(shape: tuple[int, int]) -> np.ndarray:
    """The disc window of the module notes, centred on the array's centre."""
    rows, cols = np.indices(shape, dtype=float)
    radius = 0.5 * min(shape)
    r = np.hypot(rows - 0.5 * (shape[0] - 1), cols - 0.5 * (shape[1] - 1)) / radius
    return np.sin(0.5 * np.pi * np.clip((1.0 - r) / _TAPER, 0.0, 1.0)) ** 2


def _windowed(image: np.ndarray) -> np.ndarray:
    """The image minus its windowed mean, times the window (module notes)."""
    window = _window(image.shape)
    mean = float((image * window).sum() / window.sum())
    return (image - mean) * window


def tube_axis_angle(image: Any, pixel_size: float) -> float:
    """The in-plane angle of a nanotube's axis in an image, from its power spectrum.

    Parameters
    ----------
    image
        (y, x) real image of one tube (e.g. a region crop centred on it), at least 16 × 16.
    pixel_size
        Pixel size [Å/px] (square pixels; a (p, p) pair is accepted).

    Returns
    -------
    float
        Axis angle [deg] in [0, 180), from the x axis (columns) towards the y axis (rows),
        the convention of ``info["angle"]`` of :func:`hrtemlake.models.nanotubes.nanotube`
        in the lake's (y, x) layout: the line of the spectrum through q = 0 perpendicular to
        the axis carries the most power (module notes).

    Raises
    ------
    ParameterError
        An image that is not a finite real 2-D array of at least 16 × 16, or a pixel size
        that is not a positive number (or square pair).
    """
    return _axis_angle(_windowed(_image(image)), _square_pixel(pixel_size))


def _axis_angle(windowed: np.ndarray, pixel: float) -> float:
    n = 2 * max(windowed.shape)  # zero-padded: the spectrum sampled finely enough to interpolate
    power = np.fft.fftshift(np.abs(np.fft.fft2(windowed, (n, n))) ** 2)
    step = 1.0 / (n * pixel)
    nyquist = 0.5 / pixel
    coarse = np.arange(0.0, 180.0, 1.0)
    q = _radii(_COARSE_Q, nyquist, step)
    start = coarse[int(np.argmax(_line_power(power, coarse, q / step, np.ones_like(q))))]
    fine = start + np.arange(-_FINE_SPAN, _FINE_SPAN + 0.5 * _FINE_STEP, _FINE_STEP)
    q = _radii(_FINE_Q, nyquist, step)
    scores = _line_power(power, fine, q / step, q**2)
    k = int(np.clip(np.argmax(scores), 1, len(scores) - 2))
    return float(fine[k] + _FINE_STEP * _vertex(*scores[k - 1 : k + 2])) % 180.0


def _radii(bounds: tuple[float, float], nyquist: float, step: float) -> np.ndarray:
    """Radii [Å⁻¹] every half spectrum pixel within ``bounds``, below 0.9 × Nyquist."""
    high = min(bounds[1], 0.9 * nyquist)
    return np.arange(bounds[0], max(high, bounds[0] + step), 0.5 * step)


def _line_power(power: np.ndarray, angles: np.ndarray, radii_px: np.ndarray,
                weight: np.ndarray) -> np.ndarray:  # fmt: skip
    """Weighted power summed along the central line perpendicular to each axis angle."""
    t = np.radians(angles)[:, None]
    centre = power.shape[0] // 2
    # the axis (cos t, sin t) in (x, y); the line across it is (-sin t, cos t)
    rows = centre + np.cos(t) * radii_px
    cols = centre - np.sin(t) * radii_px
    values = ndimage.map_coordinates(power, [rows.ravel(), cols.ravel()], order=1)
    return (values.reshape(rows.shape) * weight).sum(axis=1)


def _vertex(left: float, middle: float, right: float) -> float:
    """Offset in (-0.5, 0.5) steps of the vertex of the parabola through three points."""
    curvature = left - 2.0 * middle + right
    if curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))


# -- input --------------------------------------------------------------------------------


def chirality_input(
    image: Any,
    pixel_size: float,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    *,
    angle: float | None = None,
) -> np.ndarray:
    """The classifier input of one tube image: its folded power spectrum in the tube frame.

    Parameters
    ----------
    image
        (y, x) real image of one tube (e.g. a region crop centred on it), at least 16 × 16;
        the tube should lie in the largest centred disc (module notes).
    pixel_size
        Pixel size [Å/px] (square pixels).
    q_max
        Extent of the grid [Å⁻¹], at most the Nyquist frequency 1 / (2 · pixel_size).
    size
        Side of the grid [px], at least 8.
    angle
        The tube's axis angle [deg] (:func:`tube_axis_angle`'s convention); default: that
        function's estimate.

    Returns
    -------
    numpy.ndarray
        (size, size, 1) float32 ``log1p(power / median(power))``, standardised; rows
        ``|q|`` across the axis, columns ``|q|`` along it, both ``i · q_max / size``
        (module notes).

    Raises
    ------
    ParameterError
        An image that is not a finite real 2-D array of at least 16 × 16, a pixel size that
        is not a positive number, ``q_max`` ≤ 0 or above the Nyquist frequency, ``size`` < 8,
        or an angle that is not a finite number.
    """
    return _input_and_angle(image, pixel_size, q_max, size, angle)[0]


def _input_and_angle(image: Any, pixel_size: Any, q_max: Any, size: Any,
                     angle: Any = None) -> tuple[np.ndarray, float]:  # fmt: skip
    image = _image(image)
    pixel = _square_pixel(pixel_size)
    _, q_max, size = _check_grid(pixel, q_max, size)
    windowed = _windowed(image)
    angle = _axis_angle(windowed, pixel) if angle is None else _angle(angle)
    # ndimage turns by +angle from x towards y as the arrays are indexed: axis → x
    turned = ndimage.rotate(windowed, angle, reshape=False, order=3, mode="constant")
    power = _fold(_power_on_grid(turned, (pixel, pixel), q_max, 2 * size), size)
    x = _standardise(np.log1p(power / _positive_scale(power)))
    return x[..., None].astype(np.float32), angle


def _fold(power: np.ndarray, size: int) -> np.ndarray:
    """(2 size, 2 size) centred grid → (size, size): the mean over (±q_y, ±q_x)."""
    plus, minus = size + np.arange(size), size - np.arange(size)
    half = 0.5 * (power[plus] + power[minus])
    return 0.5 * (half[:, plus] + half[:, minus])


# -- probabilities ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChiralityTable:
    """Class probabilities of tube images or regions (the seed's table), best first.

    Attributes
    ----------
    class_names
        The classifier's classes, ``"(n,m)"``, in the order of its outputs.
    probabilities
        (region, class) float32 softmax probabilities.
    top_classes
        (region, top) class names, likeliest first.
    top_probabilities
        (region, top) their probabilities.
    angle
        (region,) the axis angle [deg] the input was turned by.
    regions
        (region,) the region labels (:func:`chirality_by_region`), else 1, 2, ... in order.
    """

    class_names: tuple[str, ...]
    probabilities: np.ndarray
    top_classes: np.ndarray
    top_probabilities: np.ndarray
    angle: np.ndarray
    regions: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.regions is None:
            object.__setattr__(self, "regions", np.arange(1, len(self.probabilities) + 1))

    def __len__(self) -> int:
        return int(len(self.probabilities))

    def rows(self) -> list[dict[str, Any]]:
        """One dict per region: ``region`` (its label), ``chirality k`` and ``prob. k``."""
        out = []
        for i, (names, values) in enumerate(zip(self.top_classes, self.top_probabilities)):
            row: dict[str, Any] = {"region": int(self.regions[i])}
            for k, (name, value) in enumerate(zip(names, values), start=1):
                row[f"chirality {k}"], row[f"prob. {k}"] = str(name), float(value)
            out.append(row)
        return out

    def __str__(self) -> str:
        top = self.top_classes.shape[1]
        head = "region" + "".join(f"  {'chir. ' + str(k):>8} {'prob.':>7}"
                                  for k in range(1, top + 1))  # fmt: skip
        lines = [head]
        for i, (names, values) in enumerate(zip(self.top_classes, self.top_probabilities)):
            lines.append(f"{int(self.regions[i]):6d}" + "".join(f"  {n:>8} {100 * v:6.1f}%"
                                                 for n, v in zip(names, values)))  # fmt: skip
        return "\n".join(lines)


def chirality_probabilities(
    model: Callable,
    images: Any,
    pixel_size: float | Sequence[float],
    *,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    class_names: Sequence[str] = CHIRALITY_CLASSES,
    top: int = 3,
    batch_size: int = 64,
    temperature: float = 1.0,
) -> ChiralityTable:
    """The classifier's chirality probabilities of each tube image or region crop.

    Parameters
    ----------
    model
        The chirality classifier (a Keras model, called with ``training=False``, or any
        callable) mapping (n, size, size, 1) float32 to (n, classes) probabilities, e.g.
        from :func:`load_chirality_classifier`.
    images
        (n, y, x) array, or a sequence of (y, x) region crops of any sizes, one tube each.
    pixel_size
        Pixel size [Å/px], one for all images or one per image.
    q_max, size
        As the classifier was trained (:func:`load_chirality_classifier` returns them).
    class_names
        Its classes in the order of its outputs (returned by the same function).
    top
        How many of the likeliest classes to list per image (at most the number of classes).
    batch_size
        Inputs per forward pass.
    temperature
        Calibration of the probabilities (:func:`hrtemlake.nn.heads.with_temperature`),
        fitted on the validation set at training (:func:`load_chirality_classifier`
        returns it); 1 leaves them as the network gives them.

    Returns
    -------
    ChiralityTable
        Every probability, the ``top`` likeliest classes of each image with theirs, and the
        axis angle of each image.

    Raises
    ------
    ParameterError
        Bad images or options, a pixel size per image that does not match the images, or
        a model whose output is not (n, classes).
    """
    from hrtemlake.nn.heads import ensemble_predict, with_temperature

    crops = _crops(images)
    pixels = _pixels_per_image(pixel_size, len(crops))
    names = tuple(str(name) for name in class_names)
    chirality_table(np.full((0, len(names)), np.nan), names, top)  # checks top first
    pairs = [_input_and_angle(c, p, q_max, size) for c, p in zip(crops, pixels)]
    x = np.stack([p[0] for p in pairs])
    probabilities, _ = ensemble_predict([model], x, batch_size=_count(batch_size, "batch_size"))
    if probabilities.shape != (len(x), len(names)):
        raise ParameterError(f"model must return (n, {len(names)}) probabilities of "
                             f"{names}; got shape {probabilities.shape} for {len(x)} "
                             f"inputs")  # fmt: skip
    if temperature != 1.0:
        probabilities = with_temperature(probabilities, temperature)
    return chirality_table(probabilities, names, top, [p[1] for p in pairs])


def chirality_table(
    probabilities: Any,
    class_names: Sequence[str] = CHIRALITY_CLASSES,
    top: int = 3,
    angle: Sequence[float] | None = None,
) -> ChiralityTable:
    """The :class:`ChiralityTable` of (n, classes) probabilities (e.g. of
    :attr:`ChiralitySamples.inputs` scored in one batch); ``angle`` NaN unless given."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    names = tuple(str(name) for name in class_names)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(names):
        raise ParameterError(f"probabilities must be (n, {len(names)}), got shape "
                             f"{probabilities.shape}")  # fmt: skip
    if not 1 <= _count(top, "top") <= len(names):
        raise ParameterError(f"top must be at most the number of classes {len(names)}, "
                             f"got {top}")  # fmt: skip
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    angles = np.full(len(probabilities), np.nan) if angle is None else np.asarray(angle, float)
    return ChiralityTable(
        class_names=names, probabilities=probabilities, top_classes=np.array(names)[order],
        top_probabilities=np.take_along_axis(probabilities, order, axis=1), angle=angles,
    )  # fmt: skip


def _crops(images: Any) -> list[Any]:
    if isinstance(images, np.ndarray) or hasattr(images, "shape"):
        if np.ndim(images) == 2:
            raise ParameterError("images must be (n, y, x) or a sequence of (y, x) crops; "
                                 "wrap a single image in a list")  # fmt: skip
        if np.ndim(images) != 3:
            raise ParameterError(f"images must be (n, y, x), got shape {np.shape(images)}")
        return [np.asarray(images[i]) for i in range(np.shape(images)[0])]
    try:
        crops = list(images)
    except TypeError:
        raise ParameterError(f"images must be (n, y, x) or a sequence of (y, x) crops, got "
                             f"{type(images).__name__}") from None  # fmt: skip
    if not crops:
        raise ParameterError("images must hold at least one image")
    return crops


def _pixels_per_image(pixel_size: Any, n: int) -> list[Any]:
    if isinstance(pixel_size, numbers.Real) or np.ndim(pixel_size) == 0:
        return [pixel_size] * n
    values = list(pixel_size)
    if len(values) != n:
        raise ParameterError(f"pixel_size must be one number or one per image ({n}), got "
                             f"{len(values)}")  # fmt: skip
    return values


# -- regions ------------------------------------------------------------------------------


def region_crops(image: Any, labels: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """Square crops of an image centred on each labelled region (one tube each).

    Each crop's side is the diagonal of the region's bounding box over the flat part of the
    input window (85 % of its radius), at least 16 px, so the whole region lies in the
    window's flat disc (module notes) whatever its angle; parts of a crop outside the frame
    are the frame mirrored at its edge. Other regions inside a crop stay in it.

    Parameters
    ----------
    image
        (y, x) real frame.
    labels
        (y, x) integer region labels of the same shape, 0 for background (e.g. a frame of
        the instance stage's label maps).

    Returns
    -------
    regions, crops
        The labels present (ascending) and one crop per label.

    Raises
    ------
    ParameterError
        A frame that is not a finite real 2-D array, or labels that are not integers of
        its shape.
    """
    from hrtemlake.analysis.instances import label_boxes

    image = _image(image)
    labels = np.asarray(labels)
    if labels.shape != image.shape or not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"labels must be integer region labels of the image's shape "
                             f"{image.shape}, got {labels.dtype} {labels.shape}")  # fmt: skip
    flat = np.flatnonzero(labels)
    regions, boxes = label_boxes(flat, labels.ravel()[flat], image.shape[1])
    sides = [max(_MIN_SIDE, math.ceil(math.hypot(b[0].stop - b[0].start, b[1].stop - b[1].start)
                                      / (1.0 - _TAPER))) for b in boxes]  # fmt: skip
    pad = max(sides, default=0) // 2 + 1
    padded = np.pad(image, pad, mode="symmetric") if sides else image
    crops = []
    for box, side in zip(boxes, sides):
        top = (box[0].start + box[0].stop - side) // 2 + pad
        left = (box[1].start + box[1].stop - side) // 2 + pad
        crops.append(padded[top : top + side, left : left + side])
    return regions, crops


def chirality_by_region(model: Callable, image: Any, labels: Any, pixel_size: float,
                        **options: Any) -> ChiralityTable:  # fmt: skip
    """The seed's table for one frame: each labelled region's likeliest chiralities.

    Parameters
    ----------
    model
        The chirality classifier (see :func:`chirality_probabilities`).
    image, labels
        The frame and its region labels (:func:`region_crops`).
    pixel_size
        Pixel size [Å/px] of the frame.
    options
        ``q_max``, ``size``, ``class_names``, ``top``, ``batch_size`` of
        :func:`chirality_probabilities` (:func:`load_chirality_classifier` returns the
        first three).

    Returns
    -------
    ChiralityTable
        One row per region, ``regions`` holding its label; empty for a frame without
        regions.
    """
    regions, crops = region_crops(image, labels)
    if not crops:
        names = tuple(str(n) for n in options.get("class_names", CHIRALITY_CLASSES))
        return chirality_table(np.zeros((0, len(names))), names, options.get("top", 3))
    table = chirality_probabilities(model, crops, pixel_size, **options)
    return replace(table, regions=regions.astype(np.int64))


def track_chirality(model: Callable, frames: Any, labels: Any, pixel_size: float, *,
                    q_max: float = DEFAULT_Q_MAX, size: int = DEFAULT_INPUT_SIZE,
                    class_names: Sequence[str] = CHIRALITY_CLASSES,
                    batch_size: int = 64, temperature: float = 1.0,
                    progress: Callable[[int, int], None] | None = None):  # fmt: skip
    """Chirality probabilities of every track (or region label) in every frame of a series.

    Parameters
    ----------
    model
        The chirality classifier (see :func:`chirality_probabilities`).
    frames, labels
        (time, y, x) frames and their track (or instance) labels, 0 for background: arrays
        or anything indexed frame by frame (e.g. :class:`hrtemlake.lake.chunkio.ItemStack`).
    pixel_size
        Pixel size [Å/px] of the frames.
    q_max, size, class_names, temperature
        As the classifier was trained and calibrated (:func:`load_chirality_classifier`).
    batch_size
        Inputs per forward pass.
    progress
        Called with (frames done, frames) after each frame.

    Returns
    -------
    xarray.Dataset
        ``probability`` (time, track, chirality) and the axis ``angle`` [deg] (time,
        track), NaN where a track is absent; :func:`chirality_summary` ranks each track's
        chiralities over the frames.
    """
    import xarray as xr

    if len(frames) != len(labels):
        raise ParameterError(f"frames and labels must have the same number of frames, got "
                             f"{len(frames)} and {len(labels)}")  # fmt: skip
    names = tuple(str(n) for n in class_names)
    per_frame = []
    for t in range(len(frames)):
        regions, crops = region_crops(frames[t], labels[t])
        table = (chirality_probabilities(model, crops, pixel_size, q_max=q_max, size=size,
                                         class_names=names, top=1, batch_size=batch_size,
                                         temperature=temperature)
                 if crops else None)  # fmt: skip
        per_frame.append((regions, table))
        if progress is not None:
            progress(t + 1, len(frames))
    tracks = np.unique(np.concatenate([r for r, _ in per_frame] + [np.zeros(0, np.int64)]))
    probability = np.full((len(frames), len(tracks), len(names)), np.nan, np.float32)
    angle = np.full((len(frames), len(tracks)), np.nan)
    for t, (regions, table) in enumerate(per_frame):
        if table is not None:
            where = np.searchsorted(tracks, regions)
            probability[t, where], angle[t, where] = table.probabilities, table.angle
    return xr.Dataset(
        {"probability": (("time", "track", "chirality"), probability, {"units": "1"}),
         "angle": (("time", "track"), angle, {"units": "deg"})},
        coords={"time": np.arange(len(frames)), "track": tracks.astype(np.int64),
                "chirality": list(names)},
        attrs={"pixel_size": float(pixel_size)},
    )  # fmt: skip


def chirality_summary(chirality, top: int = 3) -> ChiralityTable:
    """Each track's likeliest chiralities over the frames it is in (the mean of its
    per-frame probabilities), one row per track, from :func:`track_chirality`."""
    probability = chirality["probability"].values
    present = ~np.isnan(probability[..., 0])
    counts = present.sum(axis=0)[:, None]
    mean = np.where(counts > 0, np.nansum(probability, axis=0) / np.maximum(counts, 1), np.nan)
    doubled = np.radians(2.0 * chirality["angle"].values)  # axis angles live modulo 180°
    with np.errstate(invalid="ignore"):
        mean_angle = np.degrees(0.5 * np.arctan2(np.nanmean(np.sin(doubled), axis=0),
                                                 np.nanmean(np.cos(doubled), axis=0))) % 180.0  # fmt: skip
    table = chirality_table(mean, [str(c) for c in chirality["chirality"].values], top, mean_angle)
    return replace(table, regions=chirality["track"].values.astype(np.int64))


# -- training data ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChiralitySamples:
    """Classifier inputs of simulated tube images, their labels and what made them.

    Attributes
    ----------
    inputs
        (n, size, size, 1) float32 :func:`chirality_input` of each image.
    labels
        (n,) int64 class index into ``parameters["class_names"]``.
    tube
        (n,) int64 index of the tube (exit wave) imaged; images of one tube share it.
    angle, estimated_angle
        (n,) the tube's axis angle [deg] and :func:`tube_axis_angle`'s estimate.
    length
        (n,) tube length [Å] (before any clipping at the cell faces).
    dose, defocus, sampling
        (n,) drawn dose [e⁻/Å²], defocus [Å] and realised pixel size [Å/px].
    parameters
        The image parameter file (plain dict), the exit-wave settings under ``"waves"`` and
        the class names under ``"class_names"``.
    """

    inputs: np.ndarray
    labels: np.ndarray
    tube: np.ndarray
    angle: np.ndarray
    estimated_angle: np.ndarray
    length: np.ndarray
    dose: np.ndarray
    defocus: np.ndarray
    sampling: np.ndarray
    parameters: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.labels))

    # blocks simulated apart (``start``) as one; the parameters are the first block's
    concatenate = classmethod(ZoneAxisSamples.concatenate.__func__)


def simulate_chirality_samples(
    n_tubes: int,
    seed: int = 0,
    *,
    start: int = 0,
    images_per_tube: int = 1,
    chiralities: Sequence[tuple[int, int]] = CHIRALITIES,
    length: tuple[float, float] = DEFAULT_LENGTH,
    cell: float = DEFAULT_CELL,
    max_tilt: float = 0.0,
    waves: Mapping[str, Any] | None = None,
    image_parameters: Mapping[str, Any] | None = None,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> ChiralitySamples:
    """Classifier inputs of simulated nanotube images with their chirality labels.

    Tube i has chirality ``chiralities[i % len(chiralities)]``; everything else about it
    comes from ``numpy.random.default_rng([seed, i])``, so a larger ``n_tubes`` adds tubes
    without changing the first ones, and blocks of tubes (``start``) can be simulated apart
    (e.g. in parallel) and concatenated (:meth:`ChiralitySamples.concatenate`).

    Parameters
    ----------
    n_tubes
        Tubes (exit waves), at least 1.
    seed
        Seed of the tubes and images (use another one for a held-out set).
    start
        Index of the first tube: tubes ``start, ..., start + n_tubes - 1``.
    images_per_tube
        Noisy images per exit wave (each with its own defocus, aberrations, noise, ...).
    chiralities
        The classes (n, m), in the order of the classifier's outputs.
    length
        (min, max) tube length [Å]; tubes longer than the cell are clipped at its margin.
    cell
        Side of the square cell [Å] (its depth along the beam fits the widest tube).
    max_tilt
        Largest tilt of the axis out of the image plane [deg]
        (:func:`~hrtemlake.models.nanotubes.nanotube`).
    waves
        :class:`~hrtemlake.simulate.exitwaves.ExitWaveSettings` keywords replacing those
        of :data:`DEFAULT_WAVES`.
    image_parameters
        Parameter-file fields replacing those of :data:`DEFAULT_IMAGE_PARAMETERS` (the
        label stays "Class").
    q_max, size
        The input grid (:func:`chirality_input`).
    progress
        Called with (tubes done, n_tubes) after each tube.

    Returns
    -------
    ChiralitySamples
        ``n_tubes · images_per_tube`` samples, by tube then image.
    """
    from hrtemlake.simulate.exitwaves import ExitWaveSettings

    n_tubes = _count(n_tubes, "n_tubes")
    images_per_tube = _count(images_per_tube, "images_per_tube")
    seed, start = _count(seed, "seed", 0), _count(start, "start", 0)
    classes = check_chiralities(chiralities)
    cell = _positive(cell, "cell")
    settings = ExitWaveSettings(**{**DEFAULT_WAVES, **dict(waves or {})})
    params = _image_parameters(image_parameters, cell)
    _check_grid(max(params.sampling), q_max, size)  # before any simulation
    depth = max(20.0, math.ceil(max(tube_diameter(*c) for c in classes) + 2 * _MARGIN + 2))
    options = {"length": length, "cell": (cell, cell, depth), "chiralities": classes,
               "max_tilt": max_tilt, "margin": _MARGIN}  # fmt: skip
    rows = []
    for i in range(start, start + n_tubes):
        rng = np.random.default_rng([seed, i])
        label = i % len(classes)
        atoms = _tube(rng, classes[label], options)
        rows += [(i, label, *row) for row in
                 _tube_images(atoms, label, settings, params, rng, images_per_tube, q_max, size)]
        if progress is not None:
            progress(i + 1 - start, n_tubes)
    names = [chirality_name(c) for c in classes]
    return _samples(rows, {**params.to_dict(), "waves": settings.to_dict(), "class_names": names})


def _tube(rng: np.random.Generator, chirality: tuple[int, int], options: Mapping[str, Any]):
    from hrtemlake.models.nanotubes import nanotube

    return nanotube(rng, *chirality, **options)


def _image_parameters(changes: Mapping[str, Any] | None, cell: float):
    from hrtemlake.simulate.params import ImageParameters

    values = {**DEFAULT_IMAGE_PARAMETERS, **dict(changes or {}), "label": "Class"}
    if "image_size" not in values:
        side = 2 * int(cell / max(values["sampling"]) / 2)
        values["image_size"] = (side, side)
    return ImageParameters.from_dict(values)


def _tube_images(atoms, label: int, settings, params, rng: np.random.Generator, n_images: int,
                 q_max: float, size: int) -> list[tuple]:  # fmt: skip
    """(angle, estimated angle, length, dose, defocus, sampling, input) of each image."""
    from hrtemlake.simulate.exitwaves import compute_exit_wave
    from hrtemlake.simulate.images import synthesize_images

    wave = compute_exit_wave(atoms, settings)
    out = synthesize_images(wave, settings.sampling, params, rng, energy=settings.energy,
                            n_epochs=n_images, structure_class=label)  # fmt: skip
    rows = []
    for e in range(n_images):
        pixel = float(out["sampling"][e])
        x, estimate = _input_and_angle(out["image"][e, 0], pixel, q_max, size)
        rows.append((float(atoms.info["angle"]), estimate, float(atoms.info["length"]),
                     float(out["dose"][e]), float(out["defocus"][e, 0]), pixel, x))  # fmt: skip
    return rows


def _samples(rows: list[tuple], parameters: dict) -> ChiralitySamples:
    column = list(zip(*rows))
    return ChiralitySamples(
        inputs=np.stack(column[8]).astype(np.float32), labels=np.array(column[1], np.int64),
        tube=np.array(column[0], np.int64), angle=np.array(column[2], float),
        estimated_angle=np.array(column[3], float), length=np.array(column[4], float),
        dose=np.array(column[5], float), defocus=np.array(column[6], float),
        sampling=np.array(column[7], float), parameters=parameters,
    )  # fmt: skip


# -- training and registry ----------------------------------------------------------------


def train_chirality_classifier(
    inputs: Any,
    labels: Any,
    *,
    class_names: Sequence[str] = CHIRALITY_CLASSES,
    validation: tuple[Any, Any] | None = None,
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    filters: int = 16,
    depth: int = 4,
    dense: int = 64,
    seed: int = 0,
    name: str = DEFAULT_NETWORK,
    progress: Callable[[dict], None] | None = None,
):
    """Train a chirality classifier (:func:`~hrtemlake.nn.heads.build_classifier`).

    Parameters
    ----------
    inputs
        (n, y, x, 1) inputs, e.g. :attr:`ChiralitySamples.inputs`.
    labels
        (n,) class indices into ``class_names``.
    class_names
        The classes, in the order of the outputs (``samples.parameters["class_names"]``).
    validation
        Optional (inputs, labels) scored after every epoch; the classifier's temperature
        (:func:`hrtemlake.nn.heads.fit_temperature`) is fitted on it after training.
    epochs, batch_size, learning_rate
        Passes over the data, inputs per step, Adam (AMSGrad) learning rate.
    filters, depth, dense
        Size of the classifier (:func:`~hrtemlake.nn.heads.build_classifier`).
    seed
        Seed of the weights and the order.
    name
        Model name.
    progress
        Called with each epoch's learning-curve row.

    Returns
    -------
    keras.Model
        The trained classifier; its learning curve (one dict per epoch: ``loss``,
        ``val_loss``, ``metric`` = accuracy, ``val_metric``, ...) is
        ``model.chirality_curve``, its training options ``model.chirality_training`` and
        its classes ``model.chirality_classes`` (read by
        :func:`register_chirality_classifier`).
    """
    from hrtemlake.nn.heads import ensemble_predict, fit_temperature

    names = _class_names(class_names)
    model, curve, training = train_classifier(
        inputs, labels, names, validation=validation, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, filters=filters, depth=depth, dense=dense, augment=False,
        seed=seed, name=name, progress=progress,
    )  # fmt: skip
    if validation is not None:  # calibration on data the weights never saw
        probabilities, _ = ensemble_predict([model], validation[0], batch_size=batch_size)
        training["temperature"] = fit_temperature(probabilities, np.asarray(validation[1]))
    object.__setattr__(model, "chirality_curve", curve)
    object.__setattr__(model, "chirality_training", {"task": "chirality", **training})
    object.__setattr__(model, "chirality_classes", names)
    return model


def _class_names(class_names: Any) -> tuple[str, ...]:
    if isinstance(class_names, (str, bytes)):
        raise ParameterError(f"class_names must be a sequence of names, got {class_names!r}")
    names = tuple(str(name) for name in class_names)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ParameterError(f"class_names must hold at least 2 distinct names, got {names}")
    return names


def register_chirality_classifier(
    lake: Any,
    name: str,
    model: Any,
    *,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    class_names: Sequence[str] | None = None,
    parameter_file: Mapping[str, Any] | None = None,
    datasets: Mapping[str, str] | None = None,
):
    """Store a trained chirality classifier as network ``name`` of the lake's registry.

    Parameters
    ----------
    lake
        A :class:`~hrtemlake.lake.Lake` opened for writing, or its location.
    name
        Network name (``networks/<name>``); it must not exist yet.
    model
        The classifier, e.g. from :func:`train_chirality_classifier` (its learning curve,
        training options and classes are stored when it has them).
    q_max, size
        The input settings it was trained with (stored under ``training["input"]``).
    class_names
        Its classes (default: the model's ``chirality_classes``, else
        :data:`CHIRALITY_CLASSES`).
    parameter_file
        The image parameters of its training images (:attr:`ChiralitySamples.parameters`).
    datasets
        ``{"train": ..., "validation": ...}`` descriptions of its training data.

    Returns
    -------
    hrtemlake.nn.registry.NetworkInfo
        The new registry entry.

    Raises
    ------
    NetworkError
        If a network of that name exists.
    ParameterError
        If the model is not a classifier of one input channel and one output per class.
    """
    names = _class_names(class_names if class_names is not None else
                         getattr(model, "chirality_classes", CHIRALITY_CLASSES))  # fmt: skip
    grid = {"q_max": _positive(q_max, "q_max"), "size": _count(size, "size", 8)}
    training = {"task": "chirality", **dict(getattr(model, "chirality_training", {}))}
    return register_classifier(
        lake, name, model, names, training, grid, curve=getattr(model, "chirality_curve", []),
        parameter_file=parameter_file,
        datasets=datasets or {"train": "(simulated nanotubes)", "validation": "(none)"},
    )  # fmt: skip


def load_chirality_classifier(lake: Any, name: str = DEFAULT_NETWORK,
                              epoch: int | None = None) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """A registered chirality classifier and the input settings it was trained with.

    Parameters
    ----------
    lake
        A :class:`~hrtemlake.lake.Lake` or its location.
    name
        Network name.
    epoch
        Checkpoint after this many epochs (default: the latest).

    Returns
    -------
    model, options
        The Keras model and ``{"q_max", "size", "class_names", "temperature"}``, the
        keywords of :func:`chirality_probabilities`.

    Raises
    ------
    NetworkError
        If there is no such network.
    ParameterError
        If the network is not a chirality classifier.
    """
    model, training = load_classifier(lake, name, "chirality", epoch)
    grid = training["input"]
    return model, {"q_max": float(grid["q_max"]), "size": int(grid["size"]),
                   "class_names": tuple(str(c) for c in training.get("class_names", ())),
                   "temperature": float(training.get("temperature", 1.0))}  # fmt: skip
