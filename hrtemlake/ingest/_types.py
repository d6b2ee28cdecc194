"""The frame record every reader yields, and the errors the readers raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from hrtemlake.errors import HrtemlakeError

__all__ = ["FrameRecord", "FrameReadError", "UnknownUnitError"]


class FrameReadError(HrtemlakeError):
    """A file that cannot be turned into frame records.

    Parameters
    ----------
    path : str or Path
        The offending file.
    reason : str
        A human-readable reason, e.g. ``"file ends early (truncated)"``.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keep it picklable for Dask / Prefect workers
        return (type(self), (self.path, self.reason))


class UnknownUnitError(FrameReadError):
    """A length calibration in a unit the readers do not know.

    Parameters
    ----------
    path : str or Path
        The offending file.
    unit : str
        The unit string exactly as the file spells it.
    """

    def __init__(self, path: str | Path, unit: str) -> None:
        self.unit = unit
        super().__init__(path, f"unknown length unit {unit!r} in the pixel calibration")

    def __reduce__(self):
        return (type(self), (self.path, self.unit))


@dataclass
class FrameRecord:
    """One 2-D detector frame and what is known about it, whatever file it came from.

    Attributes
    ----------
    data : numpy.ndarray or dask.array.Array
        The frame (y, x) in the file's own dtype and intensity units [counts]. DigitalMicrograph
        frames are lazy: read-only ``numpy.memmap`` views of the file (Dask arrays for the
        rare data RosettaSciIO has to decode); TIFF frames are NumPy arrays read page by page
        as the iterator advances.
    pixel_size : tuple of float or None
        Pixel size (y, x) [Å]; None when the file carries no real-space calibration.
    time : datetime or float or None
        Acquisition time: a ``datetime`` (naive local wall-clock time of the microscope PC,
        unless `time_source` says UTC), or seconds [s] since the file's first frame when the
        file only knows relative times; None when the metadata has no time.
    exposure : float or None
        Exposure time [s].
    voltage : float or None
        Acceleration voltage [V].
    magnification : float or None
        Indicated (nominal) magnification.
    camera : str or None
        Detector / camera name.
    source : Path
        The file the frame was read from.
    index_in_file : int
        Position of the frame among the frames read from `source` (0-based).
    metadata : dict
        The file's original metadata, JSON-serialisable (NumPy types converted, binary blobs
        and GUI display state dropped). Records from one file share this dict: copy it
        before changing it.
    time_source : str or None
        Where `time` came from (e.g. ``"DataBar + Acquisition Time (OS)"``).
    signal_index : int
        Index of the signal (image) inside a multi-signal file the frame belongs to.
    notes : tuple of str
        Human-readable remarks made while reading (skipped signals, missing calibration, ...).
    reader : callable or None
        ``reader(out=None)`` reads the frame's bytes straight from the file, returning what
        ``numpy.asarray(data)`` would (or filling `out`); :meth:`load` uses it when set.
    """

    data: Any
    pixel_size: tuple[float, float] | None
    time: datetime | float | None
    exposure: float | None
    voltage: float | None
    magnification: float | None
    camera: str | None
    source: Path
    index_in_file: int
    metadata: dict = field(repr=False)
    time_source: str | None = None
    signal_index: int = 0
    notes: tuple[str, ...] = ()
    reader: Any = field(default=None, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        """Frame shape (y, x) [pixels]."""
        return tuple(self.data.shape)

    def load(self, out: np.ndarray | None = None) -> np.ndarray:
        """Return the frame as an in-memory NumPy array (reads it if lazy).

        Readers that know where a frame's bytes are set `reader`, which reads just those
        bytes: computing a one-chunk Dask graph costs several milliseconds per frame, more
        than reading a 1024² frame from the page cache.

        Parameters
        ----------
        out : numpy.ndarray, optional
            A C-contiguous array of the frame's shape to read into (cast if its dtype
            differs), e.g. a row of a reusable batch buffer; returned.
        """
        if self.reader is not None:
            return self.reader(out)
        data = np.asarray(self.data)
        if out is None:
            return data
        np.copyto(out, data, casting="unsafe")
        return out


def dtype_rejection(dtype: np.dtype) -> str | None:
    """Why frames of ``dtype`` are not detector counts, or None if they are."""
    if dtype.names:
        return "RGB(A) colour image: a rendered picture, not detector counts"
    if dtype.kind == "c":
        return f"complex-valued data ({dtype}; an FFT or a wave), not detector counts"
    if dtype.kind == "b":
        return "boolean data (a mask), not detector counts"
    if dtype.kind not in "iuf":
        return f"unsupported data type {dtype}"
    return None
