"""Experimental series into the lake: stream frames, quarantine bad files, append only new ones.

:func:`ingest_series` reads DigitalMicrograph and TIFF files (single images, stacks, GMS
folder trees such as ``Hour_00/Minute_*/Second_*/*.dm4``) with :func:`read_frames` and
appends their frames to ``experiments/<series>`` (the ``frames`` group of the catalog).
:class:`ExperimentalSeries` reads a series back for notebooks.

Decisions
---------
Frame identity (idempotence)
    ``source`` holds the file's absolute path for a file with one frame, and ``path#k`` for
    frame ``k`` (its ``index_in_file``) of a file with several (stacks, multi-image DM files).
    A rerun skips every frame whose key is already in ``source`` (without opening
    single-frame files again, so watching a folder of 10 000 files stays cheap) and appends
    only the rest: a folder that grew, or a stack file that grew. A single-frame file is
    never read again, even if it later grows into a stack; ingested frames are never
    replaced.
Quarantine
    A file that cannot be read (truncated, corrupt, unsupported, a spectrum, a diffraction
    pattern, no pixel calibration, ...) gets one entry (``source`` = its path); a frame of a
    readable file that does not fit the series (shape, pixel size, time) gets one entry
    under its key. The reason ends with the file's signature, ``[file: <size> B, modified
    <mtime, UTC>]``: a rerun skips a quarantined file or frame whose file is unchanged (no
    second entry) and reads it again when the file changed (e.g. it was still being
    written). Entries are history: they stay when a later run ingests the fixed file.
    The table lives inside the series' frames group, which the lake cannot yet create
    around an existing child group: a first run that finds no good frame for a new series
    reports its bad files (result, exit status) but writes nothing, and the next run reads
    them again.
Options
    ``pixel_size``, ``allow_diffraction`` and ``dayfirst`` are the series' parameters: a
    run with other values is refused before anything is read.
Series consistency
    The first frame ingested fixes the series' frame shape, pixel size (y, x) [Å] (the ``y``
    and ``x`` coordinates) and time axis. Later frames must have the same shape and pixel
    size (relative tolerance :data:`PIXEL_SIZE_RTOL`), else they are quarantined.
Time axis (attribute ``time_source`` says which)
    ``acquisition``: seconds since the first frame's acquisition time (attribute
    ``time_origin``, the microscope PC's clock) when the series' first file has an absolute
    acquisition time for its first two frames (or its only frame). Later frames without
    one are quarantined, since they cannot be placed on that axis; put them in a series of
    their own. ``interval``: seconds since the first frame of the first file when it only
    has relative times (ImageJ ``finterval``); frames of other files are quarantined.
    ``index``: otherwise the frame's position in the series (file order), for every frame.
Calibration
    Pixel sizes come from the files (pm, Å, nm, µm, ... converted to Å). Frames without a
    real-space calibration are quarantined unless ``pixel_size`` is given, which then
    applies to those frames only (diffraction patterns, read with ``allow_diffraction``,
    have none: their x/y are then in the units of the ``pixel_size`` given).
Streaming
    Frames are read one at a time, straight into one of two reusable float32 batch buffers
    (up to ``batch_frames`` frames and ``batch_bytes``: 16 frames, 64 MiB by default), and
    appended batch by batch; a background thread writes one batch while the next is read.
    Peak memory is about two batches, whatever the number of frames. The file's original
    metadata (JSON) is stored with every frame in ``metadata``.
One writer at a time
    Appends are not safe from two processes at once: run one ingest per series at a time
    (a Prefect deployment with a concurrency limit of 1).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hrtemlake.errors import LakeError, ParameterError
from hrtemlake.ingest.readers import FrameReadError, FrameRecord, discover, read_frames
from hrtemlake.lake import Lake, as_lake
from hrtemlake.lake.schema import WRITE_SESSION

__all__ = [
    "PIXEL_SIZE_RTOL",
    "IngestProgress",
    "IngestResult",
    "Quarantined",
    "ingest_series",
    "frame_key",
    "parse_key",
    "ExperimentalSeries",
    "load_series",
]

#: Relative difference of pixel sizes still counted as the same calibration.
PIXEL_SIZE_RTOL = 1e-3

_KEY = re.compile(r"^(?P<path>.+\.(?:dm3|dm4|tif|tiff))#(?P<index>\d+)$", re.IGNORECASE)
_SIGNATURE = re.compile(r" \[file: (?P<size>\d+) B, modified (?P<mtime>[^\]]+)\]$")


# -- keys and signatures -------------------------------------------------------------------


def frame_key(path: str | os.PathLike, index: int, single: bool) -> str:
    """The ``source`` of a frame: the absolute path, plus ``#index`` for multi-frame files."""
    text = os.path.normpath(os.path.abspath(path))
    return text if single else f"{text}#{index}"


def parse_key(key: str) -> tuple[str, int]:
    """(path, index_in_file) of a ``source`` key; a bare path is frame 0 of its file."""
    match = _KEY.match(key)
    return (match["path"], int(match["index"])) if match else (key, 0)


def _signature(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return " [file: 0 B, modified unknown]"
    mtime = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC)
    return f" [file: {stat.st_size} B, modified {mtime.isoformat(timespec='microseconds')}]"


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarantined:
    """A file or frame recorded in the quarantine table: its ``source`` and ``reason``."""

    source: str
    reason: str


@dataclass(frozen=True)
class IngestProgress:
    """Where a running ingest is, passed to the ``progress`` callback after each batch."""

    files_done: int
    files_total: int
    frames: int
    quarantined: int


@dataclass
class IngestResult:
    """What one :func:`ingest_series` run did.

    Attributes
    ----------
    series : str
    files : int
        Frame files found under the given paths.
    frames : int
        Frames appended by this run.
    quarantined : list of Quarantined
        Entries recorded by this run.
    already_ingested : int
        Frames (or single-frame files) skipped because they are already in the series.
    unchanged_quarantined : int
        Quarantined files or frames skipped because their file has not changed.
    total_frames : int
        Frames in the series after the run.
    time_source : str or None
        The series' time axis (its ``time_source`` attribute).
    notes : list of str
        Remarks of the readers (skipped signals, missing metadata), one per file.
    bytes_read : int
        Pixel bytes read, in the files' own data types.
    seconds : float
        Wall-clock time of the run.
    """

    series: str
    files: int = 0
    frames: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    already_ingested: int = 0
    unchanged_quarantined: int = 0
    total_frames: int = 0
    time_source: str | None = None
    notes: list[str] = field(default_factory=list)
    bytes_read: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: frames ingested and quarantined, what was skipped, the time axis."""
        text = (
            f"{self.series}: {self.frames} frame(s) ingested, {len(self.quarantined)} "
            f"quarantined from {self.files} file(s)"
        )
        skipped = []
        if self.already_ingested:
            skipped.append(f"{self.already_ingested} already in the lake")
        if self.unchanged_quarantined:
            skipped.append(f"{self.unchanged_quarantined} unchanged in quarantine")
        if skipped:
            text += f" ({', '.join(skipped)})"
        text += f"; {self.total_frames} frame(s) in the series"
        if self.bytes_read >= 1e6 and self.seconds > 0:
            text += f"; {self.bytes_read / 1e6 / self.seconds:.0f} MB/s"
        return text


# -- the series as stored ---------------------------------------------------------------------


@dataclass
class _Reference:
    """What the first frame fixed: shape, pixel size and time axis."""

    shape: tuple[int, int]
    pixel_size: tuple[float, float]
    mode: str  # "acquisition" | "interval" | "index"
    time_source: str
    origin: datetime | None = None
    origin_file: str | None = None

    def attrs(self) -> dict[str, Any]:
        return {
            "time_source": self.time_source,
            "time_axis": self.mode,
            "time_origin": self.origin.isoformat() if self.origin else None,
            "time_origin_file": self.origin_file,
            "pixel_size": list(self.pixel_size),
        }

    @classmethod
    def from_group(cls, group: Any) -> _Reference:
        attrs = group.attrs
        y, x = group["y"][:], group["x"][:]
        spacing = [float(c[1] - c[0]) if c.size > 1 else 1.0 for c in (y, x)]
        origin = attrs.get("time_origin")
        return cls(
            shape=(y.size, x.size),
            pixel_size=tuple(attrs.get("pixel_size", spacing)),
            mode=attrs.get("time_axis", "index"),
            time_source=attrs.get("time_source", "frame index"),
            origin=datetime.fromisoformat(origin) if origin else None,
            origin_file=attrs.get("time_origin_file"),
        )


def _complete(lake: Lake, kind: str, names: list[str], series: str) -> dict[str, np.ndarray]:
    """The complete prefix of some variables of an append group (empty when absent)."""
    if not lake.exists(kind, series=series):
        return {name: np.array([], dtype=object) for name in names}
    done = lake.read(kind, WRITE_SESSION, series=series) > 0
    n = done.size if done.all() else int(np.argmin(done))
    return {name: lake.read(kind, name, slice(0, n), series=series) for name in names}


@dataclass
class _State:
    """Frames and quarantine entries already in the lake."""

    n_frames: int
    ingested: set[tuple[str, int]]
    single: set[str]
    quarantined: dict[str, set[str]]
    reference: _Reference | None

    @classmethod
    def load(cls, lake: Lake, series: str) -> _State:
        sources = _complete(lake, "frames", ["source"], series)["source"]
        ingested = {parse_key(str(s)) for s in sources}
        single = {str(s) for s in sources if not _KEY.match(str(s))}
        entries = _complete(lake, "quarantine", ["source", "reason"], series)
        quarantined: dict[str, set[str]] = {}
        for source, reason in zip(entries["source"], entries["reason"]):
            match = _SIGNATURE.search(str(reason))
            if match:
                quarantined.setdefault(str(source), set()).add(match.group(0))
        reference = None
        if lake.exists("frames", series=series):
            reference = _Reference.from_group(lake.group("frames", series=series))
        return cls(len(sources), ingested, single, quarantined, reference)


# -- reading files ---------------------------------------------------------------------------


class _FileFrames:
    """The frames of one file with a one-frame look-ahead; read errors end it, kept in `error`.

    Any exception while reading becomes a :class:`FrameReadError` (a watched folder must
    not stop the ingest on a reader bug or an I/O error), so the caller can quarantine it.
    """

    def __init__(self, path: Path, options: dict[str, Any]):
        self.path = path
        self.options = options
        self.error: FrameReadError | None = None

    def _guard(self, exc: Exception) -> None:
        if isinstance(exc, FrameReadError):
            self.error = exc
        else:
            self.error = FrameReadError(self.path, f"cannot be read ({type(exc).__name__}: {exc})")

    def __iter__(self) -> Iterator[tuple[FrameRecord, FrameRecord | None]]:
        """(record, the file's next record or None)."""
        try:
            records = read_frames(self.path, **self.options)
            current = next(records, None)
        except Exception as exc:  # noqa: BLE001 — quarantined with the reason
            self._guard(exc)
            return
        while current is not None:
            try:
                following = next(records, None)
            except Exception as exc:  # noqa: BLE001
                self._guard(exc)
                following = None
            yield current, following
            if self.error is not None:
                return
            current = following

    def load(self, record: FrameRecord, out: np.ndarray) -> np.ndarray | None:
        try:
            return record.load(out)
        except Exception as exc:  # noqa: BLE001
            self._guard(exc)
            return None


# -- writing ---------------------------------------------------------------------------------


class _Appender:
    """Appends batches from one background thread; at most one batch in flight."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-append")
        self._pending: Future | None = None

    def submit(self, fn: Callable[[], Any]) -> None:
        self.wait()
        self._pending = self._pool.submit(fn)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


class _Batch:
    """A reusable float32 buffer of frames and their per-frame variables."""

    def __init__(self, capacity: int, shape: tuple[int, int]):
        self.frames = np.empty((capacity, *shape), np.float32)
        self.clear()

    def clear(self) -> None:
        self.n = 0
        self.values: dict[str, list] = {k: [] for k in _PER_FRAME}

    @property
    def full(self) -> bool:
        return self.n == len(self.frames)

    def slot(self) -> np.ndarray:
        """Where the next frame goes (filled by the reader, kept by :meth:`add`)."""
        return self.frames[self.n]

    def add(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            self.values[name].append(value)
        self.n += 1

    def arrays(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frame": self.frames[: self.n]}
        for name, values in self.values.items():
            if name in ("source", "camera", "metadata"):
                out[name] = np.array(values, dtype=str)
            else:
                out[name] = np.array(values, dtype=np.float64)
        return out


_PER_FRAME = ("time", "source", "exposure", "voltage", "magnification", "camera", "metadata")


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


# -- the ingest ------------------------------------------------------------------------------


class _Ingest:
    """One run of :func:`ingest_series` (state between files and batches)."""

    def __init__(self, lake: Lake, series: str, parameters: dict, options: dict, *,
                 pixel_size: tuple[float, float] | None, rtol: float, batch_frames: int,
                 batch_bytes: int, progress: Callable[[IngestProgress], None] | None):  # fmt: skip
        self.lake = lake
        self.series = series
        self.parameters = parameters
        self.options = options
        self.pixel_size = pixel_size
        self.rtol = rtol
        self.batch_frames = batch_frames
        self.batch_bytes = batch_bytes
        self.progress = progress
        self.state = _State.load(lake, series)
        reference = self.state.reference
        self.result = IngestResult(series, time_source=reference.time_source if reference else None)
        self.appender = _Appender()
        self.frames_writer = None
        self.quarantine_writer = None
        self.batches: list[_Batch] = []
        self.batch: _Batch | None = None
        self.pending_quarantine: list[tuple[str, str, str]] = []
        self.files_done = 0
        self._json: tuple[dict, str] | None = None

    # per file
    def file(self, path: Path) -> None:
        bare = frame_key(path, 0, single=True)
        if bare in self.state.single:
            self.result.already_ingested += 1
            return
        signature = _signature(path)
        if signature in self.state.quarantined.get(bare, ()):
            self.result.unchanged_quarantined += 1
            return
        frames = _FileFrames(path, self.options)
        noted = False
        for record, following in frames:
            single = record.index_in_file == 0 and following is None and frames.error is None
            key = frame_key(path, record.index_in_file, single)
            if parse_key(key) in self.state.ingested:
                self.result.already_ingested += 1
                continue
            if signature in self.state.quarantined.get(key, ()):
                self.result.unchanged_quarantined += 1
                continue
            if record.notes and not noted:
                self.result.notes.append(f"{path}: {'; '.join(record.notes)}")
                noted = True
            reason, values = self._check(path, key, record, following)
            if reason is not None:
                self._quarantine(key, reason, signature)
                continue
            data = frames.load(record, self._slot())
            if data is None:
                break
            self._add(key, record, values)
        if frames.error is not None:
            self._quarantine(bare, frames.error.reason, signature)
        self.files_done += 1

    def _check(self, path: Path, key: str, record: FrameRecord, following: FrameRecord | None):
        pixel_size = record.pixel_size or self.pixel_size
        if pixel_size is None:
            why = "; ".join(n for n in record.notes if "calibration" in n or "diffraction" in n)
            return (f"no real-space pixel calibration{f' ({why})' if why else ''}; pass "
                    "pixel_size (--pixel-size) to ingest uncalibrated frames"), None  # fmt: skip
        shape = tuple(record.shape)
        if len(shape) != 2:
            return f"frame of shape {shape} is not a 2-D image", None
        reference = self.state.reference
        if reference is None:
            reference = self.state.reference = self._reference(path, record, following, pixel_size)
            self.result.time_source = reference.time_source
        if shape != reference.shape:
            return f"frame shape {shape} differs from the series' {reference.shape}", None
        if not np.allclose(pixel_size, reference.pixel_size, rtol=self.rtol, atol=0):
            size = ", ".join(f"{s:.5g}" for s in pixel_size)
            ref = ", ".join(f"{s:.5g}" for s in reference.pixel_size)
            return f"pixel size ({size}) Å differs from the series' ({ref}) Å", None
        seconds, reason = self._time(path, record, reference)
        if reason is not None:
            return reason, None
        values = {
            "time": seconds,
            "source": key,
            "exposure": _or_nan(record.exposure),
            "voltage": _or_nan(record.voltage),
            "magnification": _or_nan(record.magnification),
            "camera": record.camera or "",
            "metadata": self._metadata_json(record.metadata),
        }
        return None, values

    def _reference(self, path, record, following, pixel_size) -> _Reference:
        shape = tuple(record.shape)
        size = tuple(float(s) for s in pixel_size)
        t, t_next = record.time, following.time if following is not None else None
        if isinstance(t, datetime) and (following is None or isinstance(t_next, datetime)):
            source = (f"acquisition time: seconds since the first frame, acquired "
                      f"{t.isoformat()} (microscope PC clock; {record.time_source})")  # fmt: skip
            return _Reference(shape, size, "acquisition", source, origin=t)
        if isinstance(t, float) and (following is None or isinstance(t_next, float)):
            file = frame_key(path, 0, single=True)
            source = f"seconds since the first frame of {file} (from {record.time_source})"
            return _Reference(shape, size, "interval", source, origin_file=file)
        why = (f"the first file, {path}, has no acquisition time" if t is None
               else f"only the first frame of {path} has an acquisition time")  # fmt: skip
        return _Reference(shape, size, "index", f"frame index (file order): {why}")

    def _time(self, path: Path, record: FrameRecord, ref: _Reference) -> tuple[float, str | None]:
        t = record.time
        if ref.mode == "acquisition":
            if isinstance(t, datetime):
                return (t - ref.origin).total_seconds(), None
            return math.nan, ("no acquisition time, but the series' time axis is acquisition "
                              "time; ingest this file into a series of its own")  # fmt: skip
        if ref.mode == "interval":
            if isinstance(t, float) and frame_key(path, 0, single=True) == ref.origin_file:
                return t, None
            return math.nan, (f"its frame times cannot be placed on the series' time axis "
                              f"(seconds within {ref.origin_file}); ingest it into a series "
                              "of its own")  # fmt: skip
        return float(self.state.n_frames + self.result.frames + self._batched()), None

    def _batched(self) -> int:
        return self.batch.n if self.batch is not None else 0

    def _metadata_json(self, metadata: dict) -> str:
        # records of one file share their metadata dict: serialise it once
        if self._json is None or self._json[0] is not metadata:
            self._json = (metadata, json.dumps(metadata, separators=(",", ":"), ensure_ascii=False))
        return self._json[1]

    # batches
    def _slot(self) -> np.ndarray:
        if self.batch is None:
            shape = self.state.reference.shape
            per_frame = 4 * shape[0] * shape[1]
            capacity = max(1, min(self.batch_frames, self.batch_bytes // per_frame))
            self.batches = [_Batch(capacity, shape), _Batch(capacity, shape)]
            self.batch = self.batches[0]
        return self.batch.slot()

    def _add(self, key: str, record: FrameRecord, values: dict) -> None:
        self.batch.add(values)
        self.state.ingested.add(parse_key(key))
        self.result.bytes_read += math.prod(record.shape) * np.dtype(record.data.dtype).itemsize
        if self.batch.full:
            self.flush()

    def flush(self) -> None:
        batch = self.batch
        if batch is not None and batch.n:
            values = batch.arrays()
            writer = self._frames_writer()
            self.appender.submit(lambda: writer.append(values))
            self.result.frames += batch.n
            self.batch = self.batches[1] if batch is self.batches[0] else self.batches[0]
            self.batch.clear()  # the appender finished with it before accepting `batch`
        if self.pending_quarantine:
            self._write_quarantine()
        if self.progress is not None:
            self.progress(IngestProgress(self.files_done, self.result.files, self.result.frames,
                                         len(self.result.quarantined)))  # fmt: skip

    def _frames_writer(self):
        if self.frames_writer is None:
            ref = self.state.reference
            (ny, nx), (dy, dx) = ref.shape, ref.pixel_size
            self.frames_writer = self.lake.writer(
                "frames", series=self.series, parameters=self.parameters,
                coords={"y": np.arange(ny) * dy, "x": np.arange(nx) * dx}, attrs=ref.attrs(),
            )  # fmt: skip
        return self.frames_writer

    def _quarantine(self, source: str, reason: str, signature: str) -> None:
        self.result.quarantined.append(Quarantined(source, reason))
        self.state.quarantined.setdefault(source, set()).add(signature)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.pending_quarantine.append((source, reason + signature, now))

    def _write_quarantine(self) -> None:
        entries, self.pending_quarantine = self.pending_quarantine, []
        if self.quarantine_writer is None:
            self.quarantine_writer = self.lake.writer("quarantine", series=self.series)
        writer = self.quarantine_writer
        columns = zip(("source", "reason", "time_utc"), zip(*entries))
        values = {name: np.array(column, dtype=str) for name, column in columns}
        self.appender.submit(lambda: writer.append(values))

    def finish(self) -> None:
        try:
            self.flush()
        finally:
            self.appender.close()
        self.result.total_frames = self.state.n_frames + self.result.frames

    def abort(self) -> None:
        """Stop after an error or an interrupt: finish the append in flight, drop the rest."""
        self.appender.close()


def ingest_series(
    lake: Lake | str | os.PathLike | None,
    series: str,
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    pixel_size: float | tuple[float, float] | None = None,
    allow_diffraction: bool = False,
    dayfirst: bool = False,
    rtol: float = PIXEL_SIZE_RTOL,
    batch_frames: int = 16,
    batch_bytes: int = 64 * 2**20,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestResult:
    """Append the new frames of DM / TIFF files and folders to ``experiments/<series>``.

    Bad files and misfit frames are recorded in ``experiments/<series>/quarantine`` with the
    reason, and the ingest carries on; nothing already in the lake is changed. Rerunning on
    a grown folder appends only the new frames. See the module notes for the rules.

    Parameters
    ----------
    lake : Lake or str or os.PathLike or None
        A lake opened with ``mode="a"``, or its location (default ``$HRTEMLAKE_LAKE``).
    series : str
        Series name.
    paths : path or iterable of paths
        Files and folders (searched recursively; see :func:`hrtemlake.ingest.discover`).
    pixel_size : float or (float, float), optional
        Pixel size (y, x) [Å] for frames whose files carry no real-space calibration.
    allow_diffraction : bool
        Read diffraction patterns too (they have no real-space pixel size, so they also need
        `pixel_size`).
    dayfirst : bool
        Parse DM dates day-first (the microscope PC's locale).
    rtol : float
        Relative tolerance of pixel sizes within the series.
    batch_frames, batch_bytes : int
        Frames per append, at most, and float32 bytes per batch, at most.
    progress : callable, optional
        ``progress(IngestProgress)`` after each batch.

    Returns
    -------
    IngestResult

    Raises
    ------
    ParameterError
        For a path that does not exist or invalid options (before anything is written).
    LakeError
        If the series exists with different parameters (``pixel_size``, ``dayfirst``, ...).
    """
    start = time.perf_counter()
    if batch_frames < 1 or batch_bytes < 1:
        raise ParameterError("batch_frames and batch_bytes must be positive")
    size = _pixel_size(pixel_size)
    try:
        files = discover(paths)
    except FileNotFoundError as err:
        raise ParameterError(str(err)) from None
    if not isinstance(lake, Lake):
        lake = Lake(lake, mode="a")
    parameters = {"allow_diffraction": allow_diffraction, "dayfirst": dayfirst,
                  "pixel_size": list(size) if size else None}  # fmt: skip
    _check_parameters(lake, series, parameters)
    run = _Ingest(lake, series, parameters, {"allow_diffraction": allow_diffraction,
                  "dayfirst": dayfirst}, pixel_size=size, rtol=rtol, batch_frames=batch_frames,
                  batch_bytes=batch_bytes, progress=progress)  # fmt: skip
    run.result.files = len(files)
    try:
        for path in files:
            run.file(path)
    except BaseException:
        run.abort()
        raise
    run.finish()
    run.result.seconds = time.perf_counter() - start
    return run.result


def _pixel_size(value: float | tuple[float, float] | None) -> tuple[float, float] | None:
    if value is None:
        return None
    size = (float(value), float(value)) if np.isscalar(value) else tuple(map(float, value))
    if len(size) != 2 or not all(math.isfinite(s) and s > 0 for s in size):
        raise ParameterError(f"pixel_size must be one or two positive lengths [Å], got {value}")
    return size


def _check_parameters(lake: Lake, series: str, parameters: dict) -> None:
    """Refuse a run whose options differ from the series' before reading anything."""
    if not lake.exists("frames", series=series):
        return
    before = lake.group("frames", series=series).attrs.get("parameters", {})
    if before != parameters:
        diff = sorted(k for k in {*before, *parameters} if before.get(k) != parameters.get(k))
        raise LakeError(
            f"series '{series}' was ingested with different options ({', '.join(diff)}: "
            f"{ {k: before.get(k) for k in diff} }); use the same options or a new series"
        )


# -- reading a series back -------------------------------------------------------------------


class ExperimentalSeries:
    """An ingested series for notebooks: frames, standardisation, dose, FFT and crops.

    Parameters
    ----------
    lake : Lake or str or os.PathLike or None
        The lake or its location.
    series : str
        Series name.

    Examples
    --------
    >>> s = ExperimentalSeries("lake.zarr", "insitu-01")      # doctest: +SKIP
    >>> s.frames.isel(time=0).plot()                          # lazy, one frame loaded
    >>> s.dose(0)                                             # e⁻/Å², from a vacuum window
    """

    def __init__(self, lake: Lake | str | os.PathLike | None, series: str):
        self.lake = as_lake(lake, "r")
        self.series = series
        self.dataset = self.lake.dataset("frames", complete_only=True, series=series)

    def __len__(self) -> int:
        return int(self.dataset.sizes["time"])

    def __repr__(self) -> str:
        ny, nx = self.shape
        return f"ExperimentalSeries({self.series!r}: {len(self)} frames of {ny}×{nx})"

    @property
    def frames(self):
        """The frames as a lazy :class:`xarray.DataArray` (time, y, x) [counts], y/x in Å."""
        return self.dataset["frame"]

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.dataset.sizes["y"]), int(self.dataset.sizes["x"])

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(y, x) [Å]."""
        return tuple(self.dataset.attrs.get("pixel_size", (1.0, 1.0)))

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as a float32 NumPy array [counts]."""
        return self.lake.read("frames", "frame", slice(i, i + 1), series=self.series)[0]

    def crop(self, i: int, window: tuple[int, int, int, int]):
        """Frame ``i`` cropped to ``(y0, x0, height, width)`` [pixels], with its Å coordinates."""
        y0, x0, h, w = window
        return self.frames.isel(time=i, y=slice(y0, y0 + h), x=slice(x0, x0 + w)).load()

    def standardised(self, i: int, distance: float = 12.0) -> np.ndarray:
        """Frame ``i`` locally standardised (thesis eq. 3.1) over `distance` [Å]."""
        from hrtemlake.ingest.noise import local_standardise

        return local_standardise(self.frame(i), distance / float(np.mean(self.pixel_size)))

    def vacuum_window(self, i: int, size: int | None = None) -> tuple[int, int, int, int]:
        """The flattest bright window of frame ``i`` (default size: see :mod:`noisefit`)."""
        from hrtemlake.ingest.noise import find_vacuum_window
        from hrtemlake.ingest.noisefit import default_window_size

        return find_vacuum_window(self.frame(i), size or default_window_size(self.shape))

    def dose(self, i: int, window=None, counts_per_electron: float | None = None) -> float:
        """Dose of frame ``i`` [e⁻/Å²] in a vacuum `window` (found when None).

        The gain is `counts_per_electron`, else the frame's metadata, else the default
        (:data:`hrtemlake.ingest.noise.DEFAULT_COUNTS_PER_ELECTRON`).
        """
        from hrtemlake.ingest.noise import frame_dose
        from hrtemlake.ingest.noisefit import gain_of

        window = window or self.vacuum_window(i)
        gain, _ = gain_of(self.metadata(i), counts_per_electron)
        return frame_dose(self.frame(i), window, self.pixel_size, gain)

    def fft(self, i: int, window=None):
        """Centred power spectrum |FFT|² of frame ``i`` (or a window of it), q in 1/Å."""
        import xarray as xr

        image = self.frame(i) if window is None else self.crop(i, window).values
        power = np.abs(np.fft.fftshift(np.fft.fft2(image - image.mean()))) ** 2
        qy, qx = (np.fft.fftshift(np.fft.fftfreq(n, d))
                  for n, d in zip(image.shape, self.pixel_size))  # fmt: skip
        return xr.DataArray(power, coords={"qy": qy, "qx": qx}, dims=("qy", "qx"),
                            attrs={"units": "counts²", "q_units": "1/Å"})  # fmt: skip

    def metadata(self, i: int) -> dict:
        """The original file metadata of frame ``i``."""
        text = self.lake.read("frames", "metadata", slice(i, i + 1), series=self.series)[0]
        return json.loads(text) if text else {}

    @property
    def noise(self):
        """The per-frame dose and MTF / noise fits (see :mod:`hrtemlake.ingest.noisefit`)."""
        return self.lake.dataset("noise", complete_only=True, series=self.series)

    @property
    def quarantine(self) -> list[Quarantined]:
        """Files and frames that were not ingested, with the reasons."""
        if not self.lake.exists("quarantine", series=self.series):
            return []
        entries = _complete(self.lake, "quarantine", ["source", "reason"], self.series)
        return [Quarantined(str(s), str(r)) for s, r in zip(entries["source"], entries["reason"])]

    def plot_noise_fit(self, i: int, ax=None):
        """The radial power spectrum of frame ``i``'s noise window with its stored fit."""
        from hrtemlake.ingest.noisefit import spectrum_and_fit
        from hrtemlake.ingest.noise import plot_mtf_fit

        q, psd, fit = spectrum_and_fit(self.lake, self.series, i)
        return plot_mtf_fit(q, psd, fit, ax=ax)


def load_series(lake: Lake | str | os.PathLike | None, series: str) -> ExperimentalSeries:
    """Open an ingested series for a notebook (see :class:`ExperimentalSeries`)."""
    return ExperimentalSeries(lake, series)
