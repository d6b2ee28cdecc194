"""ASE calculators by name: GPAW for production runs, anything else for quick ones.

``gpaw``
    GPAW in LCAO mode with the dzp basis and the PBE functional (thesis ch. 5), Γ point,
    symmetry off (an MD step breaks any symmetry the start had). Every keyword can be
    overridden through ``options`` (e.g. ``{"h": 0.25, "basis": "szp(dzp)"}``).
``emt``, ``lj``, ``morse``
    ASE's EMT, Lennard-Jones and Morse potentials, for fast tests and dry runs.
``module:Name``
    Any importable calculator class or factory, called with ``options`` as keywords
    (e.g. ``ase.calculators.tip3p:TIP3P``).

GPAW data
---------
GPAW reads its PAW setups and LCAO basis sets from files; it never downloads them while a
run is going. They come from the ``gpaw-data`` package, which the ``md`` extra installs
(``pip install "hrtemlake[md]"``; GPAW finds it through ``gpaw_data.datapath()``), or from
the folders in ``$GPAW_SETUP_PATH`` (searched first; e.g. a site-wide copy made once with
``gpaw install-data DIR`` on a machine with network access). :func:`check_calculator` looks
for the files of every element before a run starts, so a missing dataset is a one-line
error instead of a failure after the relaxation.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ase import Atoms

from hrtemlake.errors import ParameterError

__all__ = [
    "CALCULATORS",
    "GPAW_DEFAULTS",
    "calculator_options",
    "check_calculator",
    "gpaw_data_paths",
    "make_calculator",
]

CALCULATORS: dict[str, str] = {
    "gpaw": "gpaw:GPAW",
    "emt": "ase.calculators.emt:EMT",
    "lj": "ase.calculators.lj:LennardJones",
    "morse": "ase.calculators.morse:MorsePotential",
}
"""Calculator names -> ``module:attribute`` import paths."""

GPAW_DEFAULTS: dict[str, Any] = {
    "mode": "lcao",
    "basis": "dzp",
    "xc": "PBE",
    "kpts": {"size": [1, 1, 1], "gamma": True},
    "symmetry": "off",
}
"""GPAW keywords of the thesis runs (ch. 5): LCAO, dzp, PBE; Γ point; no symmetry."""

_STANDARD_XC = {"LDA", "PBE", "revPBE", "RPBE", "GLLBSC", "PW91"}


def _factory(name: str) -> Callable[..., Any]:
    target = CALCULATORS.get(name.lower(), name)
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ParameterError(
            f"unknown calculator {name!r}: expected one of {sorted(CALCULATORS)} "
            "or an import path module:Class"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ParameterError(
            f"calculator {name!r} is not installed (cannot import {module_name!r}: {err})"
        ) from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ParameterError(
            f"calculator {name!r}: module {module_name!r} has no {attribute!r}"
        ) from None


def calculator_options(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keywords ``name`` is built with: its defaults updated by ``options``."""
    merged = dict(GPAW_DEFAULTS) if name.lower() == "gpaw" else {}
    merged.update(options or {})
    return merged


def gpaw_data_paths() -> list[Path]:
    """The folders GPAW searches for PAW setups and basis sets, in order."""
    import gpaw

    return [Path(p) for p in gpaw.setup_paths]


def check_calculator(name: str, atoms: Atoms, options: Mapping[str, Any] | None = None) -> None:
    """Raise :class:`ParameterError` unless ``name`` can compute ``atoms``.

    Checks that the calculator imports and, for GPAW, that the PAW setups and basis sets of
    every element are installed; for EMT, that it has parameters for every element.
    """
    _factory(name)
    options = calculator_options(name, options)
    symbols = sorted(set(atoms.get_chemical_symbols()))
    if name.lower() == "gpaw":
        _check_gpaw_data(symbols, options)
    elif name.lower() == "emt":
        from ase.calculators.emt import parameters

        missing = [s for s in symbols if s not in parameters]
        if missing:
            raise ParameterError(
                f"calculator 'emt' has no parameters for {missing}; it covers {sorted(parameters)}"
            )


def _check_gpaw_data(symbols: list[str], options: Mapping[str, Any]) -> None:
    xc = options.get("xc", "PBE")
    setups = options.get("setups", "paw")
    basis = options.get("basis")
    mode = options.get("mode", "fd")
    mode = mode if isinstance(mode, str) else getattr(mode, "name", "")
    paths = gpaw_data_paths()

    def found(stem: str) -> bool:
        return any((p / stem).is_file() or (p / f"{stem}.gz").is_file() for p in paths)

    hint = ("install the gpaw-data package (pip install gpaw-data) or point $GPAW_SETUP_PATH "
            "at a folder made with `gpaw install-data`")  # fmt: skip
    searched = ", ".join(map(str, paths)) or "no folders"
    for symbol in symbols:
        if isinstance(xc, str) and xc in _STANDARD_XC and setups == "paw":
            if not found(f"{symbol}.{xc}"):
                raise ParameterError(
                    f"GPAW has no {xc} PAW setup for {symbol} (searched {searched}): {hint}"
                )
        if mode == "lcao" and isinstance(basis, str) and "(" not in basis:
            if not found(f"{symbol}.{basis}.basis"):
                raise ParameterError(
                    f"GPAW has no {basis} basis set for {symbol} (searched {searched}): {hint}"
                )


def make_calculator(name: str, options: Mapping[str, Any] | None = None, log: str | None = None):
    """A new calculator ``name`` (see the module docstring) with ``options``.

    Parameters
    ----------
    name
        ``gpaw``, ``emt``, ``lj``, ``morse`` or ``module:Class``.
    options
        Keywords for the calculator; for GPAW they update :data:`GPAW_DEFAULTS`.
    log
        GPAW's text output file (``txt``); ``None`` for none. Ignored by other calculators.
    """
    factory = _factory(name)
    kwargs = calculator_options(name, options)
    if name.lower() == "gpaw":
        kwargs.setdefault("txt", log)
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise ParameterError(f"calculator {name!r}: {err}") from None
