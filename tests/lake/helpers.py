"""Small writers of each group kind, shared by the lake tests."""

from __future__ import annotations

import numpy as np

from hrtemlake.lake import Lake


def exitwave_writer(lake: Lake, n_items: int = 4, ny: int = 8, nx: int = 6, dataset: str = "train", **kw):
    return lake.writer(
        "exitwaves",
        dataset=dataset,
        n_items=n_items,
        coords={"y": np.arange(ny) * 0.05, "x": np.arange(nx) * 0.05},
        scalars={"energy": 300e3, "sampling": 0.05},
        parameters=kw.pop("parameters", {"kind": "test"}),
        seed=kw.pop("seed", 7),
        **kw,
    )


def exit_waves(start: int, count: int, ny: int = 8, nx: int = 6) -> np.ndarray:
    """Deterministic test waves: item i is filled with i + 1j * i."""
    items = np.arange(start, start + count, dtype=np.float32)
    return (items + 1j * items)[:, None, None] * np.ones((1, ny, nx), np.complex64)


def frames_writer(lake: Lake, series: str = "s1", ny: int = 4, nx: int = 5):
    return lake.writer(
        "frames",
        series=series,
        coords={"y": np.arange(ny) * 0.1, "x": np.arange(nx) * 0.1},
        attrs={"time_source": "file order"},
    )
