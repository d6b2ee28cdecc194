"""Zone-axis classifier on per-particle Fourier transforms: inputs on a fixed reciprocal-space
grid, probabilities per track and frame, training, the registry, and simulated training data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hrtemlake.analysis.fourier import apodised_crop
from hrtemlake.analysis.zoneaxis import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_Q_MAX,
    ON_ZONE,
    ZONE_AXIS_CLASSES,
    zone_axis_input,
    zone_axis_inputs,
    zone_axis_probabilities,
)
from hrtemlake.errors import ParameterError

STEP = 2 * DEFAULT_Q_MAX / DEFAULT_INPUT_SIZE  # input grid pixel [Å⁻¹]
AU = ((2.35, 20.0), (2.04, 75.0))  # (d [Å], angle of k [deg]) of two Au-like reflections


def lattice(shape, pixel, reflections, centre=None, phase=0.3):
    """Σ cos(2π k·r + φ) over (d, angle) reflections, x to the right, y up [Å]."""
    rows, cols = np.indices(shape, dtype=float)
    cy, cx = centre if centre is not None else (shape[0] / 2, shape[1] / 2)
    x, y = (cols - cx) * pixel, -(rows - cy) * pixel
    image = np.zeros(shape)
    for d, angle in reflections:
        t = math.radians(angle)
        image += np.cos(2 * np.pi * (x * math.cos(t) + y * math.sin(t)) / d + phase)
    return image


def particle_crop(pixel, radius, reflections=AU, noise=0.0, seed=0, size=None):
    """The apodised crop (1 Å Gaussian edge) of a disc of ``radius`` Å cut from a lattice."""
    n = int(math.ceil(2 * (radius + 6) / pixel))
    image = lattice((n, n), pixel, reflections)
    image += noise * np.random.default_rng(seed).normal(size=image.shape)
    rows, cols = np.indices((n, n))
    mask = np.hypot(rows - n / 2, cols - n / 2) * pixel <= radius
    return apodised_crop(image, mask, sigma_px=1.0 / pixel, size=size)


def expected_peaks(reflections, size=DEFAULT_INPUT_SIZE):
    """(row, col) grid positions of ±k of each reflection (rows: q_y down = -k_y)."""
    peaks = []
    for d, angle in reflections:
        t = math.radians(angle)
        k_row, k_col = -math.sin(t) / d / STEP, math.cos(t) / d / STEP
        peaks += [(size // 2 + k_row, size // 2 + k_col), (size // 2 - k_row, size // 2 - k_col)]
    return np.array(peaks)


def brightest_maxima(image, count, exclude=0.2):
    """The ``count`` brightest 5 × 5 local maxima of a grid image outside |q| < exclude."""
    from scipy import ndimage

    q = (np.arange(image.shape[0]) - image.shape[0] // 2) * STEP
    outside = np.hypot(q[:, None], q[None, :]) >= exclude
    peaks = (image == ndimage.maximum_filter(image, size=5)) & outside
    rows, cols = np.nonzero(peaks)
    order = np.argsort(-image[rows, cols])[:count]
    return np.column_stack([rows[order], cols[order]])


# -- zone_axis_input: known answers ---------------------------------------------------------


@pytest.mark.parametrize("pixel", [0.1, 0.2])
@pytest.mark.parametrize("radius", [8.0, 12.0])
def test_lattice_reflections_land_at_one_over_d_on_the_fixed_grid(pixel, radius):
    x = zone_axis_input(particle_crop(pixel, radius), pixel)
    assert x.shape == (DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE, 1) and x.dtype == np.float32
    found = brightest_maxima(x[..., 0], 4)
    expected = expected_peaks(AU)
    distance = np.hypot(*(found[:, None, :] - expected[None, :, :]).transpose(2, 0, 1))
    assert distance.min(axis=1).max() <= 1.0  # each maximum within one grid pixel of a ±k
    assert sorted(distance.argmin(axis=1)) == [0, 1, 2, 3]  # and every ±k found
    q = np.hypot(*(found - DEFAULT_INPUT_SIZE // 2).T) * STEP
    assert np.allclose(np.sort(q), [1 / 2.35] * 2 + [1 / 2.04] * 2, atol=STEP)


def test_the_input_does_not_depend_on_the_pixel_size_nor_on_the_crop_padding():
    fine = zone_axis_input(particle_crop(0.1, 10.0), 0.1)
    coarse = zone_axis_input(particle_crop(0.2, 10.0), 0.2)
    padded = zone_axis_input(particle_crop(0.1, 10.0, size=512), 0.1)
    assert np.abs(fine - coarse).mean() < 0.02 and np.abs(fine - coarse).max() < 0.3
    assert np.corrcoef(fine.ravel(), coarse.ravel())[0, 1] > 0.999
    np.testing.assert_allclose(padded, fine, atol=1e-4)  # zero padding changes nothing


def test_the_input_is_standardised_and_does_not_depend_on_the_intensity_scale():
    crop = particle_crop(0.1, 10.0, noise=0.3)
    x = zone_axis_input(crop, 0.1, q_max=1.0, size=32)
    assert x.shape == (32, 32, 1)
    assert abs(float(x.mean())) < 1e-5 and float(x.std()) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(zone_axis_input(1e3 * crop, 0.1, q_max=1.0, size=32), x,
                               atol=1e-4)  # fmt: skip


def test_a_pair_of_pixel_sizes_is_accepted():
    crop = particle_crop(0.1, 10.0)
    np.testing.assert_allclose(zone_axis_input(crop, (0.1, 0.1)), zone_axis_input(crop, 0.1))


@pytest.mark.parametrize(
    "crop, pixel, options, match",
    [
        (np.ones((64, 64)), 1.0, {}, "Nyquist"),  # 1/(2·1 Å) = 0.5 < 0.75 Å⁻¹
        (np.ones((64, 64)), 0.1, {"q_max": 6.0}, "q_max"),
        (np.ones(64), 0.1, {}, "crop"),
        (np.ones((4, 64, 64)), 0.1, {}, "crop"),
        (np.ones((64, 64), complex), 0.1, {}, "crop"),
        (np.full((64, 64), np.nan), 0.1, {}, "crop"),
        (np.ones((64, 64)), 0.0, {}, "pixel_size"),
        (np.ones((64, 64)), -0.1, {}, "pixel_size"),
        (np.ones((64, 64)), float("nan"), {}, "pixel_size"),
        (np.ones((64, 64)), "0.1", {}, "pixel_size"),
        (np.ones((64, 64)), 0.1, {"q_max": 0.0}, "q_max"),
        (np.ones((64, 64)), 0.1, {"size": 4}, "size"),
    ],
)
def test_bad_input_is_an_error_naming_the_argument(crop, pixel, options, match):
    with pytest.raises(ParameterError, match=match):
        zone_axis_input(crop, pixel, **options)


# -- a tracked series -------------------------------------------------------------------------

PIXEL = 0.2
SHAPE = (96, 160)
CENTRES = {1: (48, 40), 2: (48, 118)}  # track id -> (row, col) [px]
ABSENT = {2: (1, 3)}  # track 2 is not in frames 1 and 3


def series(n_time=4, seed=0):
    """Frames with a two-direction lattice disc (track 1) and a fringe disc (track 2)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices(SHAPE)
    frames = np.zeros((n_time, *SHAPE))
    labels = np.zeros((n_time, *SHAPE), np.int32)
    lattices = {1: lattice(SHAPE, PIXEL, AU), 2: lattice(SHAPE, PIXEL, AU[:1])}
    for t in range(n_time):
        for track, (cy, cx) in CENTRES.items():
            if t in ABSENT.get(track, ()):
                continue
            disc = np.hypot(rows - cy, cols - cx - t) * PIXEL <= 7.0
            frames[t][disc] = lattices[track][disc]
            labels[t][disc] = track
        frames[t] += 0.2 * rng.normal(size=SHAPE)
    return frames, labels


def constant(probability):
    """A stand-in classifier (any callable works): the same probabilities for every input."""
    return lambda x: np.tile([1 - probability, probability], (len(x), 1)).astype(np.float32)


def test_inputs_of_every_track_in_a_frame_match_the_crop_of_the_fourier_stage():
    frames, labels = series()
    ids, inputs = zone_axis_inputs(frames[0], labels[0], PIXEL)
    assert ids.tolist() == [1, 2] and inputs.shape == (2, 64, 64, 1)
    for track, x in zip(ids, inputs):
        crop = apodised_crop(frames[0], labels[0] == track)  # on the whole frame
        np.testing.assert_allclose(x, zone_axis_input(crop, PIXEL), atol=1e-5)
    ids, inputs = zone_axis_inputs(frames[1], labels[1], PIXEL)
    assert ids.tolist() == [1]
    ids, inputs = zone_axis_inputs(frames[0], labels[0], PIXEL, track_ids=[2, 7])
    assert ids.tolist() == [2] and inputs.shape == (1, 64, 64, 1)
    ids, inputs = zone_axis_inputs(frames[0], np.zeros(SHAPE, int), PIXEL)
    assert ids.shape == (0,) and inputs.shape == (0, 64, 64, 1)


def test_probabilities_are_nan_exactly_where_a_track_is_absent():
    frames, labels = series()
    p = zone_axis_probabilities(constant(0.75), frames, labels, PIXEL, batch_size=3)
    assert p.shape == (2, 4) and p.dtype == np.float32
    absent = np.zeros((2, 4), bool)
    absent[1, list(ABSENT[2])] = True
    assert np.array_equal(np.isnan(p), absent)
    assert np.all(p[~absent] == 0.75)
    chosen = zone_axis_probabilities(constant(0.75), frames, labels, PIXEL, track_ids=[2, 5])
    assert np.array_equal(np.isnan(chosen), np.array([absent[1], [True] * 4]))


def test_keras_probabilities_are_in_the_unit_interval_and_do_not_depend_on_batching():
    pytest.importorskip("keras")
    from hrtemlake.nn.heads import build_classifier

    model = build_classifier(1, 2, filters=2, depth=2, dense=4, seed=3)
    frames, labels = series()
    p = zone_axis_probabilities(model, frames, labels, PIXEL, batch_size=64)
    absent = np.isnan(p)
    assert absent.tolist() == [[False] * 4, [False, True, False, True]]
    assert np.all((p[~absent] >= 0) & (p[~absent] <= 1))
    one_by_one = zone_axis_probabilities(model, frames, labels, PIXEL, batch_size=1)
    np.testing.assert_allclose(one_by_one, p, atol=1e-5)
    ids, inputs = zone_axis_inputs(frames[2], labels[2], PIXEL)
    direct = np.asarray(model(inputs, training=False))[:, ON_ZONE]
    np.testing.assert_allclose(p[:, 2], direct, atol=1e-5)


def test_series_input_errors_name_the_argument():
    frames, labels = series(n_time=2)
    with pytest.raises(ParameterError, match="track_labels"):
        zone_axis_probabilities(constant(0.5), frames, labels[:1], PIXEL)
    with pytest.raises(ParameterError, match="track_labels"):
        zone_axis_probabilities(constant(0.5), frames, labels[:, :50], PIXEL)
    with pytest.raises(ParameterError, match="frames"):
        zone_axis_probabilities(constant(0.5), frames[0], labels[0], PIXEL)
    with pytest.raises(ParameterError, match="track_labels"):
        zone_axis_probabilities(constant(0.5), frames, labels.astype(float), PIXEL)
    with pytest.raises(ParameterError, match="track_ids"):
        zone_axis_probabilities(constant(0.5), frames, labels, PIXEL, track_ids=[0, 1])
    with pytest.raises(ParameterError, match="Nyquist"):
        zone_axis_probabilities(constant(0.5), frames, np.zeros_like(labels), 1.0)
    with pytest.raises(ParameterError, match="model"):
        zone_axis_probabilities(lambda x: np.ones((len(x), 3)), frames, labels, PIXEL)
    with pytest.raises(ParameterError, match="track_labels_frame"):
        zone_axis_inputs(frames[0], labels[0, :10], PIXEL)


# -- training, registry ------------------------------------------------------------------------


def easy_crops(n, seed):
    """Disc crops at 0.1-0.2 Å/px: on zone = two lattice directions, tilted = one or none."""
    rng = np.random.default_rng(seed)
    inputs, labels = [], []
    for i in range(n):
        pixel, radius, turn = rng.uniform(0.1, 0.2), rng.uniform(7, 11), rng.uniform(0, 180)
        d = [(2.35, turn), (2.04, turn + rng.uniform(50, 70))]
        on_zone = i % 2
        reflections = d if on_zone else d[: int(rng.integers(0, 2))]
        crop = particle_crop(pixel, radius, reflections, noise=0.5, seed=int(rng.integers(1 << 30)))
        inputs.append(zone_axis_input(crop, pixel))
        labels.append(on_zone)
    return np.stack(inputs), np.array(labels)


@pytest.fixture(scope="module")
def trained():
    pytest.importorskip("keras")
    from hrtemlake.analysis.zoneaxis import train_zone_axis_classifier

    x, y = easy_crops(64, seed=1)
    return train_zone_axis_classifier(x, y, epochs=8, batch_size=8, learning_rate=3e-3,
                                      filters=4, depth=4, dense=8, seed=0)  # fmt: skip


def test_a_briefly_trained_classifier_separates_a_held_out_pair(trained):
    x, y = easy_crops(2, seed=99)  # one tilted, one on zone
    p = np.asarray(trained(x, training=False))
    assert p.shape == (2, len(ZONE_AXIS_CLASSES))
    assert p[0, ON_ZONE] < 0.5 < p[1, ON_ZONE]
    curve = trained.zone_axis_curve
    assert len(curve) == 8 and curve[-1]["loss"] < curve[0]["loss"]


def test_registered_classifier_loads_by_name_with_its_input_settings(trained, lake_path):
    from hrtemlake.analysis.zoneaxis import (
        load_zone_axis_classifier,
        register_zone_axis_classifier,
    )
    from hrtemlake.nn.registry import NetworkError

    info = register_zone_axis_classifier(lake_path, "za", trained, q_max=0.75, size=64,
                                         sigma_px=4.0,
                                         parameter_file={"label": "Mask"})  # fmt: skip
    assert info.label == "Class" and info.input_channels == 1 and info.epochs == 8
    assert info.checkpoints == (8,)
    model, options = load_zone_axis_classifier(lake_path, "za")
    assert options == {"q_max": 0.75, "size": 64, "sigma_px": 4.0}
    x, _ = easy_crops(2, seed=5)
    np.testing.assert_allclose(np.asarray(model(x, training=False)),
                               np.asarray(trained(x, training=False)), atol=1e-5)  # fmt: skip
    with pytest.raises(NetworkError, match="exists"):
        register_zone_axis_classifier(lake_path, "za", trained)
    with pytest.raises(NetworkError, match="no network"):
        load_zone_axis_classifier(lake_path, "other")


def test_training_input_errors_name_the_argument():
    pytest.importorskip("keras")
    from hrtemlake.analysis.zoneaxis import train_zone_axis_classifier

    x = np.zeros((4, 16, 16, 1), np.float32)
    with pytest.raises(ParameterError, match="labels"):
        train_zone_axis_classifier(x, np.array([0, 1, 2, 0]), epochs=1)
    with pytest.raises(ParameterError, match="inputs"):
        train_zone_axis_classifier(x[..., 0], np.array([0, 1, 0, 1]), epochs=1)


@pytest.mark.parametrize(
    "options, match",
    [({"n_particles": 0}, "n_particles"), ({"zone_axes": [(0, 0, 0)]}, "zone_axes"),
     ({"zone_axes": 3}, "zone_axes"), ({"images_per_particle": 0}, "images_per_particle"),
     ({"cell": -1.0}, "cell"), ({"start": -1}, "start")],
)  # fmt: skip
def test_simulation_option_errors_name_the_option(options, match):
    from hrtemlake.analysis.zoneaxis import simulate_zone_axis_samples

    with pytest.raises(ParameterError, match=match):
        simulate_zone_axis_samples(**{"n_particles": 2, **options})


# -- simulated training data ---------------------------------------------------------------------


@pytest.mark.slow
def test_simulated_particles_on_zone_and_tilted_give_labelled_inputs():
    pytest.importorskip("abtem")
    from hrtemlake.analysis.zoneaxis import simulate_zone_axis_samples

    samples = simulate_zone_axis_samples(
        2, seed=3, images_per_particle=2, cell=32.0, radius=(6.0, 7.0),
        waves={"sampling": 0.2}, image_parameters={"sampling": (0.2, 0.22), "log_dose": (3, 3)},
    )  # fmt: skip
    assert len(samples) == 4 and samples.inputs.shape == (4, 64, 64, 1)
    assert samples.labels.tolist() == [0, 0, 1, 1] and samples.particle.tolist() == [0, 0, 1, 1]
    assert np.all((samples.tilt[:2] >= 5) & (samples.tilt[:2] <= 20))
    assert np.all(samples.tilt[2:] == 0)
    assert np.allclose(samples.dose, 1e3) and np.all(np.isfinite(samples.inputs))
    assert samples.parameters["label"] == "Mask" and samples.parameters["waves"]["sampling"] == 0.2
