"""``hrtemlake cluster``: the batch cluster the flows' Dask workers run on."""

from __future__ import annotations

import typer

from hrtemlake.cli._common import ClusterOption, LakeOption

cluster_app = typer.Typer(help="Batch clusters (dask-jobqueue) for the flows.", no_args_is_help=True)


@cluster_app.command("script")
def script(cluster: ClusterOption = None, lake: LakeOption = None) -> None:
    """Print the job script the configured cluster submits for each batch of workers."""
    from hrtemlake.runtime import job_script

    typer.echo(job_script(cluster, lake))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(cluster_app, name="cluster")
