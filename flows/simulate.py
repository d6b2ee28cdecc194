"""Prefect flow: build a simulated dataset's atomic models and their exit waves.

Thin: the work is :mod:`hrtemlake.simulate.dataset`; this module batches exit waves over the
Dask task runner, reports progress, and is resumable (a rerun computes only missing models).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from hrtemlake.lake import ItemWriter, Lake
from hrtemlake.md.amplitudes import load_vibrations
from hrtemlake.simulate.dataset import (
    compute_exitwave_block,
    exitwave_wisdom,
    exitwave_writer,
    missing_exitwave_blocks,
    simulate_structures,
)
from hrtemlake.simulate.dataset import models_per_task as default_per_task
from hrtemlake.simulate.exitwaves import ExitWaveSettings, default_energy, warm_up


@task(name="exit-waves", retries=1, retry_delay_seconds=5)
def exitwave_task(
    writer: ItemWriter, dataset: str, block: range, settings: ExitWaveSettings, seed: int, wisdom
) -> int:
    return compute_exitwave_block(writer, dataset, block, settings, seed, wisdom)


@task(name="fft-plans")
def fft_plans_task(lake: str, dataset: str, settings: ExitWaveSettings):
    # on a worker: the abTEM import and JIT it pays here are paid once per worker anyway
    return exitwave_wisdom(Lake(lake), dataset, settings)


@task(name="warm-up")
def warm_up_task(settings: ExitWaveSettings) -> None:
    warm_up(settings)


@flow(name="simulate-dataset", log_prints=True)
def simulate_dataset(
    dataset: str,
    kind: str = "mx2",
    count: int = 10,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    energy: float | None = None,
    sampling: float = 0.05,
    slice_thickness: float = 0.2,
    debye_waller: float = 0.0,
    frozen_phonons: int = 0,
    phonon_sigma: float = 0.0,
    device: str = "cpu",
    models_per_task: int | None = None,
    lake: str | None = None,
    vibrations: str | None = None,
    vibration_scale: float = 1.0,
    particle_waves: bool = False,
) -> dict[str, int]:
    """Build ``count`` models of ``kind`` and their exit waves into ``simulations/<dataset>``.

    With ``vibrations`` (an MD run, ``md/<run>`` or ``<run>``), the ``frozen_phonons``
    configurations carry that run's vibrational amplitudes × ``vibration_scale`` (thesis
    ch. 5); its tables are read here and travel with the settings as plain data.
    ``models_per_task`` exit waves make one task (default: :func:`models_per_task` of the
    missing ones). ``particle_waves`` also computes every model's exit wave without its support
    (``particle_exitwaves``, for support-free Exitwave labels).
    Returns the numbers of models and exit waves computed by this run (both kinds).
    """
    logger = get_run_logger()
    tables = load_vibrations(Lake(lake), vibrations) if vibrations else None
    settings = ExitWaveSettings(
        energy=energy or default_energy(kind), sampling=sampling, slice_thickness=slice_thickness,
        debye_waller=debye_waller, frozen_phonons=frozen_phonons, phonon_sigma=phonon_sigma,
        device=device, vibrations=tables, vibration_scale=vibration_scale,
    )  # fmt: skip
    store = Lake(lake, mode="a")
    built = simulate_structures(
        store, dataset, kind, count, seed, options,
        progress=lambda done, total: logger.info("structures %d/%d", done, total),
    )  # fmt: skip
    writers = [exitwave_writer(store, dataset, settings, particle=particle)
               for particle in (False, True)[: 1 + particle_waves]]  # fmt: skip
    per_task = models_per_task or default_per_task(sum(len(w.missing()) for w in writers))
    work = [(w, b) for w in writers for b in missing_exitwave_blocks(w, per_block=per_task)]
    total = sum(len(b) for _, b in work)
    logger.info("%s: %d models built, %d exit waves to compute", dataset, built, total)
    # one set of FFT plans for every worker: the same bits whoever computes a model
    wisdom = warming = None
    if work:
        plans = fft_plans_task.submit(store.location, dataset, settings)
        # an idle second worker imports abTEM and compiles meanwhile, off the critical path
        warming = warm_up_task.submit(settings) if len(work) > 1 else None
        wisdom = plans.result()
    futures = [exitwave_task.submit(w, dataset, b, settings, seed, wisdom) for w, b in work]
    done = 0
    for future in futures:
        done += future.result()
        logger.info("exit waves %d/%d", done, total)
    if warming is not None:
        warming.wait()
    create_markdown_artifact(
        key=f"simulate-{dataset}".lower().replace("_", "-").replace(".", "-"),
        markdown=(
            f"**{dataset}** ({kind}, seed {seed}) in `{store.location}`: "
            f"{count} models ({built} new), {done} exit waves computed this run."
        ),
    )
    return {"models": built, "exit_waves": done}
