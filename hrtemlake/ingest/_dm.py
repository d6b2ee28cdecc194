"""DigitalMicrograph (.dm3 / .dm4) files to frame records, through RosettaSciIO."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hrtemlake.ingest._metadata import (
    as_float,
    classify_length_unit,
    filetime_to_utc,
    get_path,
    local_time_with_subseconds,
    parse_date_time,
    to_jsonable,
)
from hrtemlake.ingest._types import FrameReadError, FrameRecord, UnknownUnitError, dtype_rejection

# Top-level DM tag groups that only hold GUI state (window layout, colour tables, printer
# settings as binary blobs, thumbnails); the science lives in ImageList.
_GUI_GROUPS = frozenset(
    {
        "ApplicationBounds",
        "DocumentObjectList",
        "HasWindowPosition",
        "Image Behavior",
        "ImageSourceList",
        "InImageMode",
        "LayoutType",
        "MinVersionList",
        "NextDocumentObjectID",
        "Page Behavior",
        "PageSetup",
        "SentinelList",
        "Thumbnails",
        "WindowPosition",
    }
)

_EXPOSURE_S = (
    ("Acquisition", "Parameters", "High Level", "Exposure (s)"),
    ("Acquisition", "Parameters", "Detector", "exposure (s)"),
    ("DataBar", "Exposure Time (s)"),
)
_EXPOSURE_NS = (("Acquisition", "Frame", "Sequence", "Exposure Time (ns)"),)
_CAMERA = (
    ("Acquisition", "Device", "Name"),
    ("DataBar", "Device Name"),
    ("Acquisition", "Device", "Source"),
)


@dataclass
class _Signal:
    """One 2-D image signal of a DM file, validated and ready to stream."""

    index: int
    data: Any  # dask array (..., y, x)
    pixel_size: tuple[float, float] | None
    fields: dict
    times: list[tuple[datetime | None, str | None]]
    metadata: dict
    notes: tuple[str, ...]
    data_offset: int | None = None  # where the pixels start in the file (C order)


def open_dm(path: Path, *, allow_diffraction: bool, dayfirst: bool) -> list[_Signal]:
    """Parse a DM file's tags and validate its image signals; no pixel data is read."""
    raw = _file_reader(path)
    accepted, skipped = [], []
    for index, signal in enumerate(raw):
        reason = _rejection(path, signal, allow_diffraction)
        (skipped if reason else accepted).append((index, reason or signal))
    if not accepted:
        raise FrameReadError(path, "no readable 2-D image: " + "; ".join(_describe(skipped)))
    accepted = _with_frame_chunks(path, accepted)
    notes = _multi_signal_notes(len(raw), accepted, skipped)
    return [_prepare(path, index, signal, notes, dayfirst) for index, signal in accepted]


def iter_dm(path: Path, signals: list[_Signal]) -> Iterator[FrameRecord]:
    """Yield one lazy record per frame of the validated signals."""
    position = 0
    for signal in signals:
        nav_shape = signal.data.shape[:-2]
        for k in range(math.prod(nav_shape)):
            frame = signal.data[np.unravel_index(k, nav_shape)] if nav_shape else signal.data
            time, time_source = signal.times[k]
            reader = None
            if signal.data_offset is not None:
                offset = signal.data_offset + k * frame.dtype.itemsize * math.prod(frame.shape)
                reader = _FrameBytes(path, offset, frame.dtype, tuple(frame.shape))
            yield FrameRecord(
                data=frame,
                pixel_size=signal.pixel_size,
                time=time,
                time_source=time_source,
                source=path,
                index_in_file=position,
                signal_index=signal.index,
                metadata=signal.metadata,
                notes=signal.notes,
                reader=reader,
                **signal.fields,
            )
            position += 1


@dataclass(frozen=True)
class _FrameBytes:
    """Reads one frame's bytes from a DM file: no Dask graph, nothing else of the file."""

    path: Path
    offset: int
    dtype: np.dtype
    shape: tuple[int, int]

    def __call__(self, out: np.ndarray | None = None) -> np.ndarray:
        count = math.prod(self.shape)
        direct = (out is not None and out.dtype == self.dtype and out.shape == self.shape
                  and out.flags.c_contiguous)  # fmt: skip
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            if direct:  # straight into the caller's buffer: no temporary frame
                complete = fh.readinto(memoryview(out).cast("B")) == out.nbytes
            else:
                data = np.fromfile(fh, dtype=self.dtype, count=count)
                complete = data.size == count
        if not complete:
            raise FrameReadError(self.path, "file ends early (truncated) while reading a frame")
        if direct:
            return out
        data = data.reshape(self.shape)
        if out is None:
            return data
        np.copyto(out, data, casting="unsafe")
        return out


# -- parsing ------------------------------------------------------------------------------


def _file_reader(path: Path, chunks: Any = "auto") -> list[dict]:
    try:
        from rsciio.digitalmicrograph import file_reader
    except ImportError as exc:  # the `exp` extra is missing
        raise FrameReadError(path, f"reading DM files needs RosettaSciIO ({exc})") from exc
    try:
        direct = _direct_signals(path)
    except Exception:  # a damaged file, or internals that moved: the public reader decides
        direct = None
    try:
        return direct or file_reader(str(path), lazy=True, chunks=chunks)
    except (struct.error, EOFError) as exc:
        reason = f"file ends early or its tag tree is corrupt (truncated?): {exc}"
    except NotImplementedError as exc:
        reason = f"not a readable DigitalMicrograph 3/4 file: {exc}"
    except ValueError as exc:
        reason = (
            "RGB(A) colour image (DM data type 8/23): a rendered picture, not detector counts"
            if "RGBA" in str(exc)
            else f"cannot parse as DigitalMicrograph: {exc}"
        )
    except Exception as exc:  # rsciio raises many types on corrupt input
        reason = f"cannot parse as DigitalMicrograph ({type(exc).__name__}: {exc})"
    raise FrameReadError(path, reason)


def _direct_signals(path: Path) -> list[dict] | None:
    """The signals ``file_reader`` would return, their pixels memory-mapped; None if any
    image needs RosettaSciIO's own decoding (packed complex, RGB, inline data) or lies past
    the end of the file.

    RosettaSciIO's ``file_reader`` parses the tags with its ``DigitalMicrographReader`` and
    then, per image, deep-copies the whole tag tree twice, maps HyperSpy metadata and builds
    a Dask array: together as much time again as the parse, and more than a 1024² frame
    takes to ingest.  Ingest reads pixels at known offsets and keeps the tags as they are,
    so here the same reader's parse is followed only by what ingest uses.  The result is
    tested to equal ``file_reader``'s on every test file (``tests/ingest``).
    """
    try:
        from rsciio.digitalmicrograph._api import DigitalMicrographReader, ImageObject
    except ImportError:  # a RosettaSciIO without them: its public reader does it all
        return None
    with open(path, "rb") as fh:
        reader = DigitalMicrographReader(fh)
        reader.parse_file()
        images = [ImageObject(d, fh) for d in reader.get_image_dictionaries() or []]
    tags = {k: v for k, v in reader.tags_dict.items() if k != "ImageList"}
    size = path.stat().st_size
    signals = []
    for image in images:
        block = image.imdict.ImageData.get("Data")
        if not isinstance(block, dict) or "offset" not in block:
            return None
        if int(image.imdict.ImageData.DataType) in _DECODED_TYPES:
            return None
        dtype = np.dtype(image.dtype)
        if int(block["offset"]) + math.prod(image.shape) * dtype.itemsize > size:
            return None  # truncated: the public reader's path reports it
        pixels = np.memmap(path, dtype=dtype, mode="r", offset=int(block["offset"]),
                           shape=image.shape, order="C")  # fmt: skip
        signals.append({
            "data": pixels,
            "axes": image.get_axes_dict(),
            "original_metadata": {**tags, "ImageList": {"TagGroup0": image.imdict.to_dict()}},
        })  # fmt: skip
    return signals or None


#: DM data types that RosettaSciIO decodes while reading (packed complex, RGB(A)).
_DECODED_TYPES = frozenset({5, 8, 23, 27, 28})


def _rejection(path: Path, signal: dict, allow_diffraction: bool) -> str | None:
    """Why a signal is not a readable 2-D image, or None when it is."""
    shape = tuple(signal["data"].shape)
    n_signal_axes = [axis.get("navigate", False) for axis in signal["axes"]].count(False)
    if n_signal_axes != 2:
        return f"{n_signal_axes}-D signal of shape {shape} (a spectrum or plot), not a 2-D image"
    if any(axis.get("navigate", False) for axis in signal["axes"][-2:]):
        return f"signal of shape {shape} whose image axes are not the last two"
    reason = dtype_rejection(np.dtype(signal["data"].dtype))
    if reason is None and _calibration(path, signal["axes"])[0] == "reciprocal":
        if not allow_diffraction:
            units = [axis.get("units") for axis in signal["axes"][-2:]]
            return (
                f"reciprocal-space calibration {units}: a diffraction pattern, not a "
                "real-space image (pass allow_diffraction=True to read it)"
            )
    return reason or _truncation(path, signal)


def _truncation(path: Path, signal: dict) -> str | None:
    block = get_path(_image_group(signal), "ImageData", "Data")
    if not isinstance(block, dict) or "offset" not in block:
        return None  # small arrays are held inline in the tags, already parsed
    end = int(block["offset"]) + int(block.get("size_bytes", 0))
    size = path.stat().st_size
    if end > size:
        return f"file ends early (truncated): the image needs {end} bytes, the file has {size}"
    return None


def _with_frame_chunks(path: Path, accepted: list) -> list:
    """Re-open stacks with one chunk per frame so a frame never reads its neighbours.

    Only the leading axis is split; a 4-D series (rare) reads a row of frames per frame.
    """
    stacked = [i for i, sig in accepted if sig["data"].ndim > 2 and _chunk_rows(sig["data"]) > 1]
    if not stacked:
        return accepted
    per_frame = _file_reader(path, chunks={0: 1})
    return [(i, per_frame[i] if i in stacked else sig) for i, sig in accepted]


def _chunk_rows(data: Any) -> int:
    """Frames per chunk along the leading axis (1 for a memory map: no chunks to split)."""
    chunks = getattr(data, "chunks", None)
    return max(chunks[0]) if chunks else 1


def _describe(skipped: list) -> list[str]:
    return [f"signal {index}: {reason}" for index, reason in skipped]


def _multi_signal_notes(n_signals: int, accepted: list, skipped: list) -> tuple[str, ...]:
    if n_signals == 1:
        return ()
    read = ", ".join(f"{i} (shape {tuple(sig['data'].shape)})" for i, sig in accepted)
    text = f"file holds {n_signals} signals; read image signal(s) {read}"
    if skipped:
        text += "; skipped " + "; ".join(_describe(skipped))
    return (text,)


# -- one signal ----------------------------------------------------------------------------


def _image_group(signal: dict) -> dict:
    # rsciio puts the signal's own image dictionary at ImageList.TagGroup0
    return get_path(signal["original_metadata"], "ImageList", "TagGroup0", default={})


def _prepare(path: Path, index: int, signal: dict, notes: tuple, dayfirst: bool) -> _Signal:
    image = _image_group(signal)
    own_tags = get_path(image, "ImageTags", default={})
    # StackBuilder stacks keep the acquisition tags of the first frame under "source".
    acq_tags = get_path(own_tags, "source", "Tags at creation", default=own_tags)
    kind, pixel_size, calib_note = _pixel_size(path, signal["axes"])
    n_frames = math.prod(signal["data"].shape[:-2])
    times, time_notes = _frame_times(own_tags, acq_tags, n_frames, dayfirst)
    fields, field_notes = _fields(acq_tags, diffraction=kind == "reciprocal")
    metadata = to_jsonable(
        {k: v for k, v in signal["original_metadata"].items() if k not in _GUI_GROUPS}
    )
    all_notes = notes + tuple(n for n in (calib_note, *time_notes, *field_notes) if n)
    return _Signal(index, signal["data"], pixel_size, fields, times, metadata, all_notes,
                   _data_offset(signal))  # fmt: skip


def _data_offset(signal: dict) -> int | None:
    """File offset of a signal's pixels when they can be read directly, else None."""
    block = get_path(_image_group(signal), "ImageData", "Data")
    dtype = np.dtype(signal["data"].dtype)
    if not isinstance(block, dict) or "offset" not in block or dtype.kind not in "iuf":
        return None  # inline (small) data, or a type rsciio converts while reading
    expected = math.prod(signal["data"].shape) * dtype.itemsize
    if int(block.get("size_bytes", expected)) != expected:
        return None
    return int(block["offset"])


def _calibration(path: Path, axes: list[dict]) -> tuple[str, list]:
    """Kind of the (y, x) calibration and the per-axis (kind, factor) pairs."""
    pairs = []
    for axis in axes[-2:]:
        try:
            pairs.append(classify_length_unit(axis.get("units")))
        except ValueError:
            raise UnknownUnitError(path, str(axis.get("units"))) from None
    kinds = {kind for kind, _ in pairs}
    if "reciprocal" in kinds:
        return "reciprocal", pairs
    return ("length" if kinds == {"length"} else "uncalibrated"), pairs


def _pixel_size(path: Path, axes: list[dict]) -> tuple[str, tuple | None, str | None]:
    kind, pairs = _calibration(path, axes)
    units = [axis.get("units") or "" for axis in axes[-2:]]
    if kind == "reciprocal":
        return kind, None, f"diffraction pattern (calibration {units}); pixel_size is None"
    if kind != "length":
        return kind, None, f"no real-space pixel calibration (units {units}); pixel_size is None"
    sizes = tuple(float(axis["scale"]) * factor for axis, (_, factor) in zip(axes[-2:], pairs))
    if not all(math.isfinite(s) and s > 0 for s in sizes):
        return kind, None, f"invalid pixel calibration {sizes} Å; pixel_size is None"
    return kind, sizes, None


def _first(tags: dict, paths: tuple) -> Any:
    for keys in paths:
        value = get_path(tags, *keys)
        if value is not None:
            return value
    return None


def _fields(tags: dict, diffraction: bool) -> tuple[dict, list[str]]:
    notes = []
    exposure = as_float(_first(tags, _EXPOSURE_S))
    if exposure is None and (ns := as_float(_first(tags, _EXPOSURE_NS))) is not None:
        exposure = ns * 1e-9
    voltage = as_float(get_path(tags, "Microscope Info", "Voltage"))
    if voltage is not None and 0 < voltage < 1000:
        notes.append(f"voltage {voltage} read as kV")
        voltage *= 1e3
    # In diffraction mode DM's "Indicated Magnification" holds the camera length.
    magnification = None if diffraction else as_float(
        get_path(tags, "Microscope Info", "Indicated Magnification")
    )
    camera = _first(tags, _CAMERA)
    fields = {
        "exposure": exposure if exposure and exposure > 0 else None,
        "voltage": voltage or None,
        "magnification": magnification or None,
        "camera": str(camera) if camera is not None else None,
    }
    return fields, notes


# -- times ---------------------------------------------------------------------------------


def _file_time(tags: dict, dayfirst: bool) -> tuple[datetime | None, str | None]:
    date = get_path(tags, "DataBar", "Acquisition Date")
    clock = get_path(tags, "DataBar", "Acquisition Time")
    local = parse_date_time(date, clock, dayfirst)
    filetime = as_float(get_path(tags, "DataBar", "Acquisition Time (OS)"))
    if local is not None:
        refined = local_time_with_subseconds(local, filetime)
        if refined is not None:
            return refined, "DataBar + Acquisition Time (OS)"
        return local, "DataBar"
    if filetime is not None:
        return filetime_to_utc(filetime).replace(tzinfo=None), "Acquisition Time (OS), UTC"
    return None, None


def _plane_times(own_tags: dict, day: datetime, n: int) -> list | None:
    """StackBuilder's per-plane wall-clock times on the acquisition day, or None."""
    planes = get_path(own_tags, "plane info")
    if not isinstance(planes, dict):
        return None
    times, previous = [], None
    for k in range(n):
        clock = get_path(planes, f"TagGroup{k}", "added @ time")
        moment = parse_date_time(day.strftime("%Y-%m-%d"), clock, dayfirst=False)
        if moment is None:
            return None
        while previous is not None and moment < previous:  # crossed midnight
            moment += timedelta(days=1)
        times.append(moment)
        previous = moment
    return times


def _frame_times(own_tags: dict, acq_tags: dict, n: int, dayfirst: bool) -> tuple[list, list]:
    start, source = _file_time(acq_tags, dayfirst)
    if start is None:
        return [(None, None)] * n, ["no acquisition time in the metadata"]
    if n == 1:
        return [(start, source)], []
    planes = _plane_times(own_tags, start, n)
    if planes is not None:
        return [(t, "StackBuilder plane info (time the plane was added)") for t in planes], []
    note = "stack without per-frame times: only frame 0 has a time (the stack's acquisition time)"
    return [(start, source)] + [(None, None)] * (n - 1), [note]
