"""Real DigitalMicrograph files built from a real template, and the tests that they read.

No Python library writes DM files. :func:`write_dm` takes a real DM3/DM4 file of the shared
test data as a template and keeps its whole tag tree (document objects, page set-up,
thumbnail, ...), replacing only the image's ``ImageData`` group (pixels, data type,
dimensions, calibration) and ``ImageTags`` group (acquisition time, microscope, camera) with
values we choose. RosettaSciIO reads the result like any GMS file (the tests below check
it), so tests and ``benchmarks/bench_ingest.py`` can build GMS-like series of any size: one
file per frame in ``Hour_00/Minute_*/Second_*`` trees, stacks, spectra, truncated files.

The DM tag format (both versions): a header (version, root length, byte order), then tag
groups. A tag is a byte 20 (group) or 21 (data), a big-endian u16 name length and the
name; DM4 then has a u64 size. A group holds two flag bytes, (DM4) a u64 size, and the
count of its tags; a data tag holds ``%%%%``, the length of its type description, the
description (big-endian u32 in DM3, u64 in DM4) and the value in the file's byte order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

#: Element type codes of DM arrays and the matching DM image ``DataType``.
_ARRAY_CODE = {"int16": 2, "int32": 3, "uint16": 4, "uint32": 5, "float32": 6, "float64": 7}
_IMAGE_TYPE = {"int16": 1, "float32": 2, "int32": 7, "uint16": 10, "uint32": 11, "float64": 12}
_SIMPLE_SIZE = {2: 2, 3: 4, 4: 2, 5: 4, 6: 4, 7: 8, 8: 1, 9: 1, 10: 1, 11: 8, 12: 8}

TEMPLATE_2D = ("ncempy", "dmTest_float32_nonSquare_diffPixelSize.dm4")
TEMPLATE_3D = ("ncempy", "dmTest_3D_int16_64,65,66.dm4")
TEMPLATE_DM3 = ("rsciio-2D", "test_STEM_image.dm3")


@dataclass
class _Span:
    path: tuple[str, ...]
    start: int  # the tag's first byte (20 or 21)
    end: int  # one past its last byte


def _walk(buf: bytes) -> tuple[int, dict[tuple[str, ...], _Span]]:
    """The DM version and the byte span of every tag, by path (unnamed tags numbered)."""
    version = struct.unpack(">I", buf[:4])[0]
    word = 8 if version == 4 else 4
    fmt = ">Q" if version == 4 else ">I"
    spans: dict[tuple[str, ...], _Span] = {}

    def number(pos: int) -> tuple[int, int]:
        return struct.unpack(fmt, buf[pos : pos + word])[0], pos + word

    def group(pos: int, path: tuple[str, ...]) -> int:
        pos += 2 + (8 if version == 4 and path else 0)
        count, pos = number(pos)
        unnamed = {20: 0, 21: 0}
        for _ in range(count):
            start, kind = pos, buf[pos]
            length = struct.unpack(">H", buf[pos + 1 : pos + 3])[0]
            name = buf[pos + 3 : pos + 3 + length].decode("latin-1")
            pos += 3 + length
            if not name:
                name = f"{'TagGroup' if kind == 20 else 'Data'}{unnamed[kind]}"
                unnamed[kind] += 1
            if kind == 20:
                pos = group(pos, path + (name,))
            elif kind == 21:
                pos += 8 if version == 4 else 0
                assert buf[pos : pos + 4] == b"%%%%", (path, name)
                n_info, pos = number(pos + 4)
                info = []
                for _ in range(n_info):
                    value, pos = number(pos)
                    info.append(value)
                pos += _value_size(info)
            else:
                raise ValueError(f"tag kind {kind} at byte {start}")
            spans[path + (name,)] = _Span(path + (name,), start, pos)
        return pos

    group(4 + word + 4, ())
    return version, spans


def _value_size(info: list[int]) -> int:
    if len(info) == 1:
        return _SIMPLE_SIZE[info[0]]
    if info[0] == 18:
        return 2 * info[1]
    if info[0] == 20 and len(info) == 3:
        return _SIMPLE_SIZE[info[1]] * info[2]
    if info[0] == 15:  # struct: 15, name length, n fields, (name length, type) * n
        return sum(_SIMPLE_SIZE[info[4 + 2 * i]] for i in range(info[2]))
    if info[0] == 20 and info[1] == 15:  # array of structs
        return sum(_SIMPLE_SIZE[info[5 + 2 * i]] for i in range(info[3])) * info[-1]
    if info[0] == 20 and info[1] == 20:  # array of arrays
        return _SIMPLE_SIZE[info[2]] * info[3] * info[-1]
    raise ValueError(f"unsupported DM type description {info}")


_UNNAMED = "\x00"


def _unnamed(values) -> dict:
    """A group of unnamed tags (DM's lists); keys only keep them apart until written."""
    return {f"{_UNNAMED}{i}": value for i, value in enumerate(values)}


def _tag(name: str, value, version: int) -> bytes:
    """Serialise one tag: a dict is a group; str, float, bool, int, u32 and arrays are data."""
    fmt = ">Q" if version == 4 else ">I"
    name = "" if name.startswith(_UNNAMED) else name
    head = struct.pack(">H", len(name)) + name.encode("latin-1")
    if isinstance(value, dict):
        body = b"".join(_tag(k, v, version) for k, v in value.items())
        count = struct.pack(fmt, len(value))
        size = struct.pack(">Q", len(count) + len(body)) if version == 4 else b""
        return b"\x14" + head + b"\x00\x00" + size + count + body
    if isinstance(value, str):
        codes = np.frombuffer(value.encode("utf-16-le"), "<u2")
        info, data = [20, 4, codes.size], codes.tobytes()
    elif isinstance(value, np.ndarray):
        little = value.astype(value.dtype.newbyteorder("<"), copy=False)
        info, data = [20, _ARRAY_CODE[value.dtype.name], value.size], little.tobytes()
    elif isinstance(value, bool):
        info, data = [8], struct.pack("<B", value)
    elif isinstance(value, np.uint32):
        info, data = [5], struct.pack("<I", int(value))
    elif isinstance(value, int):
        info, data = [3], struct.pack("<i", value)
    else:
        info, data = [7], struct.pack("<d", float(value))
    described = b"%%%%" + struct.pack(fmt, len(info)) + b"".join(struct.pack(fmt, i) for i in info)
    size = struct.pack(">Q", len(described) + len(data)) if version == 4 else b""
    return b"\x15" + head + size + described + data


def filetime(moment: datetime) -> float:
    """A naive datetime as a Windows FILETIME (100 ns ticks since 1601), taken as UTC."""
    epoch = datetime(1601, 1, 1, tzinfo=timezone.utc)
    return (moment.replace(tzinfo=timezone.utc) - epoch).total_seconds() * 1e7


def image_tags(
    acquired: datetime | None = None,
    *,
    exposure: float | None = 0.1,
    voltage: float | None = 300e3,
    magnification: float | None = 600e3,
    camera: str | None = "OneView",
    counts_per_electron: float | None = None,
) -> dict:
    """GMS-like ``ImageTags``: DataBar times, Microscope Info, the camera and exposure."""
    tags: dict = {}
    if acquired is not None:
        tags["DataBar"] = {
            "Acquisition Date": f"{acquired.month}/{acquired.day}/{acquired.year}",
            "Acquisition Time": acquired.strftime("%I:%M:%S %p"),
            "Acquisition Time (OS)": filetime(acquired),
        }
    parameters: dict = {}
    if exposure is not None:
        parameters["High Level"] = {"Exposure (s)": exposure}
    if counts_per_electron is not None:
        parameters["Detector"] = {"Counts Per Electron": counts_per_electron}
    acquisition: dict = {"Parameters": parameters} if parameters else {}
    if camera is not None:
        acquisition["Device"] = {"Name": camera}
    if acquisition:
        tags["Acquisition"] = acquisition
    microscope = {}
    if voltage is not None:
        microscope["Voltage"] = voltage
    if magnification is not None:
        microscope["Indicated Magnification"] = magnification
    if microscope:
        tags["Microscope Info"] = microscope
    tags["GMS Version"] = {"Created": "3.60.4441.0", "Saved": "3.60.4441.0"}
    return tags


def write_dm(
    template: Path,
    path: Path,
    data: np.ndarray,
    *,
    pixel_size: float | tuple[float, ...] = 0.05,
    units: str | tuple[str, ...] = "nm",
    tags: dict | None = None,
) -> Path:
    """Write ``data`` as a DM file shaped like ``template``.

    Parameters
    ----------
    template : Path
        A real DM3/DM4 file whose last ``ImageList`` entry is an image with ``ImageTags``.
    path : Path
        Output file (parents are created); its version is the template's.
    data : numpy.ndarray
        (x,) spectrum, (y, x) image or (frame, y, x) stack, of a dtype in ``_IMAGE_TYPE``.
    pixel_size, units : float or tuple, str or tuple
        Calibration of each axis, in DM's order (x first); one value for all axes.
    tags : dict, optional
        The new ``ImageTags`` (default :func:`image_tags` with no time).
    """
    buf = Path(template).read_bytes()
    version, spans = _walk(buf)
    image = max(
        (p[:2] for p in spans if p[0] == "ImageList" and len(p) > 2 and p[2] == "ImageData"),
        key=lambda p: spans[p].start,
    )
    data = np.asarray(data)
    dims = data.shape[::-1]  # DM lists x first
    sizes = pixel_size if isinstance(pixel_size, tuple) else (pixel_size,) * len(dims)
    names = units if isinstance(units, tuple) else (units,) * len(dims)
    image_data = {
        "Calibrations": {
            "Brightness": {"Origin": 0.0, "Scale": 1.0, "Units": ""},
            "Dimension": _unnamed(
                {"Origin": 0.0, "Scale": float(s), "Units": u} for s, u in zip(sizes, names)
            ),
            "DisplayCalibratedUnits": True,
        },
        "Data": data.ravel(),
        "DataType": np.uint32(_IMAGE_TYPE[data.dtype.name]),
        "Dimensions": _unnamed(np.uint32(n) for n in dims),
        "PixelDepth": np.uint32(data.dtype.itemsize),
    }
    replacements = [
        (spans[image + ("ImageData",)], _tag("ImageData", image_data, version)),
        (spans[image + ("ImageTags",)], _tag("ImageTags", tags or image_tags(), version)),
    ]
    out, position = [], 0
    for span, new in sorted(replacements, key=lambda r: r[0].start):
        out += [buf[position : span.start], new]
        position = span.end
    out.append(buf[position:])
    result = bytearray(b"".join(out))
    word = 8 if version == 4 else 4
    root_length = len(result) - (4 + word + 4) - 8 if version == 4 else len(result) - 16
    result[4 : 4 + word] = struct.pack(">Q" if version == 4 else ">I", root_length)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(result))
    return path


def template_path(dm_dir: Path, which: tuple[str, str]) -> Path:
    return dm_dir / which[0] / which[1]


# -- the files read back as written -------------------------------------------------------


def test_dm4_image_round_trips_with_times_and_tags(dm_dir, tmp_path):
    from hrtemlake.ingest.readers import read_frames

    data = np.arange(48 * 40, dtype=np.float32).reshape(48, 40)
    moment = datetime(2023, 5, 17, 14, 3, 7, 250000)
    tags = image_tags(moment, exposure=0.2, voltage=80e3, magnification=1.2e6, camera="K3",
                      counts_per_electron=12.5)  # fmt: skip
    path = write_dm(template_path(dm_dir, TEMPLATE_2D), tmp_path / "a.dm4", data,
                    pixel_size=(0.02, 0.03), units=("nm", "nm"), tags=tags)  # fmt: skip
    (record,) = read_frames(path)
    np.testing.assert_array_equal(record.load(), data)
    assert record.pixel_size == pytest.approx((0.3, 0.2))  # (y, x) in Å
    assert record.time == moment
    assert record.time_source == "DataBar + Acquisition Time (OS)"
    assert (record.exposure, record.voltage, record.magnification, record.camera) == (
        pytest.approx(0.2), pytest.approx(80e3), pytest.approx(1.2e6), "K3"
    )
    from hrtemlake.ingest.noise import counts_per_electron_from_metadata

    assert counts_per_electron_from_metadata(record.metadata) == pytest.approx(12.5)


@pytest.mark.parametrize("dtype", ["uint16", "int16", "uint32", "float64"])
def test_dm4_stack_round_trips_in_any_dtype(dm_dir, tmp_path, dtype):
    from hrtemlake.ingest.readers import read_frames

    stack = (np.arange(3 * 8 * 5) % 251).reshape(3, 8, 5).astype(dtype)
    path = write_dm(template_path(dm_dir, TEMPLATE_3D), tmp_path / "s.dm4", stack, units="pm")
    records = list(read_frames(path))
    assert [r.index_in_file for r in records] == [0, 1, 2]
    np.testing.assert_array_equal(np.stack([r.load() for r in records]), stack)
    assert records[0].pixel_size == pytest.approx((0.0005, 0.0005))


def test_dm3_template_and_a_spectrum(dm_dir, tmp_path):
    from hrtemlake.ingest.readers import FrameReadError, read_frames

    image = np.ones((6, 7), np.uint32)
    (record,) = read_frames(write_dm(template_path(dm_dir, TEMPLATE_DM3), tmp_path / "i.dm3", image))
    assert record.shape == (6, 7)
    spectrum = write_dm(template_path(dm_dir, TEMPLATE_2D), tmp_path / "eels.dm4",
                        np.ones(64, np.float32), units="eV")  # fmt: skip
    with pytest.raises(FrameReadError, match="spectrum"):
        read_frames(spectrum)


def test_direct_frame_reads_match_the_lazy_arrays(dm_dir, tmp_path):
    """FrameRecord.load reads a DM frame's bytes directly; same values as the Dask array."""
    from hrtemlake.ingest.readers import FrameReadError, read_frames

    checked = 0
    for path in sorted(dm_dir.rglob("*.dm[34]")):
        try:
            records = list(read_frames(path, allow_diffraction=True))
        except FrameReadError:
            continue
        for record in records:
            lazy = np.asarray(record.data)
            assert record.reader is not None
            np.testing.assert_array_equal(record.load(), lazy)
            out = np.empty(record.shape, np.float32)
            assert record.load(out) is out
            np.testing.assert_array_equal(out, lazy.astype(np.float32))
            checked += 1
    assert checked > 100
    path = write_dm(template_path(dm_dir, TEMPLATE_3D), tmp_path / "s.dm4",
                    np.ones((4, 16, 16), np.int16))  # fmt: skip
    last = list(read_frames(path))[-1]
    path.write_bytes(path.read_bytes()[: last.reader.offset + 100])  # cut after parsing
    with pytest.raises(FrameReadError, match="truncated"):
        last.load()
