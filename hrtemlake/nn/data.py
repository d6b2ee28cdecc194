"""Training batches streamed from the lake's image sets, never a whole dataset in memory.

An image set ``simulations/<dataset>/images/<imageset>`` holds ``image_epochs`` images of
every atomic model. As in the thesis (§3.3, Part 1), training epoch ``k`` uses image epoch
``k mod image_epochs`` of every model, so each pass sees the same structures under new
microscope parameters; every image is locally standardised (eq. 3.1, σ = the parameter
file's ``normalizedistance`` over the image's own pixel size) and augmented (eqs.
3.2-3.4, flips). :class:`SynthesisBatches` instead draws fresh images from the stored
exit waves on every call (the image-epochs issue's :func:`synthesize_images`).

The order of models and every random draw of an epoch come from
``SeedSequence(seed, spawn_key=(epoch, batch))``, so a restarted training reads exactly
the batches the uninterrupted one would have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import keras
import numpy as np

from hrtemlake.errors import HrtemlakeError
from hrtemlake.nn.augment import Augmentation
from hrtemlake.preprocess import local_standardise
from hrtemlake.simulate.params import TARGET_LABELS

__all__ = [
    "ImageSet",
    "ImageSetError",
    "LakeBatches",
    "SynthesisBatches",
    "balanced_class_weights",
    "label_sample",
    "open_image_set",
    "pixel_weights",
    "standardise_images",
]

#: Label kinds whose label is an image (the pixel networks predict images).
PIXEL_LABELS = ("Mask", "Disk", "Gaussian", "ClassMask", "Exitwave", "Denoise", "Heights")
#: Label kinds a network can train on: images, or numbers per image (the images group's
#: ``targets``: microscope parameters, the model's class).
TRAINABLE_LABELS = PIXEL_LABELS + TARGET_LABELS
#: Images of a training set sampled for label statistics (class weights, label scale).
SAMPLE_IMAGES = 64
#: Largest weight "balanced" class weights give a channel.
MAX_CLASS_WEIGHT = 50.0


class ImageSetError(HrtemlakeError):
    """An image set that is missing or cannot be used for training."""


@dataclass(frozen=True)
class ImageSet:
    """Where an image set lives and what it holds (read from its group attributes).

    Attributes
    ----------
    lake : str
        Location of the lake.
    dataset, imageset : str
        ``simulations/<dataset>/images/<imageset>``.
    label : str
        Label kind of the parameter file (Mask, Disk, ...).
    channel_names : list of str
        Output channels (label channels).
    parameter_file : dict
        The image parameter file the set was made with.
    n_models, n_epochs, n_focus, shape
        Models, image epochs, focal-series images (input channels), (y, x) size.
    class_names : tuple of str
        Class labels: the classes the one target "class" indexes (empty otherwise).
    """

    lake: str
    dataset: str
    imageset: str
    label: str
    channel_names: tuple[str, ...]
    parameter_file: dict
    n_models: int
    n_epochs: int
    n_focus: int
    shape: tuple[int, int]
    class_names: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.imageset}"

    @property
    def normalizedistance(self) -> float:
        return float(self.parameter_file.get("normalizedistance", 12.0))

    def group(self):
        from hrtemlake.lake import Lake

        return Lake(self.lake).group("images", dataset=self.dataset, imageset=self.imageset)


def open_image_set(lake, name: str) -> ImageSet:
    """The image set ``DATASET/IMAGESET`` (or ``DATASET`` when it has exactly one).

    Raises :class:`ImageSetError` naming the set and what is wrong: missing, incomplete
    models, or a label that is not an image.
    """
    dataset, _, imageset = name.partition("/")
    if not imageset:
        found = [n["imageset"] for n in lake.names("images") if n["dataset"] == dataset]
        if len(found) != 1:
            what = f"image sets {sorted(found)}" if found else "no image sets"
            raise ImageSetError(f"{lake.location}: dataset '{dataset}' has {what}; name one as "
                                f"{dataset}/IMAGESET")  # fmt: skip
        imageset = found[0]
    if not lake.exists("images", dataset=dataset, imageset=imageset):
        raise ImageSetError(f"{lake.location}: no image set '{dataset}/{imageset}'")
    group = lake.group("images", dataset=dataset, imageset=imageset)
    done = group["write_session"][:] > 0
    if not done.all():
        raise ImageSetError(
            f"{lake.location}: image set '{dataset}/{imageset}' is incomplete "
            f"({int(done.sum())} of {done.size} models); finish it with `hrtemlake simulate images`"
        )
    attrs = dict(group.attrs)
    models, epochs, focus, ny, nx = group["image"].shape
    return ImageSet(
        lake=lake.location, dataset=dataset, imageset=imageset, label=str(attrs["label"]),
        channel_names=tuple(attrs["channel_names"]), parameter_file=dict(attrs["parameter_file"]),
        n_models=models, n_epochs=epochs, n_focus=focus, shape=(ny, nx),
        class_names=tuple(str(n) for n in attrs.get("class_names") or ()),
    )  # fmt: skip


def standardise_images(images: np.ndarray, sampling: np.ndarray, distance: float) -> np.ndarray:
    """Locally standardise a batch (n, focus, y, x) into network input (n, y, x, focus).

    ``sampling`` (n,) is each image's pixel size [Å]; σ = ``distance`` / sampling pixels.
    """
    out = np.empty((images.shape[0], *images.shape[2:], images.shape[1]), dtype=np.float32)
    for i, (image, s) in enumerate(zip(images, sampling)):
        out[i] = local_standardise(np.moveaxis(image.astype(np.float32), 0, -1), distance / s)
    return out


def label_sample(images: ImageSet, n: int = SAMPLE_IMAGES, limit: Optional[int] = None) -> np.ndarray:
    """At most ``n`` labels (k, y, x, channel) of an image set, evenly spread over its
    (model, image epoch) pairs (models first: image epoch 0 of every model, then 1, ...);
    ``limit``: only the first ``limit`` models (``--limitdata``)."""
    models = images.n_models if limit is None else max(1, min(int(limit), images.n_models))
    total = models * images.n_epochs
    flat = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(int))
    label = images.group()["label"]
    out = [label[int(i % models), int(i // models)] for i in flat]  # (channel, y, x) each
    return np.moveaxis(np.stack(out), 1, -1).astype(np.float64)


def balanced_class_weights(labels: np.ndarray, cap: float = MAX_CLASS_WEIGHT) -> list[float]:
    """Class weights inversely proportional to each channel's pixel frequency in ``labels``
    (..., channel), scaled so the mean pixel weight of :func:`pixel_weights` is 1 (pixels
    of no channel keep weight 1), then capped at ``cap``.

    With frequencies f_c of the C channels present and f_0 of the pixels of no channel,
    weight_c = (1 - f_0) / (C f_c): every present channel then carries the same total
    weight. A channel absent from ``labels`` gets ``cap``.
    """
    labels = np.asarray(labels, dtype=np.float64)
    channels = labels.shape[-1]
    flat = labels.reshape(-1, channels)
    freq = flat.mean(axis=0)
    none = float(np.clip(1.0 - flat.sum(axis=1), 0.0, None).mean())
    present = freq > 0
    out = np.full(channels, float(cap))
    if present.any():
        out[present] = (1.0 - none) / (present.sum() * freq[present])
    return np.minimum(out, cap).tolist()


def pixel_weights(y: np.ndarray, weights) -> np.ndarray:
    """Per-pixel sample weights (n, y, x) of labels ``y`` (n, y, x, channel): the sum over
    channels of weight_c × y_c, plus 1 × the part of the pixel in no channel
    (max(0, 1 - sum_c y_c)), so a pixel of no channel weighs 1."""
    weights = np.asarray(weights, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    rest = np.clip(1.0 - y.sum(axis=-1), 0.0, None)
    return (y @ weights + rest).astype(np.float32)


class _Batches(keras.utils.PyDataset):
    """Shared batching: epoch-dependent order and per-batch random generators."""

    def __init__(self, n_items: int, batch_size: int, seed: int, shuffle: bool, **kwargs):
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.n_items, self.batch_size, self.seed, self.shuffle = n_items, batch_size, seed, shuffle
        self.epoch = 0
        self._order = np.arange(n_items)

    def set_epoch(self, epoch: int) -> None:
        """Select the training epoch whose batches ``__getitem__`` serves."""
        self.epoch = int(epoch)
        if self.shuffle:
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(epoch,)))
            self._order = rng.permutation(self.n_items)

    def __len__(self) -> int:
        return math.ceil(self.n_items / self.batch_size)

    def _items(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._order[index * self.batch_size : (index + 1) * self.batch_size]

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(
            np.random.SeedSequence(self.seed, spawn_key=(self.epoch, index, 1))
        )


class LakeBatches(_Batches):
    """Keras batches ``(input (n, y, x, focus), label (n, y, x, channel))`` of an image set,
    with ``class_weights`` ``(input, label, sample weight (n, y, x))``.

    Parameters
    ----------
    images : ImageSet
        The image set (:func:`open_image_set`).
    batch_size : int
        Images per batch.
    augmentation : Augmentation, optional
        Brightness/contrast/gamma and flips; none for validation.
    seed : int
        Seed of the model order and the augmentation draws.
    limit : int, optional
        Use only the first ``limit`` models (``--limitdata``).
    image_epoch : int, optional
        Always use this image epoch (validation) instead of cycling with the epoch.
    shuffle : bool
        Shuffle the models every epoch.
    target_scale : (mean, std), optional
        Each target (Regression) or label channel (image labels, e.g. Denoise) is served as
        (value - mean) / std; ``mean`` and ``std`` have one value per target/channel.
    class_weights : list of float, optional
        One weight per label channel: batches come with the per-pixel sample weights of
        :func:`pixel_weights` (computed on the unscaled, augmented label).
    kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of ``keras.utils.PyDataset``.
    """

    def __init__(
        self, images: ImageSet, batch_size: int, augmentation: Optional[Augmentation] = None,
        seed: int = 0, limit: Optional[int] = None, image_epoch: Optional[int] = None,
        shuffle: bool = True, target_scale: Optional[tuple] = None,
        class_weights: Optional[Any] = None, **kwargs: Any,
    ):  # fmt: skip
        if images.label not in TRAINABLE_LABELS:
            raise ImageSetError(
                f"image set '{images.name}' has {images.label} labels; networks here learn "
                f"one of {', '.join(TRAINABLE_LABELS)}"
            )
        self.target_scale = None if target_scale is None else tuple(
            np.asarray(v, dtype=np.float32) for v in target_scale)  # fmt: skip
        self.class_weights = _checked_weights(class_weights, len(images.channel_names))
        n = images.n_models if limit is None else min(int(limit), images.n_models)
        super().__init__(n, batch_size, seed, shuffle, **kwargs)
        self.images, self.augmentation, self.fixed_epoch = images, augmentation, image_epoch
        self._arrays: Optional[dict] = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_arrays"] = None
        return state

    @property
    def image_epoch(self) -> int:
        """The image epoch served in the current training epoch."""
        if self.fixed_epoch is not None:
            return self.fixed_epoch
        return self.epoch % self.images.n_epochs

    def arrays(self) -> dict:
        if self._arrays is None:
            group = self.images.group()
            names = ("image", "targets" if self.images.label in TARGET_LABELS else "label",
                     "sampling")  # fmt: skip
            self._arrays = {k: group[k] for k in names}
        return self._arrays

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        models = np.sort(self._items(index))  # sorted: contiguous chunk reads
        arrays, e = self.arrays(), self.image_epoch
        image = arrays["image"].get_orthogonal_selection((models, e))
        sampling = arrays["sampling"].get_orthogonal_selection((models, e))
        x = standardise_images(image, sampling, self.images.normalizedistance)
        if "targets" in arrays:
            return self._augmented(x, None, index), self._scaled_targets(models, e)
        label = arrays["label"].get_orthogonal_selection((models, e))
        y = np.moveaxis(label, 1, -1).astype(np.float32, copy=False)
        x, y = self._augmented(x, y, index)
        w = None if self.class_weights is None else pixel_weights(y, self.class_weights)
        if self.target_scale is not None:
            mean, std = self.target_scale
            y = ((y - mean) / std).astype(np.float32)
        return (x, y) if w is None else (x, y, w)

    def _augmented(self, x: np.ndarray, y: Optional[np.ndarray], index: int):
        if self.augmentation is None:
            return x if y is None else (x, y)
        rng = self._rng(index)
        for i in range(len(x)):
            x[i], label = self.augmentation.apply(x[i], None if y is None else y[i], rng)
            if y is not None:
                y[i] = label
        return x if y is None else (x, y)

    def _scaled_targets(self, models: np.ndarray, epoch: int) -> np.ndarray:
        targets = self.arrays()["targets"].get_orthogonal_selection((models, epoch))
        mean, std = self.target_scale or (0.0, 1.0)
        return ((targets - mean) / std).astype(np.float32)


class SynthesisBatches(_Batches):
    """Batches drawn fresh from a dataset's exit waves on every call (no stored images).

    Each batch synthesises one image epoch per model with :func:`synthesize_images` from
    ``SeedSequence(seed, spawn_key=(epoch, batch, 1))``: every training epoch sees new
    microscope parameters, at the cost of the synthesis (~0.1-1 s per image on a CPU).
    """

    def __init__(
        self, lake, dataset: str, params, batch_size: int,
        augmentation: Optional[Augmentation] = None, seed: int = 0,
        limit: Optional[int] = None, class_weights: Optional[Any] = None, **kwargs: Any,
    ):  # fmt: skip
        if params.label not in PIXEL_LABELS:
            raise ImageSetError(f"{params.label} labels are not images; see {PIXEL_LABELS}")
        if not lake.exists("exitwaves", dataset=dataset):
            raise ImageSetError(f"{lake.location}: dataset '{dataset}' has no exit waves")
        group = lake.group("exitwaves", dataset=dataset)
        n = group["exit_wave"].shape[0] if limit is None else min(limit, group["exit_wave"].shape[0])
        super().__init__(n, batch_size, seed, True, **kwargs)
        self.location, self.dataset, self.params, self.augmentation = (
            lake.location, dataset, params, augmentation,
        )  # fmt: skip
        self.class_weights = _checked_weights(class_weights, None)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        from hrtemlake.lake import Lake
        from hrtemlake.simulate.images import load_sites, synthesize_images
        from hrtemlake.simulate.params import COLUMN_LABELS, LABELS_FROM_SITES

        lake, models = Lake(self.location), np.sort(self._items(index))
        group = lake.group("exitwaves", dataset=self.dataset)
        sampling, energy = float(group["sampling"][()]), float(group["energy"][()])
        sites = None
        if self.params.label in LABELS_FROM_SITES:
            sites = load_sites(lake, self.dataset, models,
                               counts=self.params.label in COLUMN_LABELS)  # fmt: skip
        names = lake.group("sites", dataset=self.dataset).attrs["class_names"] if sites else None
        rng = self._rng(index)
        xs, ys = [], []
        for i, model in enumerate(models):
            wave = group["exit_wave"][int(model)]
            out = synthesize_images(wave, sampling, self.params, rng, energy=energy,
                                    class_names=names, sites=sites[i] if sites else None)  # fmt: skip
            x = standardise_images(out["image"], np.asarray(out["sampling"]).reshape(-1),
                                   self.params.normalizedistance)[0]  # fmt: skip
            y = np.moveaxis(out["label"][0], 0, -1).astype(np.float32)
            if self.augmentation is not None:
                x, y = self.augmentation.apply(x, y, rng)
            xs.append(x)
            ys.append(y)
        x, y = np.stack(xs), np.stack(ys)
        if self.class_weights is None:
            return x, y
        if len(self.class_weights) != y.shape[-1]:
            raise ImageSetError(f"{len(self.class_weights)} class weights for "
                                f"{y.shape[-1]} label channels")  # fmt: skip
        return x, y, pixel_weights(y, self.class_weights)


def _checked_weights(weights, channels: Optional[int]) -> Optional[np.ndarray]:
    """Class weights as a float32 array (one per channel, finite, >= 0), or None."""
    if weights is None:
        return None
    out = np.asarray(weights, dtype=np.float32).reshape(-1)
    if channels is not None and out.size != channels:
        raise ImageSetError(f"{out.size} class weights for {channels} label channels")
    if not np.isfinite(out).all() or (out < 0).any():
        raise ImageSetError(f"class weights must be finite and >= 0, got {out.tolist()}")
    return out
