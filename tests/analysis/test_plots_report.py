"""Figures and the HTML report on small synthetic series built with the analysis stages."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from hrtemlake.analysis.columns import column_counts, column_event_series
from hrtemlake.analysis.fourier import track_fourier_statistics
from hrtemlake.analysis.instances import segment_series
from hrtemlake.analysis.plots import (
    LEGEND_MAX,
    link_reflections,
    plot_column_counts,
    plot_dose_limit,
    plot_fourier_peaks,
    plot_frame_instances,
    plot_track_areas,
    track_colours,
)
from hrtemlake.analysis.report import summary_markdown, summary_rows, write_report
from hrtemlake.analysis.tracking import track_instances, track_properties
from hrtemlake.errors import ParameterError

from .synthetic import SCENARIO_SHAPE, render_probability, scenario
from .test_columns import gaussians
from .test_fourier import disc, fringes

PIXEL = 0.5  # [Å/px] of the disc series
LATTICE_PIXEL = 0.1  # [Å/px] of the lattice series
IMG = "<img src=\"data:image/png;base64,"


def render(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    assert buffer.getvalue().startswith(b"\x89PNG")
    return buffer.getvalue()


# --- synthetic data -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def series():
    """Discs that move, merge, split, appear and disappear: frames, tracked ids, properties."""
    probability = render_probability(scenario(), SCENARIO_SHAPE, noise=0.02)
    labels = segment_series(probability, min_separation=0.4, pixel_size=PIXEL)
    tracked = track_instances(labels)
    dose = np.geomspace(5.0, 2000.0, len(probability))
    props = track_properties(tracked, probability, pixel_size=PIXEL, dose=dose)
    return probability, tracked, props


@pytest.fixture(scope="module")
def fourier():
    """Track 1: three fringe sets (on a zone axis); track 2: one set (off); 4 frames."""
    shape, n = (128, 256), 4
    left, right = disc(shape, 45, (64, 64)), disc(shape, 45, (64, 192))
    rng = np.random.default_rng(7)
    frames = np.empty((n, *shape))
    for t in range(n):
        three = fringes(shape, 2.35, [10 + t, 70 + t, 130 + t], pixel=LATTICE_PIXEL)
        one = fringes(shape, 2.04, [40.0], pixel=LATTICE_PIXEL)
        frames[t] = np.where(left, three, 0) + np.where(right, one, 0)
        frames[t] += rng.normal(0, 0.3, shape)
    labels = np.zeros((n, *shape), dtype=np.int32)
    labels[:, left], labels[:, right] = 1, 2
    labels[3][right] = 0  # track 2 gone in the last frame: track 1 is the longest
    return track_fourier_statistics(frames, labels, LATTICE_PIXEL, max_peaks=4)


@pytest.fixture(scope="module")
def columns_per_class():
    rng = np.random.default_rng(3)
    maps = np.zeros((3, 2, 48, 48))
    for t in range(3):
        maps[t, 0] = gaussians((48, 48), rng.uniform(6, 42, (4 + t, 2)))
        maps[t, 1] = gaussians((48, 48), [(10, 10), (30, 30)])
    probabilities = xr.DataArray(maps, dims=("time", "class", "y", "x"),
                                 coords={"class": ["Au", "<Ce>"]})  # fmt: skip
    return column_counts(probabilities)


@pytest.fixture(scope="module")
def column_events():
    positions = [np.array([[5.0, 5.0], [20.0, 20.0]]), np.array([[5.0, 5.5], [40.0, 40.0]]),
                 np.array([[5.0, 6.0], [40.0, 40.0], [60.0, 10.0]])]  # fmt: skip
    return column_event_series(positions, radius_px=2.0)


# --- plots --------------------------------------------------------------------------------


def test_frame_instances_outlines_ids_and_scale_bar(series):
    frames, tracked, _ = series
    figure = plot_frame_instances(frames[6], tracked[6], PIXEL)
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    ax = figure.axes[0]
    assert len(ax.images) == 2  # frame + outline overlay
    texts = [text.get_text() for text in ax.texts]
    ids = {str(i) for i in np.unique(tracked[6]) if i}
    assert ids <= set(texts)
    assert any(re.fullmatch(r"[\d.]+ (nm|Å)", text) for text in texts), texts
    overlay = ax.images[1].get_array()
    assert overlay.shape == (*tracked[6].shape, 4) and 0 < overlay[..., 3].sum()
    render(figure)


def test_frame_instances_into_given_axes_without_ids(series):
    frames, tracked, _ = series
    figure = Figure()
    ax = figure.add_subplot()
    assert plot_frame_instances(frames[0], tracked[0], PIXEL, ids=False, ax=ax) is figure
    assert not [t for t in ax.texts if t.get_text().isdigit()]
    with pytest.raises(ParameterError):
        plot_frame_instances(frames[0], tracked[0][:-1], PIXEL)
    with pytest.raises(ParameterError):
        plot_frame_instances(frames[0], tracked[0], 0.0)


def test_frame_instances_carry_a_scale_bar(series):
    frames, tracked, _ = series
    fig = plot_frame_instances(frames[0], tracked[0], PIXEL)
    ax = fig.axes[0]
    # 200 px at 0.5 Å = 10 nm wide: a round bar of at most a quarter, 2 nm = 40 px
    assert [t.get_text() for t in ax.texts if t.get_text().endswith(("nm", "Å"))] == ["2 nm"]
    assert [p.get_width() for p in ax.patches] == [pytest.approx(2 * 10 / PIXEL)]


def test_track_colours_distinct_for_ten_ids():
    colours = track_colours(np.arange(1, 11))
    assert len({tuple(c) for c in colours}) == 10
    assert np.array_equal(track_colours([3]), track_colours([23]))


def test_track_areas_one_line_per_track(series):
    _, _, props = series
    figure = plot_track_areas(props)
    ax = figure.axes[0]
    assert len(figure.axes) == 1 and len(ax.lines) == props.sizes["track"]
    assert ax.get_ylabel() == "area [nm²]" and ax.get_xlabel() == "frame"
    assert ax.get_legend() is not None
    first = props["track"].values[0]
    expected = props["area"].sel(track=first).values / 100
    np.testing.assert_allclose(ax.lines[0].get_ydata(), expected)
    render(figure)
    assert plot_track_areas(props, time_units="s").axes[0].get_xlabel() == "time [s]"


def test_track_areas_no_legend_for_many_tracks():
    n = LEGEND_MAX + 2
    props = xr.Dataset(
        {"area": (("track", "time"), np.ones((n, 3))),
         "present": (("track", "time"), np.ones((n, 3), bool))},
        coords={"track": np.arange(1, n + 1), "time": np.arange(3)},
    )  # fmt: skip
    ax = plot_track_areas(props).axes[0]
    assert len(ax.lines) == n and ax.get_legend() is None


def test_fourier_peaks_lines_per_reflection_and_zone_shading(fourier):
    assert bool(fourier["on_zone"].sel(track=1).all())
    assert not bool(fourier["on_zone"].sel(track=2).any())
    figure = plot_fourier_peaks(fourier)  # track 1: present in the most frames
    ax_i, ax_a = figure.axes
    assert "track 1" in ax_i.get_title()
    assert len(ax_i.lines) == 3 and len(ax_a.lines) == 3
    assert "intensity" in ax_i.get_ylabel() and ax_a.get_ylabel() == "angle [deg]"
    assert ax_a.get_xlabel() == "frame"
    assert len(ax_i.patches) >= 1 and len(ax_a.patches) >= 1  # shaded on-zone span
    for line in ax_a.lines:  # each reflection turns by 1° a frame
        np.testing.assert_allclose(np.diff(line.get_ydata()), 1.0, atol=0.5)
    render(figure)


def test_fourier_peaks_of_a_chosen_track(fourier):
    figure = plot_fourier_peaks(fourier, track=2)
    ax_i, ax_a = figure.axes
    assert len(ax_i.lines) == 1 and not ax_i.patches  # one set of fringes, off zone
    assert np.isnan(ax_i.lines[0].get_ydata()[3])  # absent in the last frame
    np.testing.assert_allclose(ax_a.lines[0].get_ydata()[:3], 40.0, atol=0.5)
    with pytest.raises(ParameterError, match="track 9"):
        plot_fourier_peaks(fourier, track=9)


def test_link_reflections_follows_swapped_ranks():
    d = np.array([[2.0, 2.35, np.nan], [2.35, 2.0, np.nan], [2.35, 2.0, 1.5]])
    angle = np.array([[10.0, 179.0, np.nan], [1.0, 12.0, np.nan], [2.0, 13.0, 90.0]])
    out = link_reflections(d, angle)
    np.testing.assert_array_equal(out, [[0, 1, -1], [1, 0, -1], [1, 0, 2]])


def test_column_counts_per_class(columns_per_class):
    figure = plot_column_counts(columns_per_class)
    assert len(figure.axes) == 1
    ax = figure.axes[0]
    assert len(ax.lines) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Au", "<Ce>"]
    assert "per frame" in ax.get_ylabel() and ax.get_xlabel() == "frame"
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [2, 2, 2])
    render(figure)


def test_column_counts_with_events(column_events):
    figure = plot_column_counts(column_events)
    ax_count, ax_events = figure.axes
    assert len(ax_count.lines) == 1 and len(ax_events.containers) == 2
    heights = [bar.get_height() for bar in ax_events.containers[0]]
    assert heights == [0.0, 1.0, 1.0]  # appeared; NaN at frame 0 drawn as 0
    assert [b.get_height() for b in ax_events.containers[1]] == [0.0, -1.0, 0.0]
    render(figure)


def test_dose_limit_against_log_dose(series):
    _, _, props = series
    figure = plot_dose_limit(props)
    ax = figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "frame dose [e⁻/Å²]"
    assert ax.get_ylabel() == "segmented area [nm²]"
    total = props["area"].where(props["present"], 0.0).sum("track").values / 100
    np.testing.assert_allclose(ax.lines[0].get_ydata(), total)
    assert len(ax.lines) == 3  # data, converged area, 50 % dose
    render(figure)


@pytest.mark.parametrize("dose", ["absent", "nan"])
def test_dose_limit_without_dose_uses_frame_index(series, dose):
    _, _, props = series
    props = props.drop_vars("dose")
    if dose == "nan":
        props["dose"] = ("time", np.full(props.sizes["time"], np.nan))
    ax = plot_dose_limit(props).axes[0]
    assert ax.get_xscale() == "linear" and ax.get_xlabel() == "frame"
    assert any("no frame dose" in t.get_text() for t in ax.texts)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(props.sizes["time"]))


# --- report -------------------------------------------------------------------------------


def test_full_report_is_one_self_contained_file(tmp_path, series, fourier, column_events):
    frames, tracked, props = series
    parameters = {"model": "<script>alert(1)</script>", "threshold": 0.9, "pixel": PIXEL}
    path = write_report(
        tmp_path / "out" / "report.html", title="Run <1> & co", frames=frames, labels=tracked,
        tracks=props, fourier=fourier, columns=column_events, pixel_size=PIXEL,
        parameters=parameters,
    )  # fmt: skip
    assert path == tmp_path / "out" / "report.html"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    text = path.read_text(encoding="utf-8")
    assert text.count(IMG) == 3 + 2 + 1 + 1  # overlays, areas + dose, fourier, columns
    assert "Run &lt;1&gt; &amp; co" in text and "<1>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text.lower()
    for section in ("header", "summary", "instances", "tracks", "fourier", "columns"):
        assert f'id="{section}"' in text
    assert "UTC" in text and "0.9" in text
    assert f"<td>tracks</td><td>{props.sizes['track']}</td>" in text
    assert f"<td>frames</td><td>{len(frames)}</td>" in text
    assert "<th>mean area [nm²]</th>" in text


def test_empty_series_plots_and_report(tmp_path):
    frames = np.zeros((3, 20, 30))
    tracked = np.zeros((3, 20, 30), dtype=np.int32)
    props = track_properties(tracked, frames, dose=[1.0, 2.0, 4.0])
    fourier = track_fourier_statistics(frames, tracked, LATTICE_PIXEL)
    assert len(plot_track_areas(props).axes[0].lines) == 0
    assert len(plot_dose_limit(props).axes[0].lines) == 1
    render(plot_frame_instances(frames[0], tracked[0], 1.0))
    with pytest.raises(ParameterError):
        plot_fourier_peaks(fourier)
    path = write_report(tmp_path / "r.html", title="empty", frames=frames, labels=tracked,
                        tracks=props, fourier=fourier)  # fmt: skip
    text = path.read_text()
    assert "<td>tracks</td><td>0</td>" in text and 'id="fourier"' not in text
    assert text.count(IMG) == 3 + 2
    assert "| tracks | 0 |" in summary_markdown(props, fourier)


def test_report_leaves_out_sections_of_missing_inputs(tmp_path, series):
    _, _, props = series
    text = write_report(tmp_path / "r.html", title="tracks only", tracks=props).read_text()
    assert text.count(IMG) == 2
    for section in ("instances", "fourier", "columns"):
        assert f'id="{section}"' not in text
    assert 'id="tracks"' in text and "<h2>Parameters</h2>" not in text


def test_report_frame_indices(tmp_path, series):
    frames, tracked, _ = series
    path = write_report(tmp_path / "r.html", title="t", frames=frames, labels=tracked,
                        pixel_size=PIXEL, frame_indices=[-1])  # fmt: skip
    text = path.read_text()
    assert text.count(IMG) == 1 and f"frame {len(frames) - 1}" in text
    assert 'id="tracks"' not in text
    with pytest.raises(ParameterError):
        write_report(tmp_path / "s.html", title="t", frames=frames, labels=tracked,
                     frame_indices=[len(frames)])  # fmt: skip


def test_summary_markdown(series, fourier, column_events):
    _, _, props = series
    text = summary_markdown(props, fourier, column_events)
    assert text.startswith("| quantity | value |\n|---|---|\n")
    assert f"| tracks | {props.sizes['track']} |" in text
    assert f"| frames | {props.sizes['time']} |" in text
    assert "| track-frames on a zone axis | 4 of 7 (57 %) |" in text
    assert "| columns appeared / disappeared (total) | 2 / 1 |" in text
    assert summary_markdown() == "_No analysis results._\n"
    assert summary_rows(n_frames=4) == [("frames", "4")]
