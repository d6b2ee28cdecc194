"""A self-contained HTML report of an analysed series, and a Markdown summary for artifacts.

:func:`write_report` writes one HTML file that opens anywhere, offline: a header (title,
UTC time, the run's parameters), a summary table, and the figures of
:mod:`hrtemlake.analysis.plots` for the results given — instance outlines on a few frames,
track areas and the dose limit, one track's Fourier reflections, atomic-column counts —
each embedded as a base64 PNG. :func:`summary_markdown` gives the summary table as Markdown
(for a Prefect artifact).

Decisions
---------
Self-contained
    No external CSS, JavaScript, fonts or images: the style sheet is inline and the figures
    are ``data:image/png;base64`` URIs (written without Matplotlib's "Software" PNG
    metadata, which would carry its web address).
Escaping
    Every text that comes from the caller or the data (title, parameter names and values,
    track ids, class names) goes through :func:`html.escape`; per-track tables are written
    by :meth:`pandas.DataFrame.to_html`, which escapes too.
Sections
    A section is written only for the inputs given: instance overlays need both ``frames``
    and ``labels``; ``tracks`` gives the track table, areas and dose limit; ``fourier`` the
    reflections of the track with peaks in the most frames; ``columns`` the column counts.
    The per-track table shows at most :data:`MAX_TABLE_ROWS` tracks (the longest first).
"""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from hrtemlake.analysis import plots
from hrtemlake.analysis.tracking import track_summary
from hrtemlake.errors import ParameterError

__all__ = ["MAX_TABLE_ROWS", "figure_to_data_uri", "summary_markdown", "summary_rows",
           "write_report"]  # fmt: skip

MAX_TABLE_ROWS = 50
"""Most tracks listed in the report's per-track table."""

_DPI = 100

_TRACK_COLUMNS = {
    "first_frame": "first frame",
    "last_frame": "last frame",
    "frames_present": "frames present",
    "mean_area": "mean area [nm²]",
    "displacement": "displacement [Å]",
    "path_length": "path length [Å]",
}

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { margin-bottom: 0.2em; } .stamp { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption { color: #444; font-size: 0.9em; }
"""


def write_report(
    path: str | Path,
    *,
    title: str,
    frames: Any = None,
    labels: Any = None,
    tracks: xr.Dataset | None = None,
    fourier: xr.Dataset | None = None,
    columns: xr.Dataset | None = None,
    pixel_size: float = 1.0,
    parameters: Mapping[str, Any] | None = None,
    frame_indices: Sequence[int] | None = None,
) -> Path:
    """Write a self-contained HTML report of an analysed series.

    Parameters
    ----------
    path
        HTML file to write (its folder is created).
    title
        Title of the report.
    frames, labels
        Images and instance/track ids (time, y, x), array-likes read one frame at a time;
        both are needed for the instance overlays.
    tracks
        :func:`~hrtemlake.analysis.tracking.track_properties` Dataset.
    fourier
        :func:`~hrtemlake.analysis.fourier.track_fourier_statistics` Dataset.
    columns
        :func:`~hrtemlake.analysis.columns.column_counts` or
        :func:`~hrtemlake.analysis.columns.column_event_series` Dataset.
    pixel_size
        Pixel size of ``frames`` [Å/px], for the scale bars.
    parameters
        Parameters of the run, listed in the header.
    frame_indices
        Frames to overlay (negative indices count from the end); default the first, middle
        and last.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    n_frames = _frame_count(frames, labels)
    sections = [_header(title, parameters)]
    rows = summary_rows(tracks, fourier, columns, n_frames=n_frames)
    if rows:
        sections.append(_section("summary", "Summary", _table(rows, ("quantity", "value"))))
    if frames is not None and labels is not None:
        sections.append(_instances_section(frames, labels, pixel_size, frame_indices))
    if tracks is not None:
        sections.append(_tracks_section(tracks))
    if fourier is not None and fourier.sizes.get("track", 0):
        sections.append(_fourier_section(fourier))
    if columns is not None:
        figure = plots.plot_column_counts(columns)
        sections.append(_section("columns", "Atomic columns", _figure(figure, "Columns.")))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_document(title, sections), encoding="utf-8")
    return path


def summary_markdown(
    tracks: xr.Dataset | None = None,
    fourier: xr.Dataset | None = None,
    columns: xr.Dataset | None = None,
) -> str:
    """A short Markdown table summarising the run (for Prefect artifacts).

    Parameters
    ----------
    tracks, fourier, columns
        As in :func:`write_report`; any may be left out.

    Returns
    -------
    str
        A two-column table (quantity, value) of :func:`summary_rows`, or a line saying
        that there are no results.
    """
    rows = summary_rows(tracks, fourier, columns)
    if not rows:
        return "_No analysis results._\n"
    lines = ["| quantity | value |", "|---|---|"]
    lines += [f"| {_md_cell(name)} | {_md_cell(value)} |" for name, value in rows]
    return "\n".join(lines) + "\n"


def summary_rows(
    tracks: xr.Dataset | None = None,
    fourier: xr.Dataset | None = None,
    columns: xr.Dataset | None = None,
    n_frames: int | None = None,
) -> list[tuple[str, str]]:
    """(quantity, value) rows summarising the results given, values formatted as text."""
    if n_frames is None:
        n_frames = next((d.sizes["time"] for d in (tracks, fourier, columns) if d is not None
                         and "time" in d.sizes), None)  # fmt: skip
    rows = [] if n_frames is None else [("frames", str(n_frames))]
    if tracks is not None:
        rows += _track_rows(tracks)
    if fourier is not None:
        rows += _fourier_rows(fourier)
    if columns is not None:
        rows += _column_rows(columns)
    return rows


def figure_to_data_uri(figure: Figure) -> str:
    """A ``data:image/png;base64,...`` URI of a figure (no PNG software metadata)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --- summary rows -------------------------------------------------------------------------


def _track_rows(tracks: xr.Dataset) -> list[tuple[str, str]]:
    summary = track_summary(tracks)
    present = np.asarray(tracks["present"].values, dtype=bool)
    total = np.where(present, tracks["area"].values, 0.0).sum(axis=0) / 100.0
    rows = [("tracks", str(len(summary)))]
    if len(summary):
        rows += [
            ("frames per track (median)", _fmt(float(np.median(summary["frames_present"])))),
            ("mean particle area [nm²]", _fmt(float(summary["mean_area"].mean()) / 100.0)),
        ]
    if total.size:
        rows.append(("segmented area, first / last frame [nm²]",
                     f"{_fmt(total[0])} / {_fmt(total[-1])}"))  # fmt: skip
    dose = np.asarray(tracks["dose"].values, dtype=float) if "dose" in tracks else np.zeros(0)
    if np.isfinite(dose).any():
        rows.append(("frame dose [e⁻/Å²]", f"{_fmt(np.nanmin(dose))} – {_fmt(np.nanmax(dose))}"))
    return rows


def _fourier_rows(fourier: xr.Dataset) -> list[tuple[str, str]]:
    with_peaks = np.asarray(fourier["n_peaks"].values) > 0
    on_zone = np.asarray(fourier["on_zone"].values, dtype=bool) & with_peaks
    n_with = int(with_peaks.sum())
    share = f" ({100.0 * on_zone.sum() / n_with:.0f} %)" if n_with else ""
    return [
        ("median brightest / dimmest pair ratio", _fmt(_nanmedian(fourier["ratio"].values))),
        ("track-frames on a zone axis", f"{int(on_zone.sum())} of {n_with}{share}"),
        (
            "median d-spacing of the brightest pair [Å]",
            _fmt(_nanmedian(fourier["d_spacing"].isel(peak=0).values)),
        ),
    ]


def _column_rows(columns: xr.Dataset) -> list[tuple[str, str]]:
    count = columns["count"]
    rows = []
    if "class" in count.dims:
        for name in count["class"].values:
            mean = float(count.sel({"class": name}).mean())
            rows.append((f"atomic columns per frame, {name} (mean)", _fmt(mean)))
    else:
        rows.append(("atomic columns per frame (mean)", _fmt(float(count.mean()))))
    events = [name for name in ("appeared", "disappeared") if name in columns]
    if events:
        totals = " / ".join(_fmt(float(np.nansum(columns[name].values))) for name in events)
        rows.append((f"columns {' / '.join(events)} (total)", totals))
    return rows


# --- sections -----------------------------------------------------------------------------


def _header(title: str, parameters: Mapping[str, Any] | None) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [f"<h1>{_esc(title)}</h1>", f'<p class="stamp">Generated {_esc(stamp)}</p>']
    if parameters:
        rows = [(str(key), _fmt_value(value)) for key, value in parameters.items()]
        parts += ["<h2>Parameters</h2>", _table(rows, ("parameter", "value"))]
    return '<header id="header">\n' + "\n".join(parts) + "\n</header>"


def _instances_section(
    frames: Any, labels: Any, pixel_size: float, frame_indices: Sequence[int] | None
) -> str:
    n_frames = int(np.shape(labels)[0])
    figures = []
    for t in _overlay_frames(n_frames, frame_indices):
        figure = plots.plot_frame_instances(
            np.asarray(frames[t]), np.asarray(labels[t]), pixel_size, title=f"frame {t}"
        )
        figures.append(_figure(figure, f"Instances of frame {t}, outlined with their ids."))
    return _section("instances", "Instances", "\n".join(figures))


def _tracks_section(tracks: xr.Dataset) -> str:
    summary = track_summary(tracks)
    shown = summary.sort_values("frames_present", ascending=False, kind="stable")
    shown = shown.head(MAX_TABLE_ROWS)
    note = ""
    if len(summary) > MAX_TABLE_ROWS:
        note = f"<p>The {MAX_TABLE_ROWS} longest of {len(summary)} tracks.</p>"
    shown = shown.assign(mean_area=shown["mean_area"] / 100.0).rename(columns=_TRACK_COLUMNS)
    table = shown.to_html(float_format=lambda x: f"{x:.4g}", border=0, escape=True)
    parts = [
        _figure(plots.plot_track_areas(tracks), "Area of every track over time."),
        _figure(plots.plot_dose_limit(tracks), "Total segmented area against frame dose."),
        "<h3>Tracks</h3>" + note + table,
    ]
    return _section("tracks", "Tracks", "\n".join(parts))


def _fourier_section(fourier: xr.Dataset) -> str:
    figure = plots.plot_fourier_peaks(fourier)
    caption = "Fourier reflections of the track with peaks in the most frames."
    return _section("fourier", "Fourier peaks", _figure(figure, caption))


def _section(ident: str, heading: str, body: str) -> str:
    return f'<section id="{ident}">\n<h2>{_esc(heading)}</h2>\n{body}\n</section>'


def _figure(figure: Figure, caption: str) -> str:
    uri = figure_to_data_uri(figure)
    return (f'<figure><img src="{uri}" alt="{_esc(caption)}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")  # fmt: skip


def _table(rows: Sequence[tuple[str, str]], head: tuple[str, str]) -> str:
    lines = ["<table>", "<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr>"]
    lines += [f"<tr><td>{_esc(a)}</td><td>{_esc(b)}</td></tr>" for a, b in rows]
    return "\n".join(lines + ["</table>"])


def _document(title: str, sections: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


# --- helpers ------------------------------------------------------------------------------


def _overlay_frames(n_frames: int, frame_indices: Sequence[int] | None) -> list[int]:
    if n_frames == 0:
        return []
    if frame_indices is None:
        return sorted({0, n_frames // 2, n_frames - 1})
    chosen = []
    for index in frame_indices:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise ParameterError(f"frame_indices must be integers, got {index!r}")
        if not -n_frames <= index < n_frames:
            raise ParameterError(f"frame index {index} is outside 0..{n_frames - 1}")
        chosen.append(int(index) % n_frames)
    return chosen


def _frame_count(frames: Any, labels: Any) -> int | None:
    shapes = [tuple(np.shape(a)) for a in (frames, labels) if a is not None]
    for shape in shapes:
        if len(shape) != 3:
            raise ParameterError(f"frames and labels must be (time, y, x), got shape {shape}")
    if len(shapes) == 2 and shapes[0] != shapes[1]:
        raise ParameterError(f"frames {shapes[0]} and labels {shapes[1]} differ in shape")
    return shapes[0][0] if shapes else None


def _nanmedian(values: Any) -> float:
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    return float(np.median(finite)) if finite.size else math.nan


def _fmt(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.4g}"


def _fmt_value(value: Any) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return f"{float(value):.6g}"
    return str(value)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
