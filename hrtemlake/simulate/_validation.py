"""Normalisation and validation of :class:`~hrtemlake.simulate.params.ImageParameters`.

Every error is a :class:`~hrtemlake.simulate.params.ParameterError` naming the field.
"""

from __future__ import annotations

import difflib
import math
import numbers
from typing import Any

from hrtemlake.simulate.params import (
    _MTF_FIELDS,
    _RANGE_BOUNDS,
    DRAWN_PARAMETERS,
    LABELS,
    MTF_MODELS,
    NOISE_MODELS,
    RANGE_FIELDS,
    SITE_LABELS,
    ParameterError,
    expected_num_classes,
)

_NONE_STRINGS = ("none", "null")
_OPTIONAL = ("noise", "mtf", "multifocus", "seed", "debug", "energy")


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def normalise(p: Any) -> dict[str, Any]:
    """Coerced values: lists to tuples, range numbers to float, "None" to None,
    label and model names to their canonical spelling."""
    out: dict[str, Any] = {}
    for name in _OPTIONAL:
        value = getattr(p, name)
        if isinstance(value, str) and value.strip().lower() in _NONE_STRINGS:
            out[name] = None
    for name in ("noise", "mtf"):
        value = out.get(name, getattr(p, name))
        if isinstance(value, str):
            out[name] = value.strip().lower()
    if isinstance(p.label, str):
        canonical = {label.lower(): label for label in LABELS}
        out["label"] = canonical.get(p.label.strip().lower(), p.label)
    for name in RANGE_FIELDS:
        value = _tuple(getattr(p, name))
        if isinstance(value, tuple) and all(_is_real(v) for v in value):
            value = tuple(float(v) for v in value)
        out[name] = value
    size = p.image_size
    out["image_size"] = (size, size) if _is_int(size) else _tuple(size)
    out["multifocus"] = _tuple(out.get("multifocus", p.multifocus))
    targets = p.regression_targets
    out["regression_targets"] = (targets,) if isinstance(targets, str) else _tuple(targets)
    return out


def validate(p: Any) -> None:
    """Raise :class:`ParameterError` for the first problem found."""
    _check_choice("label", p.label, LABELS, optional=False)
    _check_int("image_epochs", p.image_epochs, minimum=1)
    _check_image_size(p.image_size)
    _check_choice("noise", p.noise, NOISE_MODELS, optional=True)
    _check_choice("mtf", p.mtf, MTF_MODELS, optional=True)
    _check_int("num_classes", p.num_classes, minimum=1)
    if not isinstance(p.null_class, bool):
        raise ParameterError("null_class", f"expected true or false, got {p.null_class!r}")
    _check_positive("spotsize", p.spotsize, "Å")
    _check_positive("normalizedistance", p.normalizedistance, "Å")
    for name in RANGE_FIELDS:
        _check_range(name, getattr(p, name), parametric_mtf=p.mtf == "parametric")
    _check_multifocus(p.multifocus, p.defocus)
    _check_debug(p.debug)
    if p.seed is not None:
        _check_int("seed", p.seed, minimum=0)
    if p.energy is not None:
        _check_positive("energy", p.energy, "eV")
    _check_targets(p.regression_targets)
    _check_num_classes(p)
    _check_remove_support(p)


def _check_remove_support(p: Any) -> None:
    if not isinstance(p.remove_support, bool):
        raise ParameterError("remove_support", f"expected true or false, got {p.remove_support!r}")
    if p.remove_support and p.label != "Exitwave":
        raise ParameterError("remove_support", f"applies to Exitwave labels, not {p.label}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...], optional: bool) -> None:
    if value is None and optional:
        return
    allowed = ", ".join(choices) + (" or null" if optional else "")
    if not isinstance(value, str):
        raise ParameterError(name, f"expected one of {allowed}, got {value!r}")
    if value not in choices:
        match = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
        hint = f" (did you mean '{match[0]}'?)" if match else ""
        raise ParameterError(name, f"unknown option {value!r}{hint}; expected {allowed}")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not _is_int(value):
        raise ParameterError(name, f"expected an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ParameterError(name, f"must be at least {minimum}, got {value}")


def _check_positive(name: str, value: Any, unit: str) -> None:
    if not _is_real(value) or not math.isfinite(value):
        raise ParameterError(name, f"expected a number [{unit}], got {value!r}")
    if value <= 0:
        raise ParameterError(name, f"must be positive [{unit}], got {value}")


def _check_image_size(size: Any) -> None:
    if not (isinstance(size, tuple) and len(size) == 2 and all(_is_int(n) for n in size)):
        raise ParameterError("image_size", f"expected two integers (x, y), got {size!r}")
    if min(size) < 1:
        raise ParameterError("image_size", f"must be positive, got {size}")


def _check_range(name: str, value: Any, parametric_mtf: bool) -> None:
    minimum, maximum, exclusive, unit = _RANGE_BOUNDS[name]
    if not (isinstance(value, tuple) and len(value) == 2):
        raise ParameterError(name, f"expected a range (lower, upper) [{unit}], got {value!r}")
    if not all(_is_real(v) and math.isfinite(v) for v in value):
        raise ParameterError(name, f"expected two finite numbers [{unit}], got {value!r}")
    lower, upper = value
    if lower > upper:
        raise ParameterError(name, f"lower bound {lower} exceeds upper bound {upper}")
    if name in _MTF_FIELDS and not parametric_mtf:
        return
    if minimum is not None and (lower < minimum or (exclusive and lower == minimum)):
        relation = "greater than" if exclusive else "at least"
        raise ParameterError(
            name, f"lower bound {lower} must be {relation} {minimum} [{unit}]"
        )
    if maximum is not None and upper > maximum:
        raise ParameterError(name, f"upper bound {upper} must be at most {maximum} [{unit}]")


def _check_multifocus(multifocus: Any, defocus: tuple[float, float]) -> None:
    if multifocus is None:
        return
    if not (isinstance(multifocus, tuple) and len(multifocus) == 3):
        raise ParameterError(
            "multifocus",
            f"expected (number of images, defocus step [Å], step jitter [Å]) or null, "
            f"got {multifocus!r}",
        )
    count, step, jitter = multifocus
    _check_int("multifocus", count, minimum=1)
    if not (_is_real(step) and _is_real(jitter) and math.isfinite(step + jitter)):
        raise ParameterError("multifocus", f"step and jitter must be numbers, got {multifocus!r}")
    if jitter < 0:
        raise ParameterError("multifocus", f"step jitter must not be negative, got {jitter}")
    low, high = focal_series_offsets(count, step, jitter)
    if defocus[1] - defocus[0] < high - low:
        raise ParameterError(
            "multifocus",
            f"a focal series spanning up to {high - low:g} Å does not fit in the defocus "
            f"range {defocus}",
        )


def focal_series_offsets(count: int, step: float, jitter: float) -> tuple[float, float]:
    """Smallest and largest defocus offset from the first image of a focal series [Å]."""
    reach = [(count - 1) * (step - jitter), (count - 1) * (step + jitter), 0.0]
    return min(reach), max(reach)


def _check_debug(debug: Any) -> None:
    if debug is None or isinstance(debug, bool):
        return
    _check_int("debug", debug, minimum=0)


def _check_targets(targets: Any) -> None:
    if not (isinstance(targets, tuple) and targets and all(isinstance(t, str) for t in targets)):
        raise ParameterError(
            "regression_targets", f"expected a non-empty list of names, got {targets!r}"
        )
    for target in targets:
        if target not in DRAWN_PARAMETERS:
            match = difflib.get_close_matches(target, DRAWN_PARAMETERS, n=1, cutoff=0.6)
            hint = f" (did you mean '{match[0]}'?)" if match else ""
            raise ParameterError(
                "regression_targets", f"{target!r} is not a drawn microscope parameter{hint}"
            )


def _check_num_classes(p: Any) -> None:
    if p.null_class and p.label not in SITE_LABELS:
        raise ParameterError(
            "null_class",
            f"a background channel only applies to segmentation labels "
            f"({', '.join(SITE_LABELS)}), not {p.label}",
        )
    expected = expected_num_classes(
        p.label, p.null_class, num_focal=p.num_focal, num_targets=len(p.regression_targets)
    )
    if expected == -1:  # Disk/Gaussian: the exact count comes from the dataset
        minimum = 1 + int(p.null_class)
        if p.num_classes < minimum:
            raise ParameterError(
                "num_classes",
                f"{p.label} with null_class={p.null_class} needs at least {minimum} "
                f"channels, got {p.num_classes}",
            )
        return
    if p.num_classes != expected:
        raise ParameterError(
            "num_classes",
            f"{p.label} labels have {expected} channel(s) here, got {p.num_classes} "
            f"(see expected_num_classes)",
        )
