"""Prefect flow: molecular dynamics into ``md/<run>``, then optionally its amplitude tables.

Thin: the work is :func:`hrtemlake.md.run_md` and :func:`hrtemlake.md.write_vibration_tables`.
The dynamics is one sequential task in the flow's process (no Dask): every step is appended to
the lake as it is computed, so a retry, or a rerun of a crashed or killed flow, continues from
the last committed step. Run GPAW over MPI by starting the whole command under ``mpiexec``
(e.g. ``mpiexec -n 16 hrtemlake md run ...``), as GPAW parallelises itself.

A deployment runs the thesis pair (300 K and 1200 K) as two runs::

    from hrtemlake.flows.md import md_flow
    md_flow.serve(name="mos2-1200K", parameters={"run": "mos2-1200K", "temperature": 1200,
                                                 "steps": 4000, "amplitudes": True})
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from hrtemlake.lake import Lake
from hrtemlake.md import MDProgress, MDSettings, format_table, run_md, write_vibration_tables
from hrtemlake.md.dynamics import export_trajectory


def _reporter(logger, every: int):
    def report(p: MDProgress) -> None:
        if p.stage == "relax":
            logger.info("relax step %d (at most %d): E = %.4f eV", p.step, p.total, p.energy)
        elif p.step % every == 0 or p.step == p.total:
            logger.info("step %d/%d  T = %.1f K  E = %.4f eV",
                        p.step, p.total, p.temperature, p.energy)  # fmt: skip

    return report


@task(name="md-dynamics", retries=1, retry_delay_seconds=5)
def dynamics_task(lake: str | None, run: str, steps: int, system: str, settings: dict[str, Any],
                  system_options: dict[str, Any], log: str | None) -> dict[str, Any]:  # fmt: skip
    logger = get_run_logger()
    result = run_md(
        Lake(lake, mode="a"), run, steps, system, MDSettings(**settings), system_options,
        log=log, progress=_reporter(logger, max(1, steps // 100)),
    )  # fmt: skip
    logger.info("md/%s: %d new steps (%d in all), %.2f s/step", run, result.new_steps,
                result.steps, result.seconds_per_step)  # fmt: skip
    return {"new_steps": result.new_steps, "steps": result.steps, "continued": result.continued,
            "seconds_per_step": result.seconds_per_step, "temperature": result.temperature}  # fmt: skip


@task(name="md-amplitudes")
def amplitudes_task(lake: str | None, run: str, start: int) -> str:
    tables = write_vibration_tables(Lake(lake, mode="a"), run, start=start, overwrite=True)
    text = format_table(tables)
    get_run_logger().info("md/%s amplitudes:\n%s", run, text)
    return text


@flow(name="md-run", log_prints=True)
def md_flow(
    run: str,
    system: str = "mos2-flake",
    temperature: float = 300.0,
    steps: int = 100,
    excitation_temperature: float = 500.0,
    timestep: float = 0.5,
    taut: float = 250.0,
    calculator: str = "gpaw",
    calculator_options: dict[str, Any] | None = None,
    relax_steps: int = 100,
    relax_fmax: float = 0.05,
    seed: int = 0,
    system_options: dict[str, Any] | None = None,
    log: str | None = None,
    traj: str | None = None,
    amplitudes: bool = False,
    amplitudes_start: int = 0,
    lake: str | None = None,
) -> dict[str, Any]:
    """Run (or continue) ``md/<run>`` to ``steps`` MD steps; see :func:`hrtemlake.md.run_md`.

    With ``traj`` the run is also written as an ASE trajectory; with ``amplitudes`` its tables
    are (re)computed from step ``amplitudes_start`` on.
    Returns the steps computed by this flow run, the run's steps and seconds per step.
    """
    settings = MDSettings(
        temperature=temperature, excitation_temperature=excitation_temperature, timestep=timestep,
        taut=taut, relax_fmax=relax_fmax, relax_steps=relax_steps, calculator=calculator,
        calculator_options=calculator_options or {}, seed=seed,
    )  # fmt: skip
    result = dynamics_task(
        lake, run, steps, system, settings.to_dict(), dict(system_options or {}), log
    )
    if traj:
        count = export_trajectory(Lake(lake), run, traj)
        get_run_logger().info("wrote %d steps to %s", count, traj)
    table = amplitudes_task(lake, run, amplitudes_start) if amplitudes else ""
    create_markdown_artifact(
        key=f"md-{run}".lower().replace("_", "-").replace(".", "-"),
        markdown=(
            f"**md/{run}** ({system}, {calculator}, {temperature} K): {result['new_steps']} new "
            f"steps, {result['steps']} in all, {result['seconds_per_step']:.3g} s/step."
            + (f"\n\n```\n{table}\n```" if table else "")
        ),
    )
    return {**result, "amplitudes": table}
