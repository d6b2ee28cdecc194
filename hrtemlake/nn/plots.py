"""Plots of the network registry: learning curves."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_learning_curve"]


def plot_learning_curve(lake, name: str):
    """Training and validation loss (log scale) and metric per epoch of network ``name``.

    Returns a matplotlib Figure (no pyplot state, safe without a display).
    """
    from matplotlib.figure import Figure

    from hrtemlake.lake import as_lake
    from hrtemlake.nn.registry import network_info
    from hrtemlake.simulate.params import SITE_LABELS

    lake = as_lake(lake)
    info = network_info(lake, name)
    curve = lake.dataset("networks", network=name, complete_only=True).load()
    epochs = np.arange(1, curve.sizes["training_epoch"] + 1)
    metric = "pixel F1" if info.label in SITE_LABELS else "RMSE"
    fig = Figure(figsize=(9, 3.5), constrained_layout=True)
    loss_ax, metric_ax = fig.subplots(1, 2)
    for ax, key, label in ((loss_ax, "loss", "loss"), (metric_ax, "metric", metric)):
        ax.plot(epochs, curve[key], "o-", label="training")
        ax.plot(epochs, curve[f"val_{key}"], "s-", label="validation")
        ax.set_xlabel("training epoch")
        ax.set_ylabel(label)
        ax.legend()
    loss_ax.set_yscale("log")
    fig.suptitle(f"networks/{name}: {info.architecture.get('arch')}, {info.label}")
    return fig
