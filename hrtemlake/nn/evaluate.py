"""Score a registered network on an image set (thesis §3.4; Paper III's atomic F1).

:func:`evaluate_network` writes per-image scores to
``networks/<network>/evaluations/<dataset>/<imageset>`` (``hrtemlake evaluate``):

* segmentation labels: pixel F1, precision and recall per channel (eqs. 3.5-3.7) and, for
  Disk and Gaussian labels, the atomic F1 of Paper III: peaks of each class channel matched
  one-to-one to that class' sites within ``radius`` (1 Å: Paper III's 10 pixels at
  0.1 Å/pixel);
* image labels (Exitwave, Denoise, Heights): the RMSE in the label's units;
* Class labels (one class per image, e.g. a nanotube's chirality): whether the most
  probable predicted class is the true one (``class_correct``, 1 or 0); its mean is the
  accuracy that :func:`summarise_scores` reports;
* Heights labels also: the fraction of the columns whose height (number of atoms) is
  predicted exactly and the mean absolute error of the heights [atoms]
  (:func:`~hrtemlake.nn.metrics.column_height_scores`), the columns being the stored
  sites less the support's (or, without stored sites, the label's spots).

:class:`SimulatedImage` is the thesis' ``Simulated_Data`` object for a notebook: one
stored image with its label, the network's prediction, the scores and a plot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from hrtemlake.nn import metrics
from hrtemlake.nn.data import ImageSet, open_image_set, standardise_images
from hrtemlake.nn.registry import load_network, network_info
from hrtemlake.simulate.params import COLUMN_LABELS, SITE_LABELS

__all__ = ["SimulatedImage", "evaluate_network", "particle_site_pixels", "predict_images",
           "site_pixels", "size_multiple", "summarise_scores", "target_scale"]

#: Default match radius of the atomic F1 [Å] (Paper III: 10 pixels at 0.1 Å/pixel).
ATOMIC_RADIUS = 1.0
_SCORES = ("pixel_f1", "pixel_precision", "pixel_recall", "atomic_f1", "atomic_precision",
           "atomic_recall")  # fmt: skip
#: Per-image scores of Heights labels: exact-count fraction and mean absolute error [atoms].
_HEIGHT_SCORES = ("height_exact_fraction", "height_mae")
#: Per-image score of Class labels: 1 when the predicted class is the true one, else 0.
_CLASS_SCORES = ("class_correct",)


def size_multiple(model) -> int:
    """Image sides a network accepts are multiples of this: 2**levels for U-nets (one
    max-pooling per level), 1 for an MSD-net."""
    return 2 ** sum(type(layer).__name__ == "MaxPooling2D" for layer in model.layers)


def target_scale(training: Optional[dict]) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(mean, std) per output channel a network learnt its labels in, from its stored
    training options (``network_info(...).training``); None (identity) for networks trained
    without one (segmentation labels, and networks from before label scales existed)."""
    if not training or training.get("target_mean") is None:
        return None
    mean = np.asarray(training["target_mean"], dtype=np.float64)
    std = np.asarray(training.get("target_std") or np.ones_like(mean), dtype=np.float64)
    return mean, std


def predict_images(model, x: np.ndarray, batch_size: int = 8,
                   scale: Optional[Any] = None) -> np.ndarray:  # fmt: skip
    """Predictions for standardised inputs (n, y, x, c) of any size, in the label's units.

    U-nets need sizes divisible by 2**levels: inputs are mirror-padded up to that and the
    output cropped back, which leaves the prediction inside the image unchanged in kind.

    ``scale``: the (mean, std) per channel the network learnt its labels in (Denoise
    labels), or its stored training options (``network_info(lake, name).training``), from
    which :func:`target_scale` takes it; the output is mapped back with ``out * std +
    mean``. Default: the scale :func:`~hrtemlake.nn.train_network` or
    :func:`~hrtemlake.nn.load_network` attached to the model, else none; ``(0, 1)`` gives
    the network's raw (standardised) output.
    """
    if isinstance(scale, dict):
        scale = target_scale(scale)
    elif scale is None:
        scale = getattr(model, "_hrtemlake_target_scale", None)
    multiple = size_multiple(model)
    ny, nx = x.shape[1:3]
    py, px = (-ny) % multiple, (-nx) % multiple
    if py or px:
        x = np.pad(x, ((0, 0), (0, py), (0, px), (0, 0)), mode="reflect")
    out = np.concatenate([
        np.asarray(model.predict_on_batch(x[i : i + batch_size]), dtype=np.float32)
        for i in range(0, len(x), batch_size)
    ])  # fmt: skip
    out = out[:, :ny, :nx]
    if scale is not None:
        mean, std = (np.asarray(v, dtype=np.float64) for v in scale)
        out = (out * std + mean).astype(np.float32)
    return out


def site_pixels(lake, images: ImageSet, models: np.ndarray, epoch: int) -> list[tuple]:
    """Sites (row, col) [pixels] and classes of ``models`` in image epoch ``epoch``."""
    from hrtemlake.simulate.epochs import EpochGeometry
    from hrtemlake.simulate.images import load_sites

    waves = lake.group("exitwaves", dataset=images.dataset)
    wave_shape, wave_sampling = waves["exit_wave"].shape[1:], float(waves["sampling"][()])
    sampling = images.group()["sampling"].get_orthogonal_selection((models, epoch))
    out = []
    for (positions, classes), s in zip(load_sites(lake, images.dataset, models), sampling):
        geometry = EpochGeometry.from_sampling(wave_shape, wave_sampling, float(s), images.shape)
        rows, cols = geometry.pixels(positions)
        out.append((np.stack([rows, cols], axis=1), classes, float(s)))
    return out


def particle_site_pixels(lake, images: ImageSet, models: np.ndarray, epoch: int) -> list[tuple]:
    """As :func:`site_pixels`, without the support's columns: the columns a Heights label
    gives a height to."""
    from hrtemlake.simulate.labels import SUPPORT_CLASS

    names = list(lake.group("sites", dataset=images.dataset).attrs["class_names"])
    support = names.index(SUPPORT_CLASS) if SUPPORT_CLASS in names else -1
    return [(positions[classes != support], classes[classes != support], sampling)
            for positions, classes, sampling in site_pixels(lake, images, models, epoch)]


def evaluate_network(
    lake, network: str, image_set: str, radius: float = ATOMIC_RADIUS, batch_size: int = 8,
    threshold: float = 0.5, progress: Optional[Callable[[int, int], None]] = None,
) -> "Any":  # fmt: skip
    """Score network ``network`` on every image of ``image_set`` and store the scores.

    Parameters
    ----------
    lake : Lake or str
    network : str
        A registered network (its latest checkpoint is used).
    image_set : str
        ``DATASET/IMAGESET`` (or ``DATASET`` with one image set).
    radius : float
        Match radius of the atomic F1 [Å].
    batch_size : int
        Images per forward pass.
    threshold : float
        Probability above which a pixel (sigmoid outputs) or a peak counts as found.
    progress : callable, optional
        Called with (models done, models) after each block.

    Returns
    -------
    xarray.Dataset
        The scores (model, epoch[, channel]); NaN where a score does not apply.
    """
    from hrtemlake.lake import as_lake

    lake = as_lake(lake, "a")
    images = open_image_set(lake, image_set)
    info = network_info(lake, network)
    _check_matches(info, images, network)
    model = load_network(lake, network)
    parameters = {"radius": radius, "threshold": threshold, "checkpoint": info.checkpoints[-1]}
    _drop_stale(lake, parameters, network=network, dataset=images.dataset, imageset=images.imageset)
    writer = lake.writer(
        "evaluations", parameters=parameters,
        n_items=images.n_models, sizes={"epoch": images.n_epochs, "channel": len(info.channel_names)},
        attrs={"channel_names": list(info.channel_names), "radius": radius},
        network=network, dataset=images.dataset, imageset=images.imageset,
    )  # fmt: skip
    scorer = _Scorer(lake, images, info, radius, threshold)
    chunk = writer.spec.item_chunk
    for start in range(0, images.n_models, chunk):
        block = np.arange(start, min(start + chunk, images.n_models))
        if writer.completed()[block].all():
            continue
        writer.write(start, scorer.block(model, block, batch_size))
        if progress is not None:
            progress(int(block[-1]) + 1, images.n_models)
    return lake.dataset("evaluations", network=network, dataset=images.dataset,
                        imageset=images.imageset)  # fmt: skip


def _drop_stale(lake, parameters: dict, **names: str) -> None:
    """Remove scores of an earlier checkpoint or other settings: they no longer describe
    the network, and keeping them would make a rerun return them as if they did."""
    if lake.exists("evaluations", **names):
        group = lake.group("evaluations", **names)
        if dict(group.attrs.get("parameters", {})) != parameters:
            del lake.root[lake.path("evaluations", **names)]


def _check_matches(info, images: ImageSet, network: str) -> None:
    from hrtemlake.nn.training import TrainingError

    if (info.input_channels, info.label, tuple(info.channel_names)) != (
        images.n_focus, images.label, tuple(images.channel_names)
    ):
        raise TrainingError(
            f"network '{network}' ({info.label}, {info.input_channels} input channels, "
            f"outputs {list(info.channel_names)}) does not fit image set '{images.name}' "
            f"({images.label}, {images.n_focus} focus images, {list(images.channel_names)})"
        )


@dataclass
class _Scorer:
    lake: Any
    images: ImageSet
    info: Any
    radius: float
    threshold: float
    segmentation: bool = field(init=False)

    def __post_init__(self) -> None:
        self.segmentation = self.images.label in SITE_LABELS
        self.softmax = bool(self.info.parameter_file.get("null_class")) and len(
            self.info.channel_names) > 1  # fmt: skip
        # image labels learnt standardised (Denoise): scores in the label's units
        self.scale = None if self.images.label == "Regression" else target_scale(self.info.training)

    def empty(self, models: int, epochs: int) -> dict[str, np.ndarray]:
        """NaN scores of ``models`` × ``epochs`` images (NaN: the score does not apply)."""
        shape = (models, epochs, len(self.info.channel_names))
        out = {k: np.full(shape, np.nan, np.float32) for k in _SCORES}
        for name in ("rmse", *_HEIGHT_SCORES, *_CLASS_SCORES):
            out[name] = np.full(shape[:2], np.nan, np.float32)
        return out

    def block(self, model, models: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
        out = self.empty(len(models), self.images.n_epochs)
        group = self.images.group()
        for e in range(self.images.n_epochs):
            image = group["image"].get_orthogonal_selection((models, e))
            sampling = group["sampling"].get_orthogonal_selection((models, e))
            x = standardise_images(image, sampling, self.images.normalizedistance)
            if self.images.label == "Regression":
                out["rmse"][:, e] = self._target_errors(model, x, models, e)
                continue
            if self.images.label == "Class":
                out["class_correct"][:, e] = self._class_correct(model, x, models, e, batch_size)
                continue
            label = np.moveaxis(group["label"].get_orthogonal_selection((models, e)), 1, -1)
            prediction = predict_images(model, x, batch_size, scale=self.scale)
            sites = self._sites(models, e)
            for i in range(len(models)):
                self._score(out, i, e, prediction[i], label[i], sites[i] if sites else None)
        return out

    def _target_errors(self, model, x: np.ndarray, models: np.ndarray, epoch: int) -> np.ndarray:
        """RMSE over the targets of each image, in the targets' own units."""
        truth = self.images.group()["targets"].get_orthogonal_selection((models, epoch))
        mean = np.asarray(self.info.training.get("target_mean") or 0.0)
        std = np.asarray(self.info.training.get("target_std") or 1.0)
        predicted = np.asarray(model.predict_on_batch(x), dtype=np.float64) * std + mean
        return np.sqrt(np.mean((predicted - truth) ** 2, axis=-1))

    def _class_correct(self, model, x: np.ndarray, models: np.ndarray, epoch: int,
                       batch_size: int) -> np.ndarray:  # fmt: skip
        """1 where the most probable class of each image is its stored class, else 0."""
        truth = self.images.group()["targets"].get_orthogonal_selection((models, epoch))
        probabilities = np.concatenate([
            np.asarray(model.predict_on_batch(x[i : i + batch_size]), dtype=np.float64)
            for i in range(0, len(x), batch_size)
        ])  # fmt: skip
        predicted = probabilities.argmax(axis=-1)
        return (predicted == np.rint(truth[:, 0]).astype(np.int64)).astype(np.float32)

    def _sites(self, models: np.ndarray, epoch: int):
        if self.images.label in ("Disk", "Gaussian"):
            return site_pixels(self.lake, self.images, models, epoch)
        if self.images.label in COLUMN_LABELS and self._has_sites():
            return particle_site_pixels(self.lake, self.images, models, epoch)
        return None

    def _has_sites(self) -> bool:
        """Stored sites and exit waves (their grid places the sites on the images); image
        sets stored without them are scored on the label's own spots."""
        dataset = self.images.dataset
        return self.lake.exists("sites", dataset=dataset) and self.lake.exists(
            "exitwaves", dataset=dataset)  # fmt: skip

    def _score(self, out, i, e, prediction, label, sites) -> None:
        if not self.segmentation:
            out["rmse"][i, e] = metrics.rmse(prediction, label)
            if self.images.label in COLUMN_LABELS:
                heights = metrics.column_height_scores(
                    prediction, label, None if sites is None else sites[0])  # fmt: skip
                out["height_exact_fraction"][i, e] = heights["exact_fraction"]
                out["height_mae"][i, e] = heights["mean_abs_error"]
            return
        pixel = metrics.pixel_scores(prediction, label, self.threshold, argmax=self.softmax)
        for key in ("f1", "precision", "recall"):
            out[f"pixel_{key}"][i, e] = pixel[key]
        if sites is not None:
            positions, classes, sampling = sites
            atomic = metrics.atomic_scores(
                prediction, positions, classes, self.radius / sampling, self.threshold,
                background=bool(self.info.parameter_file.get("null_class")),
            )  # fmt: skip
            n = len(atomic["f1"])
            for key in ("f1", "precision", "recall"):
                out[f"atomic_{key}"][i, e, :n] = atomic[key]


class SimulatedImage:
    """One stored image, its label and a network's prediction (the thesis'
    ``Simulated_Data`` object).

    Examples
    --------
    >>> item = SimulatedImage("lake.zarr", "mos2-msd", "test/paper3", model=3, epoch=0)
    >>> item.scores["atomic_f1"]            # per class
    >>> item.plot()                          # image, label, prediction with a scale bar
    """

    def __init__(self, lake, network: str, image_set: str, model: int = 0, epoch: int = 0,
                 radius: float = ATOMIC_RADIUS):  # fmt: skip
        from hrtemlake.lake import as_lake

        self.lake = as_lake(lake)
        self.images = open_image_set(self.lake, image_set)
        self.info = network_info(self.lake, network)
        _check_matches(self.info, self.images, network)
        self.model_index, self.epoch, self.radius = model, epoch, radius
        group = self.images.group()
        self.image = group["image"][model, epoch]  # (focus, y, x)
        self.label = np.moveaxis(group["label"][model, epoch], 0, -1)
        self.sampling = float(group["sampling"][model, epoch])
        x = standardise_images(self.image[None], np.array([self.sampling]),
                               self.images.normalizedistance)  # fmt: skip
        self.prediction = predict_images(load_network(self.lake, network), x,
                                         scale=target_scale(self.info.training))[0]  # fmt: skip

    @property
    def scores(self) -> dict[str, np.ndarray]:
        """Per-channel scores of this image (as stored by :func:`evaluate_network`)."""
        scorer = _Scorer(self.lake, self.images, self.info, self.radius, 0.5)
        out = scorer.empty(1, 1)
        sites = scorer._sites(np.array([self.model_index]), self.epoch)
        scorer._score(out, 0, 0, self.prediction, self.label, sites[0] if sites else None)
        return {k: v[0, 0] for k, v in out.items()}

    def plot_argand(self, ax=None):
        """Predicted and true exit-wave values at the atomic columns in the complex plane
        (thesis Fig. 4.4); for networks trained on Exitwave labels."""
        if self.images.label != "Exitwave":
            raise ValueError(f"an Argand plot needs Exitwave labels, not {self.images.label}")
        sites, _, _ = site_pixels(self.lake, self.images, np.array([self.model_index]),
                                  self.epoch)[0]  # fmt: skip
        shape = np.array(self.label.shape[:2])
        inside = ((sites >= 0) & (sites < shape - 0.5)).all(axis=1)
        predicted, truth = metrics.argand_values(self.prediction, self.label, sites[inside])
        return metrics.plot_argand(predicted, truth, ax=ax)

    def plot(self, channel: int = 0, figsize: tuple[float, float] = (12, 4)):
        """Image (first focus), label and prediction of ``channel`` with a 1 nm scale bar."""
        import matplotlib.pyplot as plt

        from hrtemlake.simulate.preview import add_scale_bar

        fig, axes = plt.subplots(1, 3, figsize=figsize, constrained_layout=True)
        panels = [(self.image[0], "image"), (self.label[..., channel], "label"),
                  (self.prediction[..., channel], "prediction")]  # fmt: skip
        for ax, (data, title) in zip(axes, panels):
            ax.imshow(data, cmap="gray")
            ax.set_title(f"{title} ({self.info.channel_names[channel]})" if title != "image" else title)
            ax.set_axis_off()
            add_scale_bar(ax, self.sampling)
        return fig


def summarise_scores(scores) -> dict[str, float]:
    """Median of every score over images (and the non-background channels); for Class
    labels also ``accuracy``, the mean of ``class_correct`` (the fraction of images
    classified right)."""
    out = {}
    names = list(scores.attrs.get("channel_names", []))
    for name in (*_SCORES, "rmse", *_HEIGHT_SCORES):
        if name not in scores:  # a score the catalog does not (yet) store
            continue
        values = scores[name].values
        if values.ndim == 3 and names and names[-1] == "background":
            values = values[..., :-1]
        if np.isfinite(values).any():
            out[name] = float(np.nanmedian(values))
    if "class_correct" in scores and np.isfinite(scores["class_correct"].values).any():
        out["accuracy"] = float(np.nanmean(scores["class_correct"].values))
    return out
