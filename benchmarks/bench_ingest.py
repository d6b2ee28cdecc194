"""Ingest throughput against plain RosettaSciIO reading, and peak memory against series length.

What is compared
----------------
Real DigitalMicrograph 4 files are generated from a real DM4 file of the shared test data
used as a template (``tests/ingest/test_series_dmfiles.py``: the template's whole tag tree
is kept, its image data, calibration and acquisition tags are replaced), holding noisy
HR-TEM-like 1024² frames (float32 by default, ``--dtype uint16`` for integer cameras),
in two layouts:

* ``files``: one file per frame in a GMS in-situ tree ``Hour_00/Minute_MM/Second_SS/``;
* ``stack``: one 3-D DM4 file holding all the frames.

Throughput (``--frames`` frames, default 200): ``hrtemlake.ingest.ingest_series`` into a
fresh lake (read, validate, convert to float32, compress, write, per-frame metadata)
against ``rsciio.digitalmicrograph.file_reader(path)`` reading the same files into NumPy
(nothing written), in the same run, alternating, the files in the page cache for both
(one warm-up read and one warm-up ingest first). MB/s counts the files' pixel bytes;
figures are medians of ``--repeats`` runs; the ratio is ingest / read (target >= 0.7).
CPU ms/frame (all threads of the process) is printed too: on a shared machine it is the
steadier figure.

Memory: peak resident memory (``VmHWM``) of a fresh process that ingests 50 and then
400 frames of each layout (``--rss-frames``), and its resident memory after the imports,
before the ingest. Target: the 400-frame peak within 20 % of the 50-frame peak.

    python benchmarks/bench_ingest.py [--frames 200] [--repeats 3] [--dir /tmp] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the DM template writer of the tests

TESTDATA = Path(os.environ.get("HRTEMLAKE_TESTDATA", ROOT.parent / "shared" / "testdata"))
SIZE = 1024


def make_frames(n: int, dtype: str, seed: int = 0) -> list[np.ndarray]:
    """Poisson-noisy lattice frames at ~200 counts; 8 noise draws rolled into n frames."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:SIZE, :SIZE]
    lattice = 1 + 0.3 * np.cos(2 * np.pi * x / 7.3) * np.cos(2 * np.pi * y / 5.1)
    draws = [rng.poisson(200 * lattice).astype(dtype) for _ in range(8)]
    return [np.roll(draws[k % 8], k, axis=1) for k in range(n)]


def write_files(folder: Path, frames: list[np.ndarray]) -> list[Path]:
    from tests.ingest.test_series_dmfiles import TEMPLATE_2D, image_tags, write_dm

    template = TESTDATA / "dm" / Path(*TEMPLATE_2D)
    start = datetime(2024, 3, 1, 10, 0, 0)
    paths = []
    for k, frame in enumerate(frames):
        t = start + timedelta(seconds=0.1 * k)
        path = folder / "Hour_00" / f"Minute_{t.minute:02d}" / f"Second_{t.second:02d}"
        paths.append(write_dm(template, path / f"f{k:05d}.dm4", frame, pixel_size=0.005,
                              units="nm", tags=image_tags(t)))  # fmt: skip
    return paths


def write_stack(path: Path, frames: list[np.ndarray]) -> Path:
    from tests.ingest.test_series_dmfiles import TEMPLATE_3D, image_tags, write_dm

    template = TESTDATA / "dm" / Path(*TEMPLATE_3D)
    return write_dm(template, path, np.stack(frames), pixel_size=0.005, units="nm",
                    tags=image_tags(datetime(2024, 3, 1, 10, 0, 0)))  # fmt: skip


def rsciio_read(paths: list[Path]) -> int:
    from rsciio.digitalmicrograph import file_reader

    nbytes = 0
    for path in paths:
        for signal in file_reader(str(path)):
            nbytes += np.asarray(signal["data"]).nbytes
    return nbytes


def ingest(paths: list[Path], lake: Path) -> int:
    from hrtemlake.ingest import ingest_series

    result = ingest_series(lake, "bench", paths)
    assert not result.quarantined, result.quarantined
    return result.bytes_read


def throughput(paths: list[Path], work: Path, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds (all threads) of reading and of ingesting; pixel bytes."""
    nbytes = rsciio_read(paths)  # warm the page cache
    ingest(paths[:8], work / "warm-up.zarr")  # and the imports, pools, codecs of the ingest
    shutil.rmtree(work / "warm-up.zarr")
    runs: dict[str, list[float]] = {"read": [], "read_cpu": [], "ingest": [], "ingest_cpu": []}
    for r in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        rsciio_read(paths)
        runs["read"].append(time.perf_counter() - wall)
        runs["read_cpu"].append(time.process_time() - cpu)
        lake = work / f"lake{r}.zarr"
        wall, cpu = time.perf_counter(), time.process_time()
        assert ingest(paths, lake) == nbytes
        runs["ingest"].append(time.perf_counter() - wall)
        runs["ingest_cpu"].append(time.process_time() - cpu)
        shutil.rmtree(lake)
    return {"bytes": nbytes, **{k: statistics.median(v) for k, v in runs.items()}}


def _high_water_mark() -> float:
    """Peak resident memory of this process [MiB] (VmHWM; ru_maxrss survives exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(list_file: str, lake: str) -> None:
    """In a fresh process: ingest the listed files, print peak RSS before and after [MiB]."""
    import rsciio.digitalmicrograph  # noqa: F401 — imports count as "before"

    from hrtemlake.ingest import ingest_series

    before = _high_water_mark()
    paths = Path(list_file).read_text().split("\n")
    result = ingest_series(lake, "rss", paths)
    print(json.dumps({"frames": result.frames, "before": before, "peak": _high_water_mark()}))


def peak_rss(paths: list[Path], work: Path) -> dict:
    list_file = work / "paths.txt"
    list_file.write_text("\n".join(map(str, paths)))
    lake = work / "rss.zarr"
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(list_file), str(lake)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    shutil.rmtree(lake)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-frames", type=int, nargs=2, default=(50, 400))
    parser.add_argument("--dtype", default="float32", choices=["float32", "uint16", "int16"])
    parser.add_argument("--dir", default=None, help="where to write (default: system temp)")
    parser.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    if not (TESTDATA / "dm").is_dir():
        sys.exit(f"DM template files not found under {TESTDATA} (set HRTEMLAKE_TESTDATA)")

    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="bench_ingest_"))
    try:
        n_max = max(args.frames, *args.rss_frames)
        frames = make_frames(n_max, args.dtype)
        files = write_files(work / "files", frames)
        stacks = {n: write_stack(work / f"stack{n}.dm4", frames[:n])
                  for n in sorted({args.frames, *args.rss_frames})}  # fmt: skip
        del frames
        print(f"{args.frames} frames of {SIZE}x{SIZE} {args.dtype} in DM4 files "
              f"(median of {args.repeats} runs, files in the page cache)")  # fmt: skip
        for layout, paths in (("files", files[: args.frames]), ("stack", [stacks[args.frames]])):
            t = throughput(paths, work, args.repeats)
            mb, per_frame = t["bytes"] / 1e6, 1e3 / args.frames
            print(f"  {layout:5s}  rsciio read {mb / t['read']:5.0f} MB/s "
                  f"({t['read_cpu'] * per_frame:.1f} ms CPU/frame)   ingest "
                  f"{mb / t['ingest']:5.0f} MB/s ({t['ingest_cpu'] * per_frame:.1f} ms CPU/frame)"
                  f"   ratio ingest/read = {t['read'] / t['ingest']:.2f}  (target >= 0.7)")  # fmt: skip
        print("peak resident memory of a fresh process ingesting n frames [MiB]")
        for layout in ("files", "stack"):
            peaks = {}
            for n in args.rss_frames:
                paths = files[:n] if layout == "files" else [stacks[n]]
                peaks[n] = peak_rss(paths, work)
            (a, b), (ra, rb) = args.rss_frames, (peaks[n] for n in args.rss_frames)
            print(f"  {layout:5s}  {a} frames: {ra['peak']:.0f} (after imports {ra['before']:.0f})"
                  f"   {b} frames: {rb['peak']:.0f}   ratio {rb['peak'] / ra['peak']:.2f}"
                  "  (target <= 1.2)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
