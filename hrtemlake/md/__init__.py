"""Molecular dynamics (GPAW or any ASE calculator) and vibrational-amplitude tables (thesis ch. 5).

A notebook can use every step without Prefect::

    from hrtemlake.lake import Lake
    from hrtemlake.md import MDSettings, run_md, write_vibration_tables, perturb_atoms

    lake = Lake("lake.zarr", mode="a")
    run_md(lake, "mos2-300K", steps=2000, system="mos2-flake",
           settings=MDSettings(temperature=300))             # md/mos2-300K, step by step
    tables = write_vibration_tables(lake, "mos2-300K", start=500)  # md/mos2-300K/amplitudes
    perturbed = perturb_atoms(atoms, tables, numpy.random.default_rng(0))

Modules: :mod:`~hrtemlake.md.systems` (starting structures), :mod:`~hrtemlake.md.calculators`
(calculators by name; where GPAW's data comes from), :mod:`~hrtemlake.md.dynamics` (the run),
:mod:`~hrtemlake.md.amplitudes` (the tables), :mod:`~hrtemlake.md.vibrations` (perturbed
configurations) and :mod:`~hrtemlake.md.plots`.
"""

from hrtemlake.md.amplitudes import (
    AmplitudeEntry,
    AmplitudeTable,
    EdgeEntry,
    EdgeTable,
    VibrationTables,
    coordination_numbers,
    cutoff_radii,
    edge_frames,
    format_table,
    get_edge_vibrations,
    get_vibrational_amplitudes,
    load_vibrations,
    vibration_tables,
    write_vibration_tables,
)
from hrtemlake.md.calculators import CALCULATORS, check_calculator, make_calculator
from hrtemlake.md.dynamics import (
    MDProgress,
    MDResult,
    MDSettings,
    MDTrajectory,
    committed_steps,
    export_trajectory,
    load_trajectory,
    run_md,
)
from hrtemlake.md.systems import SYSTEMS, build_system
from hrtemlake.md.vibrations import (
    atom_sigmas,
    perturb_atoms,
    perturb_edge_atoms,
    perturbed_configurations,
)

__all__ = [
    "CALCULATORS",
    "SYSTEMS",
    "AmplitudeEntry",
    "AmplitudeTable",
    "EdgeEntry",
    "EdgeTable",
    "MDProgress",
    "MDResult",
    "MDSettings",
    "MDTrajectory",
    "VibrationTables",
    "atom_sigmas",
    "build_system",
    "check_calculator",
    "committed_steps",
    "coordination_numbers",
    "cutoff_radii",
    "edge_frames",
    "export_trajectory",
    "format_table",
    "get_edge_vibrations",
    "get_vibrational_amplitudes",
    "load_trajectory",
    "load_vibrations",
    "make_calculator",
    "perturb_atoms",
    "perturb_edge_atoms",
    "perturbed_configurations",
    "run_md",
    "vibration_tables",
    "write_vibration_tables",
]
