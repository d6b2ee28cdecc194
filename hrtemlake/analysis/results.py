"""An analysis run in a notebook: its stages as xarray datasets, plots and the HTML report."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Optional

import xarray as xr

__all__ = ["AnalysisRun"]


class AnalysisRun:
    """The stored stages of ``analysis/<run>`` (lazy, Dask-backed where large).

    Examples
    --------
    >>> run = AnalysisRun("lake.zarr", "r1")               # doctest: +SKIP
    >>> run.tracks.area.plot.line(x="time")                 # area of every track over time
    >>> run.fourier.d_spacing.sel(track=1).plot.line(x="time")
    >>> run.write_report("r1.html")
    """

    def __init__(self, lake, run: str):
        from hrtemlake.lake import as_lake

        self.lake = as_lake(lake)
        self.run = run
        if not self.lake.exists("segmentation", run=run):
            from hrtemlake.analysis.pipeline import AnalysisError

            raise AnalysisError(f"{self.lake.location}: no analysis run '{run}'")

    def __repr__(self) -> str:
        stages = [k for k in ("segmentation", "instances", "tracks", "fourier", "columns")
                  if self.lake.exists(k, run=self.run)]  # fmt: skip
        return f"AnalysisRun({self.run!r}: {', '.join(stages)})"

    def _stage(self, kind: str) -> Optional[xr.Dataset]:
        """A stage with the series' acquisition time [s] as its ``time`` coordinate."""
        if not self.lake.exists(kind, run=self.run):
            return None
        stage = self.lake.dataset(kind, run=self.run)
        times = self._times
        if times is not None and stage.sizes.get("time") == times.size:
            stage = stage.assign_coords(time=times)
        return stage

    @functools.cached_property
    def _times(self) -> Optional[xr.DataArray]:
        if not self.series or not self.lake.exists("frames", series=self.series):
            return None
        return self.lake.dataset("frames", series=self.series)["time"].load()

    @property
    def series(self) -> Optional[str]:
        return self.lake.group("segmentation", run=self.run).attrs.get("series")

    @property
    def pixel_size(self) -> float:
        return float(self.lake.group("segmentation", run=self.run).attrs["pixel_size"])

    @property
    def segmentation(self) -> Optional[xr.Dataset]:
        return self._stage("segmentation")

    @property
    def instances(self) -> Optional[xr.Dataset]:
        return self._stage("instances")

    @property
    def track_labels(self) -> Optional[xr.DataArray]:
        stage = self._stage("track_labels")
        return None if stage is None else stage["track"]

    @property
    def tracks(self) -> Optional[xr.Dataset]:
        return self._stage("tracks")

    @property
    def fourier(self) -> Optional[xr.Dataset]:
        """Fourier statistics with dims (track, time, peak), as the analysis defines them."""
        stage = self._stage("fourier")
        return None if stage is None else stage.transpose("track", "time", "peak")

    @property
    def columns(self) -> Optional[xr.Dataset]:
        return self._stage("columns")

    @property
    def frames(self) -> Optional[xr.DataArray]:
        if not self.series:
            return None
        return self.lake.dataset("frames", series=self.series)["frame"]

    def summary_markdown(self) -> str:
        """A markdown summary of the run (tracks, frames, Fourier ratios, columns)."""
        from hrtemlake.analysis.report import summary_markdown

        header = f"**analysis/{self.run}**" + (f" of series `{self.series}`" if self.series else "")
        return header + "\n\n" + summary_markdown(
            tracks=_load(self.tracks), fourier=_load(self.fourier), columns=_load(self.columns)
        )

    @property
    def report_path(self) -> Path:
        """Where :meth:`write_report` writes by default: ``<lake>-<run>.html`` beside a local
        lake, else in the working directory."""
        local = "://" not in self.lake.location
        base = Path(self.lake.location).parent if local else Path.cwd()
        return base / f"{Path(self.lake.location).stem}-{self.run}.html"

    def write_report(self, path: str | os.PathLike | None = None) -> Path:
        """One self-contained HTML report of the run (default: :attr:`report_path`)."""
        from hrtemlake.analysis.report import write_report

        path = self.report_path if path is None else path
        labels = self.track_labels
        parameters = dict(self.lake.group("segmentation", run=self.run).attrs["parameters"])
        return Path(write_report(
            path, title=f"hrtemlake analysis {self.run}", frames=self.frames,
            labels=labels, tracks=_load(self.tracks), fourier=_load(self.fourier),
            columns=_load(self.columns), pixel_size=self.pixel_size, parameters=parameters,
        ))  # fmt: skip


def _load(dataset: Optional[xr.Dataset]) -> Optional[xr.Dataset]:
    return None if dataset is None else dataset.load()
