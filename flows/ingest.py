"""Prefect flow: ingest an acquisition folder into a series, then fit its dose and noise.

Thin: the work is :func:`hrtemlake.ingest.series.ingest_series` and
:func:`hrtemlake.ingest.noisefit.fit_series_noise`. Both append only what is new, so a
scheduled deployment can watch a folder that is still being written::

    from hrtemlake.flows.ingest import ingest_flow
    ingest_flow.serve(name="watch-insitu-01", interval=60,
                      parameters={"paths": ["/data/insitu-01"], "series": "insitu-01",
                                  "fit_noise": True})

Appends are not safe from two runs of the same series at once: give such a deployment a
concurrency limit of 1. The flow runs in-process (no Dask): a series has one writer.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from hrtemlake.ingest.noisefit import fit_series_noise
from hrtemlake.ingest.series import ingest_series


@task(name="ingest-files")
def ingest_task(paths: list[str], series: str, lake: str | None, options: dict[str, Any]) -> dict:
    logger = get_run_logger()
    last = [time.monotonic()]

    def progress(p) -> None:  # at most every 10 s
        if time.monotonic() - last[0] >= 10.0 or p.files_done == p.files_total:
            last[0] = time.monotonic()
            logger.info("%d frames ingested, %d quarantined (%d/%d files)",
                        p.frames, p.quarantined, p.files_done, p.files_total)  # fmt: skip

    result = ingest_series(lake, series, paths, **options, progress=progress)
    for entry in result.quarantined:
        logger.warning("quarantined %s: %s", entry.source, entry.reason)
    logger.info(result.summary())
    return {"frames": result.frames, "quarantined": len(result.quarantined),
            "total_frames": result.total_frames, "summary": result.summary()}  # fmt: skip


@task(name="fit-noise")
def noise_task(series: str, lake: str | None, options: dict[str, Any]) -> dict:
    result = fit_series_noise(lake, series, **options)
    get_run_logger().info(result.summary())
    return {"fitted": result.fitted, "summary": result.summary()}


@flow(name="ingest-series", log_prints=True)
def ingest_flow(
    paths: list[str],
    series: str,
    lake: str | None = None,
    pixel_size: float | None = None,
    allow_diffraction: bool = False,
    dayfirst: bool = False,
    fit_noise: bool = False,
    window: list[int] | None = None,
    counts_per_electron: float | None = None,
) -> dict[str, Any]:
    """Append the new frames of ``paths`` to ``experiments/<series>``; optionally fit noise.

    Returns the frames ingested and quarantined by this run (and the frames fitted).
    """
    options = {"pixel_size": pixel_size, "allow_diffraction": allow_diffraction,
               "dayfirst": dayfirst}  # fmt: skip
    ingested = ingest_task(list(paths), series, lake, options)
    fitted = {"fitted": 0, "summary": ""}
    if fit_noise and ingested["total_frames"]:
        noise_options = {"window": tuple(window) if window else None,
                         "counts_per_electron": counts_per_electron}  # fmt: skip
        fitted = noise_task(series, lake, noise_options)
    create_markdown_artifact(
        key=f"ingest-{series}".lower().replace("_", "-").replace(".", "-"),
        markdown=f"{ingested['summary']}\n\n{fitted['summary']}".strip(),
    )
    return {"frames": ingested["frames"], "quarantined": ingested["quarantined"],
            "fitted": fitted["fitted"]}  # fmt: skip
