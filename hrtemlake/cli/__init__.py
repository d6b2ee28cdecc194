"""The ``hrtemlake`` command line: one command group per stage, each a thin layer."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hrtemlake._version import __version__
from hrtemlake.cli._common import ClusterOption, LakeOption, WorkersOption
from hrtemlake.cli import analyze, ingest, lake, md, nn, runtime, simulate
from hrtemlake.errors import HrtemlakeError

__all__ = ["app", "main"]

app = typer.Typer(
    name="hrtemlake",
    help="A batch data lake and analysis platform for deep learning on HR-TEM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for _stage in (lake, simulate, ingest, md, nn, analyze, runtime):
    _stage.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hrtemlake {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """hrtemlake: simulate, ingest, train and analyse HR-TEM data in one Zarr lake."""


@app.command()
def demo(
    lake: LakeOption = None,
    workers: WorkersOption = 2,
    cluster: ClusterOption = None,
) -> None:
    """Run the main job end to end on small defaults into a local lake."""
    from hrtemlake.flows.demo import run_demo

    run_demo(lake=lake, workers=workers, cluster=cluster)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one line and exit with status 2."""
    try:
        code = app(args=argv, standalone_mode=False)
    except HrtemlakeError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as err:  # click's usage errors
        import click

        if isinstance(err, click.exceptions.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
