"""Metadata helpers shared by the readers: length units, JSON sanitising, tag look-ups, times."""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

__all__ = [
    "classify_length_unit",
    "to_angstrom",
    "to_jsonable",
    "get_path",
    "parse_date_time",
    "filetime_to_utc",
    "local_time_with_subseconds",
]

# Factors to Å, keyed by the normalised spelling (NFKC, lower case, no spaces).
_LENGTH_TO_ANGSTROM = {
    "pm": 1e-2,
    "picometer": 1e-2,
    "picometre": 1e-2,
    "å": 1.0,
    "a": 1.0,
    "ang": 1.0,
    "angstrom": 1.0,
    "ångström": 1.0,
    "ångstrom": 1.0,
    "nm": 10.0,
    "nanometer": 10.0,
    "nanometre": 10.0,
    "μm": 1e4,
    "um": 1e4,
    "micron": 1e4,
    "micrometer": 1e4,
    "micrometre": 1e4,
    "mm": 1e7,
    "millimeter": 1e7,
    "millimetre": 1e7,
    "cm": 1e8,
    "m": 1e10,
    "meter": 1e10,
    "metre": 1e10,
}
_UNCALIBRATED = {"", "px", "pix", "pixel", "pixels", "none"}
_ANGULAR = {"rad", "mrad", "μrad", "urad", "deg", "°", "degree", "degrees"}
_RECIPROCAL = re.compile(r"^(?:1/(?P<a>.+)|(?P<b>.+?)(?:\^?-1|⁻¹))$")

# Lists/arrays longer than this are display state or binary blobs (CLUTs, Win32 DEVMODE,
# strip offsets), not scientific metadata.
MAX_ITEMS = 64


def _normalise_unit(unit: Any) -> str:
    if unit is None or (isinstance(unit, (list, tuple)) and not unit):
        return ""
    # ImageJ escapes non-ASCII units, e.g. "\\u00B5m" for µm and "\\u00C5" for Å.
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), str(unit))
    # NFKC folds the micro sign into Greek mu and the Angstrom sign into A-ring.
    text = unicodedata.normalize("NFKC", text).strip().lower().rstrip(".").replace("\u2212", "-")
    text = re.sub(r"\s+", "", text)
    if len(text) > 2 and text.endswith("s") and text[:-1] in _LENGTH_TO_ANGSTROM:
        return text[:-1]  # plurals: "nanometers", "microns"
    return text


def classify_length_unit(unit: Any) -> tuple[str, float | None]:
    """Classify a pixel-calibration unit.

    Parameters
    ----------
    unit : str
        Unit as a file spells it (``"nm"``, ``"µm"``, ``"um"``, ``"Å"``, ``"A"``, ``"1/nm"`` ...).

    Returns
    -------
    kind : {"length", "uncalibrated", "reciprocal"}
        ``"reciprocal"`` covers reciprocal lengths and angles (diffraction calibrations).
    factor : float or None
        Multiply a length in `unit` by this to get Å; None unless `kind` is ``"length"``.

    Raises
    ------
    ValueError
        For a unit that is none of the above.
    """
    text = _normalise_unit(unit)
    if text in _UNCALIBRATED:
        return "uncalibrated", None
    if text in _LENGTH_TO_ANGSTROM:
        return "length", _LENGTH_TO_ANGSTROM[text]
    if text in _ANGULAR:
        return "reciprocal", None
    match = _RECIPROCAL.match(text)
    if match and _normalise_unit(match["a"] or match["b"]) in _LENGTH_TO_ANGSTROM:
        return "reciprocal", None
    raise ValueError(f"unknown length unit {unit!r}")


def to_angstrom(value: float, unit: str) -> float:
    """Convert a length to Å.

    Parameters
    ----------
    value : float
        Length in `unit`.
    unit : str
        Any real-space length unit :func:`classify_length_unit` knows.

    Returns
    -------
    float
        The length [Å].

    Raises
    ------
    ValueError
        If `unit` is unknown, reciprocal, angular or missing.
    """
    kind, factor = classify_length_unit(unit)
    if kind != "length":
        raise ValueError(f"{unit!r} is not a real-space length unit ({kind})")
    return float(value) * factor


def to_jsonable(obj: Any, max_items: int = MAX_ITEMS) -> Any:
    """Return a JSON-serialisable copy of metadata.

    NumPy scalars become Python numbers, small arrays become lists, non-finite floats become
    strings, enums their names; bytes, and lists or arrays longer than `max_items`, become a
    short ``"<dropped: ...>"`` note so the structure still shows they existed.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, max_items) for k, v in obj.items()}
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else str(value)
    if isinstance(obj, (complex, np.complexfloating)):
        return [to_jsonable(obj.real), to_jsonable(obj.imag)]
    if isinstance(obj, str):
        return obj
    if obj is None:
        return None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return f"<dropped: {len(obj)} bytes>"
    if isinstance(obj, np.ndarray):
        if obj.size > max_items or obj.dtype.kind not in "biufcUSb?":
            return f"<dropped: array {obj.shape} {obj.dtype}>"
        return to_jsonable(obj.tolist(), max_items)
    if isinstance(obj, (list, tuple, set)):
        if len(obj) > max_items:
            return f"<dropped: list of {len(obj)} items>"
        return [to_jsonable(v, max_items) for v in obj]
    return str(obj)


def get_path(tree: Any, *keys: str, default: Any = None) -> Any:
    """Look up a nested key; DM's empty values (``[]``, ``""``) count as missing."""
    node = tree
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    if node is None or (isinstance(node, (list, tuple, str)) and len(node) == 0):
        return default
    return node


def as_float(value: Any) -> float | None:
    """A finite float, or None for missing, non-numeric or non-finite values."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def parse_date_time(date: str | None, time: str | None, dayfirst: bool = False) -> datetime | None:
    """Parse a date and a wall-clock time as written by DigitalMicrograph.

    DM writes them in the Windows locale of the microscope PC, e.g. ``"7/20/2015"`` and
    ``"6:48:25 PM"``; month-first unless `dayfirst`. Returns a naive datetime, or None.
    """
    if not date or not time:
        return None
    from dateutil import parser  # a matplotlib dependency, so always present

    try:
        return parser.parse(f"{date} {time}", dayfirst=dayfirst)
    except (ValueError, OverflowError, TypeError):
        return None


def filetime_to_utc(filetime: float) -> datetime:
    """Convert a Windows FILETIME (100 ns ticks since 1601-01-01 UTC) to an aware datetime."""
    return datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=filetime / 10)


def local_time_with_subseconds(local: datetime, filetime: float | None) -> datetime | None:
    """Add the sub-second part of an exact UTC FILETIME to a whole-second local time.

    The microscope's UTC offset is taken as the difference rounded to 15 min; when the two
    times then disagree by a second or more they describe different events and None is
    returned. Sub-second precision matters for fast series saved one file per frame.
    """
    if filetime is None:
        return None
    try:
        utc = filetime_to_utc(filetime).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None
    quarters = round((local - utc).total_seconds() / 900.0)
    candidate = utc + timedelta(seconds=900.0 * quarters)
    lag = (candidate - local).total_seconds()
    return candidate if -0.001 <= lag < 1.0 else None
