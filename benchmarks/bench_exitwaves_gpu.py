"""Seconds per exit wave on the CPU and on a GPU (abTEM's own device option, CuPy).

Runs where CuPy sees a GPU; the same structures (a 50x50 Å MoS2 flake at 50 keV and a
60x60 Å Au/CeO2 cell at 300 keV, 0.05 Å sampling, 0.2 Å slices) go through
:func:`hrtemlake.simulate.exitwaves.compute_exit_wave` with ``device="cpu"`` and ``"gpu"``,
and the two exit waves are compared.

    python benchmarks/bench_exitwaves_gpu.py [--repeats 3] [--cpu-repeats 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hrtemlake.models import build_model
from hrtemlake.simulate.dataset import model_rng
from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave

CASES = {
    "MoS2 50x50 Å, 50 keV": ("mx2", {"size": (50.0, 50.0)}, 50e3),
    "Au/CeO2 60x60 Å, 300 keV": ("nanoparticle", {}, 300e3),
}


def timed(atoms, settings: ExitWaveSettings, repeats: int) -> tuple[float, np.ndarray]:
    wave = compute_exit_wave(atoms, settings)  # warm-up: FFT plans, kernels
    start = time.perf_counter()
    for _ in range(repeats):
        wave = compute_exit_wave(atoms, settings)
    return (time.perf_counter() - start) / repeats, wave


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-repeats", type=int, default=1)
    args = parser.parse_args()
    for name, (kind, options, energy) in CASES.items():
        atoms = build_model(kind, model_rng(1, 0), **options)
        cpu = ExitWaveSettings(energy=energy, device="cpu")
        gpu = ExitWaveSettings(energy=energy, device="gpu")
        t_cpu, w_cpu = timed(atoms, cpu, args.cpu_repeats)
        t_gpu, w_gpu = timed(atoms, gpu, args.repeats)
        diff = float(np.abs(w_cpu - w_gpu).max())
        print(f"{name}: {len(atoms)} atoms, {w_cpu.shape[0]}x{w_cpu.shape[1]} px | "
              f"CPU {t_cpu:.2f} s, GPU {t_gpu:.3f} s per exit wave, speed-up {t_cpu / t_gpu:.0f}x, "
              f"max |CPU - GPU| = {diff:.1e}")


if __name__ == "__main__":
    main()
