"""Zone-axis classification of tracked particles from their Fourier transforms (thesis §7.1).

The thesis' outlook: "a neural network may be able to perform these classification based on
only the Fourier transform". :mod:`hrtemlake.analysis.fourier` flags a particle as on a zone
axis from the ratio of its brightest to its dimmest reflection; this module trains a small
classifier (:func:`hrtemlake.nn.heads.build_classifier`, 2 classes, 1 channel) on the power
spectra of simulated particles on zone and tilted off zone, and applies it to every track of
a tracked series:

* :func:`zone_axis_input`: one particle crop → the classifier input, its power spectrum on a
  fixed reciprocal-space grid;
* :func:`zone_axis_inputs`: the inputs of every track present in one frame;
* :func:`zone_axis_probabilities`: the probability of "on zone" per (track, time), NaN where
  the track is absent;
* :func:`simulate_zone_axis_samples`: training data (free FCC particles on zone / tilted,
  abTEM exit waves, noisy images of :func:`~hrtemlake.simulate.images.synthesize_images`);
* :func:`train_zone_axis_classifier`, :func:`register_zone_axis_classifier` and
  :func:`load_zone_axis_classifier`: train it, store it in the lake's network registry
  (``networks/<name>``) and load it back by name with the input settings it was trained on.

Decisions
---------
Fixed grid
    The input is the power spectrum sampled on ``size`` × ``size`` points
    ``q_i = (i - size // 2) · Δq``, ``Δq = 2 q_max / size`` [Å⁻¹] along each axis: the grid
    of an FFT of ``size`` samples whose Nyquist frequency is ``q_max``, zero frequency at
    pixel (size // 2, size // 2) as after ``fftshift``, so it spans [-q_max, q_max). A
    reflection at d Å therefore lands on the same input pixel whatever the pixel size and
    the crop size. The defaults (``q_max`` = 0.75 Å⁻¹, 64 px: Δq ≈ 0.023 Å⁻¹) hold the first
    reflections of FCC metals (Au {111}, {200}, {220} at 2.35, 2.04, 1.44 Å: |q| = 0.43,
    0.49, 0.69 Å⁻¹) and keep the input small. ``q_max`` above the crop's Nyquist frequency
    1 / (2 · pixel_size) is an error: those frequencies do not exist in the crop.
Spectrum on the grid
    The spectrum is the crop's discrete-time Fourier transform evaluated directly at the
    grid frequencies (two small matrix products, separable in y and x), not an FFT followed
    by interpolation: zero padding does not change it (all-zero borders are trimmed
    first), and nothing is interpolated. Each input pixel is the mean power over
    ``m`` × ``m`` sub-samples spread evenly across the pixel, ``m = max(2, ceil(2 Δq N p))``
    for a crop of N px of p Å, i.e. at least two sub-samples per natural spectrum pixel
    1 / (N p): a reflection narrower than an input pixel (a large particle) is integrated,
    not missed between two samples or caught on a null of its shape transform.
Scale
    The power is divided by its median over the grid (a typical background value) before
    ``log1p``, then standardised to mean 0 and standard deviation 1: the input does not
    depend on the image's units, the dose, or the pixel count (the DFT of a crop at pixel
    size p is 1 / p² times its continuous transform), only on the shape of the spectrum.
Crops
    :func:`zone_axis_inputs` crops each track with
    :func:`hrtemlake.analysis.fourier.apodised_crop` (mean-subtracted, Gaussian-apodised
    mask), the crop of the Fourier-peak stage, called on the track's bounding box grown by
    the apodisation's reach (the same crop as on the whole frame, for less work).
Classes
    :data:`ZONE_AXIS_CLASSES` = ("tilted", "on zone"); the probability reported is the
    softmax output of class :data:`ON_ZONE`.
Training data
    One Au particle per exit wave (a single-element particle of
    :func:`~hrtemlake.models.alloys.bimetallic_nanoparticle`: fraction 1 of the element),
    Wulff-shaped, radius 7-11 Å, along a low-index zone axis ([110] or [100]), exactly on
    zone (label 1) or tilted 5-20° about a random in-plane axis (label 0), alternating, and
    centred laterally in a 40 Å cell. 300 keV exit waves at 0.125 Å with 2 Å slices
    (≈0.15 s each on one CPU core). Images of :data:`DEFAULT_IMAGE_PARAMETERS` (0.16-0.22
    Å/px, dose 10²-10⁴ e⁻/Å², defocus ±150 Å, Cs ≤ 5 µm, blur 0.1-0.5 Å, Paper II's MTF and
    readout noise), cropped with the Mask label (convex hull of the projected atom
    positions) as the instance mask.
Training
    Adam (AMSGrad), sparse categorical cross-entropy, accuracy. Each epoch the inputs are
    shuffled and, with ``augment``, flipped (q_y → -q_y) and transposed (q_y ↔ q_x) at random:
    both map a power spectrum of the fixed grid exactly onto another one, and neither
    changes whether the particle is on a zone axis.
Registry
    :func:`register_zone_axis_classifier` writes ``networks/<name>`` (the catalog's
    attributes, Class label, ``class_names`` :data:`ZONE_AXIS_CLASSES`, the learning curve)
    and one checkpoint, so :func:`hrtemlake.nn.registry.load_network` and ``hrtemlake
    networks ls`` see it like any trained network; the input settings (``q_max``, ``size``,
    ``sigma_px``) are stored under ``training["input"]`` and returned by
    :func:`load_zone_axis_classifier`.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import ndimage

from hrtemlake.analysis.fourier import DEFAULT_SIGMA_PX, apodised_crop
from hrtemlake.errors import ParameterError

__all__ = [
    "DEFAULT_IMAGE_PARAMETERS",
    "DEFAULT_INPUT_SIZE",
    "DEFAULT_NETWORK",
    "DEFAULT_Q_MAX",
    "DEFAULT_TILT",
    "DEFAULT_WAVES",
    "DEFAULT_ZONE_AXES",
    "ON_ZONE",
    "ZONE_AXIS_CLASSES",
    "ZoneAxisSamples",
    "load_classifier",
    "load_zone_axis_classifier",
    "register_classifier",
    "register_zone_axis_classifier",
    "simulate_zone_axis_samples",
    "zone_axis_particle",
    "train_classifier",
    "train_zone_axis_classifier",
    "zone_axis_input",
    "zone_axis_inputs",
    "zone_axis_probabilities",
]

ZONE_AXIS_CLASSES = ("tilted", "on zone")
"""Class names of the zone-axis classifier, in the order of its outputs."""

ON_ZONE = 1
"""Index of the "on zone" class in :data:`ZONE_AXIS_CLASSES`."""

DEFAULT_Q_MAX = 0.75
"""Half-width of the input's reciprocal-space grid [Å⁻¹] (Au {220} at 0.69 Å⁻¹ inside)."""

DEFAULT_INPUT_SIZE = 64
"""Side of the input grid [px]."""

DEFAULT_NETWORK = "zone-axis"
"""Default registry name of the zone-axis classifier."""

DEFAULT_TILT = (5.0, 20.0)
"""Range of the tilt off the zone axis of the "tilted" training particles [deg]."""

DEFAULT_ZONE_AXES = ((1, 1, 0), (1, 0, 0))
"""Zone axes [uvw] of the training particles (drawn uniformly per particle)."""

DEFAULT_WAVES = MappingProxyType({"energy": 300e3, "sampling": 0.125, "slice_thickness": 2.0})
"""Exit-wave settings of the training particles (:class:`ExitWaveSettings` keywords)."""

DEFAULT_IMAGE_PARAMETERS = MappingProxyType({
    "label": "Mask", "image_epochs": 1, "noise": "poisson", "num_classes": 1,
    "sampling": (0.16, 0.22), "log_dose": (2.0, 4.0), "defocus": (-150.0, 150.0),
    "ctf_c30": (0.0, 5e4), "blur": (0.1, 0.5), "focal_spread": (5.0, 20.0),
    "mtf": "parametric", "mtf_c1": (0.25, 0.6), "mtf_c2": (0.0, 0.0), "mtf_c3": (2.0, 5.0),
    "readout": (0.005, 0.015), "debug": None, "seed": None,
})  # fmt: skip
"""Image parameters of the training images (parameter-file fields; ``image_size`` is set
from the cell and the largest pixel size unless given)."""

_MIN_SIZE = 8
_CURVE = ("loss", "val_loss", "metric", "val_metric", "learning_rate", "image_epoch",
          "images", "seconds")  # fmt: skip


# -- checks ------------------------------------------------------------------------------


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ParameterError(f"{name} must be a number > 0, got {value!r}")
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return float(value)


def _count(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _pixel_sizes(pixel_size: Any) -> tuple[float, float]:
    """(p_y, p_x) [Å/px] from one number or a pair."""
    if isinstance(pixel_size, numbers.Real) and not isinstance(pixel_size, bool):
        value = _positive(pixel_size, "pixel_size")
        return value, value
    try:
        p_y, p_x = pixel_size
    except (TypeError, ValueError):
        raise ParameterError(
            f"pixel_size must be a number > 0 or a pair (p_y, p_x), got {pixel_size!r}"
        ) from None
    return _positive(p_y, "pixel_size"), _positive(p_x, "pixel_size")


def _real_image(array: Any, name: str) -> np.ndarray:
    image = np.asarray(array)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ParameterError(
            f"{name} must be a 2-D array of at least 2 × 2, got shape {image.shape}"
        )
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool) or np.iscomplexobj(image):
        raise ParameterError(f"{name} must be real numbers, got dtype {image.dtype}")
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise ParameterError(f"{name} holds NaN or infinite values")
    return image


def _labels(array: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    labels = np.asarray(array)
    if labels.shape != shape:
        raise ParameterError(f"{name} shape {labels.shape} does not match the frame shape {shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ParameterError(f"{name} must be integer track ids, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ParameterError(f"{name} must be >= 0 (0 = background)")
    return labels


def _track_ids(track_ids: Any) -> np.ndarray | None:
    if track_ids is None:
        return None
    ids = np.asarray(track_ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or (ids.size and ids.min() < 1):
        raise ParameterError(
            f"track_ids must be a 1-D sequence of integer ids >= 1, got {track_ids!r}"
        )
    if np.unique(ids).size != ids.size:
        raise ParameterError("track_ids must not repeat an id")
    return ids.astype(np.int64)


# -- inputs ------------------------------------------------------------------------------


def zone_axis_input(
    crop: Any, pixel_size: float | tuple[float, float], q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
) -> np.ndarray:  # fmt: skip
    """The classifier input of one particle crop: its power spectrum on a fixed grid.

    Parameters
    ----------
    crop
        (y, x) real image of one particle, zero outside it, e.g. from
        :func:`hrtemlake.analysis.fourier.apodised_crop`.
    pixel_size
        Pixel size of the crop [Å/px], or (p_y, p_x).
    q_max
        Half-width of the grid [Å⁻¹], at most the crop's Nyquist frequency
        1 / (2 · pixel_size).
    size
        Side of the grid [px], at least 8.

    Returns
    -------
    numpy.ndarray
        (size, size, 1) float32: ``log1p(power / median(power))`` on the grid
        ``q_i = (i - size // 2) · 2 q_max / size`` (rows: q_y, columns: q_x), standardised
        to mean 0 and standard deviation 1 (module notes).

    Raises
    ------
    ParameterError
        A crop that is not a finite real 2-D array, a pixel size ≤ 0, ``q_max`` ≤ 0 or above
        the Nyquist frequency, or ``size`` < 8.
    """
    image = _trim(_real_image(crop, "crop"))
    sizes, q_max, size = _check_grid(pixel_size, q_max, size)
    power = _power_on_grid(image, sizes, q_max, size)
    scale = _positive_scale(power)
    return _standardise(np.log1p(power / scale))[..., None].astype(np.float32)


def _check_grid(pixel_size: Any, q_max: Any, size: Any) -> tuple[tuple[float, float], float, int]:
    """Checked (p_y, p_x), q_max and size; q_max must not exceed the Nyquist frequency."""
    sizes = _pixel_sizes(pixel_size)
    q_max = _positive(q_max, "q_max")
    size = _count(size, "size", _MIN_SIZE)
    nyquist = 1.0 / (2.0 * max(sizes))
    if q_max > nyquist * (1 + 1e-9):
        raise ParameterError(
            f"q_max = {q_max:g} Å⁻¹ is above the crop's Nyquist frequency 1/(2·pixel_size) = "
            f"{nyquist:g} Å⁻¹; lower q_max or use a finer pixel size"
        )
    return sizes, q_max, size


def _trim(image: np.ndarray) -> np.ndarray:
    """The image without its all-zero border rows and columns (its |DTFT| is the same)."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return image[:1, :1]
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _grid(n: int, pixel: float, q_max: float, size: int) -> tuple[np.ndarray, int]:
    """(size · m, n) DFT matrix at m sub-samples per grid pixel (module notes)."""
    step = 2.0 * q_max / size
    m = max(2, math.ceil(2.0 * step * n * pixel))
    centres = (np.arange(size) - size // 2) * step
    offsets = (np.arange(m) - (m - 1) / 2.0) * step / m
    q = (centres[:, None] + offsets[None, :]).ravel()
    r = (np.arange(n) - n // 2) * pixel
    return np.exp(-2j * np.pi * np.outer(q, r)), m


def _power_on_grid(image: np.ndarray, sizes: tuple[float, float], q_max: float,
                   size: int) -> np.ndarray:  # fmt: skip
    """Mean power over each pixel of the size × size grid (sub-sampled DTFT)."""
    e_y, m_y = _grid(image.shape[0], sizes[0], q_max, size)
    e_x, m_x = _grid(image.shape[1], sizes[1], q_max, size)
    spectrum = e_y @ image @ e_x.T
    power = spectrum.real**2 + spectrum.imag**2
    return power.reshape(size, m_y, size, m_x).mean(axis=(1, 3))


def _positive_scale(power: np.ndarray) -> float:
    for value in (np.median(power), power.mean()):
        if value > 0:
            return float(value)
    return 1.0


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / (spread if spread > 0 else 1.0)


def zone_axis_inputs(
    frame: Any,
    track_labels_frame: Any,
    pixel_size: float | tuple[float, float],
    *,
    track_ids: Sequence[int] | None = None,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    sigma_px: float = DEFAULT_SIGMA_PX,
) -> tuple[np.ndarray, np.ndarray]:
    """The classifier inputs of every track present in one frame.

    Parameters
    ----------
    frame
        (y, x) image.
    track_labels_frame
        (y, x) integer track ids of the frame, 0 = background.
    pixel_size
        Pixel size [Å/px], or (p_y, p_x).
    track_ids
        Only these tracks (default: every track present).
    q_max, size
        The grid of :func:`zone_axis_input`.
    sigma_px
        Apodisation width of the instance masks [px]
        (:func:`hrtemlake.analysis.fourier.apodised_crop`).

    Returns
    -------
    ids
        (n,) int64 sorted ids of the tracks present (and asked for).
    inputs
        (n, size, size, 1) float32, one :func:`zone_axis_input` per track.
    """
    image = _real_image(frame, "frame")
    labels = _labels(track_labels_frame, image.shape, "track_labels_frame")
    wanted = _track_ids(track_ids)
    _, _, size = _check_grid(pixel_size, q_max, size)
    reach = math.ceil(4 * _positive_or_zero(sigma_px, "sigma_px")) + 1
    ids = np.unique(labels)
    ids = ids[ids > 0].astype(np.int64)
    if wanted is not None:
        ids = ids[np.isin(ids, wanted)]
    if ids.size == 0:
        return ids, np.zeros((0, size, size, 1), np.float32)
    boxes = ndimage.find_objects(labels, max_label=int(ids[-1]))
    inputs = []
    for track in ids:
        region = _grown(boxes[track - 1], reach, labels.shape)
        crop = apodised_crop(image[region], labels[region] == track, sigma_px)
        inputs.append(zone_axis_input(crop, pixel_size, q_max, size))
    return ids, np.stack(inputs)


def _positive_or_zero(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ParameterError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _grown(box: tuple[slice, ...], by: int, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """A bounding box grown by ``by`` pixels, clipped to ``shape``."""
    return tuple(slice(max(s.start - by, 0), min(s.stop + by, n)) for s, n in zip(box, shape))


# -- probabilities -------------------------------------------------------------------------


def zone_axis_probabilities(
    model: Callable,
    frames: Any,
    track_labels: Any,
    pixel_size: float | tuple[float, float],
    track_ids: Sequence[int] | None = None,
    *,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    sigma_px: float = DEFAULT_SIGMA_PX,
    batch_size: int = 64,
) -> np.ndarray:
    """The classifier's probability that each track is on a zone axis, in each frame.

    Parameters
    ----------
    model
        The zone-axis classifier (a Keras model, called with ``training=False``, or any
        callable) mapping (n, size, size, 1) float32 to (n, 2) probabilities of
        :data:`ZONE_AXIS_CLASSES`, e.g. from :func:`load_zone_axis_classifier`.
    frames
        (time, y, x) images; NumPy, xarray, Dask or Zarr arrays are read one frame at a time.
    track_labels
        (time, y, x) integer track ids of the same shape, 0 = background.
    pixel_size
        Pixel size [Å/px], or (p_y, p_x).
    track_ids
        The tracks to classify, in the order of the result's rows (default: the sorted
        nonzero ids found in ``track_labels``, the ``track`` coordinate of
        :func:`hrtemlake.analysis.fourier.track_fourier_statistics`).
    q_max, size, sigma_px
        As the classifier was trained (:func:`load_zone_axis_classifier` returns them).
    batch_size
        Crops per forward pass.

    Returns
    -------
    numpy.ndarray
        (track, time) float32 probability of "on zone", NaN where the track is absent.

    Raises
    ------
    ParameterError
        Frames and track labels of different shapes, bad options, or a model whose output
        is not (n, 2).
    """
    n_time = _check_series(frames, track_labels)
    wanted = _track_ids(track_ids)
    batch_size = _count(batch_size, "batch_size")
    _check_grid(pixel_size, q_max, size)
    options = {"q_max": q_max, "size": size, "sigma_px": sigma_px}
    found: dict[tuple[int, int], float] = {}
    keys: list[tuple[int, int]] = []
    batch: list[np.ndarray] = []
    for t in range(n_time):
        labels = _labels(track_labels[t], tuple(np.shape(frames)[1:]), "track_labels")
        ids, inputs = zone_axis_inputs(np.asarray(frames[t]), labels, pixel_size,
                                       track_ids=wanted, **options)  # fmt: skip
        keys.extend((int(i), t) for i in ids)
        batch.extend(inputs)
        if len(batch) >= batch_size:
            found.update(zip(keys, _on_zone(model, batch, batch_size)))
            keys, batch = [], []
    if batch:
        found.update(zip(keys, _on_zone(model, batch, batch_size)))
    return _track_table(found, wanted, n_time)


def _check_series(frames: Any, track_labels: Any) -> int:
    if np.ndim(frames) != 3:
        raise ParameterError(f"frames must be (time, y, x), got shape {np.shape(frames)}")
    if np.shape(track_labels) != np.shape(frames):
        raise ParameterError(
            f"track_labels shape {np.shape(track_labels)} does not match frames shape "
            f"{np.shape(frames)}: both must be (time, y, x)"
        )
    return int(np.shape(frames)[0])


def _on_zone(model: Callable, inputs: Sequence[np.ndarray], batch_size: int) -> np.ndarray:
    """The "on zone" probability of each input, ``batch_size`` per forward pass."""
    from hrtemlake.nn.heads import ensemble_predict

    x = np.stack(inputs).astype(np.float32)
    probabilities, _ = ensemble_predict([model], x, batch_size=batch_size)
    if probabilities.shape != (len(x), len(ZONE_AXIS_CLASSES)):
        raise ParameterError(
            f"model must return (n, {len(ZONE_AXIS_CLASSES)}) probabilities of "
            f"{ZONE_AXIS_CLASSES}; got shape {probabilities.shape} for {len(x)} inputs"
        )
    return probabilities[:, ON_ZONE]


def _track_table(found: Mapping[tuple[int, int], float], wanted: np.ndarray | None,
                 n_time: int) -> np.ndarray:  # fmt: skip
    tracks = wanted if wanted is not None else np.array(sorted({i for i, _ in found}), np.int64)
    row = {int(track): i for i, track in enumerate(tracks)}
    out = np.full((len(tracks), n_time), np.nan, dtype=np.float32)
    for (track, t), probability in found.items():
        out[row[track], t] = probability
    return out


# -- training data -------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneAxisSamples:
    """Classifier inputs of simulated particle images, their labels and what made them.

    Attributes
    ----------
    inputs
        (n, size, size, 1) float32 :func:`zone_axis_input` of each image.
    labels
        (n,) int64 class index into :data:`ZONE_AXIS_CLASSES` (1 = on zone).
    particle
        (n,) int64 index of the particle (exit wave) imaged; images of one particle share it.
    tilt
        (n,) tilt off the zone axis [deg] (0 on zone).
    zone
        (n, 3) int64 zone axis [uvw].
    dose, defocus, sampling
        (n,) drawn dose [e⁻/Å²], defocus [Å] and realised pixel size [Å/px].
    ratio
        (n,) the Fourier stage's brightest/dimmest pair ratio of the same crop
        (:func:`~hrtemlake.analysis.fourier.fourier_peaks`, ``ratio_pairs=3``; NaN with
        fewer than two pairs), the rule-based zone-axis flag to compare with
        (:func:`~hrtemlake.analysis.fourier.zone_axis_flag`).
    parameters
        The image parameter file (plain dict) and, under ``"waves"``, the exit-wave settings.
    """

    inputs: np.ndarray
    labels: np.ndarray
    particle: np.ndarray
    tilt: np.ndarray
    zone: np.ndarray
    dose: np.ndarray
    defocus: np.ndarray
    sampling: np.ndarray
    ratio: np.ndarray
    parameters: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.labels))

    @classmethod
    def concatenate(cls, parts: Sequence["ZoneAxisSamples"]) -> "ZoneAxisSamples":
        """Blocks of samples (e.g. simulated apart with ``start``) as one; the parameters
        are the first block's."""
        if not parts:
            raise ParameterError(f"parts must hold at least one {cls.__name__}")
        names = [f.name for f in fields(cls) if f.name != "parameters"]
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in names}
        return cls(**arrays, parameters=dict(parts[0].parameters))


def simulate_zone_axis_samples(
    n_particles: int,
    seed: int = 0,
    *,
    start: int = 0,
    images_per_particle: int = 1,
    tilt: tuple[float, float] = DEFAULT_TILT,
    zone_axes: Sequence[Sequence[int]] = DEFAULT_ZONE_AXES,
    element: str = "Au",
    radius: tuple[float, float] = (7.0, 11.0),
    cell: float = 40.0,
    waves: Mapping[str, Any] | None = None,
    image_parameters: Mapping[str, Any] | None = None,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    sigma_px: float = DEFAULT_SIGMA_PX,
    progress: Callable[[int, int], None] | None = None,
) -> ZoneAxisSamples:
    """Classifier inputs of simulated particles on zone and tilted off zone, with labels.

    Particle i is on zone (label 1) for odd i and tilted (label 0) for even i; everything
    about it comes from ``numpy.random.default_rng([seed, i])``, so a larger
    ``n_particles`` adds particles without changing the first ones, and blocks of
    particles (``start``) can be simulated apart (e.g. in parallel) and concatenated.

    Parameters
    ----------
    n_particles
        Particles (exit waves), at least 1.
    seed
        Seed of the particles and images (use another one for a held-out set).
    start
        Index of the first particle: particles ``start, ..., start + n_particles - 1``.
    images_per_particle
        Noisy images per exit wave (each with its own dose, defocus, ...).
    tilt
        (min, max) tilt of the tilted particles off their zone axis [deg].
    zone_axes
        Zone axes [uvw] drawn uniformly per particle.
    element
        The particle's (FCC) element.
    radius
        (min, max) radius [Å] of the sphere of the particle's volume.
    cell
        Side of the cubic cell [Å]; the particle is centred laterally.
    waves
        :class:`~hrtemlake.simulate.exitwaves.ExitWaveSettings` keywords replacing those
        of :data:`DEFAULT_WAVES`.
    image_parameters
        Parameter-file fields replacing those of :data:`DEFAULT_IMAGE_PARAMETERS` (the
        label stays "Mask": it is the instance mask of the crop).
    q_max, size, sigma_px
        The input grid (:func:`zone_axis_input`) and the apodisation of the crop.
    progress
        Called with (particles done, n_particles) after each particle.

    Returns
    -------
    ZoneAxisSamples
        ``n_particles · images_per_particle`` samples, by particle then image.
    """
    from hrtemlake.simulate.exitwaves import ExitWaveSettings

    n_particles = _count(n_particles, "n_particles")
    images_per_particle = _count(images_per_particle, "images_per_particle")
    seed, start = _count(seed, "seed", 0), _count(start, "start", 0)
    particle_options = {"tilt": tilt, "zone_axes": _zone_axes(zone_axes), "element": element,
                        "radius": radius, "cell": _positive(cell, "cell")}  # fmt: skip
    settings = ExitWaveSettings(**{**DEFAULT_WAVES, **dict(waves or {})})
    params = _image_parameters(image_parameters, cell)
    _check_grid(max(params.sampling), q_max, size)  # before any simulation
    grid = {"q_max": q_max, "size": size, "sigma_px": _positive_or_zero(sigma_px, "sigma_px")}
    rows = []
    for i in range(start, start + n_particles):
        rng = np.random.default_rng([seed, i])
        atoms = zone_axis_particle(rng, on_zone=bool(i % 2), **particle_options)
        images = _particle_images(atoms, settings, params, rng, images_per_particle, grid)
        rows += [(i, i % 2, *row) for row in images]
        if progress is not None:
            progress(i + 1 - start, n_particles)
    return _samples(rows, {**params.to_dict(), "waves": settings.to_dict()})


def zone_axis_particle(
    rng: np.random.Generator,
    on_zone: bool,
    *,
    tilt: tuple[float, float] = DEFAULT_TILT,
    zone_axes: Sequence[Sequence[int]] = DEFAULT_ZONE_AXES,
    element: str = "Au",
    radius: tuple[float, float] = (7.0, 11.0),
    cell: float = 40.0,
):
    """A free single-element FCC particle on a zone axis or tilted off it, centred in x, y.

    :func:`hrtemlake.models.alloys.bimetallic_nanoparticle` with the element as the whole
    particle (fraction 1; its partner, Ag or Au, never occurs), Wulff-shaped; the zone axis
    is drawn from ``zone_axes``. Returns ``ase.Atoms`` whose ``info`` has ``tilt`` and
    ``zone`` (see that function).
    """
    from hrtemlake.models.alloys import bimetallic_nanoparticle

    axes = _zone_axes(zone_axes)
    zone = axes[int(rng.integers(len(axes)))]
    partner = "Ag" if element != "Ag" else "Au"
    atoms = bimetallic_nanoparticle(
        rng, elements=(element, partner), kind="random", radius=radius, fraction=1.0,
        tilt=None if on_zone else tilt, zone_axis=zone, cell=(cell, cell, cell),
    )  # fmt: skip
    extent = atoms.positions[:, :2]
    shift = np.r_[0.5 * cell - 0.5 * (extent.min(axis=0) + extent.max(axis=0)), 0.0]
    atoms.positions += shift
    atoms.info["center"] = tuple(float(v) for v in np.add(atoms.info["center"], shift))
    return atoms


def _zone_axes(zone_axes: Any) -> tuple[tuple[int, ...], ...]:
    try:
        axes = tuple(tuple(axis) for axis in zone_axes)
    except (TypeError, ValueError):
        axes = ()
    if not axes or any(len(axis) != 3 or not any(axis) for axis in axes):
        raise ParameterError(
            f"zone_axes must be a sequence of nonzero [uvw] triples, got {zone_axes!r}"
        )
    return axes


def _image_parameters(changes: Mapping[str, Any] | None, cell: float):
    from hrtemlake.simulate.params import ImageParameters

    values = {**DEFAULT_IMAGE_PARAMETERS, **dict(changes or {}), "label": "Mask"}
    if "image_size" not in values:
        side = 2 * int(cell / max(values["sampling"]) / 2)
        values["image_size"] = (side, side)
    return ImageParameters.from_dict(values)


def _particle_images(atoms, settings, params, rng: np.random.Generator, n_images: int,
                     grid: Mapping[str, Any]) -> list[tuple]:  # fmt: skip
    """(tilt, zone, dose, defocus, sampling, ratio, input) of each image of one particle."""
    from hrtemlake.analysis.fourier import fourier_peaks
    from hrtemlake.simulate.exitwaves import compute_exit_wave
    from hrtemlake.simulate.images import synthesize_images

    wave = compute_exit_wave(atoms, settings)
    sites = (atoms.positions[:, :2], np.zeros(len(atoms), np.int64))
    out = synthesize_images(wave, settings.sampling, params, rng, energy=settings.energy,
                            sites=sites, n_epochs=n_images)  # fmt: skip
    rows = []
    for e in range(n_images):
        crop = apodised_crop(out["image"][e, 0], out["label"][e, 0] > 0.5, grid["sigma_px"])
        pixel = float(out["sampling"][e])
        x = zone_axis_input(crop, pixel, grid["q_max"], grid["size"])
        ratio = fourier_peaks(crop, pixel, ratio_pairs=3).ratio
        rows.append((float(atoms.info["tilt"]), atoms.info["zone"], float(out["dose"][e]),
                     float(out["defocus"][e, 0]), pixel, ratio, x))  # fmt: skip
    return rows


def _samples(rows: list[tuple], parameters: dict) -> ZoneAxisSamples:
    column = list(zip(*rows))
    return ZoneAxisSamples(
        inputs=np.stack(column[8]).astype(np.float32),
        labels=np.array(column[1], np.int64), particle=np.array(column[0], np.int64),
        tilt=np.array(column[2], float), zone=np.array(column[3], np.int64),
        dose=np.array(column[4], float), defocus=np.array(column[5], float),
        sampling=np.array(column[6], float), ratio=np.array(column[7], float),
        parameters=parameters,
    )  # fmt: skip


# -- training ------------------------------------------------------------------------------


def train_zone_axis_classifier(
    inputs: Any,
    labels: Any,
    *,
    validation: tuple[Any, Any] | None = None,
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    filters: int = 8,
    depth: int = 4,
    dense: int = 32,
    augment: bool = True,
    seed: int = 0,
    name: str = DEFAULT_NETWORK,
    progress: Callable[[dict], None] | None = None,
):
    """Train a zone-axis classifier (:func:`~hrtemlake.nn.heads.build_classifier`, 2 classes).

    Parameters
    ----------
    inputs
        (n, y, x, 1) inputs, e.g. :attr:`ZoneAxisSamples.inputs`.
    labels
        (n,) class indices into :data:`ZONE_AXIS_CLASSES` (0 tilted, 1 on zone).
    validation
        Optional (inputs, labels) scored after every epoch.
    epochs, batch_size, learning_rate
        Passes over the data, inputs per step, Adam (AMSGrad) learning rate.
    filters, depth, dense
        Size of the classifier (:func:`~hrtemlake.nn.heads.build_classifier`).
    augment
        Random flips and transposes of the spectra every epoch (module notes).
    seed
        Seed of the weights, the order and the augmentation.
    name
        Model name.
    progress
        Called with each epoch's learning-curve row.

    Returns
    -------
    keras.Model
        The trained classifier; its learning curve (one dict per epoch: ``loss``,
        ``val_loss``, ``metric`` = accuracy, ``val_metric``, ...) is ``model.zone_axis_curve``
        and its training options ``model.zone_axis_training`` (both read by
        :func:`register_zone_axis_classifier`).
    """
    model, curve, training = train_classifier(
        inputs, labels, ZONE_AXIS_CLASSES, validation=validation, epochs=epochs,
        batch_size=batch_size, learning_rate=learning_rate, filters=filters, depth=depth,
        dense=dense, augment=augment, seed=seed, name=name, progress=progress,
    )  # fmt: skip
    object.__setattr__(model, "zone_axis_curve", curve)
    object.__setattr__(model, "zone_axis_training", {"task": "zone_axis", **training})
    return model


def train_classifier(
    inputs: Any,
    labels: Any,
    classes: Sequence[str],
    *,
    validation: tuple[Any, Any] | None = None,
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    filters: int = 8,
    depth: int = 4,
    dense: int = 32,
    augment: bool = False,
    seed: int = 0,
    name: str | None = None,
    progress: Callable[[dict], None] | None = None,
) -> tuple[Any, list[dict], dict[str, Any]]:
    """Train a classifier of one-channel Fourier inputs (shared by the zone-axis and the
    chirality classifiers; options as :func:`train_zone_axis_classifier`).

    Returns
    -------
    model, curve, training
        The trained Keras model, its learning curve (one dict per epoch) and its training
        options (epochs, batch size, learning rate, augmentation, seed, number of inputs).
    """
    import keras

    from hrtemlake.nn.heads import build_classifier

    x, y = _training_set(inputs, labels, "inputs", "labels", classes)
    val = None if validation is None else _training_set(*validation, "validation inputs",
                                                          "validation labels", classes)  # fmt: skip
    epochs, batch_size = _count(epochs, "epochs"), _count(batch_size, "batch_size")
    model = build_classifier(1, len(classes), filters=filters, depth=depth, dense=dense,
                             seed=seed, name=name)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(_positive(learning_rate, "learning_rate"),
                                                  amsgrad=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng([seed, 1])
    curve = []
    for epoch in range(epochs):
        curve.append(_train_epoch(model, x, y, val, epoch, batch_size, augment, rng))
        if progress is not None:
            progress({"epochs": epochs, **curve[-1]})
    training = {"epochs": epochs, "batch_size": batch_size,
                "learning_rate": float(learning_rate), "augment": bool(augment), "seed": seed,
                "images": int(len(x))}  # fmt: skip
    return model, curve, training


def _training_set(inputs: Any, labels: Any, x_name: str, y_name: str,
                  classes: Sequence[str] = ZONE_AXIS_CLASSES):  # fmt: skip
    x = np.asarray(inputs, dtype=np.float32)
    y = np.asarray(labels)
    if x.ndim != 4 or x.shape[-1] != 1 or len(x) < 1:
        raise ParameterError(f"{x_name} must be (n, y, x, 1) with n >= 1, got shape {x.shape}")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ParameterError(f"{y_name} must be ({len(x)},) integer class indices, got "
                             f"shape {y.shape} and dtype {y.dtype}")  # fmt: skip
    if y.size and (y.min() < 0 or y.max() >= len(classes)):
        raise ParameterError(f"{y_name} must index {tuple(classes)} (0 to {len(classes) - 1})")
    return x, y.astype(np.int64)


def _augmented(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random exact symmetries of the grid: q_y → -q_y and q_y ↔ q_x (module notes)."""
    out = x.copy()
    flip = rng.random(len(x)) < 0.5
    out[flip] = np.roll(out[flip][:, ::-1], 1, axis=1)
    swap = rng.random(len(x)) < 0.5
    out[swap] = np.swapaxes(out[swap], 1, 2)
    return out


def _train_epoch(model, x, y, val, epoch: int, batch_size: int, augment: bool,
                 rng: np.random.Generator) -> dict[str, float]:  # fmt: skip
    import keras

    order = rng.permutation(len(x))
    batch = _augmented(x[order], rng) if augment else x[order]
    began = time.perf_counter()
    history = model.fit(batch, y[order], batch_size=batch_size, epochs=epoch + 1,
                        initial_epoch=epoch, validation_data=val, shuffle=False,
                        verbose=0)  # fmt: skip
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    return {
        "epoch": epoch + 1, "loss": logs["loss"], "val_loss": logs.get("val_loss", math.nan),
        "metric": logs["accuracy"], "val_metric": logs.get("val_accuracy", math.nan),
        "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        "image_epoch": -1, "images": len(x), "seconds": time.perf_counter() - began,
    }  # fmt: skip


# -- registry ------------------------------------------------------------------------------


def register_zone_axis_classifier(
    lake: Any,
    name: str,
    model: Any,
    *,
    q_max: float = DEFAULT_Q_MAX,
    size: int = DEFAULT_INPUT_SIZE,
    sigma_px: float = DEFAULT_SIGMA_PX,
    parameter_file: Mapping[str, Any] | None = None,
    datasets: Mapping[str, str] | None = None,
):
    """Store a trained zone-axis classifier as network ``name`` of the lake's registry.

    Parameters
    ----------
    lake
        A :class:`~hrtemlake.lake.Lake` opened for writing, or its location.
    name
        Network name (``networks/<name>``); it must not exist yet.
    model
        The classifier, e.g. from :func:`train_zone_axis_classifier` (its learning curve
        and training options are stored when it has them).
    q_max, size, sigma_px
        The input settings it was trained with (stored under ``training["input"]``).
    parameter_file
        The image parameters of its training images (:attr:`ZoneAxisSamples.parameters`).
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
        If the model is not a 2-class classifier of one input channel.
    """
    grid = {"q_max": _positive(q_max, "q_max"), "size": _count(size, "size", _MIN_SIZE),
            "sigma_px": _positive_or_zero(sigma_px, "sigma_px")}  # fmt: skip
    training = {"task": "zone_axis", **dict(getattr(model, "zone_axis_training", {}))}
    return register_classifier(
        lake, name, model, ZONE_AXIS_CLASSES, training, grid,
        curve=getattr(model, "zone_axis_curve", []), parameter_file=parameter_file,
        datasets=datasets or {"train": "(simulated zone-axis particles)",
                              "validation": "(none)"},
    )  # fmt: skip


def register_classifier(
    lake: Any,
    name: str,
    model: Any,
    classes: Sequence[str],
    training: Mapping[str, Any],
    grid: Mapping[str, Any],
    *,
    curve: Sequence[Mapping[str, float]] = (),
    parameter_file: Mapping[str, Any] | None = None,
    datasets: Mapping[str, str] | None = None,
):
    """Store a classifier of one-channel Fourier inputs as network ``name`` (shared by the
    zone-axis and the chirality classifiers).

    ``training`` holds its ``task`` and training options, ``grid`` its input settings
    (stored under ``training["input"]``), ``curve`` its learning curve (rows of
    :func:`train_classifier`). Raises :class:`~hrtemlake.nn.registry.NetworkError` if the
    network exists and :class:`ParameterError` if the model is not a classifier of one input
    channel and ``len(classes)`` classes.
    """
    from hrtemlake.lake import as_lake
    from hrtemlake.nn.registry import NetworkError, network_info, save_checkpoint

    lake = as_lake(lake, "a")
    if lake.exists("networks", network=name):
        raise NetworkError(f"{lake.location}: network '{name}' exists; use another name")
    attrs = _network_attrs(model, dict(grid), parameter_file, datasets, classes, training)
    identity = {key: attrs[key] for key in ("architecture", "training", "datasets")}
    writer = lake.writer("networks", parameters=identity, seed=attrs["training"].get("seed"),
                         attrs=attrs, network=name)  # fmt: skip
    for row in curve:
        writer.append({key: np.array([row[key]]) for key in _CURVE})
    save_checkpoint(lake, name, model, len(curve))
    return network_info(lake, name)


def _network_attrs(model: Any, grid: dict, parameter_file: Mapping[str, Any] | None,
                   datasets: Mapping[str, str] | None, classes: Sequence[str],
                   training: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    from hrtemlake.nn.architectures import network_config, trainable_parameters

    config = network_config(model)
    if (config.get("arch"), config.get("input_channels"), config.get("output_channels")) != (
            "classifier", 1, len(classes)):  # fmt: skip
        raise ParameterError(f"model must be a classifier of 1 input channel and "
                             f"{len(classes)} classes, got {config}")  # fmt: skip
    names = [str(c) for c in classes]
    return {
        "architecture": {**config, "trainable_parameters": trainable_parameters(model)},
        "training": {**dict(training), "input": grid, "class_names": names},
        "label": "Class", "channel_names": ["class"], "class_names": names,
        "input_channels": 1, "datasets": dict(datasets or {}),
        "parameter_file": dict(parameter_file or {}),
    }  # fmt: skip


def load_zone_axis_classifier(lake: Any, name: str = DEFAULT_NETWORK,
                              epoch: int | None = None) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """A registered zone-axis classifier and the input settings it was trained with.

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
        The Keras model and ``{"q_max", "size", "sigma_px"}``, the keywords of
        :func:`zone_axis_probabilities`.

    Raises
    ------
    NetworkError
        If there is no such network.
    ParameterError
        If the network is not a zone-axis classifier.
    """
    model, training = load_classifier(lake, name, "zone_axis", epoch)
    grid = training["input"]
    options = {"q_max": float(grid["q_max"]), "size": int(grid["size"]),
               "sigma_px": float(grid["sigma_px"])}  # fmt: skip
    return model, options


def load_classifier(lake: Any, name: str, task: str,
                    epoch: int | None = None) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """A registered classifier of ``task`` (stored by :func:`register_classifier`) and its
    training record (input settings under ``"input"``, ``"class_names"``, options);
    :class:`ParameterError` if the network has another task."""
    from hrtemlake.nn.registry import load_network, network_info

    info = network_info(lake, name)
    grid = info.training.get("input")
    if info.training.get("task") != task or not isinstance(grid, Mapping):
        raise ParameterError(f"network '{name}' is not a {task.replace('_', '-')} classifier "
                             f"(its training has no task '{task}'); register one with "
                             f"register_{task}_classifier")  # fmt: skip
    return load_network(lake, name, epoch), dict(info.training)
