"""Fully convolutional networks for HR-TEM images: U-net, U-net++ and MSD-net (Keras 3).

The three architectures of the thesis' pipeline (seed 003, §3.3, Fig. 3.8; paper II appendix
A.1; paper III §3.1), built as Keras 3 functional models from ``keras.layers`` and
``keras.ops`` only. Every model takes images of any size, ``(batch, y, x, input_channels)``,
and returns ``(batch, y, x, output_channels)`` in float32. :func:`build_network` builds one;
:func:`network_config` reads back the options it was built with, also from a model saved as
``.keras`` and loaded again (with ``safe_mode=True``).

Decisions
---------
U-net (``"unet"``)
    Madsen et al.'s FusionNet-style U-net as modified by Leth Larsen et al. (2022) and used
    unchanged in paper II: "the skip connections are now concatenations rather than
    element-wise additions" (paper II §2). A block is ``convolutions`` (5) convolutions of
    ``kernel`` × ``kernel`` (5 × 5) pixels, with a short skip "between the output of the first
    layer and the input of the fifth" (A.1) made, like the long skips, by concatenation. The
    encoder alternates blocks with 2 × 2 MaxPool and doubles the channels per level, from
    ``filters`` (32) on the first level to ``filters * 2**depth`` at the bottom; the decoder
    alternates bilinear 2 × up-sampling, a 1 × 1 convolution that halves the channels, the
    long skip (concatenation with the encoder block of equal resolution) and a block.
    ``depth`` (3) is the number of MaxPool steps.
U-net++ (``"unetpp"``)
    Zhou et al. (2018) nested dense skips on the same encoder: node X(i, j), j ≥ 1, is
    computed from the concatenation of X(i, 0), ..., X(i, j-1) and the bilinearly up-sampled
    X(i+1, j-1). Nodes on the output path (i + j = depth) are full blocks; the inner nodes of
    the nested skips are one 1 × 1 convolution each, and the up-sampled tensors are not
    projected. This is the thesis' variant, not Zhou's (whose every node is a full block).
MSD-net (``"msdnet"``)
    Pelt & Sethian (2018) as adapted in paper II: ``layers`` (50) layers of ``filters`` (3)
    channels, each a ``kernel`` × ``kernel`` (5 × 5) convolution with dilation 1..10 of the
    concatenation of all previous layers' outputs. As in paper II ("the first layer is an
    exception as it does not concatenate with the input image"), only the first layer sees
    the input image, and the output layer sees the concatenated layer outputs (``layers *
    filters`` channels), not the input. Dilations cycle through 1..10 (``"cycle"``, thesis
    §3.3: "the dilation value iterates over some given range repeatedly") or are drawn
    uniformly from 1..10 with ``seed`` (``"random"``, paper II A.1). "All convolutional
    layers apply reflection padding to maintain dimensions" (A.1): each dilated convolution
    is a :class:`ReflectionPadding2D` followed by a 'valid' convolution.
Hidden layers
    Every hidden convolution is followed by a PReLU (thesis §3.3: "for all layers besides the
    output layer") with one slope per channel (``shared_axes=[1, 2]``, so that the model does
    not depend on the image size) starting at 0.01, and by batch normalisation, as in the
    code of Madsen et al. These choices reproduce the trainable-parameter counts of paper III
    Table 3 exactly (3 input, 4 output channels): U-net with ``filters`` 4, 8, ..., 64 has
    248 464, 989 468, 3 949 108, 15 778 916 and 63 080 644 parameters, U-net++ 258 848, ...,
    65 750 468, and MSD-nets with kernel 5, 3 channels and 25 / 50 / 80 layers 68 329,
    277 054 and 713 149 (``tests/nn/test_architectures.py`` checks some of them).
Output
    A 1 × 1 convolution to ``output_channels`` with ``"sigmoid"`` (binary masks),
    ``"softmax"`` (classes; needs ≥ 2 channels) or ``"linear"`` (regression, e.g. exit
    waves; ``None`` means the same), computed in float32 whatever the global dtype policy,
    so that mixed precision (``mixed_float16``) still returns float32. The layer
    (:class:`OutputHead`) also stores the options of :func:`architecture_config` in its
    Keras config, which is how :func:`network_config` survives saving and loading.
Image size
    The MSD-net takes any size larger than its largest reflection padding
    (``max dilation * (kernel - 1) / 2`` pixels, 20 for the defaults). The U-nets need sizes
    divisible by ``2**depth`` (8 for the defaults) so that the up-sampled tensors match the
    skipped ones; the model cannot check this for symbolic sizes, so call
    :func:`check_input_size` first.
Determinism
    Convolution kernels start from He-normal initialisers (output layer: Glorot-uniform),
    each with its own seed drawn from ``numpy.random.default_rng([seed, 0])``, biases at 0:
    two builds with the same options and ``seed`` have identical weights. Random dilations
    come from the independent stream ``default_rng([seed, 1])``.
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

__all__ = [
    "ARCHITECTURES",
    "DEFAULTS",
    "DILATION_MODES",
    "MAX_DILATION",
    "OUTPUT_ACTIVATIONS",
    "PRELU_ALPHA",
    "OutputHead",
    "ReflectionPadding2D",
    "architecture_config",
    "build_network",
    "check_input_size",
    "msdnet_dilations",
    "network_config",
    "trainable_parameters",
]

ARCHITECTURES = ("unet", "unetpp", "msdnet")
#: Momentum of the batch normalisations' moving mean and variance.
BN_MOMENTUM = 0.9
"""Names accepted by :func:`build_network`."""

OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "linear")
"""Output activations; ``None`` is taken as ``"linear"``."""

DILATION_MODES = ("cycle", "random")
"""How the MSD-net's dilations are chosen."""

MAX_DILATION = 10
"""Largest MSD-net dilation; dilations run over 1..MAX_DILATION (Pelt & Sethian, paper II)."""

PRELU_ALPHA = 0.01
"""Initial negative slope of every PReLU (a leaky ReLU at the start, as in Madsen et al.)."""

_UNET_DEFAULTS = MappingProxyType({"filters": 32, "kernel": 5, "depth": 3, "convolutions": 5})
DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "unet": _UNET_DEFAULTS,
        "unetpp": _UNET_DEFAULTS,
        "msdnet": MappingProxyType(
            {"filters": 3, "kernel": 5, "layers": 50, "dilations": "cycle"}
        ),
    }
)
"""Default options per architecture (see the module docstring for their sources)."""

_MINIMUM = {"filters": 1, "kernel": 1, "depth": 1, "layers": 1, "convolutions": 3}


# --------------------------------------------------------------------------- custom layers


@keras.saving.register_keras_serializable(package="hrtemlake")
class ReflectionPadding2D(keras.layers.Layer):
    """Pad the two spatial axes of ``(batch, y, x, channels)`` tensors by reflection.

    The edge pixel is not repeated (NumPy ``mode="reflect"``), so each padding must be
    smaller than the padded axis.

    Parameters
    ----------
    padding
        Pixels added on each side: one int for both axes or ``(y, x)``.
    """

    def __init__(self, padding: int | Sequence[int] = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pair = (padding, padding) if isinstance(padding, numbers.Integral) else padding
        self.padding = tuple(int(p) for p in pair)
        if len(self.padding) != 2 or min(self.padding) < 0:
            raise ParameterError(f"padding must be one or two ints >= 0, got {padding!r}")

    def call(self, inputs: Any) -> Any:
        py, px = self.padding
        return keras.ops.pad(inputs, [[0, 0], [py, py], [px, px], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        batch, height, width, channels = input_shape
        sizes = [None if n is None else n + 2 * p for n, p in zip((height, width), self.padding)]
        return (batch, *sizes, channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": list(self.padding)}


@keras.saving.register_keras_serializable(package="hrtemlake")
class OutputHead(keras.layers.Conv2D):
    """The output 1 × 1 convolution; its config also records the network's options.

    Parameters
    ----------
    filters
        Output channels.
    architecture
        The dict of :func:`architecture_config` the network was built from; kept in the
        layer's config so that it is saved with the model.
    **kwargs
        Passed to :class:`keras.layers.Conv2D` (``kernel_size`` defaults to 1).
    """

    def __init__(
        self, filters: int, architecture: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("kernel_size", 1)
        super().__init__(filters, **kwargs)
        # a plain copy: the options must stay JSON-serialisable scalars
        self._architecture = dict(architecture or {})

    @property
    def architecture(self) -> dict[str, Any]:
        return dict(self._architecture)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "architecture": self.architecture}


# --------------------------------------------------------------------------- options


def _integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _activation(activation: str | None, output_channels: int) -> str:
    activation = "linear" if activation is None else activation
    if activation not in OUTPUT_ACTIVATIONS:
        raise ParameterError(
            f"activation must be one of {OUTPUT_ACTIVATIONS} or None, got {activation!r}"
        )
    if activation == "softmax" and output_channels < 2:
        # a softmax over one channel is 1 everywhere: use sigmoid for a single mask
        raise ParameterError("activation 'softmax' needs output_channels >= 2; use 'sigmoid'")
    return activation


def _arch_options(arch: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaulted, validated architecture-specific options; rejects ones that do not apply."""
    defaults = DEFAULTS[arch]
    for key, value in given.items():
        if key not in defaults and value is not None:
            raise ParameterError(
                f"option {key!r} does not apply to {arch!r}; its options are {tuple(defaults)}"
            )
    options = {key: given.get(key) for key in defaults}
    options = {key: defaults[key] if v is None else v for key, v in options.items()}
    for key, value in options.items():
        if key != "dilations":
            options[key] = _integer(key, value, _MINIMUM[key])
    if options["kernel"] % 2 == 0:
        # symmetric ('same' or reflection) padding keeps the size only for odd kernels
        raise ParameterError(f"kernel must be odd, got {options['kernel']}")
    if "dilations" in options and options["dilations"] not in DILATION_MODES:
        raise ParameterError(
            f"dilations must be one of {DILATION_MODES}, got {options['dilations']!r}"
        )
    return options


def architecture_config(
    arch: str,
    input_channels: int,
    output_channels: int,
    activation: str | None,
    *,
    filters: int | None = None,
    kernel: int | None = None,
    depth: int | None = None,
    layers: int | None = None,
    convolutions: int | None = None,
    dilations: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The complete, validated options of a network, defaults filled in.

    Parameters are those of :func:`build_network` (``None`` → :data:`DEFAULTS`); options of
    other architectures must be ``None`` (``dilations="cycle"`` is accepted everywhere).

    Returns
    -------
    dict
        ``arch``, ``input_channels``, ``output_channels``, ``activation`` (``None`` becomes
        ``"linear"``), the architecture's options (U-nets: ``filters``, ``kernel``,
        ``depth``, ``convolutions``; MSD-net: ``filters``, ``kernel``, ``layers``,
        ``dilations``) and ``seed``. ``build_network(**config)`` rebuilds the network.

    Raises
    ------
    ParameterError
        A ``ValueError`` naming the invalid option and its allowed values.
    """
    if arch not in ARCHITECTURES:
        raise ParameterError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
    input_channels = _integer("input_channels", input_channels, 1)
    output_channels = _integer("output_channels", output_channels, 1)
    if arch != "msdnet" and dilations == "cycle":
        dilations = None  # the build_network default, meaningless for the U-nets
    given = {"filters": filters, "kernel": kernel, "depth": depth, "layers": layers,
             "convolutions": convolutions, "dilations": dilations}
    return {
        "arch": arch,
        "input_channels": input_channels,
        "output_channels": output_channels,
        "activation": _activation(activation, output_channels),
        **_arch_options(arch, given),
        "seed": _integer("seed", seed, 0),
    }


def msdnet_dilations(layers: int, dilations: str = "cycle", seed: int = 0) -> list[int]:
    """The dilation of each MSD-net layer, all in 1..:data:`MAX_DILATION`.

    Parameters
    ----------
    layers
        Number of layers.
    dilations
        ``"cycle"``: 1, 2, ..., 10, 1, 2, ...; ``"random"``: uniform in 1..10.
    seed
        Seed of the random dilations (the network's seed).
    """
    layers = _integer("layers", layers, 1)
    if dilations == "cycle":
        return [i % MAX_DILATION + 1 for i in range(layers)]
    if dilations == "random":
        rng = np.random.default_rng([_integer("seed", seed, 0), 1])
        return [int(d) for d in rng.integers(1, MAX_DILATION + 1, size=layers)]
    raise ParameterError(f"dilations must be one of {DILATION_MODES}, got {dilations!r}")


# --------------------------------------------------------------------------- building blocks


class _Initializers:
    """Seeded initialisers, a fresh seed for each layer, in a fixed order."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 0])

    def _next(self) -> int:
        return int(self._rng.integers(2**31 - 1))

    def hidden(self) -> keras.initializers.Initializer:
        return keras.initializers.HeNormal(seed=self._next())

    def output(self) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=self._next())


def _conv_unit(
    x: Any,
    channels: int,
    kernel: int,
    init: _Initializers,
    name: str,
    dilation: int = 1,
    padding: str = "same",
) -> Any:
    """Convolution → PReLU → batch normalisation: one hidden layer."""
    x = keras.layers.Conv2D(
        channels, kernel, padding=padding, dilation_rate=dilation,
        kernel_initializer=init.hidden(), name=f"{name}_conv",
    )(x)
    x = keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(PRELU_ALPHA), shared_axes=[1, 2],
        name=f"{name}_prelu",
    )(x)
    # momentum 0.9 (Keras: 0.99): the inference statistics follow the training ones within
    # tens of steps, so small trainings (a few hundred images) validate sensibly
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)


def _conv_block(x: Any, channels: int, config: Mapping[str, Any], init: _Initializers,
                name: str) -> Any:
    """U-net block: first conv, middle convs, short skip (concatenation), last conv."""
    count, kernel = config["convolutions"], config["kernel"]
    first = _conv_unit(x, channels, kernel, init, f"{name}_1")
    y = first
    for i in range(2, count):
        y = _conv_unit(y, channels, kernel, init, f"{name}_{i}")
    y = keras.layers.Concatenate(name=f"{name}_skip")([first, y])
    return _conv_unit(y, channels, kernel, init, f"{name}_{count}")


def _upsample(x: Any, name: str) -> Any:
    return keras.layers.UpSampling2D(2, interpolation="bilinear", name=name)(x)


def _encoder(x: Any, config: Mapping[str, Any], init: _Initializers, name: str) -> list[Any]:
    """The U-net encoder: the block output of each level, first to bottom.

    ``name`` is a format string of the level, e.g. ``"enc{}"``.
    """
    outputs = []
    for level in range(config["depth"] + 1):
        if level:
            x = keras.layers.MaxPooling2D(2, name=f"{name.format(level)}_pool")(x)
        x = _conv_block(x, config["filters"] * 2**level, config, init, name.format(level))
        outputs.append(x)
    return outputs


def _unet(x: Any, config: Mapping[str, Any], init: _Initializers) -> Any:
    skips = _encoder(x, config, init, "enc{}")
    x = skips[-1]
    for level in reversed(range(config["depth"])):
        channels = config["filters"] * 2**level
        x = _upsample(x, f"dec{level}_up")
        x = _conv_unit(x, channels, 1, init, f"dec{level}_halve")
        x = keras.layers.Concatenate(name=f"dec{level}_long_skip")([x, skips[level]])
        x = _conv_block(x, channels, config, init, f"dec{level}")
    return x


def _unetpp(x: Any, config: Mapping[str, Any], init: _Initializers) -> Any:
    depth = config["depth"]
    nodes = {(i, 0): out for i, out in enumerate(_encoder(x, config, init, "x{}_0"))}
    for j in range(1, depth + 1):
        for i in range(depth + 1 - j):
            name, channels = f"x{i}_{j}", config["filters"] * 2**i
            up = _upsample(nodes[i + 1, j - 1], f"{name}_up")
            merged = keras.layers.Concatenate(name=f"{name}_dense_skip")(
                [nodes[i, k] for k in range(j)] + [up]
            )
            if i + j == depth:  # on the path to the output: a full block
                nodes[i, j] = _conv_block(merged, channels, config, init, name)
            else:
                nodes[i, j] = _conv_unit(merged, channels, 1, init, name)
    return nodes[0, depth]


def _msdnet(x: Any, config: Mapping[str, Any], init: _Initializers) -> Any:
    kernel = config["kernel"]
    dilations = msdnet_dilations(config["layers"], config["dilations"], config["seed"])
    features = None
    for i, dilation in enumerate(dilations):
        y = x if features is None else features
        pad = dilation * (kernel - 1) // 2
        if pad:
            y = ReflectionPadding2D(pad, name=f"layer{i}_pad")(y)
        y = _conv_unit(y, config["filters"], kernel, init, f"layer{i}", dilation, "valid")
        features = y if features is None else keras.layers.Concatenate(
            name=f"layer{i}_dense")([features, y])
    return features


_BUILDERS: Mapping[str, Callable[[Any, Mapping[str, Any], _Initializers], Any]] = {
    "unet": _unet, "unetpp": _unetpp, "msdnet": _msdnet,
}


# --------------------------------------------------------------------------- public API


def build_network(
    arch: str,
    input_channels: int,
    output_channels: int,
    activation: str | None,
    *,
    filters: int | None = None,
    kernel: int | None = None,
    depth: int | None = None,
    layers: int | None = None,
    convolutions: int | None = None,
    dilations: str = "cycle",
    seed: int = 0,
    name: str | None = None,
) -> keras.Model:
    """Build a U-net, U-net++ or MSD-net for images of any size.

    Parameters
    ----------
    arch
        One of :data:`ARCHITECTURES`.
    input_channels
        Channels of the input images (e.g. 3 for a focal series of three images).
    output_channels
        Channels of the output (classes, or 2 for an exit wave's real and imaginary parts).
    activation
        ``"sigmoid"``, ``"softmax"`` or ``"linear"`` / ``None``.
    filters
        U-nets: channels on the first level (32), doubled per level; MSD-net: channels per
        layer (3).
    kernel
        Odd kernel side [px] of the hidden convolutions (5).
    depth
        U-nets: number of down-sampling levels (3).
    layers
        MSD-net: number of layers (50).
    convolutions
        U-nets: convolutions per block, at least 3 (5).
    dilations
        MSD-net: ``"cycle"`` or ``"random"`` (see :func:`msdnet_dilations`).
    seed
        Seed of the initial weights (and of random dilations).
    name
        Model name (default: ``arch``).

    Returns
    -------
    keras.Model
        Input ``(None, None, input_channels)``, float32 output ``(None, None,
        output_channels)``; the U-nets need sizes divisible by ``2**depth``
        (:func:`check_input_size`).

    Raises
    ------
    ParameterError
        A ``ValueError`` naming the invalid option.
    """
    config = architecture_config(
        arch, input_channels, output_channels, activation, filters=filters, kernel=kernel,
        depth=depth, layers=layers, convolutions=convolutions, dilations=dilations, seed=seed,
    )
    init = _Initializers(config["seed"])
    inputs = keras.Input((None, None, config["input_channels"]), name="image")
    features = _BUILDERS[arch](inputs, config, init)
    outputs = OutputHead(
        config["output_channels"], architecture=config, activation=config["activation"],
        kernel_initializer=init.output(), dtype="float32", name="output",
    )(features)
    return keras.Model(inputs, outputs, name=name or arch)


def network_config(model: keras.Model) -> dict[str, Any]:
    """The options a model was built with (as returned by :func:`architecture_config`).

    Works on models loaded from ``.keras`` files too; ``build_network(**network_config(m))``
    rebuilds ``m`` with its initial weights.

    Raises
    ------
    ParameterError
        If the model was not built by :func:`build_network`.
    """
    heads = [layer for layer in model.layers if isinstance(layer, OutputHead)]
    if len(heads) != 1 or not heads[0].architecture:
        raise ParameterError(f"model {model.name!r} was not built by build_network")
    return heads[0].architecture


def _spatial_shape(shape: Sequence[int | None]) -> tuple[int | None, int | None, int | None]:
    """(height, width, channels) of (y, x), (y, x, c) or (batch, y, x, c)."""
    shape = tuple(shape)
    if len(shape) == 2:
        return shape[0], shape[1], None
    if len(shape) in (3, 4):
        return shape[-3], shape[-2], shape[-1]
    raise ParameterError(f"shape must be (y, x), (y, x, c) or (batch, y, x, c), got {shape}")


def check_input_size(
    network: keras.Model | Mapping[str, Any], shape: Sequence[int | None]
) -> None:
    """Raise a clear error if a network cannot take images of this shape.

    Parameters
    ----------
    network
        A model from :func:`build_network` or its :func:`network_config` dict.
    shape
        ``(y, x)``, ``(y, x, channels)`` or ``(batch, y, x, channels)``; ``None`` sizes are
        not checked.

    Raises
    ------
    ParameterError
        U-nets: a side not divisible by ``2**depth``; MSD-net: a side not larger than the
        largest reflection padding; any: channels other than ``input_channels``.
    """
    config = network if isinstance(network, Mapping) else network_config(network)
    height, width, channels = _spatial_shape(shape)
    if channels is not None and channels != config["input_channels"]:
        raise ParameterError(
            f"the network takes {config['input_channels']} input channels, got {channels}"
        )
    sides = [("height", height), ("width", width)]
    if config["arch"] == "msdnet":
        dilations = msdnet_dilations(config["layers"], config["dilations"], config["seed"])
        minimum = max(dilations) * (config["kernel"] - 1) // 2 + 1
        for axis, size in sides:
            if size is not None and size < minimum:
                raise ParameterError(
                    f"image {axis} {size} px is too small for this MSD-net: reflection "
                    f"padding needs at least {minimum} px"
                )
        return
    multiple = 2 ** config["depth"]
    for axis, size in sides:
        if size is not None and (size < multiple or size % multiple):
            raise ParameterError(
                f"image {axis} {size} px must be a positive multiple of 2**depth = {multiple} "
                f"for a {config['arch']} of depth {config['depth']}; crop or pad the image"
            )


def trainable_parameters(model: keras.Model) -> int:
    """Number of trainable scalars in a model (as in paper III's tables)."""
    return int(sum(math.prod(weight.shape) for weight in model.trainable_weights))
