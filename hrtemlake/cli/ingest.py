"""``hrtemlake ingest`` and ``hrtemlake noise``: experimental series."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from hrtemlake.cli._common import LakeOption

SeriesOption = Annotated[str, typer.Option("--series", "-s", help="Series name (experiments/SERIES).")]
noise_app = typer.Typer(help="Dose and detector MTF / noise fits of ingested series.", no_args_is_help=True)

_SHOWN = 20  # quarantine entries listed in full


def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="DM (.dm3/.dm4) or TIFF files, or folders (searched recursively).", show_default=False)],
    series: SeriesOption,
    pixel_size: Annotated[Optional[float], typer.Option(help="Pixel size in Å for files without a real-space calibration.")] = None,
    allow_diffraction: Annotated[bool, typer.Option(help="Also read diffraction patterns (need --pixel-size).")] = False,
    dayfirst: Annotated[bool, typer.Option(help="DM dates are day-first (the microscope PC's locale).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    lake: LakeOption = None,
) -> None:
    """Append the new frames of PATHS to experiments/SERIES; quarantine files that can't be read.

    Rerunning on a folder that has grown appends only the new frames.

    Exit status 0: nothing new was quarantined.
    Exit status 1: this run quarantined files or frames (listed, with the reason).
    Exit status 2: a usage error; nothing is written.
    """
    from hrtemlake.ingest.series import ingest_series

    progress = None if quiet else _every(2.0, lambda p: typer.echo(
        f"... {p.frames} frames ingested, {p.quarantined} quarantined "
        f"({p.files_done}/{p.files_total} files)"
    ))  # fmt: skip
    result = ingest_series(lake, series, paths, pixel_size=pixel_size, allow_diffraction=allow_diffraction,
                           dayfirst=dayfirst, progress=progress)  # fmt: skip
    typer.echo(result.summary())
    if result.frames and result.time_source:
        typer.echo(f"time axis: {result.time_source}")
    for entry in result.quarantined[:_SHOWN]:
        typer.echo(f"quarantined: {entry.source}: {entry.reason}")
    if len(result.quarantined) > _SHOWN:
        typer.echo(f"... and {len(result.quarantined) - _SHOWN} more (see experiments/{series}/quarantine)")
    if result.quarantined:
        raise typer.Exit(1)


@noise_app.command("fit")
def noise_fit_cmd(
    series: SeriesOption,
    window: Annotated[Optional[tuple[int, int, int, int]], typer.Option(metavar="Y X H W", help="Vacuum window in pixels: top, left, height, width. Default: the flattest bright window of the first frame.", show_default=False)] = None,
    window_size: Annotated[Optional[int], typer.Option(help="Side of the automatic window in pixels (default: a quarter of the frame, 32-256).")] = None,
    counts_per_electron: Annotated[Optional[float], typer.Option(help="Detector gain in counts per electron; default: the metadata's, else 1.")] = None,
    offset: Annotated[float, typer.Option(help="Dark level to subtract before the dose, in counts.")] = 0.0,
    power: Annotated[int, typer.Option(help="2: c0, c3 are the MTF's (PSD ∝ MTF²); 1: paper II eq. A.1 fitted to the PSD.")] = 2,
    q_min: Annotated[float, typer.Option(help="Ignore spectrum bins below this q/q_Nyquist.")] = 0.0,
    fragment: Annotated[Optional[Path], typer.Option(help="Write the fitted noise ranges as a parameter-file fragment (YAML).")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Save a plot of the spectrum and fit of --plot-frame (PNG, PDF, ...).")] = None,
    plot_frame: Annotated[int, typer.Option(help="Frame to plot.")] = 0,
    lake: LakeOption = None,
) -> None:
    """Fit dose and MTF / noise of every frame not fitted yet into experiments/SERIES/noise."""
    from hrtemlake.ingest.noisefit import fit_series_noise

    progress = _every(2.0, lambda done, total: typer.echo(f"... {done}/{total} frames fitted"))
    result = fit_series_noise(
        lake, series, window=window, window_size=window_size,
        counts_per_electron=counts_per_electron, offset=offset, power=power, q_min=q_min,
        progress=progress,
    )  # fmt: skip
    typer.echo(result.summary())
    if fragment is not None:
        _write_fragment(lake, series, fragment)
    if plot is not None:
        _plot(lake, series, plot_frame, plot)


def _every(seconds: float, report):
    """A progress callback that calls `report` at most once per `seconds`."""
    last = [time.monotonic()]

    def progress(*args) -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            report(*args)

    return progress


def _write_fragment(lake: str | None, series: str, path: Path) -> None:
    import yaml

    from hrtemlake.errors import ParameterError
    from hrtemlake.ingest.noisefit import series_parameter_fragment

    try:
        values = series_parameter_fragment(lake, series)
    except ValueError as err:  # no fit good enough
        raise ParameterError(f"no parameter fragment for '{series}': {err}") from None
    text = yaml.safe_dump({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()},
                          sort_keys=False)  # fmt: skip
    path.write_text(f"# noise ranges fitted on experiments/{series} (hrtemlake noise fit)\n{text}")
    typer.echo(f"wrote {path}")


def _plot(lake: str | None, series: str, frame: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hrtemlake.ingest.series import ExperimentalSeries

    ax = ExperimentalSeries(lake, series).plot_noise_fit(frame)
    ax.set_title(f"{series}, frame {frame}")
    ax.figure.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(ax.figure)
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.command("ingest")(ingest_cmd)
    app.add_typer(noise_app, name="noise")
