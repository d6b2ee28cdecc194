"""Image-level networks: classifier, regressor and denoising autoencoder (Keras 3).

The pixel networks of :mod:`hrtemlake.nn.architectures` map an image to an image of labels.
The networks here answer one question per image, or clean the whole image:

* :func:`build_classifier`: class probabilities of an image, e.g. the chirality of a carbon
  nanotube (seed 004: "Classification: carbon nanotube structure (chirality)", >90 % on
  synthetic images, with a table of per-region probabilities for an experimental image) or
  whether a particle's Fourier transform shows it on a zone axis (thesis §7.1: "a neural
  network may be able to perform these classification based on only the Fourier transform";
  :func:`fourier_input` prepares such an input);
* :func:`build_regressor`: numbers of an image, e.g. the defocus and two-fold astigmatism of
  the microscope (seed 004: "Regression: microscope defocus and astigmatism");
* :func:`build_denoiser`: a convolutional autoencoder from a noisy image to the noise-free one
  (seed 004: "Denoising: convolutional autoencoder", shot noise in, ground truth out).

Around them: :func:`region_probabilities` and :func:`top_k` (a classifier on sliding windows:
the seed's table "region → chirality 1, prob. 1, chirality 2, ..."), :func:`ensemble_predict`
(error bars from an ensemble), :func:`encode_angle` / :func:`decode_angle` (angles as
regression targets) and :func:`psnr` / :func:`ssim` (denoising scores).

Decisions
---------
Encoder
    ``depth`` levels; level ℓ is one hidden layer (convolution ``kernel`` × ``kernel``,
    ``filters * 2**ℓ`` channels, 'same' padding → PReLU → batch normalisation, exactly the
    hidden layer of the pixel networks) followed by a 2 × 2 max-pool. The classifier and
    regressor pool with 'same' padding (odd sides round up), so every image of at least
    1 × 1 pixel passes: their input is ``(None, None, input_channels)`` without conditions.
Head
    Global average pooling (size-agnostic), a dense layer of ``dense`` units with a PReLU,
    and the output layer: softmax over ``classes`` (classifier) or linear ``targets``
    (regressor). The dense layers are 1 × 1 convolutions on the 1 × 1 pooled map, which is
    the same function and parameter count as ``keras.layers.Dense``; it lets the output
    layer be the project's :class:`~hrtemlake.nn.architectures.OutputHead`, so that
    :func:`~hrtemlake.nn.architectures.network_config` (and the registry, which imports only
    :mod:`~hrtemlake.nn.architectures`) reads and loads these models like the pixel networks.
    A float32 ``Reshape`` turns the ``(1, 1, n)`` map into the ``(n,)`` output.
Denoiser
    A true autoencoder, without skip connections, so the image must pass the bottleneck:
    ``depth`` encoder levels (hidden layer, then 'valid' 2 × 2 max-pool), a bottleneck
    hidden layer of ``filters * 2**depth`` channels at ``1 / 2**depth`` of the size, and
    ``depth`` decoder levels (bilinear 2 × up-sampling, then a hidden layer of ``filters *
    2**ℓ`` channels), ending in a linear 1 × 1 :class:`OutputHead` of ``input_channels``
    channels. Like the U-nets it needs sides divisible by ``2**depth`` (8 for the
    defaults): :func:`hrtemlake.nn.architectures.check_input_size` checks it from
    :func:`head_config`, and :func:`hrtemlake.nn.evaluate.predict_images` pads to it.
Regression targets
    The regressor's output is linear and unscaled: standardise the targets (e.g. defocus
    [Å] minus its mean, divided by its spread) and undo it on the predictions. Angles are
    periodic, so regress ``(cos fφ, sin fφ)`` (:func:`encode_angle`, ``fold`` f = 2 for
    two-fold astigmatism, whose angle is defined modulo π) and recover φ with
    :func:`decode_angle`. Scaling both by the astigmatism amplitude (``amplitude=A``)
    removes the angle's singularity at A = 0; ``hypot`` of the two outputs gives A back.
Options and determinism
    The options (``arch`` ∈ :data:`HEADS`, channels, activation, ``filters``, ``depth``,
    ``kernel``, ``dense`` and ``seed``) are stored in the :class:`OutputHead`'s config and
    survive saving and ``keras.models.load_model(path, safe_mode=True)``; both
    :func:`stored_head_config` and :func:`~hrtemlake.nn.architectures.network_config` read
    them back, and ``build_head(**stored_head_config(model))`` rebuilds the network. Weights come from the same seeded
    initialisers as the pixel networks (He-normal hidden layers, Glorot-uniform output,
    one seed per layer from ``numpy.random.default_rng([seed, 0])``): two builds with the
    same options have identical weights.
Default sizes
    One input channel: classifier (3 classes) 106 387 trainable parameters, regressor
    (3 targets) 106 387, denoiser 195 105 (``tests/nn/test_heads.py`` checks them).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import keras
import numpy as np

from hrtemlake.errors import ParameterError
from hrtemlake.nn.architectures import (
    PRELU_ALPHA,
    OutputHead,
    _conv_unit,
    _Initializers,
    _integer,
    _upsample,
    network_config,
)

__all__ = [
    "HEADS",
    "HEAD_DEFAULTS",
    "build_classifier",
    "build_denoiser",
    "build_head",
    "build_regressor",
    "calibration_error",
    "decode_angle",
    "encode_angle",
    "ensemble_predict",
    "fit_temperature",
    "fourier_input",
    "head_config",
    "psnr",
    "region_probabilities",
    "ssim",
    "stored_head_config",
    "top_k",
    "with_temperature",
]

HEADS = ("classifier", "regressor", "denoiser")
"""Architecture names of the image-level networks (the ``arch`` of :func:`head_config`)."""

_ENCODER_DEFAULTS = MappingProxyType({"filters": 16, "depth": 4, "kernel": 3, "dense": 64})
HEAD_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "classifier": _ENCODER_DEFAULTS,
        "regressor": _ENCODER_DEFAULTS,
        "denoiser": MappingProxyType({"filters": 16, "depth": 3, "kernel": 3}),
    }
)
"""Default options per network."""

_ACTIVATIONS = {"classifier": "softmax", "regressor": "linear", "denoiser": "linear"}
_MINIMUM = {"filters": 1, "depth": 1, "kernel": 1, "dense": 1}
DEFAULT_BATCH_SIZE = 64
"""Images per forward pass in :func:`region_probabilities` and :func:`ensemble_predict`."""


# --------------------------------------------------------------------------- options


def head_config(
    arch: str,
    input_channels: int,
    output_channels: int,
    activation: str | None = None,
    *,
    filters: int | None = None,
    depth: int | None = None,
    kernel: int | None = None,
    dense: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The complete, validated options of an image-level network, defaults filled in.

    Parameters
    ----------
    arch
        One of :data:`HEADS`.
    input_channels, output_channels
        Input channels; classes (classifier, ≥ 2), targets (regressor) or, for the
        denoiser, the input channels again.
    activation
        ``None`` or the network's own (``"softmax"`` for the classifier, ``"linear"``
        otherwise); accepted so that a stored config can be passed back.
    filters, depth, kernel, dense, seed
        As for :func:`build_classifier`; ``None`` → :data:`HEAD_DEFAULTS`. ``dense`` does not
        apply to the denoiser.

    Returns
    -------
    dict
        ``arch``, ``input_channels``, ``output_channels``, ``activation``, the network's
        options and ``seed``; ``build_head(**config)`` builds the network.

    Raises
    ------
    ParameterError
        Naming the invalid option.
    """
    if arch not in HEADS:
        raise ParameterError(f"arch must be one of {HEADS}, got {arch!r}")
    input_channels = _integer("input_channels", input_channels, 1)
    if arch == "classifier":
        output_channels = _integer("classes", output_channels, 2)
    elif arch == "regressor":
        output_channels = _integer("targets", output_channels, 1)
    else:
        output_channels = _integer("output_channels", output_channels, 1)
        if output_channels != input_channels:
            raise ParameterError(
                f"a denoiser returns its input_channels ({input_channels}) channels; "
                f"output_channels {output_channels} differs"
            )
    expected = _ACTIVATIONS[arch]
    if activation not in (None, expected):
        raise ParameterError(f"activation of a {arch} is {expected!r}, got {activation!r}")
    defaults = HEAD_DEFAULTS[arch]
    given = {"filters": filters, "depth": depth, "kernel": kernel, "dense": dense}
    for key, value in given.items():
        if key not in defaults and value is not None:
            raise ParameterError(
                f"option {key!r} does not apply to {arch!r}; its options are {tuple(defaults)}"
            )
    options = {
        key: _integer(key, defaults[key] if given[key] is None else given[key], _MINIMUM[key])
        for key in defaults
    }
    if options["kernel"] % 2 == 0:
        raise ParameterError(f"kernel must be odd, got {options['kernel']}")
    return {
        "arch": arch,
        "input_channels": input_channels,
        "output_channels": output_channels,
        "activation": expected,
        **options,
        "seed": _integer("seed", seed, 0),
    }


# --------------------------------------------------------------------------- builders


def _encoder(x: Any, config: Mapping[str, Any], init: _Initializers, pool_padding: str) -> Any:
    for level in range(config["depth"]):
        x = _conv_unit(x, config["filters"] * 2**level, config["kernel"], init, f"enc{level}")
        x = keras.layers.MaxPooling2D(2, padding=pool_padding, name=f"enc{level}_pool")(x)
    return x


def _image_level(config: Mapping[str, Any], name: str | None) -> keras.Model:
    """Encoder → global average pooling → dense → output vector (classifier, regressor)."""
    init = _Initializers(config["seed"])
    inputs = keras.Input((None, None, config["input_channels"]), name="image")
    x = _encoder(inputs, config, init, "same")
    x = keras.layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
    x = keras.layers.Conv2D(config["dense"], 1, kernel_initializer=init.hidden(),
                            name="dense")(x)  # fmt: skip
    x = keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(PRELU_ALPHA),
                           shared_axes=[1, 2], name="dense_prelu")(x)  # fmt: skip
    x = OutputHead(
        config["output_channels"], architecture=config, activation=config["activation"],
        kernel_initializer=init.output(), dtype="float32", name="output",
    )(x)
    outputs = keras.layers.Reshape((config["output_channels"],), dtype="float32",
                                   name="vector")(x)  # fmt: skip
    return keras.Model(inputs, outputs, name=name or config["arch"])


def _denoiser(config: Mapping[str, Any], name: str | None) -> keras.Model:
    init = _Initializers(config["seed"])
    filters, depth, kernel = config["filters"], config["depth"], config["kernel"]
    inputs = keras.Input((None, None, config["input_channels"]), name="image")
    x = _encoder(inputs, config, init, "valid")
    x = _conv_unit(x, filters * 2**depth, kernel, init, "bottleneck")
    for level in reversed(range(depth)):
        x = _upsample(x, f"dec{level}_up")
        x = _conv_unit(x, filters * 2**level, kernel, init, f"dec{level}")
    outputs = OutputHead(
        config["output_channels"], architecture=config, activation="linear",
        kernel_initializer=init.output(), dtype="float32", name="output",
    )(x)
    return keras.Model(inputs, outputs, name=name or "denoiser")


def build_classifier(
    input_channels: int,
    classes: int,
    *,
    filters: int = 16,
    depth: int = 4,
    kernel: int = 3,
    dense: int = 64,
    seed: int = 0,
    name: str | None = None,
) -> keras.Model:
    """A convolutional classifier of whole images of any size.

    Parameters
    ----------
    input_channels
        Channels of the input images (1 for a single image or its Fourier transform).
    classes
        Number of classes, at least 2.
    filters
        Channels of the first level, doubled per level.
    depth
        Levels (convolution → PReLU → batch norm → 2 × 2 max-pool).
    kernel
        Odd kernel side of the convolutions [px].
    dense
        Units of the dense layer after global average pooling.
    seed
        Seed of the initial weights.
    name
        Model name (default ``"classifier"``).

    Returns
    -------
    keras.Model
        Input ``(None, None, input_channels)``, float32 output ``(classes,)``: softmax
        probabilities that sum to 1.

    Raises
    ------
    ParameterError
        Naming the invalid option.
    """
    config = head_config("classifier", input_channels, classes, filters=filters, depth=depth,
                         kernel=kernel, dense=dense, seed=seed)  # fmt: skip
    return _image_level(config, name)


def build_regressor(
    input_channels: int,
    targets: int,
    *,
    filters: int = 16,
    depth: int = 4,
    kernel: int = 3,
    dense: int = 64,
    seed: int = 0,
    name: str | None = None,
) -> keras.Model:
    """A convolutional regressor of numbers from whole images of any size.

    Parameters are those of :func:`build_classifier`, with ``targets`` (≥ 1) linear outputs
    in place of the classes, e.g. 3 for defocus and the two components of
    :func:`encode_angle` of the astigmatism. Standardise the targets for training (see the
    module's Decisions).

    Returns
    -------
    keras.Model
        Input ``(None, None, input_channels)``, float32 linear output ``(targets,)``.
    """
    config = head_config("regressor", input_channels, targets, filters=filters, depth=depth,
                         kernel=kernel, dense=dense, seed=seed)  # fmt: skip
    return _image_level(config, name)


def build_denoiser(
    input_channels: int,
    *,
    filters: int = 16,
    depth: int = 3,
    kernel: int = 3,
    seed: int = 0,
    name: str | None = None,
) -> keras.Model:
    """A convolutional autoencoder from a noisy image to the noise-free one.

    Parameters
    ----------
    input_channels
        Channels of the images (in and out).
    filters
        Channels of the first level, doubled per level down to the bottleneck.
    depth
        Down-sampling steps to the bottleneck; image sides must be multiples of
        ``2**depth``.
    kernel, seed, name
        As for :func:`build_classifier` (default name ``"denoiser"``).

    Returns
    -------
    keras.Model
        Input ``(None, None, input_channels)``, float32 linear output of the same shape.
    """
    config = head_config("denoiser", input_channels, input_channels, filters=filters,
                         depth=depth, kernel=kernel, seed=seed)  # fmt: skip
    return _denoiser(config, name)


def build_head(
    arch: str,
    input_channels: int,
    output_channels: int,
    activation: str | None = None,
    *,
    name: str | None = None,
    **options: Any,
) -> keras.Model:
    """Build any of :data:`HEADS` from :func:`head_config`'s dict: ``build_head(**config)``."""
    config = head_config(arch, input_channels, output_channels, activation, **options)
    if arch == "denoiser":
        return _denoiser(config, name)
    return _image_level(config, name)


def stored_head_config(model: keras.Model) -> dict[str, Any]:
    """The :func:`head_config` a model was built with, also after saving and loading.

    Raises
    ------
    ParameterError
        If the model is not one of :data:`HEADS`.
    """
    config = network_config(model)
    if config.get("arch") not in HEADS:
        raise ParameterError(
            f"model {model.name!r} is a {config.get('arch')!r}, not one of {HEADS}"
        )
    return config


# --------------------------------------------------------------------------- targets, inputs


def encode_angle(phi: Any, fold: int = 2, amplitude: Any = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """An angle as the regression targets ``(A cos fφ, A sin fφ)``.

    Parameters
    ----------
    phi
        Angle(s) [rad].
    fold
        Symmetry of the quantity: an f-fold aberration's angle is defined modulo 2π / f
        (2 for two-fold astigmatism, 3 for three-fold astigmatism).
    amplitude
        Scale of both components, e.g. the astigmatism amplitude [Å] (default 1).

    Returns
    -------
    tuple of numpy.ndarray
        ``(c, s)``, each of the broadcast shape of ``phi`` and ``amplitude``.
    """
    fold = _integer("fold", fold, 1)
    phi = np.asarray(phi, dtype=float)
    amplitude = np.asarray(amplitude, dtype=float)
    return amplitude * np.cos(fold * phi), amplitude * np.sin(fold * phi)


def decode_angle(c: Any, s: Any, fold: int = 2) -> np.ndarray:
    """The angle of :func:`encode_angle`'s components, in [0, 2π / fold) [rad].

    The components need not be normalised (a network's outputs seldom are; their ``hypot``
    is the amplitude).
    """
    fold = _integer("fold", fold, 1)
    return np.mod(np.arctan2(np.asarray(s, dtype=float), np.asarray(c, dtype=float)),
                  2 * np.pi) / fold  # fmt: skip


def fourier_input(image: Any) -> np.ndarray:
    """A classifier input from an image's Fourier transform (thesis §7.1).

    The image minus its window-weighted mean (so that the zero frequency vanishes),
    apodised by a 2-D Hann window (so that its edges do not streak the spectrum), its
    power spectrum (:func:`hrtemlake.analysis.fourier.power_spectrum`,
    zero frequency in the centre), ``log1p`` of it (the reflections span decades), and that
    standardised to mean 0, standard deviation 1.

    Parameters
    ----------
    image
        (y, x) real image, at least 3 × 3.

    Returns
    -------
    numpy.ndarray
        (y, x, 1) float32.
    """
    from hrtemlake.analysis.fourier import power_spectrum

    array = np.asarray(image, dtype=float)
    if array.ndim != 2 or min(array.shape) < 3:
        raise ParameterError(f"image must be a 2-D array of at least 3 × 3, got {array.shape}")
    window = np.outer(np.hanning(array.shape[0]), np.hanning(array.shape[1]))
    mean = (array * window).sum() / window.sum()
    spectrum = np.log1p(power_spectrum((array - mean) * window))
    spread = spectrum.std()
    spectrum = (spectrum - spectrum.mean()) / (spread if spread > 0 else 1.0)
    return spectrum.astype(np.float32)[..., None]


# --------------------------------------------------------------------------- applying


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _forward(model: Callable, batch: np.ndarray) -> np.ndarray:
    """One forward pass in inference mode; any callable on a batch works."""
    if isinstance(model, keras.Layer):  # keras.Model is a Layer
        out = model(batch, training=False)
    else:
        out = model(batch)
    return np.asarray(keras.ops.convert_to_numpy(out))


def _predict(model: Callable, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate(
        [_forward(model, x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    )


def _check_batch_size(batch_size: Any) -> int:
    if not _is_int(batch_size) or batch_size < 1:
        raise ParameterError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def region_probabilities(
    model: Callable,
    image: Any,
    window: int,
    step: int,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's class probabilities for each region of an image.

    The image is cut into ``window`` × ``window`` regions along a grid
    (:func:`hrtemlake.analysis.tiling.window_positions`: the first region at the top-left
    corner, the last flush with the bottom-right edge, neighbours at most ``step`` apart and
    evenly spread), and the classifier is applied to them ``batch_size`` at a time. Pass
    windows as the classifier was trained (e.g. standardised images): nothing is rescaled.

    Parameters
    ----------
    model
        A classifier (a Keras model, called with ``training=False``, or any callable)
        mapping ``(n, window, window, c)`` float32 to ``(n, classes)`` probabilities.
    image
        (y, x) or (y, x, c) image, both sides at least ``window``.
    window
        Region side [px], at least 8.
    step
        Largest step between neighbouring regions [px], ``1 ≤ step ≤ window``.
    batch_size
        Regions per forward pass.

    Returns
    -------
    probabilities
        (ny, nx, classes) float32: the model's output for region (iy, ix).
    centres
        (ny, nx, 2) float64: the (y, x) centre of each region [px], in the convention that
        pixel i spans [i - 0.5, i + 0.5] (a region starting at y0 is centred at
        ``y0 + (window - 1) / 2``).

    Raises
    ------
    ParameterError
        Bad image, window, step or batch size, or a model output of another shape.
    """
    from hrtemlake.analysis.tiling import window_positions

    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ParameterError(
            f"image must be a real (y, x) or (y, x, c) array, got shape {np.shape(image)} "
            f"and dtype {array.dtype}"
        )
    batch_size = _check_batch_size(batch_size)
    positions = window_positions(array.shape[:2], window, step)  # checks window and step
    if min(array.shape[:2]) < window:
        raise ParameterError(
            f"window {window} px is larger than the image ({array.shape[0]} × "
            f"{array.shape[1]} px)"
        )
    ny = len(np.unique(positions[:, 0]))
    nx = len(positions) // ny
    probabilities = []
    for start in range(0, len(positions), batch_size):
        chunk = positions[start : start + batch_size]
        batch = np.stack([array[y : y + window, x : x + window] for y, x in chunk])
        out = _forward(model, batch.astype(np.float32))
        if out.ndim != 2 or out.shape[0] != len(chunk):
            raise ParameterError(
                f"the model must return (n, classes) probabilities for n windows; got shape "
                f"{out.shape} for {len(chunk)} windows"
            )
        probabilities.append(out.astype(np.float32))
    result = np.concatenate(probabilities).reshape(ny, nx, -1)
    centres = positions.reshape(ny, nx, 2) + (window - 1) / 2
    return result, centres


def top_k(
    probabilities: Any, k: int, class_names: Sequence[str] | None = None
) -> list[tuple[str, float]]:
    """The ``k`` most probable classes of one image or region, most probable first.

    Parameters
    ----------
    probabilities
        (classes,) probabilities, e.g. ``region_probabilities(...)[0][iy, ix]``.
    k
        Number of classes to return, 1 ≤ k ≤ classes.
    class_names
        A name per class (default: ``"0"``, ``"1"``, ...).

    Returns
    -------
    list of (str, float)
        ``(name, probability)``; ties keep the class order.
    """
    p = np.asarray(probabilities, dtype=float)
    if p.ndim != 1 or p.size < 1:
        raise ParameterError(
            f"probabilities must be one vector (classes,), got shape {p.shape}; "
            f"index one region first"
        )
    names = [str(i) for i in range(p.size)] if class_names is None else list(class_names)
    if len(names) != p.size:
        raise ParameterError(f"class_names has {len(names)} names for {p.size} classes")
    if not _is_int(k) or not 1 <= k <= p.size:
        raise ParameterError(f"k must be an integer in [1, {p.size}], got {k!r}")
    order = np.argsort(-p, kind="stable")[:k]
    return [(names[i], float(p[i])) for i in order]


def ensemble_predict(
    models: Sequence[Callable], x: Any, *, batch_size: int = DEFAULT_BATCH_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of an ensemble's predictions: a regression with error bars.

    Each model (e.g. regressors trained from different seeds or data splits) predicts every
    input; the mean is the estimate, the standard deviation over the models (``ddof=0``,
    the spread of the ensemble as a mixture, as in deep ensembles) its uncertainty.

    Parameters
    ----------
    models
        One or more Keras models (called with ``training=False``) or callables on batches.
    x
        (n, ...) inputs.
    batch_size
        Inputs per forward pass.

    Returns
    -------
    mean, std
        float64 arrays of one model's output shape.
    """
    models = list(models)
    if not models:
        raise ParameterError("models must hold at least one model")
    batch_size = _check_batch_size(batch_size)
    inputs = np.asarray(x, dtype=np.float32)
    predictions = [_predict(model, inputs, batch_size) for model in models]
    shapes = {p.shape for p in predictions}
    if len(shapes) != 1:
        raise ParameterError(f"the models' outputs differ in shape: {sorted(shapes)}")
    stack = np.stack(predictions).astype(np.float64)
    return stack.mean(axis=0), stack.std(axis=0)


# --------------------------------------------------------------------------- calibration

_TINY = 1e-12


def with_temperature(probabilities: Any, temperature: float) -> np.ndarray:
    """Softmax probabilities rescaled by a temperature: ``softmax(log p / T)``.

    ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens them; the ranking
    of the classes never changes (temperature scaling, Guo et al. 2017).
    """
    if isinstance(temperature, bool) or not np.isfinite(temperature) or temperature <= 0:
        raise ParameterError(f"temperature must be a positive number, got {temperature!r}")
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ParameterError(f"probabilities must be (n, classes), got shape {p.shape}")
    logits = np.log(np.clip(p, _TINY, None)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: Any, labels: Any) -> float:
    """The temperature that makes held-out probabilities most likely (least negative
    log-likelihood of the true classes), for :func:`with_temperature`.

    Parameters
    ----------
    probabilities
        (n, classes) softmax outputs on data the network was not trained on (e.g. its
        validation set).
    labels
        (n,) true class indices.

    Returns
    -------
    float
        The temperature, searched over 0.05-20 (log scale).
    """
    from scipy.optimize import minimize_scalar

    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    if p.ndim != 2 or y.shape != (len(p),) or not len(p) or not np.issubdtype(y.dtype, np.integer):
        raise ParameterError(f"labels must be ({len(p)},) class indices of (n, classes) "
                             f"probabilities, got shapes {y.shape} and {p.shape}")  # fmt: skip
    rows = np.arange(len(p))

    def nll(log_t: float) -> float:
        return -float(np.log(np.clip(with_temperature(p, np.exp(log_t))[rows, y], _TINY, None)).mean())

    best = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(best.x))


def calibration_error(probabilities: Any, labels: Any, bins: int = 10) -> float:
    """Expected calibration error: the mean |accuracy - confidence| of the top class over
    ``bins`` equal-width confidence bins, weighted by the fraction of inputs in each."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == y)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in np.unique(which):
        inside = which == b
        error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


# --------------------------------------------------------------------------- denoising scores


def _pair(prediction: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(prediction, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if p.shape != t.shape:
        raise ParameterError(f"prediction shape {p.shape} differs from truth shape {t.shape}")
    if p.ndim not in (2, 3):
        raise ParameterError(f"images must be (y, x) or (y, x, c), got shape {p.shape}")
    return p, t


def _data_range(truth: np.ndarray, data_range: Any) -> float:
    value = float(np.ptp(truth)) if data_range is None else data_range
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ParameterError(
            f"data_range must be a number > 0, got {value!r}"
            + (" (the truth is constant: pass data_range)" if data_range is None else "")
        )
    return float(value)


def psnr(prediction: Any, truth: Any, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio [dB] of a prediction against the truth.

    ``10 log10(data_range² / MSE)`` (:func:`skimage.metrics.peak_signal_noise_ratio`);
    ``inf`` for identical images.

    Parameters
    ----------
    prediction, truth
        (y, x) or (y, x, c) images of one shape.
    data_range
        The images' value range; default the truth's ``max - min`` (HR-TEM intensities are
        not confined to a dtype's range, which is scikit-image's default).
    """
    from skimage.metrics import peak_signal_noise_ratio

    p, t = _pair(prediction, truth)
    data_range = _data_range(t, data_range)
    if np.array_equal(p, t):
        return math.inf
    return float(peak_signal_noise_ratio(t, p, data_range=data_range))


def ssim(prediction: Any, truth: Any, data_range: float | None = None) -> float:
    """Mean structural similarity of a prediction and the truth (1 for identical images).

    :func:`skimage.metrics.structural_similarity` with its defaults (7 × 7 uniform window,
    so sides of at least 7 px), channels last for (y, x, c) images.

    Parameters
    ----------
    prediction, truth
        (y, x) or (y, x, c) images of one shape.
    data_range
        As for :func:`psnr`.
    """
    from skimage.metrics import structural_similarity

    p, t = _pair(prediction, truth)
    data_range = _data_range(t, data_range)
    if min(p.shape[:2]) < 7:
        raise ParameterError(f"ssim needs images of at least 7 × 7 px, got {p.shape[:2]}")
    channel_axis = -1 if p.ndim == 3 else None
    return float(structural_similarity(t, p, data_range=data_range, channel_axis=channel_axis))
