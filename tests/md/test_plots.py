"""Amplitude vs coordination number per element (thesis Fig. 5.1 b-c)."""

from __future__ import annotations

from hrtemlake.md.plots import plot_amplitudes, save_amplitude_plot

from .test_vibrations import TABLE, TABLES


def test_one_panel_per_element_with_xyz_and_edges(tmp_path):
    figure = plot_amplitudes(TABLES)
    mo, s = figure.axes
    assert (mo.get_title(), s.get_title()) == ("Mo", "S")
    assert s.get_xlabel() == "coordination (Mo neighbours)"
    assert list(s.get_xticks()) == [1, 2, 3]
    labels = s.get_legend_handles_labels()[1]
    assert set(labels) == {"x", "y", "z", "edge x", "edge y", "edge z"}
    assert len(plot_amplitudes(TABLE, elements=["S"]).axes) == 1
    path = tmp_path / "amplitudes.png"
    save_amplitude_plot(TABLES, path, title="md/mos2-300K")
    assert path.stat().st_size > 10_000
