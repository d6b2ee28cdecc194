"""``hrtemlake md``: molecular dynamics and vibrational amplitudes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hrtemlake.cli._common import key_value_options, LakeOption

md_app = typer.Typer(
    help="Molecular dynamics (GPAW or any ASE calculator) and vibrational-amplitude tables.",
    no_args_is_help=True,
)

RunOption = Annotated[str, typer.Option("--run", "-r", help="Run name (md/RUN in the lake).")]


@md_app.command("run")
def md_run_cmd(
    run: RunOption,
    system: Annotated[str, typer.Option(help="mos2-flake, mos2-cell, or a structure file ASE reads.")] = "mos2-flake",
    temperature: Annotated[float, typer.Option(help="Thermostat temperature [K].")] = 300.0,
    steps: Annotated[int, typer.Option(help="MD steps the run should hold (a rerun continues to this).")] = 100,
    excitation_temperature: Annotated[float, typer.Option(help="Initial Maxwell–Boltzmann temperature [K].")] = 500.0,
    timestep: Annotated[float, typer.Option(help="Time step \\[fs].")] = 0.5,
    taut: Annotated[float, typer.Option(help="Berendsen time constant \\[fs].")] = 250.0,
    calculator: Annotated[str, typer.Option(help="gpaw, emt, lj, morse, or module:Class.")] = "gpaw",
    calc_option: Annotated[list[str], typer.Option("--calc-option", help="Calculator keyword key=value (repeatable), e.g. h=0.25.")] = [],
    set_: Annotated[list[str], typer.Option("--set", help="System option key=value (repeatable), e.g. rings=2.")] = [],
    relax_steps: Annotated[int, typer.Option(help="Most QuasiNewton relaxation steps (0: none).")] = 100,
    fmax: Annotated[float, typer.Option(help="Relaxation force criterion \\[eV/Å].")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the initial velocities.")] = 0,
    calc_log: Annotated[Optional[Path], typer.Option(help="File for the calculator's text output (GPAW's txt).")] = None,
    traj: Annotated[Optional[Path], typer.Option(help="Also write the run as an ASE trajectory (.traj).")] = None,
    amplitudes: Annotated[bool, typer.Option(help="Compute the amplitude tables at the end.")] = False,
    lake: LakeOption = None,
) -> None:
    """Run (or continue) molecular dynamics into md/RUN, step by step (a Prefect flow).

    The thesis protocol: relax (QuasiNewton), Maxwell–Boltzmann velocities at the excitation
    temperature with zero linear and angular momentum, NVTBerendsen to the temperature.
    GPAW (LCAO, dzp, PBE, Γ point, symmetry off) reads its PAW setups and basis sets from the
    installed gpaw-data package or $GPAW_SETUP_PATH, never from the network.
    """
    from hrtemlake.errors import ParameterError
    from hrtemlake.flows.md import md_flow
    from hrtemlake.md import MDSettings, build_system, check_calculator
    from hrtemlake.runtime import prefect_api

    options = key_value_options(calc_option, "--calc-option")
    system_options = key_value_options(set_, "--set")
    settings = MDSettings(
        temperature=temperature, excitation_temperature=excitation_temperature, timestep=timestep,
        taut=taut, relax_fmax=fmax, relax_steps=relax_steps, calculator=calculator,
        calculator_options=options, seed=seed,
    )  # fmt: skip
    if steps < 0:
        raise ParameterError(f"--steps must be >= 0, got {steps}")
    check_calculator(calculator, build_system(system, system_options), options)  # before Prefect
    with prefect_api():
        result = md_flow(
            run=run, system=system, temperature=settings.temperature, steps=steps,
            excitation_temperature=settings.excitation_temperature, timestep=timestep, taut=taut,
            calculator=calculator, calculator_options=options, relax_steps=relax_steps,
            relax_fmax=fmax, seed=seed, system_options=system_options,
            log=str(calc_log) if calc_log else None, traj=str(traj) if traj else None,
            amplitudes=amplitudes, lake=lake,
        )  # fmt: skip
    speed = f", {result['seconds_per_step']:.3g} s/step" if result["new_steps"] else ""
    typer.echo(f"md/{run}: {result['new_steps']} steps computed, {result['steps']} in the run"
               f"{speed}, T = {result['temperature']:.1f} K")  # fmt: skip
    if result["amplitudes"]:
        typer.echo(result["amplitudes"])


@md_app.command("amplitudes")
def md_amplitudes_cmd(
    run: RunOption,
    start: Annotated[int, typer.Option(help="First step used (skip the thermalisation).")] = 0,
    stop: Annotated[Optional[int], typer.Option(help="Step after the last one used (default: all).")] = None,
    cutoff: Annotated[list[str], typer.Option("--cutoff", help="Cut-off radius of an element [Å], El=r (repeatable); default ASE's natural cut-offs.")] = [],
    mult: Annotated[float, typer.Option(help="Multiplier of the natural cut-offs.")] = 1.0,
    edge_element: Annotated[Optional[str], typer.Option(help="Element of the edge atoms (default: every non-metal).")] = None,
    metal: Annotated[Optional[str], typer.Option(help="Metal the edge frames point to (default: every metal).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace tables computed with other parameters.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Save amplitude vs coordination (thesis Fig. 5.1 b-c) to this image.")] = None,
    lake: LakeOption = None,
) -> None:
    """Compute the vibrational-amplitude tables of md/RUN (md/RUN/amplitudes, edge_vibrations)."""
    from hrtemlake.errors import ParameterError
    from hrtemlake.lake import Lake
    from hrtemlake.md import format_table, write_vibration_tables

    cutoffs = key_value_options(cutoff, "--cutoff")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in cutoffs.values()):
        raise ParameterError(f"--cutoff expects El=radius in Å, got {cutoff}")
    tables = write_vibration_tables(
        Lake(lake, mode="a"), run, start=start, stop=stop, cutoffs=cutoffs, mult=mult,
        element=edge_element, metal=metal, overwrite=overwrite,
    )  # fmt: skip
    start, stop = tables.amplitudes.steps
    typer.echo(f"md/{tables.run}: steps [{start}, {stop})")
    typer.echo(format_table(tables))
    if plot is not None:
        from hrtemlake.md.plots import save_amplitude_plot

        save_amplitude_plot(tables, plot, title=f"md/{tables.run}")
        typer.echo(f"wrote {plot}")


@md_app.command("export")
def md_export_cmd(
    run: RunOption,
    out: Annotated[Path, typer.Option(help="Output file; the format follows the suffix (.traj, .xyz, ...).")],
    start: Annotated[int, typer.Option(help="First step.")] = 0,
    stop: Annotated[Optional[int], typer.Option(help="Step after the last one (default: all).")] = None,
    every: Annotated[int, typer.Option(help="Write every N-th step.")] = 1,
    lake: LakeOption = None,
) -> None:
    """Write the steps of md/RUN with ASE (positions, velocities, potential energy)."""
    from hrtemlake.lake import Lake
    from hrtemlake.md import export_trajectory

    count = export_trajectory(Lake(lake), run, out, start=start, stop=stop, every=every)
    typer.echo(f"wrote {count} steps of md/{run} to {out}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(md_app, name="md")
