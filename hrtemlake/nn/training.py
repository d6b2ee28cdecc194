"""Train a network on image sets of the lake (thesis §3.3; Listings 3.7, A.2, A.3).

:func:`train_network` is what ``hrtemlake train`` and the training flow call::

    from hrtemlake.nn import TrainingOptions, train_network

    options = TrainingOptions(arch="msdnet", layers=50, batch_size=8,
                              class_weights="balanced")
    result = train_network("lake.zarr", "mos2-msd", "train/paper3", "test/paper3",
                           epochs=100, options=options)
    result.model                       # the trained keras.Model
    result.curve                       # one row per epoch: loss, val_loss, metric, ...

Each training epoch is one ``model.fit`` pass over the training models (image epoch
``epoch mod image_epochs``), followed by validation on image epoch 0 of the validation
set; its row of the learning curve is appended to ``networks/<name>`` at once, and the
model with its optimizer state is checkpointed every ``epochsave`` epochs and at the end.
``restart=E`` reloads the checkpoint after epoch E, drops the curve past E and continues
with the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

import keras
import numpy as np

from hrtemlake.errors import HrtemlakeError
from hrtemlake.lake import as_lake
from hrtemlake.nn.architectures import build_network, network_config, trainable_parameters
from hrtemlake.nn.augment import Augmentation
from hrtemlake.nn.data import (
    ImageSet,
    LakeBatches,
    SynthesisBatches,
    balanced_class_weights,
    label_sample,
    open_image_set,
)
from hrtemlake.nn.losses import objective
from hrtemlake.nn.registry import (
    NetworkError,
    checkpoint_epochs,
    load_network,
    save_checkpoint,
)
from hrtemlake.simulate.params import SITE_LABELS

__all__ = ["TrainingError", "TrainingOptions", "TrainingResult", "train_network"]

_CURVE = ("loss", "val_loss", "metric", "val_metric", "learning_rate", "image_epoch",
          "images", "seconds")  # fmt: skip


@dataclass(frozen=True)
class TrainingOptions:
    """Network and training options (the thesis' training-script options).

    Attributes
    ----------
    arch : str
        "unet", "unetpp" or "msdnet" (pixel labels); "regressor" (Regression labels);
        "classifier" (Class labels: :func:`hrtemlake.nn.heads.build_classifier` with one
        output per class name, sparse categorical cross-entropy, accuracy; ``filters``,
        ``depth`` and ``kernel`` apply);
        "denoiser" (Denoise labels: :func:`hrtemlake.nn.heads.build_denoiser`, ``filters``,
        ``depth`` and ``kernel`` apply).
    filters, kernel, layers, depth : int, optional
        Width (channels of the first level; MSD-net: per layer), kernel size, MSD-net
        layers and U-net levels; None takes the architecture's default.
    batch_size : int
        Images per gradient step.
    adam : dict, optional
        Keyword arguments of ``keras.optimizers.Adam`` (default: AMSGrad, learning rate
        1e-3, as the thesis' default "Adam + AMSGrad").
    rmsprop : float, optional
        Use RMSprop with this learning rate instead (Paper I: 5e-4).
    regularize : float, optional
        L2 penalty on every convolution kernel.
    mixed_precision : bool
        Compute in float16 (bfloat16 without a GPU), keep float32 weights and outputs.
    epochsave : int
        Checkpoint every this many epochs (and always after the last).
    limitdata : int, optional
        Use only the first ``limitdata`` training models.
    seed : int
        Seed of the weights, the model order and the augmentation.
    augmentation : dict
        :class:`~hrtemlake.nn.augment.Augmentation` as a dict.
    synthesize : dict, optional
        An image parameter file: draw fresh images from the training dataset's exit
        waves every epoch instead of reading stored image epochs.
    target_mean, target_std : list of float, optional
        Regression and Denoise labels: the scale the targets (label channels) are learnt
        in, (value - mean) / std (default: their mean and standard deviation over the
        training set - Denoise: over a sample of at most 64 training labels - stored with
        the network; predictions are mapped back to the label's units).
    class_weights : "balanced" or list of float, optional
        Segmentation labels (Mask, Disk, Gaussian): one weight per output channel; every
        pixel's loss is weighted by the sum over channels of weight × label (pixels of no
        channel: 1). "balanced": inverse pixel frequencies measured on at most 64 training
        labels, scaled to a mean pixel weight of 1 and capped at 50. Resolved to numbers
        when training starts and stored so (a restart uses the same weights).
    workers : int
        Threads preparing batches while the network trains (not part of the identity
        of a network: a restart may use another number).

    Regression labels (microscope parameters per image) train the ``regressor`` head of
    :mod:`hrtemlake.nn.heads` (``arch="regressor"``; ``filters``, ``kernel`` and
    ``depth`` apply) without flips, which would change astigmatism angles.
    """

    arch: str = "unet"
    filters: Optional[int] = None
    kernel: Optional[int] = None
    layers: Optional[int] = None
    depth: Optional[int] = None
    batch_size: int = 8
    adam: Optional[dict] = None
    rmsprop: Optional[float] = None
    regularize: Optional[float] = None
    mixed_precision: bool = False
    epochsave: int = 10
    limitdata: Optional[int] = None
    seed: int = 0
    augmentation: dict = field(default_factory=lambda: Augmentation().to_dict())
    synthesize: Optional[dict] = None
    target_mean: Optional[list] = None
    target_std: Optional[list] = None
    class_weights: Optional[Any] = None
    workers: int = 1

    def identity(self) -> dict[str, Any]:
        """What defines a network's training (everything but ``workers``; target scales
        and class weights only when set, so networks registered before they existed still
        restart)."""
        out = asdict(self)
        out.pop("workers")
        for key in ("target_mean", "target_std", "class_weights"):
            if out[key] is None:
                out.pop(key)
        return out

    def optimizer(self) -> keras.optimizers.Optimizer:
        if self.adam is not None and self.rmsprop is not None:
            raise TrainingError("choose one optimizer: adam or rmsprop")
        if self.rmsprop is not None:
            return keras.optimizers.RMSprop(learning_rate=self.rmsprop)
        kwargs = {"learning_rate": 1e-3, "amsgrad": True, **(self.adam or {})}
        try:
            return keras.optimizers.Adam(**kwargs)
        except (TypeError, ValueError) as error:
            raise TrainingError(f"--adam {kwargs}: {error}") from error


class TrainingError(HrtemlakeError):
    """Training options or image sets that cannot work together."""


@dataclass
class TrainingResult:
    """A trained network: the model and its learning curve (one dict per epoch)."""

    name: str
    model: keras.Model
    curve: list[dict[str, float]]


def train_network(
    lake, name: str, train: str, validation: str, epochs: int,
    options: Optional[TrainingOptions] = None, restart: Optional[int] = None,
    progress: Optional[Callable[[dict], None]] = None,
) -> TrainingResult:  # fmt: skip
    """Train network ``name`` for ``epochs`` epochs in total and register it in the lake.

    Parameters
    ----------
    lake : Lake or str
        The lake (opened for writing) or its location.
    name : str
        Network name: ``networks/<name>``.
    train, validation : str
        Image sets ``DATASET/IMAGESET`` (``DATASET`` alone when it has one image set; with
        ``options.synthesize`` the training dataset's exit waves are used).
    epochs : int
        Total training epochs (a restart continues up to this number).
    options : TrainingOptions, optional
        Ignored on restart, where the stored options are used (except ``workers``).
    restart : int, optional
        Continue from the checkpoint saved after this epoch.
    progress : callable, optional
        Called with each epoch's learning-curve row.
    """
    lake = as_lake(lake, "a")
    options = options or TrainingOptions()
    if restart is not None:
        # the stored options already hold the scale and weights the network learnt with
        # (none for networks trained before they existed: identity scale, no weights)
        options = _stored_options(lake, name, options.workers)
    else:
        options = _with_target_scale(lake, train, options)
        options = _with_class_weights(lake, train, options)
    train_batches, val_batches, train_set = _batches(lake, train, validation, options)
    if restart is None:
        model = _new_model(lake, name, train_set, options)
    else:
        model = _restart(lake, name, restart)
    _check_compatible(model, train_set, name)
    writer = lake.writer(
        "networks", parameters=_identity(model, options, train, validation), seed=options.seed,
        attrs=_attrs(model, train_set, options, train, validation), network=name,
    )  # fmt: skip
    start = writer.n_items
    if start >= epochs:
        raise TrainingError(f"network '{name}' has already trained {start} epochs (asked: {epochs})")
    keras.utils.set_random_seed(options.seed + start)
    _set_target_scale(model, options)
    curve = []
    for epoch in range(start, epochs):
        row = {"epoch": epoch + 1, **_train_epoch(model, train_batches, val_batches, epoch)}
        writer.append({k: np.array([row[k]]) for k in _CURVE})
        if (epoch + 1) % options.epochsave == 0 or epoch + 1 == epochs:
            save_checkpoint(lake, name, model, epoch + 1)
        curve.append(row)
        if progress is not None:
            progress({"epochs": epochs, **row})
    return TrainingResult(name, model, curve)


#: Labels learnt standardised, (value - mean) / std, with the scale stored with the network.
SCALED_LABELS = ("Regression", "Denoise")


def _with_target_scale(lake, train: str, options: TrainingOptions) -> TrainingOptions:
    """Options with the regression targets' (Denoise labels': per channel) mean and spread
    from the training set."""
    if options.synthesize is not None or options.target_mean is not None:
        return options
    images = open_image_set(lake, train)
    if images.label not in SCALED_LABELS:
        return options
    if images.label == "Regression":
        targets = np.asarray(images.group()["targets"][...], dtype=np.float64)
    else:
        targets = label_sample(images, limit=options.limitdata)
    targets = targets.reshape(-1, targets.shape[-1])
    std = np.where(targets.std(axis=0) > 0, targets.std(axis=0), 1.0)
    return replace(options, target_mean=targets.mean(axis=0).tolist(), target_std=std.tolist())


def _with_class_weights(lake, train: str, options: TrainingOptions) -> TrainingOptions:
    """Options with the class weights resolved to one number per output channel."""
    weights = options.class_weights
    if weights is None:
        return options
    if options.synthesize is not None:
        from hrtemlake.simulate.params import ImageParameters

        params = ImageParameters.from_dict(dict(options.synthesize))
        label, images = params.label, None
    else:
        images = open_image_set(lake, train)
        label = images.label
    if label not in SITE_LABELS:
        raise TrainingError(f"class weights need segmentation labels ({', '.join(SITE_LABELS)}); "
                            f"'{train}' has {label} labels")  # fmt: skip
    if isinstance(weights, str):
        if weights != "balanced":
            raise TrainingError(f"class weights: expected 'balanced' or one number per "
                                f"channel, got {weights!r}")  # fmt: skip
        if images is None:
            raise TrainingError("class weights 'balanced' are measured on stored labels; "
                                "with synthesize give one number per channel")  # fmt: skip
        resolved = balanced_class_weights(label_sample(images, limit=options.limitdata))
    else:
        try:
            resolved = [float(w) for w in weights]
        except (TypeError, ValueError) as error:
            raise TrainingError(f"class weights: expected 'balanced' or a list of numbers, "
                                f"got {weights!r}") from error  # fmt: skip
    if images is not None and len(resolved) != len(images.channel_names):
        raise TrainingError(
            f"class weights: {len(resolved)} given for the {len(images.channel_names)} "
            f"channels {list(images.channel_names)} of '{images.name}'"
        )
    if not all(np.isfinite(w) and w >= 0 for w in resolved):
        raise TrainingError(f"class weights must be finite and >= 0, got {resolved}")
    return replace(options, class_weights=resolved)


def _batches(lake, train: str, validation: str, options: TrainingOptions):
    """Training and validation batches, and the image set that defines the network."""
    augmentation = Augmentation.from_dict(options.augmentation)
    val_set = open_image_set(lake, validation)
    common = {"batch_size": options.batch_size, "workers": options.workers}
    if val_set.label == "Regression":
        augmentation = replace(augmentation, flips=False)
    if val_set.label in SCALED_LABELS and options.target_mean is not None:
        common["target_scale"] = (options.target_mean, options.target_std)
    if options.class_weights is not None:
        common["class_weights"] = options.class_weights
    val = LakeBatches(val_set, image_epoch=0, shuffle=False, seed=options.seed, **common)
    if options.synthesize is not None:
        from hrtemlake.simulate.params import ImageParameters

        params = ImageParameters.from_dict(dict(options.synthesize))
        dataset = train.partition("/")[0]
        common.pop("target_scale", None)  # synthesised labels are learnt in their own units
        batches = SynthesisBatches(lake, dataset, params, augmentation=augmentation,
                                   seed=options.seed, limit=options.limitdata, **common)  # fmt: skip
        return batches, val, replace(val_set, dataset=dataset, imageset="(synthesised)",
                                     parameter_file=params.to_dict())  # fmt: skip
    train_set = open_image_set(lake, train)
    _check_pair(train_set, val_set)
    batches = LakeBatches(train_set, augmentation=augmentation, seed=options.seed,
                          limit=options.limitdata, **common)  # fmt: skip
    return batches, val, train_set


def _check_pair(train: ImageSet, val: ImageSet) -> None:
    for what in ("label", "channel_names", "n_focus", "class_names"):
        a, b = getattr(train, what), getattr(val, what)
        if a != b:
            raise TrainingError(
                f"training set '{train.name}' and validation set '{val.name}' differ in "
                f"{what}: {a} vs {b}"
            )


def _new_model(lake, name: str, images: ImageSet, options: TrainingOptions) -> keras.Model:
    if lake.exists("networks", network=name):
        done = int((lake.group("networks", network=name)["write_session"][:] > 0).sum())
        raise NetworkError(
            f"{lake.location}: network '{name}' exists ({done} epochs trained); continue it "
            f"with --restart EPOCH (saved: {list(checkpoint_epochs(lake, name))}) or use another name"
        )
    goal = objective(images.label, len(images.channel_names),
                     bool(images.parameter_file.get("null_class")))  # fmt: skip
    policy = keras.config.dtype_policy()
    if options.mixed_precision:
        gpu = bool(__import__("tensorflow").config.list_physical_devices("GPU"))
        keras.config.set_dtype_policy("mixed_float16" if gpu else "mixed_bfloat16")
    try:
        model = _build(options, images, goal, name)
    except ValueError as error:
        raise TrainingError(str(error)) from error
    finally:
        keras.config.set_dtype_policy(policy)
    if options.regularize:
        model = _with_l2(model, options.regularize)
    model.compile(optimizer=options.optimizer(), loss=goal.loss, metrics=[goal.metric()])
    return model


def _build(options: TrainingOptions, images: ImageSet, goal, name: str) -> keras.Model:
    if options.arch == "denoiser":
        from hrtemlake.nn.heads import build_denoiser

        if images.label != "Denoise":
            raise TrainingError(f"image set '{images.name}' has {images.label} labels: "
                                f"--arch denoiser trains only Denoise labels")  # fmt: skip
        if len(images.channel_names) != images.n_focus:
            raise TrainingError(f"image set '{images.name}': the denoiser maps each of its "
                                f"{images.n_focus} focus images to one label channel, but it "
                                f"has {len(images.channel_names)}")  # fmt: skip
        return build_denoiser(images.n_focus, seed=options.seed, name=name,
                              **_head_sizes(options))  # fmt: skip
    if images.label == "Class" or options.arch == "classifier":
        from hrtemlake.nn.heads import build_classifier

        if (images.label, options.arch) != ("Class", "classifier"):
            raise TrainingError(f"image set '{images.name}' has {images.label} labels: "
                                f"--arch classifier trains Class labels, and Class labels "
                                f"only --arch classifier")  # fmt: skip
        if len(images.class_names) < 2:
            raise TrainingError(f"image set '{images.name}' has the classes "
                                f"{list(images.class_names)}: a classifier needs at least 2")  # fmt: skip
        return build_classifier(images.n_focus, len(images.class_names), seed=options.seed,
                                name=name, **_head_sizes(options))  # fmt: skip
    if images.label == "Regression" or options.arch == "regressor":
        from hrtemlake.nn.heads import build_regressor

        if (images.label, options.arch) != ("Regression", "regressor"):
            raise TrainingError(f"image set '{images.name}' has {images.label} labels: "
                                f"train them with --arch regressor only with Regression labels")  # fmt: skip
        return build_regressor(images.n_focus, len(images.channel_names), seed=options.seed,
                               name=name, **_head_sizes(options))  # fmt: skip
    return build_network(
        options.arch, images.n_focus, len(images.channel_names), goal.activation,
        filters=options.filters, kernel=options.kernel, layers=options.layers,
        depth=options.depth, seed=options.seed, name=name,
    )  # fmt: skip


def _head_sizes(options: TrainingOptions) -> dict[str, int]:
    """The size options an image-level head was given (its own defaults for the rest)."""
    given = (("filters", options.filters), ("kernel", options.kernel), ("depth", options.depth))
    return {key: value for key, value in given if value is not None}


def _set_target_scale(model: keras.Model, options: TrainingOptions) -> None:
    """Remember the label scale on the model, so :func:`~hrtemlake.nn.evaluate.predict_images`
    returns predictions of the trained model in the label's units."""
    from hrtemlake.nn.evaluate import target_scale

    object.__setattr__(model, "_hrtemlake_target_scale", target_scale(options.identity()))


def _with_l2(model: keras.Model, l2: float) -> keras.Model:
    """The same network with an L2 penalty on every convolution kernel."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "Conv2D":
            layer["config"]["kernel_regularizer"] = keras.regularizers.serialize(
                keras.regularizers.L2(l2)
            )
    regularised = keras.Model.from_config(config)
    regularised.set_weights(model.get_weights())
    return regularised


def _restart(lake, name: str, epoch: int) -> keras.Model:
    model = load_network(lake, name, epoch)
    curve = lake.writer("networks", network=name, parameters=_stored(lake, name)["parameters"])
    curve.truncate(min(epoch, curve.n_items))
    keep = int(np.flatnonzero(checkpoint_epochs(lake, name) == epoch)[-1]) + 1
    lake.writer("checkpoints", attrs={"format": "keras"}, network=name).truncate(keep)
    return model


def _stored(lake, name: str) -> dict:
    if not lake.exists("networks", network=name):
        raise NetworkError(f"{lake.location}: no network '{name}' to restart")
    return dict(lake.group("networks", network=name).attrs)


def _stored_options(lake, name: str, workers: int) -> TrainingOptions:
    training = dict(_stored(lake, name)["parameters"]["training"])
    return TrainingOptions(**training, workers=workers)


def _check_compatible(model: keras.Model, images: ImageSet, name: str) -> None:
    channels_in, channels_out = model.input_shape[-1], model.output_shape[-1]
    outputs = len(images.class_names) if images.label == "Class" else len(images.channel_names)
    if (channels_in, channels_out) != (images.n_focus, outputs):
        raise TrainingError(
            f"network '{name}' maps {channels_in} input to {channels_out} output channels; "
            f"image set '{images.name}' has {images.n_focus} and {outputs}"
        )


def _identity(model, options: TrainingOptions, train: str, validation: str) -> dict:
    return {
        "architecture": network_config(model),
        "training": options.identity(),
        "datasets": {"train": train, "validation": validation},
    }


def _attrs(model, images: ImageSet, options, train: str, validation: str) -> dict:
    identity = _identity(model, options, train, validation)
    return {
        "architecture": {**identity["architecture"],
                         "trainable_parameters": trainable_parameters(model)},  # fmt: skip
        "training": identity["training"],
        "label": images.label,
        "channel_names": list(images.channel_names),
        **({"class_names": list(images.class_names)} if images.class_names else {}),
        "input_channels": images.n_focus,
        "datasets": identity["datasets"],
        "parameter_file": images.parameter_file,
    }


def _train_epoch(model: keras.Model, train, val, epoch: int) -> dict[str, float]:
    train.set_epoch(epoch)
    began = time.perf_counter()
    # shuffle=False: the batches already come in the epoch's seeded order; Keras' own
    # shuffling of batch indices would draw from Python's global random state
    history = model.fit(train, epochs=epoch + 1, initial_epoch=epoch, validation_data=val,
                        shuffle=False, verbose=0)  # fmt: skip
    logs = {k: float(v[-1]) for k, v in history.history.items()}
    metric = next(k for k in logs if not k.startswith("val_") and k != "loss"
                  and k != "learning_rate")  # fmt: skip
    return {
        "loss": logs["loss"], "val_loss": logs.get("val_loss", np.nan),
        "metric": logs[metric], "val_metric": logs.get(f"val_{metric}", np.nan),
        "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        "image_epoch": getattr(train, "image_epoch", -1), "images": train.n_items,
        "seconds": time.perf_counter() - began,
    }  # fmt: skip
