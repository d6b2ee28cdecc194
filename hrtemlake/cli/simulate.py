"""``hrtemlake simulate`` and ``hrtemlake export``: simulated datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hrtemlake.cli._common import key_value_options, ClusterOption, DatasetOption, LakeOption, WorkersOption

simulate_app = typer.Typer(help="Simulate atomic models, exit waves and images.", no_args_is_help=True)
export_app = typer.Typer(help="Export lake content to community formats.", no_args_is_help=True)


def _options(pairs: list[str], **explicit) -> dict:
    """Builder options from explicit flags and repeated ``--set key=value`` (YAML values)."""
    return {**{k: v for k, v in explicit.items() if v is not None}, **key_value_options(pairs)}


@simulate_app.command("structures")
def simulate_structures_cmd(
    dataset: DatasetOption,
    kind: Annotated[str, typer.Option(help="Model kind: mx2, nanoparticle, nanotube, amorphous or alloy.")] = "mx2",
    count: Annotated[int, typer.Option(help="Number of models in the dataset.")] = 10,
    seed: Annotated[int, typer.Option(help="Dataset seed (use different seeds for train/val/test).")] = 0,
    element: Annotated[Optional[str], typer.Option(help="Nanoparticle FCC element (default Au).")] = None,
    formula: Annotated[Optional[str], typer.Option(help="MX2 formula (default MoS2).")] = None,
    max_tilt: Annotated[Optional[float], typer.Option(help="Maximum tilt off the zone axis \\[deg].")] = None,
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
    energy: Annotated[Optional[float], typer.Option(help="Beam energy \\[eV] (default: 300 keV nanoparticles, 50 keV MX2).")] = None,
    sampling: Annotated[float, typer.Option(help="Sampling \\[Å].")] = 0.05,
    slice_thickness: Annotated[float, typer.Option(help="Slice thickness \\[Å].")] = 0.2,
    debye_waller: Annotated[float, typer.Option(help="Gaussian smearing of the potential \\[Å].")] = 0.0,
    frozen_phonons: Annotated[int, typer.Option(help="Frozen-phonon configurations (0: none).")] = 0,
    phonon_sigma: Annotated[float, typer.Option(help="Frozen-phonon displacement per direction \\[Å].")] = 0.0,
    vibrations: Annotated[Optional[str], typer.Option(help="MD run (md/RUN) whose amplitude tables perturb the --frozen-phonons configurations (thesis ch. 5).")] = None,
    vibration_scale: Annotated[float, typer.Option(help="Factor on the MD amplitudes.")] = 1.0,
    device: Annotated[str, typer.Option(help="cpu or gpu (abTEM's device).")] = "cpu",
    particle_waves: Annotated[bool, typer.Option(help="Also compute each model's exit wave without its support (particle_exitwaves), the target of `remove_support: true` Exitwave labels.")] = False,
    models_per_task: Annotated[Optional[int], typer.Option(help="Exit waves per Dask task (default: 1 to 8, for at least 16 tasks).")] = None,
    workers: WorkersOption = None,
    cluster: ClusterOption = None,
    lake: LakeOption = None,
) -> None:
    """Compute the missing exit waves of a dataset's models (a Prefect flow over Dask)."""
    from hrtemlake.errors import ParameterError
    from hrtemlake.flows.simulate import simulate_dataset
    from hrtemlake.lake import Lake
    from hrtemlake.runtime import prefect_api, task_runner

    if models_per_task is not None and models_per_task < 1:
        raise ParameterError(f"--models-per-task must be at least 1, got {models_per_task}")
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
            vibrations=vibrations, vibration_scale=vibration_scale, particle_waves=particle_waves,
            models_per_task=models_per_task,
        )  # fmt: skip
    typer.echo(f"{dataset}: {result['exit_waves']} exit waves computed")


@simulate_app.command("images")
def simulate_images_cmd(
    dataset: DatasetOption,
    params: Annotated[Path, typer.Option("--params", "-p", help="Parameter file (YAML or JSON; thesis Table 3.2).")],
    imageset: Annotated[Optional[str], typer.Option(help="Image set name (default: the parameter file's name without suffix).")] = None,
    train: Annotated[bool, typer.Option("--train/--test", help="Training data: image_epochs images per exit wave (default); --test: one (validation/test data).")] = True,
    epochs: Annotated[Optional[int], typer.Option(help="Image epochs per exit wave (overrides image_epochs).")] = None,
    device: Annotated[str, typer.Option(help="cpu or gpu (CuPy).")] = "cpu",
    debug_dir: Annotated[Optional[str], typer.Option(help="Folder for the `debug: N` previews (default: beside the lake, <lake>.debug/).")] = None,
    models_per_task: Annotated[int, typer.Option(help="Models per Dask task.")] = 1,
    workers: WorkersOption = None,
    cluster: ClusterOption = None,
    lake: LakeOption = None,
) -> None:
    """Make image epochs and labels of a dataset's exit waves (a Prefect flow over Dask)."""
    from hrtemlake.errors import ParameterError
    from hrtemlake.flows.images import simulate_images
    from hrtemlake.runtime import prefect_api, task_runner
    from hrtemlake.simulate.images import image_epochs
    from hrtemlake.simulate.params import load_parameters

    if not params.is_file():
        raise ParameterError(f"parameter file {str(params)!r} does not exist")
    parameters = load_parameters(params)
    image_epochs(parameters, epochs, test=not train)  # user errors before any cluster starts
    if device not in ("cpu", "gpu"):
        raise ParameterError(f"--device must be cpu or gpu, got {device!r}")
    if models_per_task < 1:
        raise ParameterError(f"--models-per-task must be at least 1, got {models_per_task}")
    runner = task_runner(workers=workers, cluster=cluster)
    with prefect_api():
        result = simulate_images.with_options(task_runner=runner)(
            dataset=dataset, params=parameters.to_dict(), imageset=imageset or params.stem,
            epochs=epochs, test=not train, models_per_task=models_per_task, device=device,
            debug_dir=debug_dir, lake=lake,
        )  # fmt: skip
    typer.echo(f"{dataset}: {result['models']} models, {result['images']} images made, "
               f"{result['previews']} previews")  # fmt: skip


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


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(simulate_app, name="simulate")
    app.add_typer(export_app, name="export")
