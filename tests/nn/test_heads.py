"""Image-level networks: classifier, regressor, denoiser, sliding-window regions, scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from hrtemlake.errors import ParameterError  # noqa: E402
from hrtemlake.nn.architectures import (  # noqa: E402
    check_input_size,
    network_config,
    trainable_parameters,
)
from hrtemlake.nn.heads import (  # noqa: E402
    HEADS,
    build_classifier,
    build_denoiser,
    build_head,
    build_regressor,
    decode_angle,
    encode_angle,
    ensemble_predict,
    fourier_input,
    head_config,
    psnr,
    region_probabilities,
    ssim,
    stored_head_config,
    top_k,
)

# A few hundred to a few thousand parameters each: built and trained in about a second.
TINY = {"filters": 4, "depth": 2, "dense": 8}
TINY_DENOISER = {"filters": 4, "depth": 2}


def tiny(arch: str, channels: int = 1, outputs: int = 2, **options) -> keras.Model:
    if arch == "classifier":
        return build_classifier(channels, outputs, **{**TINY, **options})
    if arch == "regressor":
        return build_regressor(channels, outputs, **{**TINY, **options})
    return build_denoiser(channels, **{**TINY_DENOISER, **options})


def predict(model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


def stripes(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sinusoidal stripes: (images (n, size, size, 1), class 0/1 = horizontal/vertical, period)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype("float32")
    classes = np.arange(n) % 2
    periods = rng.uniform(4.0, 8.0, n)
    phases = rng.uniform(0, 2 * np.pi, n)
    images = np.stack([
        np.sin(2 * np.pi * (yy if c == 0 else xx) / p + f)
        for c, p, f in zip(classes, periods, phases)
    ])[..., None].astype("float32")  # fmt: skip
    return images, classes, periods


def train_losses(model, x, y, loss: str, steps: int = 12, lr: float = 1e-2) -> list[float]:
    """Training losses of ``steps`` Adam steps on one batch (each before its update).

    Eager: for a handful of steps, tracing the training function costs more than it saves.
    """
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, run_eagerly=True)
    return [float(model.train_on_batch(x, y)) for _ in range(steps)]


def weights_of(model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_weights()]


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(2, 32, 32, 2)).astype("float32")


# --------------------------------------------------------------------------- outputs


def test_classifier_softmax_sums_to_one(images):
    out = predict(tiny("classifier", 2, 4), images)
    assert out.shape == (2, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-6)
    assert (out > 0).all()
    assert network_config(tiny("classifier", 2, 4))["activation"] == "softmax"


def test_regressor_is_linear(images):
    model = tiny("regressor", 2, 3)
    out = predict(model, images)
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert network_config(model)["activation"] == "linear"
    # linear and unbounded: scaling the output kernel (bias 0) scales the output
    head = model.get_layer("output")
    kernel, bias = head.get_weights()
    head.set_weights([100 * kernel, bias])
    np.testing.assert_allclose(predict(model, images), 100 * out, rtol=1e-4, atol=1e-6)


def test_denoiser_keeps_size_and_channels(images):
    model = tiny("denoiser", 2)
    out = predict(model, images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() < 0 < out.max()
    assert not any("concatenate" in type(layer).__name__.lower() for layer in model.layers)
    assert predict(model, np.zeros((1, 24, 40, 2), "float32")).shape == (1, 24, 40, 2)


@pytest.mark.parametrize("arch", ["classifier", "regressor"])
@pytest.mark.parametrize("size", [(40, 56), (5, 7), (33, 17)])
def test_image_level_networks_take_any_size(arch, size):
    model = tiny(arch, 1, 3)
    out = predict(model, np.random.default_rng(0).normal(size=(1, *size, 1)).astype("float32"))
    assert out.shape == (1, 3) and np.isfinite(out).all()


def test_output_is_float32_under_mixed_precision(images):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        for arch in HEADS:
            out = tiny(arch, 2, 3)(images, training=False)
            assert keras.backend.standardize_dtype(out.dtype) == "float32", arch
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_default_parameter_counts():
    # hidden layer: k²·n_in·n_out + 4·n_out (bias, PReLU, BN scale and offset)
    hidden = lambda n_in, n_out: 9 * n_in * n_out + 4 * n_out  # noqa: E731
    encoder = hidden(1, 16) + hidden(16, 32) + hidden(32, 64) + hidden(64, 128)
    head = 128 * 64 + 64 + 64 + 64 * 3 + 3  # dense, its PReLU, output
    assert trainable_parameters(build_classifier(1, 3)) == encoder + head == 106_387
    assert trainable_parameters(build_regressor(1, 3)) == 106_387
    denoiser = (hidden(1, 16) + hidden(16, 32) + hidden(32, 64) + hidden(64, 128)
                + hidden(128, 64) + hidden(64, 32) + hidden(32, 16) + 16 + 1)  # fmt: skip
    assert trainable_parameters(build_denoiser(1)) == denoiser == 195_105


# --------------------------------------------------------------------------- training


def test_classifier_learns_stripe_orientation():
    x, classes, _ = stripes(16)
    losses = train_losses(tiny("classifier"), x, keras.utils.to_categorical(classes, 2),
                          "categorical_crossentropy")  # fmt: skip
    assert losses[-1] < 0.7 * losses[0], losses


def test_regressor_learns_stripe_period():
    x, _, periods = stripes(16, seed=1)
    target = ((periods - 6.0) / 1.2)[:, None].astype("float32")
    losses = train_losses(tiny("regressor", outputs=1), x, target, "mean_squared_error")
    assert losses[-1] < 0.7 * losses[0], losses


def test_denoiser_learns_to_remove_gaussian_noise():
    from scipy import ndimage

    rng = np.random.default_rng(2)
    clean = ndimage.gaussian_filter(rng.normal(size=(4, 32, 32)), sigma=(0, 3, 3), mode="wrap")
    clean = ((clean - clean.mean()) / clean.std())[..., None].astype("float32")
    noisy = (clean + rng.normal(scale=0.5, size=clean.shape)).astype("float32")
    losses = train_losses(tiny("denoiser"), noisy, clean, "mean_squared_error", steps=8)
    assert losses[-1] < 0.7 * losses[0], losses


# --------------------------------------------------------------------------- seeds and saving


@pytest.mark.parametrize("arch", HEADS)
def test_same_seed_same_weights_other_seed_other_weights(arch):
    first, again, other = (weights_of(tiny(arch, seed=s)) for s in (3, 3, 4))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("arch", HEADS)
def test_save_and_load_round_trip(arch, images, tmp_path):
    model = tiny(arch, 2, 3, seed=5)
    path = tmp_path / f"{arch}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(predict(loaded, images), predict(model, images))
    config = network_config(loaded)
    assert config == network_config(model) == stored_head_config(loaded)
    assert config["arch"] == arch and config["seed"] == 5
    rebuilt = build_head(**config)
    assert all(np.array_equal(a, b)
               for a, b in zip(weights_of(model), weights_of(rebuilt), strict=True))  # fmt: skip


def test_head_config_defaults_and_size_check():
    assert head_config("classifier", 1, 3) == {
        "arch": "classifier", "input_channels": 1, "output_channels": 3,
        "activation": "softmax", "filters": 16, "depth": 4, "kernel": 3, "dense": 64, "seed": 0,
    }
    denoiser = head_config("denoiser", 1, 1)
    assert (denoiser["activation"], denoiser["depth"]) == ("linear", 3) and "dense" not in denoiser
    check_input_size(denoiser, (1, 64, 48, 1))
    with pytest.raises(ParameterError, match="multiple of 2\\*\\*depth = 8"):
        check_input_size(denoiser, (30, 32))


def test_stored_head_config_rejects_pixel_networks():
    from hrtemlake.nn.architectures import build_network

    unet = build_network("msdnet", 1, 1, "sigmoid", layers=2, filters=1, kernel=3)
    with pytest.raises(ParameterError, match="not one of"):
        stored_head_config(unet)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_classifier(1, 1), "classes must be an integer >= 2"),
        (lambda: build_regressor(1, 0), "targets must be an integer >= 1"),
        (lambda: build_classifier(0, 2), "input_channels must be an integer >= 1"),
        (lambda: build_classifier(1, 2, kernel=4), "kernel must be odd"),
        (lambda: build_regressor(1, 2, depth=0), "depth must be an integer >= 1"),
        (lambda: build_denoiser(1, filters=2.5), "filters must be an integer"),
        (lambda: build_classifier(1, 2, dense=0), "dense must be an integer >= 1"),
        (lambda: build_denoiser(1, seed=-1), "seed must be an integer >= 0"),
        (lambda: head_config("denoiser", 1, 1, dense=8), "'dense' does not apply"),
        (lambda: head_config("denoiser", 1, 2), "output_channels 2 differs"),
        (lambda: head_config("resnet", 1, 2), "arch must be one of"),
        (lambda: head_config("classifier", 1, 2, "linear"), "activation of a classifier"),
    ],
)
def test_invalid_options_are_named(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


# --------------------------------------------------------------------------- angles, inputs


def test_angle_round_trip_modulo_pi_for_two_fold():
    phi = np.random.default_rng(0).uniform(0, np.pi, 50)
    c, s = encode_angle(phi)
    np.testing.assert_allclose(decode_angle(c, s), phi, atol=1e-12)
    np.testing.assert_allclose(decode_angle(*encode_angle(phi + np.pi)), phi, atol=1e-12)
    np.testing.assert_allclose(decode_angle(*encode_angle(phi - 3 * np.pi)), phi, atol=1e-12)
    c, s = encode_angle(phi, amplitude=25.0)  # e.g. an astigmatism of 25 Å
    np.testing.assert_allclose(np.hypot(c, s), 25.0)
    np.testing.assert_allclose(decode_angle(c, s), phi, atol=1e-12)
    third = np.array([0.1, 2.0])  # three-fold: modulo 2π/3
    np.testing.assert_allclose(decode_angle(*encode_angle(third, fold=3), fold=3),
                               np.mod(third, 2 * np.pi / 3))  # fmt: skip
    assert decode_angle(0.0, 1.0) == pytest.approx(np.pi / 4)
    with pytest.raises(ParameterError, match="fold"):
        encode_angle(phi, fold=0)


def test_fourier_input_puts_stripe_reflections_on_the_right_axis():
    x, classes, _ = stripes(2, size=64)
    horizontal, vertical = (fourier_input(x[i, ..., 0])[..., 0] for i in (0, 1))
    assert horizontal.shape == (64, 64)
    assert abs(horizontal.mean()) < 1e-5 and horizontal.std() == pytest.approx(1, abs=1e-5)
    assert horizontal[32, 32] < horizontal.max()  # the zero frequency is removed
    # the brightest reflection lies on the frequency axis across the stripes (64 / 8..16 px
    # from the zero frequency for periods of 4..8 px)
    for spectrum, across in ((horizontal, 0), (vertical, 1)):
        peak = np.array(np.unravel_index(np.argmax(spectrum), spectrum.shape)) - 32
        assert peak[1 - across] == 0 and 8 <= abs(peak[across]) <= 16


# --------------------------------------------------------------------------- regions


def orientation_classifier(scale: float = 50.0) -> keras.Model:
    """A hand-weighted classifier: class 0 if the image varies more along y than along x.

    Finite differences along y and x (a fixed 2 × 2 convolution), squared, averaged over the
    window, and ``scale · (E_y - E_x)`` as the logit difference.
    """
    inputs = keras.Input((None, None, 1))
    diff = keras.layers.Conv2D(2, 2, use_bias=False, trainable=False)
    grad = diff(inputs)
    kernel = np.zeros((2, 2, 1, 2), "float32")
    kernel[0, 0, 0, 0], kernel[1, 0, 0, 0] = -1, 1  # along y
    kernel[0, 0, 0, 1], kernel[0, 1, 0, 1] = -1, 1  # along x
    diff.set_weights([kernel])
    energy = keras.layers.GlobalAveragePooling2D()(keras.layers.Multiply()([grad, grad]))
    logits = keras.layers.Dense(2, use_bias=False)
    out = keras.layers.Softmax()(logits(energy))
    logits.set_weights([np.array([[scale, -scale], [-scale, scale]], "float32") / 2])
    return keras.Model(inputs, out)


def two_halves(ny: int = 64, nx: int = 96) -> np.ndarray:
    """Horizontal stripes (class 0) on the left half, vertical (class 1) on the right."""
    yy, xx = np.mgrid[:ny, :nx]
    return np.where(xx < nx // 2, np.sin(2 * np.pi * yy / 6), np.sin(2 * np.pi * xx / 6))


def test_region_probabilities_find_the_class_of_each_half():
    model = orientation_classifier()
    probabilities, centres = region_probabilities(model, two_halves(), window=16, step=16,
                                                  batch_size=5)  # fmt: skip
    assert probabilities.shape == (4, 6, 2) and centres.shape == (4, 6, 2)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-6)
    top = probabilities.argmax(axis=-1)
    assert (top[:, :3] == 0).all() and (top[:, 3:] == 1).all()
    assert (probabilities.max(axis=-1) > 0.9).all()
    np.testing.assert_array_equal(centres[0, 0], [7.5, 7.5])
    np.testing.assert_array_equal(centres[-1, -1], [64 - 8.5, 96 - 8.5])
    names = ["horizontal", "vertical"]
    assert top_k(probabilities[0, 0], 1, names)[0][0] == "horizontal"
    assert top_k(probabilities[0, 5], 1, names)[0][0] == "vertical"


def test_region_probabilities_overlapping_windows_and_callables():
    model = orientation_classifier()
    image = two_halves()[..., None]
    keras_out, centres = region_probabilities(model, image, window=16, step=12)
    assert keras_out.shape[:2] == (5, 8)  # evenly spread, last window flush with the edge
    assert np.all(np.diff(centres[:, 0, 0]) <= 12) and centres[-1, -1, 1] == 96 - 8.5
    # any callable on a batch works (here NumPy only)
    plain, _ = region_probabilities(lambda batch: predict(model, batch), image, 16, 12)
    np.testing.assert_allclose(plain, keras_out, atol=1e-6)


def test_region_probabilities_rejects_bad_windows():
    model = orientation_classifier()
    with pytest.raises(ParameterError, match="larger than the image"):
        region_probabilities(model, np.zeros((10, 40)), window=16, step=8)
    with pytest.raises(ParameterError, match="step"):
        region_probabilities(model, np.zeros((40, 40)), window=16, step=17)
    with pytest.raises(ParameterError, match="n, classes"):
        region_probabilities(lambda b: b, np.zeros((40, 40)), window=16, step=8)


def test_top_k_reproduces_the_seed_table():
    # seed 004, region 1: 11-6 85.5 %, 10-6 11.3 %, 11-5 3.0 %
    names = ["11-5", "11-6", "10-6"]
    assert top_k([0.030, 0.855, 0.113], 3, names) == [
        ("11-6", 0.855), ("10-6", 0.113), ("11-5", 0.030),
    ]
    assert top_k([0.5, 0.5], 1) == [("0", 0.5)]
    with pytest.raises(ParameterError, match="k must be"):
        top_k([0.2, 0.8], 3)
    with pytest.raises(ParameterError, match="class_names"):
        top_k([0.2, 0.8], 1, ["a"])


# --------------------------------------------------------------------------- ensembles, scores


def test_ensemble_of_identical_models_has_no_spread(images):
    members = [tiny("regressor", 2, 3, seed=1) for _ in range(3)]
    mean, std = ensemble_predict(members, images, batch_size=1)
    np.testing.assert_allclose(mean, predict(members[0], images), rtol=1e-6)
    np.testing.assert_array_equal(std, 0.0)
    _, spread = ensemble_predict([members[0], tiny("regressor", 2, 3, seed=2)], images)
    assert (spread > 0).all()


def test_ensemble_mean_and_std_by_hand():
    x = np.ones((4, 2, 2, 1), "float32")
    members = [lambda b, a=a: b.sum(axis=(1, 2, 3))[:, None] * a for a in (1.0, 3.0)]
    mean, std = ensemble_predict(members, x)
    np.testing.assert_allclose(mean, 8.0)  # (4 + 12) / 2
    np.testing.assert_allclose(std, 4.0)  # population spread of {4, 12}
    with pytest.raises(ParameterError, match="at least one"):
        ensemble_predict([], x)


def test_psnr_and_ssim_hand_values():
    truth = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    assert psnr(truth, truth) == math.inf
    assert ssim(truth, truth) == pytest.approx(1.0)
    assert psnr(truth + 0.1, truth) == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert psnr(truth + 0.1, truth, data_range=2.0) == pytest.approx(20.0 + 10 * np.log10(4))
    rng = np.random.default_rng(0)
    slightly, very = (truth + rng.normal(scale=s, size=truth.shape) for s in (0.02, 0.2))
    assert 1.0 > ssim(slightly, truth) > ssim(very, truth)
    assert psnr(slightly, truth) > psnr(very, truth)
    colour = np.stack([truth, truth[::-1]], axis=-1)
    assert ssim(colour, colour) == pytest.approx(1.0)
    with pytest.raises(ParameterError, match="differs from truth shape"):
        psnr(truth[:4], truth)
    with pytest.raises(ParameterError, match="truth is constant"):
        ssim(truth, np.zeros_like(truth))


# -- calibration ------------------------------------------------------------------------------


def _overconfident(n=4000, seed=0, temperature=3.0):
    """Labels drawn from calibrated probabilities, and the probabilities a network sharpened
    by ``1 / temperature`` would give: the fit must find ``temperature`` again."""
    from hrtemlake.nn.heads import with_temperature

    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, 4))
    calibrated = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in calibrated])
    return with_temperature(calibrated, 1.0 / temperature), labels, calibrated


def test_the_fitted_temperature_undoes_a_known_sharpening():
    from hrtemlake.nn.heads import calibration_error, fit_temperature, with_temperature

    sharp, labels, calibrated = _overconfident()
    t = fit_temperature(sharp, labels)
    assert t == pytest.approx(3.0, rel=0.1)
    np.testing.assert_allclose(with_temperature(sharp, 3.0), calibrated, atol=1e-9)
    assert calibration_error(with_temperature(sharp, t), labels) < 0.03 < calibration_error(sharp, labels)


def test_temperature_keeps_the_ranking_and_a_known_calibration_error():
    from hrtemlake.nn.heads import calibration_error, with_temperature

    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    for t in (0.5, 1.0, 4.0):
        q = with_temperature(p, t)
        np.testing.assert_allclose(q.sum(axis=1), 1.0)
        assert (q.argmax(axis=1) == p.argmax(axis=1)).all()
    np.testing.assert_allclose(with_temperature(p, 1.0), p)
    # one per bin: 0.7 right (|1 - 0.7|), 0.6 wrong (|0 - 0.6|) → ECE (0.3 + 0.6) / 2
    assert calibration_error(p, np.array([0, 1])) == pytest.approx(0.45)
    with pytest.raises(ParameterError, match="temperature"):
        with_temperature(p, 0.0)
    with pytest.raises(ParameterError, match="labels"):
        from hrtemlake.nn.heads import fit_temperature

        fit_temperature(p, np.array([0.0, 1.0]))
