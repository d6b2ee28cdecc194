"""Prefect flows: the analysis of a series (thesis §3.5, ch. 6) into ``analysis/<run>``.

Thin: the work is :mod:`hrtemlake.analysis.pipeline`. The segment, instance, Fourier and
column stages run over blocks of frames on the Dask task runner; tracking is one sequential
task. Every stage skips frames already stored, so rerunning a crashed flow finishes it.
``analysis_flow`` runs them all and ends with an HTML report and Prefect artifacts.
"""

from __future__ import annotations

from typing import Any, Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from hrtemlake.analysis import pipeline as ap
from hrtemlake.analysis.results import AnalysisRun
from hrtemlake.lake import Lake


@task(name="segment-frames", retries=1, retry_delay_seconds=5)
def segment_task(writer, run: str, block: range) -> int:
    return ap.segment_block(writer, run, block)


@task(name="instance-frames", retries=1, retry_delay_seconds=5)
def instance_task(writer, run: str, block: range) -> int:
    return ap.instance_block(writer, run, block)


@task(name="fourier-frames", retries=1, retry_delay_seconds=5)
def fourier_task(writer, run: str, block: range) -> int:
    return ap.fourier_block(writer, run, block)


@task(name="column-frames", retries=1, retry_delay_seconds=5)
def column_task(writer, run: str, block: range) -> int:
    return ap.column_block(writer, run, block)


@task(name="track-instances")
def track_task(lake: Optional[str], run: str, min_overlap: float) -> int:
    return int(ap.track_run(Lake(lake, mode="a"), run, min_overlap).sizes["track"])


def _map(stage_task, writer, run: str, per_block: int, what: str) -> int:
    blocks = ap.missing_blocks(writer, per_block)
    futures = [stage_task.submit(writer, run, block) for block in blocks]
    done = sum(f.result() for f in futures)
    get_run_logger().info("%s: %d frames (%d already stored)", what, done,
                          writer.n_items - done)  # fmt: skip
    return done


@flow(name="analyze-segment", log_prints=True)
def segment_flow(series: str, networks: list[str], run: str, window: int = 256,
                 overlap: float = 0.25, batch_size: int = 8, frames_per_task: int = 4,
                 lake: Optional[str] = None) -> int:  # fmt: skip
    """Probability maps of every frame of ``series`` from the ensemble ``networks``."""
    settings = ap.SegmentationSettings(window=window, overlap=overlap, batch_size=batch_size)
    writer = ap.start_segmentation(Lake(lake, mode="a"), run, series, networks, settings)
    return _map(segment_task, writer, run, frames_per_task, "segmentation")


@flow(name="analyze-track", log_prints=True)
def track_flow(run: str, threshold: float = 0.9, min_separation: float = 1.0,
               min_overlap: float = 0.5, frames_per_task: int = 8,
               lake: Optional[str] = None, max_disagreement: Optional[float] = None) -> int:  # fmt: skip
    """Instances of the run's segmentation (where an ensemble agrees, with
    ``max_disagreement``), then their tracks; returns the track count."""
    writer = ap.start_instances(Lake(lake, mode="a"), run, threshold, min_separation,
                                max_disagreement)  # fmt: skip
    _map(instance_task, writer, run, frames_per_task, "instances")
    tracks = track_task(lake, run, min_overlap)
    get_run_logger().info("run %s: %d tracks", run, tracks)
    return tracks


@flow(name="analyze-fourier", log_prints=True)
def fourier_flow(run: str, max_peaks: int = 6, zone_axis_threshold: float = 5.0,
                 ratio_pairs: Optional[int] = None, series: Optional[str] = None,
                 frames_per_task: int = 8, lake: Optional[str] = None,
                 zone_network: Optional[str] = None) -> int:  # fmt: skip
    """Fourier-peak statistics of every track in every frame (of ``series``, default the
    run's own), with ``zone_network`` also the classifier's on-zone probability."""
    writer = ap.start_fourier(Lake(lake, mode="a"), run, max_peaks, zone_axis_threshold,
                              ratio_pairs, series, zone_network)  # fmt: skip
    return _map(fourier_task, writer, run, frames_per_task, "fourier")


@flow(name="analyze-columns", log_prints=True)
def columns_flow(run: str, threshold: float = 0.5, radius: float = 1.0,
                 frames_per_task: int = 8, lake: Optional[str] = None,
                 max_disagreement: Optional[float] = None) -> int:  # fmt: skip
    """Atomic-column counts and events from the run's column-probability maps."""
    writer = ap.start_columns(Lake(lake, mode="a"), run, threshold, radius, max_disagreement)
    return _map(column_task, writer, run, frames_per_task, "columns")


@flow(name="analyze-run", log_prints=True)
def analysis_flow(
    series: str, networks: list[str], run: str, window: int = 256, overlap: float = 0.25,
    threshold: float = 0.9, min_separation: float = 1.0, min_overlap: float = 0.5,
    fourier: bool = True, columns: bool = False, report: Optional[str] = None,
    frames_per_task: int = 4, lake: Optional[str] = None,
    max_disagreement: Optional[float] = None, zone_network: Optional[str] = None,
) -> dict[str, Any]:  # fmt: skip
    """Segment, find instances, track, Fourier statistics (and columns) of ``series``;
    writes the HTML report to ``report`` (default: beside the lake) and a summary artifact."""
    segment_flow(series, networks, run, window, overlap, frames_per_task=frames_per_task,
                 lake=lake)  # fmt: skip
    tracks = track_flow(run, threshold, min_separation, min_overlap, frames_per_task, lake=lake,
                        max_disagreement=max_disagreement)  # fmt: skip
    if fourier and tracks:
        fourier_flow(run, frames_per_task=frames_per_task, lake=lake, zone_network=zone_network)
    if columns:
        columns_flow(run, frames_per_task=frames_per_task, lake=lake,
                     max_disagreement=max_disagreement)  # fmt: skip
    result = AnalysisRun(Lake(lake), run)
    path = result.write_report(report)
    create_markdown_artifact(key=f"analysis-{run}".lower().replace("_", "-").replace(".", "-"),
                             markdown=result.summary_markdown())  # fmt: skip
    get_run_logger().info("report: %s", path)
    return {"tracks": tracks, "report": str(path)}
