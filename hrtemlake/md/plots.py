"""Figures of the vibrational-amplitude tables (thesis Fig. 5.1 b–c, Fig. 5.2 a)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from hrtemlake.md.amplitudes import AmplitudeTable, VibrationTables

__all__ = ["plot_amplitudes", "save_amplitude_plot"]

_AXES = ("x", "y", "z")


def plot_amplitudes(tables: VibrationTables | AmplitudeTable, elements: Sequence[str] | None = None,
                    figure=None, title: str | None = None):  # fmt: skip
    """Amplitude versus coordination number, one panel per element, x/y/z with standard errors.

    Each element is classed by the neighbour :meth:`AmplitudeTable.neighbour_for` picks (Mo by
    its S neighbours, S by its Mo neighbours); the edge table, when given, adds its entries as
    open markers (x along the edge, y towards the metal).

    Returns the :class:`matplotlib.figure.Figure` (no pyplot, so it works headless).
    """
    from matplotlib.figure import Figure

    table = tables.amplitudes if isinstance(tables, VibrationTables) else tables
    edges = tables.edges if isinstance(tables, VibrationTables) else None
    elements = list(elements or table.elements())
    figure = figure or Figure(figsize=(4.0 * len(elements), 3.4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(elements), squeeze=False)[0])
    for ax, element in zip(axes, elements):
        neighbour = table.neighbour_for(element)
        rows = sorted(
            (e for e in table.entries if e.element == element and e.neighbour == neighbour),
            key=lambda e: e.coordination,
        )
        c = np.array([e.coordination for e in rows])
        for k, (axis, offset) in enumerate(zip(_AXES, (-0.08, 0.0, 0.08))):
            sigma = np.array([e.sigma[k] for e in rows])
            err = np.array([0.0 if e.stderr[k] is None else e.stderr[k] for e in rows])
            ax.errorbar(c + offset, sigma, yerr=err, fmt="o", capsize=3, label=axis)
        for entry in (edges.entries if edges is not None else ()):
            if entry.element == element and entry.metal == neighbour:
                for k, (axis, marker) in enumerate(zip(_AXES, ("<", "^", "s"))):
                    ax.plot(entry.coordination + 0.2, entry.sigma[k], marker, mfc="none", color="k",
                            label=f"edge {axis}")  # fmt: skip
        ax.set_xlabel(f"coordination ({neighbour} neighbours)")
        ax.set_ylabel("vibrational amplitude [Å]")
        ax.set_title(element)
        ax.set_xticks(np.unique(c))
        ax.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def save_amplitude_plot(tables: VibrationTables | AmplitudeTable, path: str | os.PathLike,
                        title: str | None = None) -> None:  # fmt: skip
    """Save :func:`plot_amplitudes` to ``path`` (format from the suffix)."""
    plot_amplitudes(tables, title=title).savefig(os.fspath(path), dpi=120)
