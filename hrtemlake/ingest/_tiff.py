"""TIFF files (single images, stacks, ImageJ hyperstacks, FEI/TFS) to frame records."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hrtemlake.ingest._metadata import (
    as_float,
    classify_length_unit,
    get_path,
    parse_date_time,
    to_jsonable,
)
from hrtemlake.ingest._types import (
    FrameReadError,
    FrameRecord,
    UnknownUnitError,
    dtype_rejection,
)

# ResolutionUnit → Å per unit; INCH is left out on purpose: a dpi value is a print
# setting that every image editor writes, never a microscope calibration.
_RESUNIT_TO_ANGSTROM = {"CENTIMETER": 1e8, "MILLIMETER": 1e7, "MICROMETER": 1e4}
_MAX_TAG_ITEMS = 64


@dataclass
class _Series:
    """One TIFF series holding 2-D frames, validated and ready to stream."""

    index: int
    n_frames: int
    pixel_size: tuple[float, float] | None
    fields: dict
    start: datetime | float | None
    interval: float | None
    time_source: str | None
    notes: tuple[str, ...]


def open_tiff(path: Path, *, allow_diffraction: bool, dayfirst: bool) -> tuple[list, dict]:
    """Validate a TIFF's series and gather its metadata; no pixel data is read."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series, skipped = _usable_series(tif)
            if not series:
                reason = ("no readable 2-D grey-scale image: " + "; ".join(skipped) if skipped
                          else "not a readable TIFF: it holds no image (corrupt or empty)")
                raise FrameReadError(path, reason)
            metadata = _metadata(tif)
            prepared = [
                _prepare(path, tif, s, skipped, allow_diffraction, dayfirst) for s in series
            ]
    except FrameReadError:
        raise
    except Exception as exc:  # tifffile raises many types on corrupt input
        raise FrameReadError(path, f"not a readable TIFF ({type(exc).__name__}: {exc})") from exc
    return prepared, metadata


def iter_tiff(path: Path, series: list[_Series], metadata: dict) -> Iterator[FrameRecord]:
    """Yield one record per frame, reading one page at a time."""
    import tifffile

    position = 0
    with tifffile.TiffFile(path) as tif:
        for s in series:
            for k in range(s.n_frames):
                time = _frame_time(s, k)
                yield FrameRecord(
                    data=_read_page(path, tif, s.index, k),
                    pixel_size=s.pixel_size,
                    time=time,
                    time_source=s.time_source if time is not None else None,
                    source=path,
                    index_in_file=position,
                    signal_index=s.index,
                    metadata=metadata,
                    notes=s.notes,
                    **s.fields,
                )
                position += 1


def _read_page(path: Path, tif: Any, series: int, key: int) -> np.ndarray:
    try:
        frame = tif.asarray(key=key, series=series)
    except Exception as exc:
        raise FrameReadError(path, f"frame {key} cannot be read ({type(exc).__name__}: {exc})")
    return frame.reshape(frame.shape[-2:])


def _usable_series(tif: Any) -> tuple[list, list[str]]:
    usable, skipped = [], []
    file_size = tif.filehandle.size
    for index, series in enumerate(tif.series):
        reason = _series_rejection(series, file_size)
        if reason:
            skipped.append(f"series {index}: {reason}")
        else:
            usable.append((index, series))
    return usable, skipped


def _series_rejection(series: Any, file_size: int) -> str | None:
    axes, dtype = series.axes, np.dtype(series.dtype)
    if "S" in axes or series.keyframe.samplesperpixel > 1:
        return f"colour image (axes {axes}): a rendered picture, not detector counts"
    if not axes.endswith("YX") or len(series.keyframe.shape) != 2:
        return f"axes {axes} do not end in one 2-D image plane"
    return dtype_rejection(dtype) or _truncation(series, file_size)


def _truncation(series: Any, file_size: int) -> str | None:
    n_frames = math.prod(series.shape[:-2])
    if series.dataoffset is not None:  # contiguous data: one block after the first IFD
        end = series.dataoffset + math.prod(series.shape) * np.dtype(series.dtype).itemsize
    elif len(series.pages) < n_frames:
        return f"file ends early (truncated): {len(series.pages)} of {n_frames} frames present"
    else:
        end = max(
            (o + c for page in series.pages if page is not None
             for o, c in zip(page.dataoffsets, page.databytecounts)),
            default=0,
        )
    if end > file_size:
        return f"file ends early (truncated): the pixels need {end} bytes, the file has {file_size}"
    return None


def _prepare(
    path: Path, tif: Any, item: tuple, skipped: list, allow_diffraction: bool, dayfirst: bool
) -> _Series:
    index, series = item
    n_frames = math.prod(series.shape[:-2])
    pixel_size, notes = _pixel_size(path, tif, series.keyframe, allow_diffraction)
    start, interval, source = _times(tif, series.keyframe, dayfirst)
    if skipped:
        notes.append("skipped " + "; ".join(skipped))
    if start is None:
        notes.append("no acquisition time in the metadata")
    return _Series(index, n_frames, pixel_size, _fields(tif), start, interval, source, tuple(notes))


def _pixel_size(
    path: Path, tif: Any, page: Any, allow_diffraction: bool
) -> tuple[tuple | None, list[str]]:
    xres, yres = (as_float(r) for r in page.resolution)
    if tif.is_imagej and (unit := get_path(tif.imagej_metadata or {}, "unit")) is not None:
        try:
            kind, factor = classify_length_unit(unit)
        except ValueError:
            raise UnknownUnitError(path, str(unit)) from None
        if kind == "reciprocal" and not allow_diffraction:
            raise FrameReadError(path, f"reciprocal-space calibration {unit!r}: a diffraction "
                                 "pattern, not a real-space image (pass allow_diffraction=True)")
        if kind == "length" and xres and yres:
            return (factor / yres, factor / xres), []
        return None, [f"ImageJ unit {unit!r} is not a real-space length; pixel_size is None"]
    fei = tif.fei_metadata or {}
    width, height = (as_float(get_path(fei, "Scan", k)) for k in ("PixelWidth", "PixelHeight"))
    if width and height:
        return (height * 1e10, width * 1e10), []
    unit_name = getattr(page.resolutionunit, "name", str(page.resolutionunit))
    if unit_name in _RESUNIT_TO_ANGSTROM and xres and yres:
        factor = _RESUNIT_TO_ANGSTROM[unit_name]
        return (factor / yres, factor / xres), []
    return None, [f"no real-space pixel calibration (ResolutionUnit {unit_name}); pixel_size None"]


def _times(tif: Any, page: Any, dayfirst: bool) -> tuple[Any, float | None, str | None]:
    """Start time, frame interval [s] and their source."""
    interval = as_float(get_path(tif.imagej_metadata or {}, "finterval"))
    fei_user = get_path(tif.fei_metadata or {}, "User", default={})
    fei = parse_date_time(get_path(fei_user, "Date"), get_path(fei_user, "Time"), dayfirst)
    stamp = page.tags.valueof(306)  # DateTime, "YYYY:MM:DD HH:MM:SS"
    tag = None
    if isinstance(stamp, str):
        try:
            tag = datetime.strptime(stamp.strip(), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            tag = None
    start, source = (fei, "FEI User Date/Time") if fei else (tag, "TIFF DateTime tag")
    if start is None and interval:
        return 0.0, interval, "ImageJ finterval (seconds since the first frame)"
    if start is not None and interval:
        source += " + ImageJ finterval"
    return start, interval, source if start is not None else None


def _frame_time(series: _Series, k: int) -> datetime | float | None:
    if series.start is None:
        return None
    if series.interval:
        step = k * series.interval
        if isinstance(series.start, datetime):
            return series.start + timedelta(seconds=step)
        return series.start + step
    return series.start if k == 0 else None


def _fields(tif: Any) -> dict:
    fei = tif.fei_metadata or {}
    return {
        "exposure": None,
        "voltage": as_float(get_path(fei, "Beam", "HV")) or None,
        "magnification": None,
        "camera": get_path(fei, "Detectors", "Name"),
    }


def _metadata(tif: Any) -> dict:
    page = tif.pages.first
    tags = {}
    for tag in page.tags:
        value = tag.value
        # Offsets, byte counts and private binary tags are file layout, not metadata.
        if isinstance(value, (tuple, list, np.ndarray)) and len(value) > _MAX_TAG_ITEMS:
            continue
        tags[tag.name] = value
    extra = {
        name: getattr(tif, f"{name}_metadata")
        for name in ("imagej", "fei", "sem", "shaped")
        if getattr(tif, f"is_{name}", False)
    }
    return to_jsonable({"tiff_tags": tags, **extra})
