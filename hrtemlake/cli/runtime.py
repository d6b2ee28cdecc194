"""``hrtemlake cluster``: the batch cluster the flows' Dask workers run on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hrtemlake.cli._common import ClusterOption, LakeOption

cluster_app = typer.Typer(help="Batch clusters (dask-jobqueue) for the flows.", no_args_is_help=True)


@cluster_app.command("script")
def script(cluster: ClusterOption = None, lake: LakeOption = None) -> None:
    """Print the job script the configured cluster submits for each batch of workers."""
    from hrtemlake.runtime import job_script

    typer.echo(job_script(cluster, lake))


def serve(
    watch: Annotated[Optional[Path], typer.Option(help="Acquisition folder to ingest on a schedule.")] = None,
    series: Annotated[str, typer.Option(help="Series name of the watched folder.")] = "live",
    interval: Annotated[float, typer.Option(help="Seconds between scheduled ingests.")] = 60.0,
    pixel_size: Annotated[
        Optional[float], typer.Option(help="Pixel size (Å) of watched frames without calibration.")
    ] = None,
    analyze: Annotated[
        Optional[list[str]],
        typer.Option(help="Network to analyse the watched series' new frames with (repeatable)."),
    ] = None,
    lake: LakeOption = None,
) -> None:
    """Serve every flow's deployment from this process (Ctrl-C stops).

    Against $PREFECT_API_URL when set, else a local Prefect server started for the purpose
    (with its scheduler, so scheduled ingests run).  Trigger runs with
    `prefect deployment run FLOW/DEPLOYMENT --param ...`.
    """
    from prefect import serve as prefect_serve

    from hrtemlake.flows.deployments import deployments
    from hrtemlake.runtime import prefect_server

    with prefect_server() as api:
        typer.echo(f"Prefect API: {api}")
        prefect_serve(*deployments(lake, str(watch) if watch else None, series, interval, pixel_size,
                                   analyze))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(cluster_app, name="cluster")
    app.command("serve")(serve)
