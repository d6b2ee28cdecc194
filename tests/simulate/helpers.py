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


#: The small supported Au particles of :func:`make_particle_lake` (3-4 layers, 16 Å cell).
PARTICLES = {"element": "Au", "cell": [16.0, 16.0, 16.0], "layers": [3, 4], "max_tilt": 0.0}


def make_particle_lake(path: str, count: int = 3) -> str:
    """``count`` small Au particles on CeO2 with their sites (dataset "particles") and cheap
    stand-in exit waves at 300 keV, 0.2 Å (80 x 80): weak phase objects with a Gaussian of
    phase 0.1 rad per atom at each column, no multislice (the tests need the lake's layout
    and columns that show, not abTEM's physics)."""
    import numpy as np

    from hrtemlake.simulate.dataset import exitwave_writer, simulate_structures
    from hrtemlake.simulate.exitwaves import ExitWaveSettings
    from hrtemlake.simulate.images import load_sites

    lake = Lake(path, mode="a")
    simulate_structures(lake, "particles", "nanoparticle", count, seed=1, options=PARTICLES)
    settings = ExitWaveSettings(energy=300e3, sampling=0.2)
    writer = exitwave_writer(lake, "particles", settings)
    ny, nx = writer.array("exit_wave").shape[1:]
    y, x = np.mgrid[:ny, :nx] * settings.sampling
    for i, (positions, _, counts) in enumerate(load_sites(lake, "particles", range(count),
                                                          counts=True)):  # fmt: skip
        phase = np.zeros((ny, nx))
        for (column_x, column_y), atoms in zip(positions, counts):
            phase += 0.1 * atoms * np.exp(-((x - column_x) ** 2 + (y - column_y) ** 2) / 0.18)
        writer.write(i, {"exit_wave": np.exp(1j * phase)[None].astype(np.complex64)})
    return path
