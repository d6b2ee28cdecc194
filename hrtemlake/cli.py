"""The ``hrtemlake`` command line: one command group per stage, each a thin layer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hrtemlake._version import __version__
from hrtemlake.errors import HrtemlakeError

app = typer.Typer(
    name="hrtemlake",
    help="A batch data lake and analysis platform for deep learning on HR-TEM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
lake_app = typer.Typer(help="Inspect and validate the lake.", no_args_is_help=True)
app.add_typer(lake_app, name="lake")
simulate_app = typer.Typer(help="Simulate atomic models and exit waves.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
export_app = typer.Typer(help="Export lake content to community formats.", no_args_is_help=True)
app.add_typer(export_app, name="export")

LakeOption = Annotated[
    Optional[str],
    typer.Option(
        "--lake",
        help="Lake location (path or fsspec URL). Default: $HRTEMLAKE_LAKE, else ./lake.zarr.",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    Optional[int],
    typer.Option("--workers", "-n", help="Dask worker processes (default: the machine's cores)."),
]
ClusterOption = Annotated[
    Optional[Path],
    typer.Option(help="Cluster configuration YAML (default: $HRTEMLAKE_CLUSTER, else local)."),
]


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


DatasetOption = Annotated[str, typer.Option("--dataset", "-d", help="Dataset name.")]


def _options(pairs: list[str], **explicit) -> dict:
    """Builder options from explicit flags and repeated ``--set key=value`` (YAML values)."""
    import yaml

    from hrtemlake.errors import ParameterError

    options = {k: v for k, v in explicit.items() if v is not None}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParameterError(f"--set expects key=value, got {pair!r}")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return options


@simulate_app.command("structures")
def simulate_structures_cmd(
    dataset: DatasetOption,
    kind: Annotated[str, typer.Option(help="Model kind: nanoparticle or mx2.")] = "mx2",
    count: Annotated[int, typer.Option(help="Number of models in the dataset.")] = 10,
    seed: Annotated[int, typer.Option(help="Dataset seed (use different seeds for train/val/test).")] = 0,
    element: Annotated[Optional[str], typer.Option(help="Nanoparticle FCC element (default Au).")] = None,
    formula: Annotated[Optional[str], typer.Option(help="MX2 formula (default MoS2).")] = None,
    max_tilt: Annotated[Optional[float], typer.Option(help="Maximum tilt off the zone axis [deg].")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Any builder option, key=value (repeatable).")] = [],
    lake: LakeOption = None,
) -> None:
    """Build atomic models and their sites (atomic columns) into simulations/DATASET."""
    from hrtemlake.lake import Lake
    from hrtemlake.simulate.dataset import simulate_structures

    options = _options(set_, element=element, formula=formula, max_tilt=max_tilt)
    store = Lake(lake, mode="a")
    built = simulate_structures(
        store, dataset, kind, count, seed, options,
        progress=lambda done, total: typer.echo(f"structures {done}/{total}"),
    )  # fmt: skip
    typer.echo(f"{dataset}: {built} models built ({count} in the dataset)")


@simulate_app.command("exitwaves")
def simulate_exitwaves_cmd(
    dataset: DatasetOption,
    energy: Annotated[Optional[float], typer.Option(help="Beam energy [eV] (default: 300 keV nanoparticles, 50 keV MX2).")] = None,
    sampling: Annotated[float, typer.Option(help="Sampling [Å].")] = 0.05,
    slice_thickness: Annotated[float, typer.Option(help="Slice thickness [Å].")] = 0.2,
    debye_waller: Annotated[float, typer.Option(help="Gaussian smearing of the potential [Å].")] = 0.0,
    frozen_phonons: Annotated[int, typer.Option(help="Frozen-phonon configurations (0: none).")] = 0,
    phonon_sigma: Annotated[float, typer.Option(help="Frozen-phonon displacement per direction [Å].")] = 0.0,
    device: Annotated[str, typer.Option(help="cpu or gpu (abTEM's device).")] = "cpu",
    workers: WorkersOption = None,
    cluster: ClusterOption = None,
    lake: LakeOption = None,
) -> None:
    """Compute the missing exit waves of a dataset's models (a Prefect flow over Dask)."""
    from hrtemlake.flows.simulate import simulate_dataset
    from hrtemlake.lake import Lake
    from hrtemlake.runtime import prefect_api, task_runner

    group = Lake(lake).group("structures", dataset=dataset)
    kind = group.attrs["kind"]
    parameters = group.attrs["parameters"]
    runner = task_runner(workers=workers, cluster=cluster)
    with prefect_api():
        result = simulate_dataset.with_options(task_runner=runner)(
            dataset=dataset, kind=kind, count=int(group["write_session"].shape[0]),
            seed=parameters["seed"], options=parameters["options"], energy=energy,
            sampling=sampling, slice_thickness=slice_thickness, debye_waller=debye_waller,
            frozen_phonons=frozen_phonons, phonon_sigma=phonon_sigma, device=device, lake=lake,
        )  # fmt: skip
    typer.echo(f"{dataset}: {result['exit_waves']} exit waves computed")


@export_app.command("structures")
def export_structures_cmd(
    dataset: DatasetOption,
    out: Annotated[Path, typer.Option(help="Output file; the format follows the suffix (.traj, .xyz, ...).")],
    lake: LakeOption = None,
) -> None:
    """Write a dataset's models with ASE: frame i of the file is model i."""
    import ase.io

    from hrtemlake.lake import Lake
    from hrtemlake.simulate.dataset import load_atoms

    store = Lake(lake)
    count = int(store.group("structures", dataset=dataset)["write_session"].shape[0])
    ase.io.write(out, load_atoms(store, dataset, range(count)))
    typer.echo(f"wrote {count} models to {out}")


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
