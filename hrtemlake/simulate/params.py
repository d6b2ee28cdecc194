"""The image parameter file: labels, image epochs and the ranges of microscope parameters.

This is the "parameters file" of the thesis (ch. 3.2, Table 3.2; full example in
Appendix A.1, Listing A.1) that controls how images and labels are made from exit waves.
Field names follow Listing A.1 (``log_dose``, ``ctf_c30``, ``mtf_c1`` ...); every
microscope parameter is a range ``(lower, upper)`` from which one value is drawn per
image (see :func:`hrtemlake.simulate.microscope.draw_microscope`).

Conventions that the thesis leaves open, fixed here (see also ``ImageParameters``):

* ``sampling`` is in [Å/pixel] (Table 3.2; Listing A.1's comment says pixels/Å, but
  its values 0.07-0.18 are Å/pixel).
* ``log_dose`` is log10 of the dose in [e⁻/Å²]; the dose is log-uniform between
  ``10**lower`` and ``10**upper`` (the papers' "exponential" distribution).
* MTF parameters (thesis eq. 1.25, ``MTF = (1 - C)/(1 + (q̃/c0)**c3) + C``):
  ``mtf_c1`` is c0 (the half-maximum frequency in units of Nyquist), ``mtf_c2`` is C
  (the high-frequency floor) and ``mtf_c3`` is c3 (the exponent). This is how Listing
  A.1 uses them (``mtf_c1: (0.2, 0.6)``, ``mtf_c2: (0, 0)``, matching the c0 and C = 0
  ranges of Papers II and III, Tables 3 and 1); Table 3.2's wording "c1 ≡ C, c2 ≡ c0"
  would make Listing A.1's c0 zero, which is degenerate.
* Aberrations are abTEM's polar coefficients: amplitudes ``ctf_cNM`` [Å] and angles
  ``ctf_phiNM`` [rad]; ``defocus`` = -C10 [Å].
* ``num_classes`` counts output channels *including* the background channel when
  ``null_class`` is true (Listing A.1's comment); see :func:`expected_num_classes`.

References
----------
The HR-TEM deep-learning pipeline thesis (project seed 003): ch. 1 (eqs. 1.9-1.28),
ch. 3.2 (Table 3.2), Appendix A.1 (Listing A.1), and Papers I-III reprinted in its ch. 8
(Paper I Table 1: exit waves of MoS2; Paper II Tables 1-3: Au/CeO2 masks; Paper III
Table 1: MoS2 atomic columns). Denoise and Regression targets: project seed 004. Heights
labels (atoms per column, counted from a focal series of Au nanoparticles): seed 000.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from hrtemlake.errors import ParameterError as _BaseParameterError

__all__ = [
    "CLASS_LABELS",
    "COLUMN_LABELS",
    "DRAWN_PARAMETERS",
    "LABELS",
    "LABELS_FROM_SITES",
    "TARGET_LABELS",
    "MTF_MODELS",
    "NOISE_MODELS",
    "RANGE_FIELDS",
    "ImageParameters",
    "ParameterError",
    "expected_num_classes",
    "load_parameters",
]

#: Label types: segmentation (Mask, Disk, Gaussian), exit wave regression (Exitwave),
#: noise-free image target (Denoise), microscope-parameter targets (Regression) and the
#: number of atoms in each atomic column (Heights, seed 000) and the class of the imaged
#: model (Class: e.g. a nanotube's chirality, seed 004), and that class per region
#: (ClassMask: the model's outline in its class's channel).
LABELS = ("Mask", "Disk", "Gaussian", "Exitwave", "Denoise", "Regression", "Heights", "Class",
          "ClassMask")  # fmt: skip
#: Labels that are numbers per image (the images group's ``targets``), not images.
TARGET_LABELS = ("Regression", "Class")
#: Labels that segment the atomic structure and need the dataset's atomic sites.
SITE_LABELS = ("Mask", "Disk", "Gaussian", "ClassMask")
#: Labels made from the class of the imaged model (``structure_class``).
CLASS_LABELS = ("Class", "ClassMask")
#: Labels that give each atomic column a value (its height, i.e. number of atoms): they
#: need the sites with their atom counts, but are regression targets, not segmentation.
COLUMN_LABELS = ("Heights",)
#: Labels built from the dataset's atomic sites.
LABELS_FROM_SITES = SITE_LABELS + COLUMN_LABELS
NOISE_MODELS = ("poisson",)
MTF_MODELS = ("parametric",)

_TWO_PI = 2.0 * math.pi
_ABERRATIONS = ("c12", "c21", "c23", "c32", "c34", "c45")


class ParameterError(_BaseParameterError):
    """An invalid parameter file; ``field`` names the offending field."""

    def __init__(self, field_name: str, problem: str):
        self.field = field_name
        super().__init__(f"image parameters, field '{field_name}': {problem}")


# Bounds of each range field: (minimum, maximum, minimum is exclusive, unit).
# ``None`` means unbounded. MTF bounds only apply when ``mtf`` is "parametric".
_RANGE_BOUNDS: dict[str, tuple[Optional[float], Optional[float], bool, str]] = {
    "sampling": (0.0, None, True, "Å/pixel"),
    "log_dose": (None, None, False, "log10(e⁻/Å²)"),
    "blur": (0.0, None, False, "Å"),
    "focal_spread": (0.0, None, False, "Å"),
    "angular_spread": (0.0, None, False, "mrad"),
    "defocus": (None, None, False, "Å"),
    "ctf_c30": (None, None, False, "Å"),
    **{f"ctf_{a}": (0.0, None, False, "Å") for a in _ABERRATIONS},
    **{f"ctf_phi{a[1:]}": (None, None, False, "rad") for a in _ABERRATIONS},
    "mtf_c1": (0.0, None, True, "c0 of eq. 1.25, units of the Nyquist frequency"),
    "mtf_c2": (-1.0, 1.0, False, "C of eq. 1.25, the high-frequency floor"),
    "mtf_c3": (0.0, None, True, "c3 of eq. 1.25, the exponent"),
    "readout": (0.0, None, False, "e⁻/pixel"),
}
_MTF_FIELDS = ("mtf_c1", "mtf_c2", "mtf_c3")

#: The range fields, in the order their values are drawn.
RANGE_FIELDS = tuple(_RANGE_BOUNDS)
#: Per-image values returned by ``draw_microscope`` (valid regression targets).
DRAWN_PARAMETERS = RANGE_FIELDS + ("dose",)


def _aberration_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for a in _ABERRATIONS:
        fields[f"ctf_{a}"] = (0.0, 0.0)
        fields[f"ctf_phi{a[1:]}"] = (0.0, _TWO_PI)
    return fields


@dataclass(frozen=True)
class ImageParameters:
    """User parameters for image and label generation (thesis Table 3.2, Listing A.1).

    Defaults are Listing A.1's first alternative for each entry, except ``null_class``
    (False: the listing pairs ``num_classes: 1`` with ``null_class: True``, yet its own
    comment says ``num_classes=1`` means "a single class, no background").
    Ranges are ``(lower, upper)`` tuples; lists are accepted and converted.

    Attributes
    ----------
    label : str
        One of :data:`LABELS`. Mask: outline of the structure (convex hull of sites);
        Disk: one disc of width ``spotsize`` per atomic site and site class; Gaussian:
        as Disk with Gaussian spots; Exitwave: real and imaginary part of the exit
        wave; Denoise: the noise-free image (same optics, no shot/readout noise and no
        MTF; slides of seed 004, "denoising autoencoder"); Regression: the drawn
        microscope parameters named in ``regression_targets`` (e.g. defocus and
        astigmatism, seed 004); Heights: the number of atoms of each atomic column on a
        disc of width ``spotsize`` around it (column heights, seed 000); Class: the class
        index of the imaged model (``structure_class``, e.g. a nanotube's chirality, seed
        004), stored as the one target "class" with the names in the image set's
        attribute ``class_names``; needs a dataset whose models carry classes. ClassMask:
        the class per region, a segmentation label with one channel per model class
        (the dataset's ``class_names``): the model's Mask outline in the channel of its
        class, 0 in the others (e.g. zone axis vs. tilted, chirality); a network trained on
        it classifies every object of an image where it lies.
    image_epochs : int
        Images (at different microscope parameters) per exit wave (training data).
    image_size : (int, int)
        Image size in pixels; the image is cropped or zero-padded to it.
    noise : str or None
        "poisson" (shot noise, thesis eq. 1.24) or None.
    num_classes : int
        Output channels of the label, see :func:`expected_num_classes`.
    null_class : bool
        Add a background channel (one minus the sum of the others); segmentation only.
    spotsize : float
        Width of the discs/spots of Disk, Gaussian and Heights labels [Å].
    sampling : (float, float)
        Pixel size range [Å/pixel].
    multifocus : (int, float, float) or None
        Focal series (number of images, defocus step [Å], step jitter [Å]).
    log_dose : (float, float)
        log10 of the electron dose [e⁻/Å²] (thesis eq. 1.28).
    blur : (float, float)
        Standard deviation of the Gaussian image blur [Å] (thesis eq. 1.22).
    focal_spread : (float, float)
        1/e half-width of the defocus distribution [Å] (abTEM convention, eq. 1.21).
    angular_spread : (float, float)
        Beam convergence β [mrad], abTEM's ``angular_spread`` (eq. 1.20). Not in
        Listing A.1; default (0, 0).
    defocus : (float, float)
        Defocus range [Å], defocus = -C10 (abTEM).
    ctf_c30 : (float, float)
        Spherical aberration C30 = Cs [Å] (1 µm = 1e4 Å).
    ctf_c12, ctf_c21, ctf_c23, ctf_c32, ctf_c34, ctf_c45 : (float, float)
        Amplitudes [Å] of two-fold astigmatism, axial coma, three-fold astigmatism,
        star aberration, four-fold astigmatism and five-fold astigmatism.
    ctf_phi12, ctf_phi21, ctf_phi23, ctf_phi32, ctf_phi34, ctf_phi45 : (float, float)
        Their azimuthal angles [rad] (abTEM's polar convention); default (0, 2π).
    mtf : str or None
        "parametric" (thesis eq. 1.25) or None.
    mtf_c1, mtf_c2, mtf_c3 : (float, float)
        c0 (> 0), C (in [-1, 1]) and c3 (> 0) of eq. 1.25 (see the module docstring).
    readout : (float, float)
        Readout noise N0 [e⁻/pixel], an extra Poisson source after the MTF (eq. 1.27).
    normalizedistance : float
        Gaussian width for local image standardisation [Å] (thesis section 3.3).
    debug : int, bool or None
        Number of images to save for inspection (True: all, None/False: none).
    seed : int or None
        Seed for drawing the microscope parameters.
    energy : float or None
        Electron energy [eV]; None takes it from the exit waves. Not in Table 3.2
        (the energy is fixed by the exit wave); the papers' tables give it.
    regression_targets : tuple of str
        Drawn parameters predicted by a Regression label (:data:`DRAWN_PARAMETERS`;
        "defocus" is the first image's defocus of a focal series).
    remove_support : bool
        Exitwave labels only: the label is the exit wave of the model without its support
        (the dataset's ``particle_exitwaves``) while the image shows the support, so a
        network learns to remove it (thesis §7.1). Not in Table 3.2.
    """

    label: str = "Mask"
    image_epochs: int = 10
    image_size: tuple[int, int] = (512, 512)
    noise: Optional[str] = "poisson"
    num_classes: int = 1
    null_class: bool = False
    spotsize: float = 0.4
    sampling: tuple[float, float] = (0.17, 0.18)
    multifocus: Optional[tuple[int, float, float]] = None
    log_dose: tuple[float, float] = (2.0, 6.0)
    blur: tuple[float, float] = (0.1, 0.8)
    focal_spread: tuple[float, float] = (5.0, 20.0)
    angular_spread: tuple[float, float] = (0.0, 0.0)
    defocus: tuple[float, float] = (-200.0, 200.0)
    ctf_c30: tuple[float, float] = (0.0, 1.5 * 83000.0)
    ctf_c12: tuple[float, float] = (0.0, 0.0)
    ctf_phi12: tuple[float, float] = (0.0, _TWO_PI)
    ctf_c21: tuple[float, float] = (0.0, 0.0)
    ctf_phi21: tuple[float, float] = (0.0, _TWO_PI)
    ctf_c23: tuple[float, float] = (0.0, 0.0)
    ctf_phi23: tuple[float, float] = (0.0, _TWO_PI)
    ctf_c32: tuple[float, float] = (0.0, 0.0)
    ctf_phi32: tuple[float, float] = (0.0, _TWO_PI)
    ctf_c34: tuple[float, float] = (0.0, 0.0)
    ctf_phi34: tuple[float, float] = (0.0, _TWO_PI)
    ctf_c45: tuple[float, float] = (0.0, 0.0)
    ctf_phi45: tuple[float, float] = (0.0, _TWO_PI)
    mtf: Optional[str] = "parametric"
    mtf_c1: tuple[float, float] = (0.2, 0.6)
    mtf_c2: tuple[float, float] = (0.0, 0.0)
    mtf_c3: tuple[float, float] = (2.0, 5.0)
    readout: tuple[float, float] = (0.005, 0.015)
    normalizedistance: float = 12.0
    debug: Optional[int | bool] = 100
    seed: Optional[int] = 100
    energy: Optional[float] = None
    regression_targets: tuple[str, ...] = field(default=("defocus", "ctf_c12"))
    remove_support: bool = False

    def __post_init__(self) -> None:
        from hrtemlake.simulate import _validation

        for name, value in _validation.normalise(self).items():
            object.__setattr__(self, name, value)
        _validation.validate(self)

    # -- construction and serialisation -------------------------------------------

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, in file order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ImageParameters":
        """Build from a mapping (e.g. a parsed file); unknown keys are an error that
        suggests the closest known field name."""
        if not isinstance(data, dict):
            raise ParameterError("<file>", f"expected a mapping, got {type(data).__name__}")
        _check_unknown(data, cls.field_names())
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML types (tuples become lists), in field order."""
        values = {name: _plain(getattr(self, name)) for name in self.field_names()}
        if not self.remove_support:  # as before it existed: older image sets reopen
            del values["remove_support"]
        return values

    def dump(self, path: str | Path) -> Path:
        """Write to ``path`` as YAML (``.yaml``/``.yml``) or JSON (``.json``)."""
        path = Path(path)
        data = self.to_dict()
        suffix = path.suffix.lower()
        if suffix == ".json":
            path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        elif suffix in (".yaml", ".yml"):
            text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None,
                                  allow_unicode=True)
            path.write_text(text, encoding="utf-8")
        else:
            raise ValueError(f"unknown parameter file type {path.suffix!r} (.yaml, .json)")
        return path

    def replace(self, **changes: Any) -> "ImageParameters":
        """A validated copy with some fields changed."""
        _check_unknown(changes, self.field_names())
        return dataclasses.replace(self, **changes)

    # -- derived quantities ----------------------------------------------------------

    @property
    def num_focal(self) -> int:
        """Number of images per focal series (1 without ``multifocus``)."""
        return 1 if self.multifocus is None else int(self.multifocus[0])

    def check_dataset(self, has_sites: bool, num_site_classes: Optional[int] = None,
                      has_classes: bool = False,
                      num_model_classes: Optional[int] = None) -> None:  # fmt: skip
        """Check these parameters against a dataset of exit waves.

        Parameters
        ----------
        has_sites : bool
            Whether the dataset stores atomic sites (column positions).
        num_site_classes : int, optional
            Number of site classes (e.g. 3 for 1Mo, 2S, 1S in MoS2).
        has_classes : bool
            Whether the dataset's models carry classes (``structure_class``, e.g. nanotube
            chiralities); Class and ClassMask labels need them.
        num_model_classes : int, optional
            Number of those classes (the dataset's ``class_names``).

        Raises
        ------
        ParameterError
            Mask, Disk, Gaussian and Heights labels on a dataset without sites; Disk and
            Gaussian labels whose ``num_classes`` is not ``num_site_classes`` plus the
            background channel.
        """
        if self.label in CLASS_LABELS and not has_classes:
            raise ParameterError(
                "label", f"{self.label} labels need models that carry a class (structure_class, "
                "e.g. nanotubes' chiralities); the dataset's models have none"
            )
        if self.label == "ClassMask" and num_model_classes is not None:
            expected = num_model_classes + int(self.null_class)
            if self.num_classes != expected:
                raise ParameterError(
                    "num_classes",
                    f"{self.num_classes} does not fit a dataset with {num_model_classes} model "
                    f"classes and null_class={self.null_class} (expected {expected})",
                )
        if self.label in LABELS_FROM_SITES and not has_sites:
            raise ParameterError(
                "label", f"{self.label} labels need atomic sites, the dataset has none"
            )
        if self.label in ("Disk", "Gaussian") and num_site_classes is not None:
            expected = expected_num_classes(self.label, self.null_class,
                                            num_site_classes=num_site_classes)
            if self.num_classes != expected:
                raise ParameterError(
                    "num_classes",
                    f"{self.num_classes} does not fit a dataset with {num_site_classes} "
                    f"site classes and null_class={self.null_class} (expected {expected})",
                )


def expected_num_classes(
    label: str,
    null_class: bool,
    *,
    num_site_classes: Optional[int] = None,
    num_focal: int = 1,
    num_targets: int = 1,
    num_model_classes: Optional[int] = None,
) -> int:
    """Number of label channels (``num_classes``) a label type needs.

    ============ ================================================================
    label        channels
    ============ ================================================================
    Mask         1 (the structure) + 1 if ``null_class`` (background)
    Disk         ``num_site_classes`` + 1 if ``null_class``
    Gaussian     as Disk
    Exitwave     2 (real and imaginary part); no null class
    Denoise      ``num_focal`` (one noise-free image per input image); no null class
    Regression   ``num_targets`` (one per regression target); no null class
    Heights      1 (atoms per column); no null class
    Class        1 (the one target "class": the model's class index); no null class
    ClassMask    ``num_model_classes`` + 1 if ``null_class``
    ============ ================================================================

    Returns -1 for Disk/Gaussian when ``num_site_classes`` is unknown, and for ClassMask
    when ``num_model_classes`` is.
    """
    background = int(bool(null_class))
    if label == "Mask":
        return 1 + background
    if label in ("Disk", "Gaussian"):
        return -1 if num_site_classes is None else num_site_classes + background
    if label == "ClassMask":
        return -1 if num_model_classes is None else num_model_classes + background
    if label == "Exitwave":
        return 2
    if label in ("Heights", "Class"):
        return 1
    if label == "Denoise":
        return num_focal
    if label == "Regression":
        return num_targets
    raise ValueError(f"unknown label {label!r}")


def load_parameters(path: str | Path) -> ImageParameters:
    """Read and validate a parameter file (YAML ``.yaml``/``.yml`` or JSON ``.json``;
    other suffixes are parsed as YAML, of which JSON is a subset)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        data = yaml.safe_load(text)
    if data is None:
        data = {}
    return ImageParameters.from_dict(data)


def _check_unknown(data: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = [key for key in data if key not in known]
    if not unknown:
        return
    parts = []
    for key in unknown:
        match = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{match[0]}'?)" if match else ""
        parts.append(f"'{key}'{hint}")
    raise ParameterError(str(unknown[0]), "unknown field " + ", ".join(parts))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value
