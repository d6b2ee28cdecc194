"""``hrtemlake analyze``: segmentation, instances, tracks, Fourier peaks and columns of a series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from hrtemlake.cli._common import ClusterOption, LakeOption, WorkersOption

analyze_app = typer.Typer(
    help="Analyse a series: segment with networks, find instances, track them, Fourier peaks.",
    no_args_is_help=True,
)

RunOption = Annotated[str, typer.Option("--run", "-r", help="Analysis run name (analysis/RUN).")]
SeriesOption = Annotated[str, typer.Option("--series", "-s", help="Series name (experiments/SERIES).")]
NetworkOption = Annotated[list[str], typer.Option("--network", help="Registered network (repeat for an ensemble).")]
FramesOption = Annotated[int, typer.Option(help="Frames per Dask task.")]
ZoneNetworkOption = Annotated[Optional[str], typer.Option(help="Registered zone-axis classifier: adds each track's probability of being on a zone axis per frame (from its Fourier transform).")]


def _runner(workers, cluster):
    from hrtemlake.runtime import task_runner

    return task_runner(workers=workers, cluster=cluster)


@analyze_app.command("segment")
def segment_cmd(
    series: SeriesOption, network: NetworkOption, run: RunOption,
    window: Annotated[int, typer.Option(help="Tile size [pixels at the network's pixel size].")] = 256,
    overlap: Annotated[float, typer.Option(help="Overlap of neighbouring tiles (fraction).")] = 0.25,
    batch_size: Annotated[int, typer.Option(help="Tiles per forward pass.")] = 8,
    frames_per_task: FramesOption = 4,
    workers: WorkersOption = None, cluster: ClusterOption = None, lake: LakeOption = None,
) -> None:
    """Probability maps of every frame (tiled, Hamming-blended, ensemble mean)."""
    from hrtemlake.flows.analysis import segment_flow
    from hrtemlake.runtime import prefect_api

    with prefect_api():
        done = segment_flow.with_options(task_runner=_runner(workers, cluster))(
            series=series, networks=network, run=run, window=window, overlap=overlap,
            batch_size=batch_size, frames_per_task=frames_per_task, lake=lake,
        )  # fmt: skip
    typer.echo(f"analysis/{run}/segmentation: {done} frames segmented")


@analyze_app.command("track")
def track_cmd(
    run: RunOption,
    masks: Annotated[Optional[str], typer.Option(help="Your own segmentation: a (time, y, x) binary or probability stack (.tif, .npy or STORE::VARIABLE).")] = None,
    pixel_size: Annotated[Optional[float], typer.Option(help="Pixel size of --masks \\[Å].")] = None,
    series: Annotated[Optional[str], typer.Option("--series", "-s", help="Series the masks belong to (intensities, Fourier).")] = None,
    threshold: Annotated[float, typer.Option(help="Probability threshold of a particle.")] = 0.9,
    min_separation: Annotated[float, typer.Option(help="Minimum separation \\[nm]; its square is the minimum area.")] = 1.0,
    min_overlap: Annotated[float, typer.Option(help="Overlap with the previous frame's instance that keeps its id.")] = 0.5,
    max_disagreement: Annotated[Optional[float], typer.Option(help="Ensembles: ignore pixels where the networks' probabilities differ by more than this (standard deviation).")] = None,
    frames_per_task: FramesOption = 8,
    workers: WorkersOption = None, cluster: ClusterOption = None, lake: LakeOption = None,
) -> None:
    """Instances (threshold → distance transform → watershed) and their tracks over time."""
    from hrtemlake.errors import ParameterError
    from hrtemlake.flows.analysis import track_flow
    from hrtemlake.runtime import prefect_api

    if masks is not None:
        from hrtemlake.analysis import pipeline as ap
        from hrtemlake.lake import Lake

        if pixel_size is None:
            raise ParameterError("--masks needs --pixel-size (Å)")
        frames = ap.import_masks(Lake(lake, mode="a"), run, ap.read_masks(masks), pixel_size,
                                 source=masks, series=series)  # fmt: skip
        typer.echo(f"analysis/{run}: {frames} frames of masks from {masks}")
    with prefect_api():
        tracks = track_flow.with_options(task_runner=_runner(workers, cluster))(
            run=run, threshold=threshold, min_separation=min_separation,
            min_overlap=min_overlap, frames_per_task=frames_per_task, lake=lake,
            max_disagreement=max_disagreement,
        )  # fmt: skip
    typer.echo(f"analysis/{run}: {tracks} tracks")


@analyze_app.command("fourier")
def fourier_cmd(
    run: RunOption,
    series: Annotated[Optional[str], typer.Option("--series", "-s", help="Series of the frames (default: the run's).")] = None,
    max_peaks: Annotated[int, typer.Option(help="Peak pairs kept per instance and frame.")] = 6,
    zone_threshold: Annotated[float, typer.Option(help="Bright/dim ratio below which a particle is on zone.")] = 5.0,
    ratio_pairs: Annotated[Optional[int], typer.Option(help="Brightest pairs the ratio uses (e.g. 3 first-order pairs).")] = None,
    zone_network: ZoneNetworkOption = None,
    frames_per_task: FramesOption = 8,
    workers: WorkersOption = None, cluster: ClusterOption = None, lake: LakeOption = None,
) -> None:
    """Fourier-peak statistics (d-spacings, angles, bright/dim ratio) of every track."""
    from hrtemlake.flows.analysis import fourier_flow
    from hrtemlake.runtime import prefect_api

    with prefect_api():
        done = fourier_flow.with_options(task_runner=_runner(workers, cluster))(
            run=run, max_peaks=max_peaks, zone_axis_threshold=zone_threshold,
            ratio_pairs=ratio_pairs, series=series, frames_per_task=frames_per_task, lake=lake,
            zone_network=zone_network,
        )  # fmt: skip
    typer.echo(f"analysis/{run}/fourier: {done} frames")


@analyze_app.command("columns")
def columns_cmd(
    run: RunOption,
    threshold: Annotated[float, typer.Option(help="Probability of a column peak.")] = 0.5,
    radius: Annotated[float, typer.Option(help="Match radius between frames \\[Å].")] = 1.0,
    max_disagreement: Annotated[Optional[float], typer.Option(help="Ensembles: ignore pixels where the networks' probabilities differ by more than this (standard deviation).")] = None,
    frames_per_task: FramesOption = 8,
    workers: WorkersOption = None, cluster: ClusterOption = None, lake: LakeOption = None,
) -> None:
    """Atomic-column counts and appearance/disappearance events per frame and class."""
    from hrtemlake.flows.analysis import columns_flow
    from hrtemlake.runtime import prefect_api

    with prefect_api():
        done = columns_flow.with_options(task_runner=_runner(workers, cluster))(
            run=run, threshold=threshold, radius=radius, frames_per_task=frames_per_task,
            lake=lake, max_disagreement=max_disagreement,
        )  # fmt: skip
    typer.echo(f"analysis/{run}/columns: {done} frames")


@analyze_app.command("run")
def run_cmd(
    series: SeriesOption, network: NetworkOption, run: RunOption,
    window: Annotated[int, typer.Option(help="Tile size [pixels].")] = 256,
    threshold: Annotated[float, typer.Option(help="Probability threshold of a particle.")] = 0.9,
    min_separation: Annotated[float, typer.Option(help="Minimum separation \\[nm].")] = 1.0,
    columns: Annotated[bool, typer.Option(help="Also count atomic columns (column networks).")] = False,
    max_disagreement: Annotated[Optional[float], typer.Option(help="Ensembles: ignore pixels where the networks' probabilities differ by more than this (standard deviation).")] = None,
    report: Annotated[Optional[Path], typer.Option(help="HTML report path (default: beside the lake).")] = None,
    zone_network: ZoneNetworkOption = None,
    frames_per_task: FramesOption = 4,
    workers: WorkersOption = None, cluster: ClusterOption = None, lake: LakeOption = None,
) -> None:
    """All stages as one Prefect flow, ending with an HTML report."""
    from hrtemlake.flows.analysis import analysis_flow
    from hrtemlake.runtime import prefect_api

    with prefect_api():
        result = analysis_flow.with_options(task_runner=_runner(workers, cluster))(
            series=series, networks=network, run=run, window=window, threshold=threshold,
            min_separation=min_separation, columns=columns, max_disagreement=max_disagreement,
            report=str(report) if report else None, frames_per_task=frames_per_task, lake=lake,
            zone_network=zone_network,
        )  # fmt: skip
    typer.echo(f"analysis/{run}: {result['tracks']} tracks; report {result['report']}")


@analyze_app.command("report")
def report_cmd(
    run: RunOption,
    out: Annotated[Optional[Path], typer.Option(help="HTML file (default: beside the lake).")] = None,
    lake: LakeOption = None,
) -> None:
    """Write the self-contained HTML report of an analysis run."""
    from hrtemlake.analysis.results import AnalysisRun

    path = AnalysisRun(lake, run).write_report(out)
    typer.echo(f"wrote {path}")


@analyze_app.command("chirality")
def chirality_cmd(
    run: RunOption,
    network: Annotated[str, typer.Option(help="Registered chirality classifier.")] = "chirality",
    top: Annotated[int, typer.Option(help="Likeliest chiralities listed per track.")] = 3,
    out: Annotated[Optional[Path], typer.Option(help="CSV of every (frame, track): axis angle and the probability of each chirality.")] = None,
    lake: LakeOption = None,
) -> None:
    """Nanotube chirality of every track: the seed's table (track → chirality 1/2/3 with
    probabilities, the mean over the frames the track is in)."""
    from hrtemlake.analysis.chirality import (
        chirality_summary,
        load_chirality_classifier,
        track_chirality,
    )
    from hrtemlake.analysis.results import AnalysisRun
    from hrtemlake.errors import ParameterError
    from hrtemlake.lake.chunkio import ItemStack

    results = AnalysisRun(lake, run)
    if not results.series or not results.lake.exists("track_labels", run=run):
        raise ParameterError(f"analysis/{run}: chirality needs the run's tracks and its series "
                             f"frames; run 'hrtemlake analyze track' (with --series) first")  # fmt: skip
    model, options = load_chirality_classifier(results.lake, network)
    labels = ItemStack(results.lake.group("track_labels", run=run)["track"])
    frames = ItemStack(results.lake.group("frames", series=results.series)["frame"], len(labels))
    chirality = track_chirality(model, frames, labels, results.pixel_size, **options)
    if out is not None:
        table = chirality.to_dataframe().probability.unstack("chirality")
        table.insert(0, "angle", chirality.angle.to_series())
        table.dropna(subset=["angle"]).to_csv(out)
        typer.echo(f"wrote {out}")
    typer.echo(f"analysis/{run}: chirality of {chirality.sizes['track']} tracks over "
               f"{chirality.sizes['time']} frames (network '{network}')")  # fmt: skip
    typer.echo(str(chirality_summary(chirality, top)).replace("region", " track"))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(analyze_app, name="analyze")
