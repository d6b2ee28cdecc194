"""Lake write/read throughput against numpy.save/numpy.load of the same frames.

Writes and reads N frames of 512×512 float32 (a noisy HR-TEM-like lattice image, so
compression sees realistic data) through the lake writer (``experiments/<series>``, one
frame per chunk, default compression) and reader (``Lake.read``; the lazy xarray/Dask path
is timed too, for information), and the
same frames as one ``.npy`` file per frame with numpy, on the same disk in the same run.
Each figure is the median of ``--repeats`` runs; the ratios are lake speed / numpy speed.
Every repeat writes to new folders and all are deleted only at the end: on ext4 without a
journal (as on this project's VMs) each file created within a minute of many deletions
scans past the deleted inodes, so deleting between repeats would time the deletions, not
the writers. CPU seconds (all threads) are printed too: on a shared or virtual machine
the page cache's speed varies from run to run, and CPU time is the steadier figure.

    python benchmarks/bench_lake.py [--frames 200] [--repeats 5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hrtemlake.lake import Lake


def make_frames(n: int, size: int = 512, seed: int = 0) -> np.ndarray:
    """Poisson-noisy lattice images at ~200 e⁻/pixel, as float32 counts."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    lattice = 1 + 0.3 * np.cos(2 * np.pi * x / 7.3) * np.cos(2 * np.pi * y / 5.1)
    return rng.poisson(200 * lattice, size=(n, size, size)).astype(np.float32)


def numpy_write(frames: np.ndarray, folder: Path) -> None:
    folder.mkdir()
    for i, frame in enumerate(frames):
        np.save(folder / f"{i:05d}.npy", frame)


def numpy_read(folder: Path, n: int) -> np.ndarray:
    return np.stack([np.load(folder / f"{i:05d}.npy") for i in range(n)])


def lake_write(frames: np.ndarray, path: Path, batch: int) -> None:
    size = frames.shape[-1]
    writer = Lake(path, mode="a").writer(
        "frames",
        series="bench",
        coords={"y": np.arange(size) * 0.05, "x": np.arange(size) * 0.05},
        attrs={"time_source": "frame index"},
    )
    for start in range(0, len(frames), batch):
        block = frames[start : start + batch]
        writer.append(
            {
                "frame": block,
                "time": np.arange(start, start + len(block), dtype=float),
                "source": [f"{i:05d}.dm4" for i in range(start, start + len(block))],
            }
        )


def lake_read(path: Path) -> np.ndarray:
    return Lake(path).read("frames", "frame", series="bench")


def xarray_read(path: Path) -> np.ndarray:
    return Lake(path).dataset("frames", series="bench").frame.values


CPU: dict[str, list[float]] = {}


def timed(fn, *args) -> tuple[float, object]:
    """Wall seconds of ``fn(*args)`` and its result; its CPU seconds (all threads, user +
    system) go to ``CPU[fn.__name__]``."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    CPU.setdefault(fn.__name__, []).append(time.process_time() - cpu)
    return time.perf_counter() - start, result


def stored_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20, help="frames per lake append")
    parser.add_argument("--dir", default=None, help="where to write (default: system temp)")
    args = parser.parse_args()

    frames = make_frames(args.frames)
    mb = frames.nbytes / 1e6
    times: dict[str, list[float]] = {k: [] for k in ("np_w", "np_r", "lake_w", "lake_r", "xr_r")}
    ratio = 0.0
    top = Path(tempfile.mkdtemp(dir=args.dir, prefix="bench_lake_"))
    try:
        for repeat in range(args.repeats):
            work = top / str(repeat)
            work.mkdir()
            # alternate which writer goes first, so neither always meets the other's
            # freshly dirtied page cache
            for which in ("numpy", "lake") if repeat % 2 == 0 else ("lake", "numpy"):
                if which == "numpy":
                    t, _ = timed(numpy_write, frames, work / "npy")
                    times["np_w"].append(t)
                    t, back = timed(numpy_read, work / "npy", args.frames)
                    times["np_r"].append(t)
                    assert np.array_equal(back, frames)
                    continue
                t, _ = timed(lake_write, frames, work / "lake.zarr", args.batch)
                times["lake_w"].append(t)
                t, back = timed(lake_read, work / "lake.zarr")
                times["lake_r"].append(t)
                assert np.array_equal(back, frames)
                t, back = timed(xarray_read, work / "lake.zarr")
                times["xr_r"].append(t)
                assert np.array_equal(back, frames)
            back = None
            ratio = frames.nbytes / stored_bytes(work / "lake.zarr")
    finally:
        shutil.rmtree(top)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.frames} frames of 512x512 float32 ({mb:.0f} MB), median of {args.repeats} runs")
    print(f"numpy.save  write {med['np_w']:.3f} s  ({mb / med['np_w']:.0f} MB/s)")
    print(f"lake        write {med['lake_w']:.3f} s  ({mb / med['lake_w']:.0f} MB/s)")
    print(f"numpy.load  read  {med['np_r']:.3f} s  ({mb / med['np_r']:.0f} MB/s)")
    print(f"lake        read  {med['lake_r']:.3f} s  ({mb / med['lake_r']:.0f} MB/s)")
    print(f"xarray/dask read  {med['xr_r']:.3f} s  ({mb / med['xr_r']:.0f} MB/s)  [lazy path, for notebooks]")
    print(f"write ratio lake/numpy = {med['np_w'] / med['lake_w']:.2f}  (target >= 0.5)")
    print(f"read  ratio lake/numpy = {med['np_r'] / med['lake_r']:.2f}  (target >= 0.7)")
    print(f"read  ratio xarray/numpy = {med['np_r'] / med['xr_r']:.2f}")
    print(f"compression ratio = {ratio:.2f}")
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    print(f"CPU seconds (all threads, median): numpy.save {cpu['numpy_write']:.3f}, "
          f"lake write {cpu['lake_write']:.3f}, numpy.load {cpu['numpy_read']:.3f}, "
          f"lake read {cpu['lake_read']:.3f}")


if __name__ == "__main__":
    main()
