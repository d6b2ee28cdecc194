"""Argument validation shared by the model builders.

Every check raises before any random draw or atom is built, and every message starts with the
name of the offending field so a parameter-file error points straight at its line.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from ase.data import atomic_numbers
from ase.formula import Formula
from hrtemlake.errors import ParameterError


def check_generator(rng: object) -> np.random.Generator:
    """Reject anything but a :class:`numpy.random.Generator`.

    A seed or the legacy global state would make structures depend on call order across
    workers, so only an explicitly passed generator is accepted.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_number(name: str, value: object, low: float | None = None,
                 high: float | None = None) -> float:
    """Return ``value`` as float after checking ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")
    if low is not None and value < low:
        raise ParameterError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ParameterError(f"{name} must be <= {high}, got {value}")
    return float(value)


def check_range(name: str, value: object, low: float | None = None,
                high: float | None = None) -> tuple[float, float]:
    """Return a ``(lo, hi)`` range of floats with ``low <= lo <= hi <= high``.

    A single number is accepted as the degenerate range ``(value, value)``.
    """
    if isinstance(value, Real) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number or a (min, max) pair, got {value!r}") from None
    lo = check_number(f"{name}[0]", lo, low, high)
    hi = check_number(f"{name}[1]", hi, low, high)
    if lo > hi:
        raise ParameterError(f"{name} must be (min, max) with min <= max, got ({lo}, {hi})")
    return lo, hi


def check_int_range(name: str, value: object, low: int = 0) -> tuple[int, int]:
    """Return an integer ``(lo, hi)`` range with ``low <= lo <= hi``."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be an integer or a (min, max) pair, got {value!r}") from None
    for item in (lo, hi):
        if isinstance(item, bool) or not isinstance(item, Integral):
            raise ParameterError(f"{name} must hold integers, got {value!r}")
    if lo < low or hi < low:
        raise ParameterError(f"{name} must be >= {low}, got ({lo}, {hi})")
    if lo > hi:
        raise ParameterError(f"{name} must be (min, max) with min <= max, got ({lo}, {hi})")
    return int(lo), int(hi)


def check_lengths(name: str, value: object, size: int) -> tuple[float, ...]:
    """Return ``size`` strictly positive lengths [Å]."""
    try:
        items = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise ParameterError(f"{name} must be a sequence of {size} lengths, got {value!r}") from None
    if len(items) != size:
        raise ParameterError(f"{name} must have {size} entries, got {len(items)}")
    lengths = tuple(check_number(f"{name}[{i}]", v) for i, v in enumerate(items))
    if min(lengths) <= 0:
        raise ParameterError(f"{name} entries must be > 0, got {lengths}")
    return lengths


def check_probability(name: str, value: object) -> float:
    """Accept a bool (never/always) or a probability in [0, 1]."""
    if isinstance(value, bool):
        return float(value)
    return check_number(name, value, 0.0, 1.0)


def mx2_elements(formula: str) -> tuple[str, str]:
    """Return (M, X) of an MX2 formula such as "MoS2"; raise ValueError naming ``formula``."""
    try:
        count = Formula(formula).count()
    except Exception:  # ase raises several types for malformed strings
        raise ParameterError(f"formula {formula!r} is not a chemical formula") from None
    unknown = [symbol for symbol in count if symbol not in atomic_numbers]
    if unknown:
        raise ParameterError(f"formula {formula!r} has unknown elements {unknown}")
    metals = [symbol for symbol, n in count.items() if n == 1]
    chalcogens = [symbol for symbol, n in count.items() if n == 2]
    if len(count) != 2 or len(metals) != 1 or len(chalcogens) != 1:
        raise ParameterError(f"formula must be of the form MX2 (e.g. 'MoS2'), got {formula!r}")
    return metals[0], chalcogens[0]
