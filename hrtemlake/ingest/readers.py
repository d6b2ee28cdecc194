"""Experimental files (DigitalMicrograph .dm3/.dm4, TIFF) to one frame-record shape.

Every source becomes a stream of :class:`FrameRecord` s, the way RosettaSciIO turns every
format into the same data/axes/metadata dictionaries, so nothing downstream (the lake writer,
dose and noise fitting, segmentation) ever looks at a file format.

Decisions
---------
* Pixel sizes are (y, x) in Å, converted from pm, Å (U+00C5, the Angstrom sign U+212B,
  ``"A"``, ``"Angstrom"``), nm, µm (micro sign, Greek mu, ``"um"``, ``"micron"``, ImageJ's
  ``"\\u00B5m"``), mm, cm and m. An unknown unit raises
  :class:`UnknownUnitError` naming the file and the unit; an uncalibrated axis (no unit,
  ``"px"``) gives ``pixel_size=None``.
* Diffraction patterns (reciprocal-length or angular calibration, e.g. ``1/nm``) are not
  real-space frames and raise :class:`FrameReadError` unless ``allow_diffraction=True``, which
  reads them with ``pixel_size=None`` and ``magnification=None``.
* :class:`FrameReadError` (a :class:`hrtemlake.errors.HrtemlakeError`) carries ``path`` and a
  human ``reason``. Rejected: RGB/RGBA images (rendered pictures, not counts), complex data
  (FFTs, waves), boolean masks, 1-D signals and spectrum images, truncated or corrupt
  files, unsupported extensions. In a multi-signal file only the 2-D image signals are read and each
  record's ``notes`` says which signals were skipped and why.
* Voltage is in V, exposure in s.
* Time: DM ``DataBar`` "Acquisition Date" + "Acquisition Time" (the microscope PC's local
  wall clock, whole seconds, month-first unless ``dayfirst``), refined to sub-second
  precision with the exact ``Acquisition Time (OS)`` FILETIME when both agree; StackBuilder
  stacks get each plane's "added @ time". TIFF: FEI/TFS User Date/Time, else the DateTime
  tag; ImageJ ``finterval`` gives the spacing of stack frames (seconds since the first frame
  when no absolute time is known). Otherwise None, and the caller falls back to file order.
* Stacks stream: DM frames are lazy Dask arrays with one chunk per frame; TIFF pages are read
  one at a time as the iterator advances. Nothing reads a whole stack.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from hrtemlake.ingest._metadata import classify_length_unit, to_angstrom
from hrtemlake.ingest._types import FrameReadError, FrameRecord, UnknownUnitError

__all__ = [
    "FrameRecord",
    "FrameReadError",
    "UnknownUnitError",
    "SUPPORTED_SUFFIXES",
    "read_frames",
    "discover",
    "natural_key",
    "to_angstrom",
    "classify_length_unit",
]

DM_SUFFIXES = frozenset({".dm3", ".dm4"})
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
SUPPORTED_SUFFIXES = DM_SUFFIXES | TIFF_SUFFIXES


def read_frames(
    path: str | os.PathLike,
    *,
    allow_diffraction: bool = False,
    dayfirst: bool = False,
) -> Iterator[FrameRecord]:
    """Read the 2-D frames of a DigitalMicrograph or TIFF file, one record per frame.

    The file's header and metadata are parsed, and the file validated, when this is called;
    pixel data are read frame by frame while iterating.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.dm3``, ``.dm4``, ``.tif`` or ``.tiff`` file.
    allow_diffraction : bool
        Read diffraction patterns (reciprocal-space calibration) instead of rejecting them.
    dayfirst : bool
        Parse DM dates such as ``"7/9/2014"`` day-first (the microscope PC's locale).

    Returns
    -------
    Iterator[FrameRecord]
        Frames in file order; a stack gives one record per frame.

    Raises
    ------
    FrameReadError
        If the file cannot be read as frames; ``reason`` says why. Reading a TIFF page that
        turns out corrupt raises it during iteration, after the good frames before it.
    UnknownUnitError
        If a pixel calibration uses a unit the readers do not know.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FrameReadError(
            path, f"unsupported file type {path.suffix!r} (expected .dm3, .dm4, .tif or .tiff)"
        )
    if not path.is_file():
        raise FrameReadError(path, "no such file")
    if path.stat().st_size == 0:
        raise FrameReadError(path, "file is empty")
    if suffix in DM_SUFFIXES:
        from hrtemlake.ingest._dm import iter_dm, open_dm

        signals = open_dm(path, allow_diffraction=allow_diffraction, dayfirst=dayfirst)
        return iter_dm(path, signals)
    from hrtemlake.ingest._tiff import iter_tiff, open_tiff

    series, metadata = open_tiff(path, allow_diffraction=allow_diffraction, dayfirst=dayfirst)
    return iter_tiff(path, series, metadata)


def natural_key(path: str | os.PathLike) -> tuple:
    """Sort key ordering paths naturally, component by component.

    ``Minute_2`` sorts before ``Minute_10`` and ``frame9.dm4`` before ``frame10.dm4``;
    comparison is case-insensitive with the exact spelling as tie-break.
    """
    parts = Path(path).parts
    return tuple(
        tuple((0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk.casefold())
              for chunk in re.split(r"(\d+)", part) if chunk)
        for part in parts
    ), str(path)


def discover(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and folders into the list of frame files to read, in natural order.

    Folders are searched recursively (e.g. GMS in-situ trees
    ``Hour_00/Minute_*/Second_*/*.dm4``) for ``.dm3``, ``.dm4``, ``.tif`` and ``.tiff`` files
    (any case), skipping hidden files and folders such as macOS ``._frame.dm4`` shadows.
    Files named explicitly are kept whatever their extension, so that :func:`read_frames`
    can say why it cannot read them. Duplicates are dropped; the order is each argument in
    turn, a folder's files in natural sort order.

    Parameters
    ----------
    paths : path or iterable of paths
        Files and folders.

    Returns
    -------
    list of Path

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: dict[Path, None] = {}
    for item in map(Path, paths):
        if item.is_dir():
            found.update(dict.fromkeys(sorted(_frame_files(item), key=natural_key)))
        elif item.exists():
            found[item] = None
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
    return list(found)


def _frame_files(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                yield Path(root, name)
