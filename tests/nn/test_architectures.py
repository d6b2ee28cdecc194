"""U-net, U-net++ and MSD-net builders: shapes, activations, parameter counts, seeds, saving."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

# Keras' TensorFlow backend converts variables with np.array(x, copy=False) under NumPy 2

from hrtemlake.errors import ParameterError  # noqa: E402
from hrtemlake.nn.architectures import (  # noqa: E402
    ARCHITECTURES,
    MAX_DILATION,
    ReflectionPadding2D,
    architecture_config,
    build_network,
    check_input_size,
    msdnet_dilations,
    network_config,
    trainable_parameters,
)

# Tiny configurations: a few hundred parameters each, built in well under a second.
TINY = {
    "unet": {"filters": 2, "kernel": 3, "depth": 2, "convolutions": 3},
    "unetpp": {"filters": 2, "kernel": 3, "depth": 2, "convolutions": 3},
    "msdnet": {"filters": 1, "kernel": 3, "layers": 4},
}


def tiny(arch: str, activation: str | None = "softmax", **options) -> keras.Model:
    return build_network(arch, 2, 3, activation, **{**TINY[arch], **options})


def predict(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(images, training=False))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(2, 32, 32, 2)).astype("float32")


@pytest.fixture
def mixed_precision():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def conv_params(n_in: int, n_out: int, kernel: int) -> int:
    """One hidden layer: kernel, bias, PReLU slopes, batch-norm scale and offset."""
    return kernel * kernel * n_in * n_out + 4 * n_out


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("activation", ["sigmoid", "softmax", "linear", None])
def test_output_shape_dtype_and_range(arch, activation, images):
    out = predict(tiny(arch, activation), images)
    assert out.shape == (2, 32, 32, 3)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    if activation == "softmax":
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-5)
        assert (out >= 0).all()
    elif activation == "sigmoid":
        assert ((out > 0) & (out < 1)).all()
    else:
        assert out.min() < 0 < out.max()


def test_msdnet_takes_any_size():
    model = tiny("msdnet", layers=MAX_DILATION)  # dilations 1..10: padding up to 10 px
    check_input_size(model, (1, 37, 23, 2))
    image = np.random.default_rng(0).normal(size=(1, 37, 23, 2)).astype("float32")
    assert predict(model, image).shape == (1, 37, 23, 3)


@pytest.mark.parametrize("arch", ["unet", "unetpp"])
def test_unets_take_any_multiple_of_two_to_the_depth(arch):
    model = tiny(arch)  # depth 2: multiples of 4
    check_input_size(model, (1, 16, 40, 2))
    assert predict(model, np.zeros((1, 16, 40, 2), "float32")).shape == (1, 16, 40, 3)


def test_mixed_precision_output_is_float32(mixed_precision, images):
    for arch in ARCHITECTURES:
        model = tiny(arch, "sigmoid")
        assert model.get_layer("output").compute_dtype == "float32"
        out = model(images, training=False)
        assert keras.backend.standardize_dtype(out.dtype) == "float32", arch


def test_msdnet_trains_through_reflection_padding(images):
    model = tiny("msdnet", "sigmoid")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    first_kernel = model.get_layer("layer0_conv").kernel
    before = keras.ops.convert_to_numpy(first_kernel).copy()
    model.train_on_batch(images, (images[..., :1] > 0).repeat(3, axis=-1).astype("float32"))
    assert not np.array_equal(keras.ops.convert_to_numpy(first_kernel), before)


# --------------------------------------------------------------------------- parameter counts


def test_msdnet_parameter_count_by_hand():
    layers, width, kernel, n_in, n_out = 3, 1, 3, 2, 4
    model = build_network("msdnet", n_in, n_out, "softmax", layers=layers, filters=width,
                          kernel=kernel)
    # Only the first layer sees the image; layer i > 0 sees the i earlier outputs; the
    # output layer sees all layer outputs (paper II, A.1).
    hidden = conv_params(n_in, width, kernel) + sum(
        conv_params(i * width, width, kernel) for i in range(1, layers)
    )
    output = layers * width * n_out + n_out
    assert hidden + output == 22 + 13 + 22 + 16
    assert trainable_parameters(model) == hidden + output


def test_unet_parameter_count_by_hand():
    f, kernel, n_in, n_out = 2, 3, 1, 1
    model = build_network("unet", n_in, n_out, "sigmoid", filters=f, kernel=kernel, depth=1,
                          convolutions=3)

    def block(n_in_block: int, c: int) -> int:  # first, middle, last after the short skip
        return (conv_params(n_in_block, c, kernel) + conv_params(c, c, kernel)
                + conv_params(2 * c, c, kernel))

    encoder = block(n_in, f) + block(f, 2 * f)
    decoder = conv_params(2 * f, f, 1) + block(2 * f, f)  # 1×1 halving, then long skip
    output = f * n_out + n_out
    assert encoder + decoder + output == 150 + 552 + 16 + 204 + 3
    assert trainable_parameters(model) == encoder + decoder + output


def test_unetpp_parameter_count_by_hand():
    f, kernel = 2, 3
    model = build_network("unetpp", 1, 1, "sigmoid", filters=f, kernel=kernel, depth=1,
                          convolutions=3)
    encoder = 150 + 552  # as for the U-net above
    # X(0,1) = block(concat(X(0,0), up(X(1,0)))): f + 2f channels, no 1×1 halving
    node = (conv_params(3 * f, f, kernel) + conv_params(f, f, kernel)
            + conv_params(2 * f, f, kernel))
    assert trainable_parameters(model) == encoder + node + f + 1 == 945


@pytest.mark.parametrize(
    ("arch", "options", "published"),
    [
        ("unet", {"filters": 4}, 248_464),
        ("unetpp", {"filters": 4}, 258_848),
        ("msdnet", {"layers": 25}, 68_329),
        ("msdnet", {}, 277_054),
    ],
)
def test_parameter_counts_of_paper_iii(arch, options, published):
    """Paper III Tables 2 and 3 (3-image focal series in, 4 classes out)."""
    assert trainable_parameters(build_network(arch, 3, 4, "softmax", **options)) == published


# --------------------------------------------------------------------------- seeds and saving


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_weights()]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_same_seed_same_weights_other_seed_other_weights(arch):
    first, again, other = (weights_of(tiny(arch, seed=s)) for s in (3, 3, 4))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_save_and_load_round_trip(arch, images, tmp_path):
    model = tiny(arch, "softmax", seed=5)
    path = tmp_path / f"{arch}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(predict(loaded, images), predict(model, images))
    assert network_config(loaded) == network_config(model)
    assert network_config(loaded)["seed"] == 5


def test_network_config_rebuilds_the_same_network():
    model = tiny("msdnet", "linear", dilations="random", seed=9)
    config = network_config(model)
    assert config == architecture_config("msdnet", 2, 3, None, dilations="random", seed=9,
                                         **TINY["msdnet"])
    rebuilt = build_network(**config)
    assert all(np.array_equal(a, b)
               for a, b in zip(weights_of(model), weights_of(rebuilt), strict=True))


def test_network_config_rejects_foreign_models():
    inputs = keras.Input((None, None, 1))
    foreign = keras.Model(inputs, keras.layers.Conv2D(1, 1)(inputs))
    with pytest.raises(ParameterError, match="not built by build_network"):
        network_config(foreign)


def test_defaults_are_filled_in():
    assert architecture_config("unet", 1, 1, "sigmoid") == {
        "arch": "unet", "input_channels": 1, "output_channels": 1, "activation": "sigmoid",
        "filters": 32, "kernel": 5, "depth": 3, "convolutions": 5, "seed": 0,
    }
    msd = architecture_config("msdnet", 3, 4, None)
    assert msd["activation"] == "linear"
    assert (msd["filters"], msd["kernel"], msd["layers"], msd["dilations"]) == (3, 5, 50, "cycle")


# --------------------------------------------------------------------------- dilations, sizes


def test_random_dilations_are_seeded_and_in_range():
    first = msdnet_dilations(200, "random", seed=11)
    assert first == msdnet_dilations(200, "random", seed=11)
    assert first != msdnet_dilations(200, "random", seed=12)
    assert min(first) == 1 and max(first) == MAX_DILATION
    assert msdnet_dilations(12) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]


def test_msdnet_layers_use_those_dilations():
    model = tiny("msdnet", layers=6, dilations="random", seed=2)
    used = [model.get_layer(f"layer{i}_conv").dilation_rate[0] for i in range(6)]
    assert used == msdnet_dilations(6, "random", seed=2)


def test_check_input_size_rejects_what_a_unet_cannot_take():
    model = tiny("unet")  # depth 2
    with pytest.raises(ParameterError, match=r"height 30 px must be a positive multiple of "
                                             r"2\*\*depth = 4"):
        check_input_size(model, (30, 32))
    with pytest.raises(ParameterError, match="width 2 px"):
        check_input_size(network_config(model), (1, 32, 2, 2))
    with pytest.raises(ParameterError, match="2 input channels, got 1"):
        check_input_size(model, (32, 32, 1))
    check_input_size(model, (None, 32, 64, 2))


def test_check_input_size_rejects_images_smaller_than_the_msdnet_padding():
    config = architecture_config("msdnet", 2, 3, "softmax", layers=10, kernel=3)
    check_input_size(config, (11, 11))
    with pytest.raises(ParameterError, match="at least 11 px"):
        check_input_size(config, (10, 64))


def test_reflection_padding_matches_numpy():
    x = np.arange(2 * 5 * 4 * 3, dtype="float32").reshape(2, 5, 4, 3)
    layer = ReflectionPadding2D((2, 3))
    expected = np.pad(x, [(0, 0), (2, 2), (3, 3), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), expected)
    assert layer.compute_output_shape((None, 5, None, 3)) == (None, 9, None, 3)


# --------------------------------------------------------------------------- invalid options


@pytest.mark.parametrize(
    ("arch", "activation", "options", "message"),
    [
        ("resnet", "sigmoid", {}, "arch must be one of"),
        ("unet", "relu", {}, "activation must be one of"),
        ("unet", "softmax", {}, "needs output_channels >= 2"),
        ("unet", "sigmoid", {"kernel": 4}, "kernel must be odd"),
        ("unet", "sigmoid", {"depth": 0}, "depth must be an integer >= 1"),
        ("unet", "sigmoid", {"convolutions": 2}, "convolutions must be an integer >= 3"),
        ("unet", "sigmoid", {"filters": 2.5}, "filters must be an integer"),
        ("unet", "sigmoid", {"layers": 10}, "option 'layers' does not apply to 'unet'"),
        ("unetpp", "sigmoid", {"dilations": "random"}, "'dilations' does not apply"),
        ("msdnet", "sigmoid", {"depth": 3}, "option 'depth' does not apply to 'msdnet'"),
        ("msdnet", "sigmoid", {"dilations": "fibonacci"}, "dilations must be one of"),
        ("msdnet", "sigmoid", {"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_invalid_options_are_named(arch, activation, options, message):
    with pytest.raises(ValueError, match=message):
        build_network(arch, 1, 1, activation, **options)
