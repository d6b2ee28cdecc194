"""Debug previews of stored image epochs: PNGs to check images and labels by eye.

The parameter file's ``debug: N`` (thesis Table 3.2: "Number of images and labels to save
into a debug folder for verification") makes the image flow write N previews, one per
image epoch in (model, epoch) order: the focal series with a scale bar, and the label
over the first image (segmentation channels as coloured overlays, the exit-wave label
as its phase, the Denoise target as an image, Regression targets as text).

They go to ``<lake>.debug/<dataset>/<imageset>/`` beside the lake store (``lake.zarr`` →
``lake.debug``), outside it, so the store holds only what the catalog declares; any
fsspec URL works. Figures use Matplotlib's object API (no pyplot state), so previews can
be written from Dask workers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from hrtemlake.simulate.labels import BACKGROUND

__all__ = ["add_scale_bar", "debug_location", "preview_count", "preview_figure", "write_previews"]

_NICE = (1.0, 2.0, 5.0)


def debug_location(lake_location: str, dataset: str, imageset: str) -> str:
    """The preview folder of an image set, beside the lake store."""
    base = str(lake_location).rstrip("/")
    base = base[: -len(".zarr")] if base.endswith(".zarr") else base
    return f"{base}.debug/{dataset}/{imageset}"


def preview_count(debug: Any, available: int) -> int:
    """Previews to write for the parameter file's ``debug`` (True: all, None/False: none)."""
    if debug is None or debug is False:
        return 0
    if debug is True:
        return available
    return min(int(debug), available)


def _scale_bar_length(width: float) -> float:
    """A 1, 2 or 5 × 10^n length [Å] of at most a quarter of ``width`` [Å]."""
    target = width / 4
    power = 10.0 ** np.floor(np.log10(target))
    return max(n * power for n in _NICE if n * power <= target)


def add_scale_bar(ax, sampling: float, width: Optional[int] = None) -> None:
    """A white scale bar (a round length in Å or nm) at the lower right of an image axes.

    ``sampling`` is the pixel size [Å]; ``width`` the image width [pixels] (default: from
    the axes' x limits).
    """
    from matplotlib.patches import Rectangle

    if width is None:
        width = int(round(abs(ax.get_xlim()[1] - ax.get_xlim()[0])))

    length = _scale_bar_length(width * sampling)
    pixels = length / sampling
    text = f"{length / 10:g} nm" if length >= 10 else f"{length:g} Å"
    x0, y0 = 0.95 * width - pixels, 0.93 * ax.get_ylim()[0]
    ax.add_patch(Rectangle((x0, y0), pixels, 0.015 * width + 1, color="white"))
    ax.text(x0 + pixels / 2, y0 - 0.02 * width, text, color="white", ha="center",
            va="bottom", fontsize=8)  # fmt: skip


def preview_figure(
    images: np.ndarray,
    sampling: float,
    label_kind: str,
    channel_names: Sequence[str],
    label: Optional[np.ndarray] = None,
    target: Optional[np.ndarray] = None,
    title: str = "",
    defocus: Optional[Sequence[float]] = None,
):
    """A Matplotlib figure of one image epoch.

    Parameters
    ----------
    images : array (focus, y, x)
        The focal series [e⁻/pixel].
    sampling : float
        Pixel size [Å].
    label_kind : str
        The parameter file's ``label``.
    channel_names : sequence of str
        Names of the label channels (or regression targets).
    label : array (channel, y, x), optional
    target : array (target,), optional
    title : str
    defocus : sequence of float, optional
        Defocus of each image [Å] (panel titles).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    count = len(images) + 1
    figure = Figure(figsize=(3.0 * count, 3.4), layout="constrained")
    axes = figure.subplots(1, count, squeeze=False)[0]
    for i, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(image, cmap="gray", interpolation="nearest")
        ax.set_title("" if defocus is None else f"defocus {defocus[i]:.0f} Å", fontsize=9)
        add_scale_bar(ax, sampling, image.shape[1])
    ax = axes[-1]
    ax.set_title(f"label: {label_kind}", fontsize=9)
    if label_kind == "Exitwave" and label is not None:
        ax.imshow(np.angle(label[0] + 1j * label[1]), cmap="twilight", interpolation="nearest")
        ax.set_title("label: exit-wave phase", fontsize=9)
    elif label_kind == "Denoise" and label is not None:
        ax.imshow(label[0], cmap="gray", interpolation="nearest")
        ax.set_title("label: noise-free image", fontsize=9)
    elif label_kind == "Heights" and label is not None:
        heights = ax.imshow(label[0], cmap="viridis", interpolation="nearest")
        figure.colorbar(heights, ax=ax, shrink=0.8, label="atoms per column")
        ax.set_title("label: column heights", fontsize=9)
    elif label_kind in ("Regression", "Class"):
        ax.imshow(images[0], cmap="gray", interpolation="nearest")
        text = "\n".join(f"{n} = {v:.4g}" for n, v in zip(channel_names, np.ravel(target)))
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=8,
                color="yellow")  # fmt: skip
    elif label is not None:
        ax.imshow(images[0], cmap="gray", interpolation="nearest")
        handles = []
        for i, (channel, name) in enumerate(zip(label, channel_names)):
            if name == BACKGROUND:
                continue
            colour = _colour(i)
            overlay = np.zeros(channel.shape + (4,))
            overlay[..., :3] = colour
            overlay[..., 3] = 0.5 * np.clip(channel, 0, 1)
            ax.imshow(overlay, interpolation="nearest")
            handles.append(Patch(color=colour, label=name))
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.6)
    for ax in axes:
        ax.set_axis_off()
    figure.suptitle(title, fontsize=9)
    return figure


def _colour(index: int) -> tuple[float, float, float]:
    from matplotlib import colormaps

    return tuple(colormaps["tab10"](index % 10)[:3])


def write_previews(
    lake_location: str, dataset: str, imageset: str, count: int, folder: Optional[str] = None
) -> list[str]:
    """Write PNG previews of the first ``count`` stored image epochs; return their paths.

    Parameters
    ----------
    lake_location : str
        The lake (path or fsspec URL).
    dataset, imageset : str
        The image set ``simulations/<dataset>/images/<imageset>``.
    count : int
        Number of previews (complete models only, in (model, epoch) order).
    folder : str, optional
        Where to write (default :func:`debug_location`).
    """
    import fsspec

    from hrtemlake.lake import Lake

    if count <= 0:
        return []
    lake = Lake(lake_location)
    group = lake.group("images", dataset=dataset, imageset=imageset)
    folder = folder or debug_location(lake.location, dataset, imageset)
    fs, root = fsspec.core.url_to_fs(folder)
    fs.makedirs(root, exist_ok=True)
    kind, names = group.attrs["label"], list(group.attrs["channel_names"])
    written: list[str] = []
    for model in np.flatnonzero(group["write_session"][:] > 0):
        for epoch in range(group["image"].shape[1]):
            if len(written) == count:
                return written
            figure = preview_figure(
                group["image"][model, epoch], float(group["sampling"][model, epoch]), kind,
                names, label=group["label"][model, epoch] if group["label"].shape[2] else None,
                target=group["targets"][model, epoch] if group["targets"].shape[2] else None,
                defocus=group["defocus"][model, epoch],
                title=f"{dataset}/{imageset}: model {model}, epoch {epoch}, dose "
                      f"{float(group['dose'][model, epoch]):.3g} e⁻/Å²",
            )  # fmt: skip
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=72)
            path = f"{root}/model{model:05d}_epoch{epoch:03d}.png"
            with fs.open(path, "wb") as handle:
                handle.write(buffer.getvalue())
            written.append(path)
    return written
