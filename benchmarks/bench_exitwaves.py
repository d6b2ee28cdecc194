"""Exit waves per second through the simulate flow vs a plain loop of abTEM calls.

In one run, on the same stored structures:

* baseline: a plain Python loop of ``PlaneWave(energy).multislice(Potential(atoms, ...))``
  with abTEM's defaults, one exit wave at a time in this process (one core);
* the ``simulate-dataset`` flow with a 1-worker and a 2-worker Dask LocalCluster on the same
  structures (stored in its lake beforehand, so the flow computes exit waves only), timed
  from the flow call to its return (cluster start, worker imports and lake writes included;
  the Prefect server is started once beforehand, as a deployment's server would be).
  The 1-worker run starts with an empty FFT-plan cache, so it measures its FFTW plans as the
  loop does (abTEM's default planner); the 2-worker run finds them in the cache.

Prints exit waves per second, the flow/baseline ratio on 1 worker (target >= 0.9), the flow's
speed-up on 2 workers (target >= 1.7x), and seconds per exit wave for a 60x60 Å Au/CeO2
cell (300 keV) and a 50x50 Å MoS2 flake (50 keV) at 0.05 Å sampling and 0.2 Å slices.

The flow's fixed cost (cluster start, worker imports, abTEM's JIT, plan measurement, about
15 s here) is printed too; with many models the ratio tends to the per-wave one.

    python benchmarks/bench_exitwaves.py [--count 36] [--size 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from hrtemlake.lake import Lake
from hrtemlake.simulate.dataset import load_atoms, simulate_structures

SAMPLING, SLICE = 0.05, 0.2


def abtem_loop(atoms_list, energy: float) -> float:
    import abtem

    start = time.perf_counter()
    for atoms in atoms_list:
        potential = abtem.Potential(atoms, sampling=SAMPLING, slice_thickness=SLICE)
        abtem.PlaneWave(energy=energy).multislice(potential, lazy=False)
    return time.perf_counter() - start


def flow_run(lake: str, workers: int, kind: str, count: int, options: dict, energy: float) -> float:
    from hrtemlake.flows.simulate import simulate_dataset
    from hrtemlake.runtime import task_runner

    simulate_structures(Lake(lake, mode="a"), "bench", kind, count, seed=1, options=options)
    flow = simulate_dataset.with_options(task_runner=task_runner(workers=workers))
    start = time.perf_counter()
    result = flow(dataset="bench", kind=kind, count=count, seed=1, options=options,
                  energy=energy, sampling=SAMPLING, slice_thickness=SLICE, lake=lake)  # fmt: skip
    elapsed = time.perf_counter() - start
    assert result["exit_waves"] == count, result
    return elapsed


def structures(work: Path, kind: str, count: int, options: dict):
    lake = Lake(work / f"structures-{kind}.zarr", mode="a")
    simulate_structures(lake, "bench", kind, count, seed=1, options=options)
    return load_atoms(lake, "bench", range(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=36, help="MoS2 flakes for the throughput figures")
    parser.add_argument("--size", type=float, default=50.0, help="MoS2 flake cell [Å]")
    parser.add_argument("--skip-au", action="store_true", help="skip the 60x60 Å Au/CeO2 timing")
    args = parser.parse_args()

    from hrtemlake.runtime import prefect_api

    work = Path(tempfile.mkdtemp(prefix="bench_exitwaves_"))
    os.environ["HRTEMLAKE_CACHE"] = str(work / "cache")  # no plans measured by earlier runs
    mos2 = {"size": [args.size, args.size]}
    try:
        flakes = structures(work, "mx2", args.count, mos2)
        loop = abtem_loop(flakes, 50e3)
        with prefect_api():
            one = flow_run(str(work / "one.zarr"), 1, "mx2", args.count, mos2, 50e3)
            two = flow_run(str(work / "two.zarr"), 2, "mx2", args.count, mos2, 50e3)
        n = args.count
        print(f"{n} MoS2 flakes, {args.size:.0f}x{args.size:.0f} Å, 50 keV, {SAMPLING} Å, {SLICE} Å slices")
        print(f"abTEM loop      {n / loop:6.3f} exit waves/s  ({loop / n:.2f} s each)")
        print(f"flow, 1 worker  {n / one:6.3f} exit waves/s")
        print(f"flow, 2 workers {n / two:6.3f} exit waves/s")
        print(f"ratio flow(1 worker)/loop = {loop / one:.2f}  (target >= 0.9)")
        print(f"speed-up 2 vs 1 worker    = {one / two:.2f}x (target >= 1.7x)")
        print(f"flow time beyond the loop (1 worker) = {one - loop:.1f} s of {one:.1f} s")
        if not args.skip_au:
            particles = structures(work, "nanoparticle", 2, {})
            au = abtem_loop(particles, 300e3) / 2
            print(f"seconds per exit wave: Au/CeO2 60x60 Å, 300 keV = {au:.1f} s; "
                  f"MoS2 {args.size:.0f}x{args.size:.0f} Å, 50 keV = {loop / n:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
