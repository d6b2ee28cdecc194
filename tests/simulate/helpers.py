"""A small lake of stored exit waves, shared by the image tests."""

from __future__ import annotations

from hrtemlake.lake import Lake


def make_waves_lake(path: str) -> str:
    """Three 16 Å MoS2 flakes with their sites and 50 keV exit waves (160 x 160 at 0.1 Å)."""
    from hrtemlake.simulate.dataset import (
        compute_exitwave_block,
        exitwave_writer,
        simulate_structures,
    )
    from hrtemlake.simulate.exitwaves import ExitWaveSettings

    lake = Lake(path, mode="a")
    simulate_structures(lake, "train", "mx2", 3, seed=9, options={"size": (16.0, 16.0)})
    settings = ExitWaveSettings(energy=50e3, sampling=0.1, slice_thickness=0.5)
    writer = exitwave_writer(lake, "train", settings)
    compute_exitwave_block(writer, "train", range(3), settings, seed=9)
    return path
