"""``hrtemlake lake``: inspect and validate the lake."""

from __future__ import annotations

import typer

from hrtemlake.cli._common import LakeOption

lake_app = typer.Typer(help="Inspect and validate the lake.", no_args_is_help=True)


@lake_app.command("ls")
def lake_ls(lake: LakeOption = None) -> None:
    """Print the lake tree with dims, shapes, dtypes and sizes."""
    from hrtemlake.lake.check import describe_lake

    for line in describe_lake(lake):
        typer.echo(line)


@lake_app.command("check")
def lake_check(lake: LakeOption = None) -> None:
    """Validate every group and variable against the catalog (exit 1 on errors)."""
    from hrtemlake.lake.check import check_lake

    problems = check_lake(lake)
    for problem in problems:
        typer.echo(str(problem))
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    typer.echo(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        raise typer.Exit(1)


@lake_app.command("schema")
def lake_schema() -> None:
    """Print the catalog (every group, variable, dims, dtype, units) as Markdown."""
    from hrtemlake.lake.docs import schema_markdown

    typer.echo(schema_markdown())


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(lake_app, name="lake")
