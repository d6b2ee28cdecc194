"""Nanotube chirality classifier: the axis angle, the folded input in the tube's frame, the
probability table, training, the registry, and simulated training data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hrtemlake.analysis.chirality import (
    CHIRALITY_CLASSES,
    DEFAULT_INPUT_SIZE,
    DEFAULT_Q_MAX,
    chirality_by_region,
    chirality_input,
    chirality_probabilities,
    chirality_table,
    region_crops,
    tube_axis_angle,
)
from hrtemlake.errors import ParameterError

STEP = DEFAULT_Q_MAX / DEFAULT_INPUT_SIZE  # input grid pixel [Å⁻¹]
G100 = 1.0 / 2.13  # graphene {100} [Å⁻¹]


def tube_image(angle, pixel=0.3125, n=128, diameter=11.7, chiral=20.4, length=30.0,
               shift=(0.0, 0.0), noise=0.0, seed=0, walls=1.0, lattice=0.5):  # fmt: skip
    """A synthetic tube seen side-on: two Gaussian walls and, between them, the {100}
    fringes of its front and back walls (mirror images about the axis), turned by ``angle``
    [deg] from x towards y (rows) about the image centre plus ``shift`` (x, y) [Å]."""
    rows, cols = np.indices((n, n), dtype=float)
    x = (cols - (n - 1) / 2) * pixel - shift[0]
    y = (rows - (n - 1) / 2) * pixel - shift[1]
    t = math.radians(angle)
    u, v = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
    along = 0.5 * (1 + np.tanh((0.5 * length - np.abs(u)) / 0.7))  # soft ends
    radius = 0.5 * diameter
    image = walls * (np.exp(-0.5 * ((v - radius) / 0.6) ** 2)
                     + np.exp(-0.5 * ((v + radius) / 0.6) ** 2))  # fmt: skip
    inside = 0.5 * (1 + np.tanh((radius - np.abs(v)) / 0.5))
    for gamma in (30 - chiral, 90 - chiral, 150 - chiral):
        g = math.radians(gamma)
        for mirror in (1, -1):  # front and back wall
            k_u, k_v = G100 * math.sin(g), mirror * G100 * math.cos(g)
            image += lattice * inside * np.cos(2 * np.pi * (k_u * u + k_v * v) + 0.7)
    image = 1.0 + 0.1 * along * image
    return image + noise * np.random.default_rng(seed).normal(size=image.shape)


def angle_error(a, b):
    return abs((a - b + 90.0) % 180.0 - 90.0)


# -- axis angle --------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [0.0, 17.0, 45.0, 90.0, 133.3, 179.5])
def test_the_axis_angle_of_a_synthetic_tube_is_found_within_one_degree(angle):
    image = tube_image(angle, shift=(3.0, -2.0), noise=0.05, seed=int(angle))
    assert angle_error(tube_axis_angle(image, 0.3125), angle) < 1.0


def test_the_axis_angle_follows_the_lake_layout_convention():
    # a tube along the rows (y) of a (y, x) array is at 90°, one along the columns at 0°
    image = np.ones((96, 96))
    image[:, 44:46] = image[:, 52:54] = 2.0  # two walls along y
    assert angle_error(tube_axis_angle(image, 0.3), 90.0) < 0.5
    assert angle_error(tube_axis_angle(image.T, 0.3), 0.0) < 0.5


# -- input --------------------------------------------------------------------------------


def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize("angle", [37.0, 90.0, 151.0])
def test_the_input_of_a_turned_tube_equals_that_of_the_unturned_tube(angle):
    reference = chirality_input(tube_image(0.0), 0.3125)
    turned = chirality_input(tube_image(angle), 0.3125)
    assert turned.shape == (DEFAULT_INPUT_SIZE, DEFAULT_INPUT_SIZE, 1)
    assert turned.dtype == np.float32
    assert correlation(turned, reference) > 0.995
    assert np.abs(turned - reference).mean() < 0.05  # standardised units


def test_the_input_does_not_depend_on_the_pixel_size():
    # the same 40 Å field at 0.3125 and 0.25 Å/px, and at 0.2 Å/px with a wider field
    coarse = chirality_input(tube_image(25.0, pixel=0.3125, n=128), 0.3125)
    fine = chirality_input(tube_image(25.0, pixel=0.25, n=160), 0.25)
    assert correlation(coarse, fine) > 0.98


def test_the_input_does_not_depend_on_the_tube_position_nor_the_intensity_scale():
    centred = chirality_input(tube_image(60.0), 0.3125)
    moved = chirality_input(7.0 * tube_image(60.0, shift=(1.7, -2.3)) + 100.0, 0.3125)
    assert correlation(centred, moved) > 0.98


def test_fringes_land_at_their_frequency_along_and_across_the_axis():
    # one set of fringes of k = (0.2 along, 0.3 across) Å⁻¹ in a tube frame turned by 30°
    n, pixel, t = 128, 0.3125, math.radians(30.0)
    rows, cols = np.indices((n, n), dtype=float)
    x, y = (cols - n / 2) * pixel, (rows - n / 2) * pixel
    u, v = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
    image = np.cos(2 * np.pi * (0.2 * u + 0.3 * v))
    x = chirality_input(image, pixel, angle=30.0)[..., 0]
    row, col = np.unravel_index(np.argmax(x), x.shape)
    assert abs(row - 0.3 / STEP) <= 1 and abs(col - 0.2 / STEP) <= 1


def test_the_first_layer_line_moves_with_the_chiral_angle():
    # graphene {100} of a tube of chiral angle θ: first layer line at 0.47 sin(30° - θ) Å⁻¹
    for chiral in (17.8, 22.7):
        image = tube_image(70.0, chiral=chiral, walls=0.0)  # lattice only: angle given
        x = chirality_input(image, 0.3125, angle=70.0)[..., 0]
        expected = G100 * math.sin(math.radians(30 - chiral)) / STEP
        near = slice(3, 14)  # columns that hold only the first layer line
        column = 3 + int(np.argmax(x[:, near].max(axis=0)))
        assert abs(column - expected) <= 1


@pytest.mark.parametrize(
    "image, pixel, options, match",
    [(np.zeros((4, 64, 64)), 0.3, {}, "image"), (np.zeros((8, 8)), 0.3, {}, "16"),
     (np.full((32, 32), np.nan), 0.3, {}, "NaN"), (np.zeros((32, 32)), -1.0, {}, "pixel_size"),
     (np.zeros((32, 32)), (0.3, 0.4), {}, "square"), (np.zeros((32, 32)), 0.3, {"q_max": 2.0},
     "Nyquist"), (np.zeros((32, 32)), 0.3, {"size": 4}, "size"),
     (np.zeros((32, 32)), 0.3, {"angle": math.inf}, "angle"),
     (np.zeros((32, 32), complex), 0.3, {}, "real")],
)  # fmt: skip
def test_bad_input_is_an_error_naming_the_argument(image, pixel, options, match):
    with pytest.raises(ParameterError, match=match):
        chirality_input(image, pixel, **options)


def test_a_tube_without_contrast_gives_a_finite_input():
    x = chirality_input(np.ones((64, 64)), 0.3125)
    assert np.isfinite(x).all()
    assert 0.0 <= tube_axis_angle(np.ones((64, 64)), 0.3125) < 180.0


# -- table --------------------------------------------------------------------------------


def uniform_then(order):
    """A callable "model" whose probabilities rank the classes in ``order``."""
    p = np.zeros(len(CHIRALITY_CLASSES), np.float32)
    p[list(order)] = np.linspace(0.5, 0.05, len(order))
    p /= p.sum()
    return lambda x: np.tile(p, (len(x), 1))


def test_the_table_lists_the_likeliest_chiralities_first():
    images = [tube_image(10.0), tube_image(80.0, n=96)]  # crops of different sizes
    table = chirality_probabilities(uniform_then([2, 4, 3, 0, 1]), images, [0.3125, 0.3125])
    assert len(table) == 2 and table.top_classes.shape == (2, 3)
    assert table.top_classes[0].tolist() == ["(11,6)", "(12,6)", "(11,7)"]
    assert np.all(np.diff(table.top_probabilities, axis=1) <= 0)
    np.testing.assert_allclose(table.probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert angle_error(table.angle[1], 80.0) < 1.0
    row = table.rows()[0]
    assert row["region"] == 1 and row["chirality 1"] == "(11,6)" and row["prob. 1"] > 0.3
    assert "(11,6)" in str(table).splitlines()[1]


def two_tube_frame():
    """A 256 × 384 frame with tubes at 30° (centre (64, 64)) and 120° (centre (164, 294)),
    and rectangular labels 3 and 7 around their middles."""
    frame = np.ones((256, 384))
    frame[:128, :128] = tube_image(30.0)
    frame[100:228, 230:358] = tube_image(120.0)
    labels = np.zeros(frame.shape, np.int32)
    labels[40:88, 40:88] = 3
    labels[134:194, 264:324] = 7
    return frame, labels


def test_region_crops_are_centred_on_each_region_with_room_for_it():
    frame, labels = two_tube_frame()
    regions, crops = region_crops(frame, labels)
    assert regions.tolist() == [3, 7]
    side = math.ceil(math.hypot(48, 48) / 0.85)  # the box's diagonal over the flat disc
    assert crops[0].shape == (side, side)
    np.testing.assert_array_equal(crops[0], frame[64 - side // 2 : 64 - side // 2 + side,
                                                  64 - side // 2 : 64 - side // 2 + side])  # fmt: skip
    corner = np.zeros(frame.shape, np.int32)
    corner[:10, -6:] = 1  # at the frame's corner: the rest is the frame mirrored
    _, (crop,) = region_crops(frame, corner)
    assert crop.shape == (16, 16)
    np.testing.assert_array_equal(crop[3:13, 5:11], frame[:10, -6:])
    np.testing.assert_array_equal(crop[2, :11], frame[0, -11:])  # row -1 mirrors row 0
    np.testing.assert_array_equal(crop[3:13, 11], frame[:10, -1])  # column 384 mirrors 383


def test_the_table_of_a_frame_has_one_row_per_region_with_its_label():
    frame, labels = two_tube_frame()
    table = chirality_by_region(uniform_then([1, 0, 2, 3, 4]), frame, labels, 0.3125)
    assert [row["region"] for row in table.rows()] == [3, 7]
    assert table.top_classes[:, 0].tolist() == ["(11,5)", "(11,5)"]
    assert angle_error(table.angle[0], 30.0) < 1.0 and angle_error(table.angle[1], 120.0) < 1.0
    assert str(table).splitlines()[2].split()[0] == "7"
    empty = chirality_by_region(uniform_then([0]), frame, np.zeros_like(labels), 0.3125)
    assert len(empty) == 0 and empty.rows() == []
    with pytest.raises(ParameterError, match="labels"):
        chirality_by_region(uniform_then([0]), frame, labels[:-1], 0.3125)
    with pytest.raises(ParameterError, match="labels"):
        region_crops(frame, labels.astype(float))


def test_table_errors_name_the_argument():
    model = uniform_then(range(5))
    with pytest.raises(ParameterError, match="top"):
        chirality_probabilities(model, [tube_image(0.0)], 0.3125, top=6)
    with pytest.raises(ParameterError, match="pixel_size"):
        chirality_probabilities(model, np.stack([tube_image(0.0)] * 2), [0.3, 0.3, 0.3])
    with pytest.raises(ParameterError, match="images"):
        chirality_probabilities(model, tube_image(0.0), 0.3125)
    with pytest.raises(ParameterError, match="model must return"):
        chirality_probabilities(lambda x: np.ones((len(x), 2)), [tube_image(0.0)], 0.3125)
    with pytest.raises(ParameterError, match="probabilities"):
        chirality_table(np.ones((2, 4)))


# -- training, registry ---------------------------------------------------------------------


def easy_inputs(n, seed):
    """Noisy synthetic tubes at random angles and positions: (11,5)-like (label 0) and
    (11,7)-like (label 1), which differ in diameter and chiral angle."""
    rng = np.random.default_rng(seed)
    inputs, labels = [], []
    for i in range(n):
        label = i % 2
        diameter, chiral = ((11.1, 17.8), (12.3, 22.7))[label]
        image = tube_image(rng.uniform(0, 180), diameter=diameter, chiral=chiral,
                           length=rng.uniform(22, 32), shift=rng.uniform(-3, 3, 2),
                           noise=0.03, seed=int(rng.integers(1 << 30)))  # fmt: skip
        inputs.append(chirality_input(image, 0.3125))
        labels.append(label)
    return np.stack(inputs), np.array(labels)


@pytest.fixture(scope="module")
def trained():
    pytest.importorskip("keras")
    from hrtemlake.analysis.chirality import train_chirality_classifier

    x, y = easy_inputs(32, seed=1)
    return train_chirality_classifier(x, y, class_names=("(11,5)", "(11,7)"), epochs=6,
                                      batch_size=8, learning_rate=3e-3, filters=4, depth=3,
                                      dense=8, seed=0, validation=easy_inputs(8, seed=2))  # fmt: skip


def test_a_briefly_trained_classifier_separates_a_held_out_pair(trained):
    x, y = easy_inputs(2, seed=99)
    p = np.asarray(trained(x, training=False))
    assert p.shape == (2, 2)
    assert p[0, 0] > 0.5 > p[1, 0]
    curve = trained.chirality_curve
    assert len(curve) == 6 and curve[-1]["loss"] < curve[0]["loss"]


def test_registered_classifier_loads_by_name_with_its_input_settings(trained, lake_path):
    from hrtemlake.analysis.chirality import (
        load_chirality_classifier,
        register_chirality_classifier,
    )
    from hrtemlake.analysis.zoneaxis import load_zone_axis_classifier
    from hrtemlake.nn.heads import with_temperature
    from hrtemlake.nn.registry import NetworkError

    info = register_chirality_classifier(lake_path, "tubes", trained,
                                         parameter_file={"label": "Class"})  # fmt: skip
    assert info.label == "Class" and info.input_channels == 1 and info.epochs == 6
    assert info.training["task"] == "chirality"
    model, options = load_chirality_classifier(lake_path, "tubes")
    temperature = trained.chirality_training["temperature"]  # fitted on the validation set
    assert 0.05 <= temperature <= 20.0
    assert options == {"q_max": DEFAULT_Q_MAX, "size": DEFAULT_INPUT_SIZE,
                       "class_names": ("(11,5)", "(11,7)"), "temperature": temperature}  # fmt: skip
    images = [tube_image(33.0, diameter=11.1, chiral=17.8)]
    table = chirality_probabilities(model, images, 0.3125, top=2, **options)
    direct = np.asarray(trained(chirality_input(images[0], 0.3125)[None], training=False))
    np.testing.assert_allclose(table.probabilities, with_temperature(direct, temperature),
                               atol=1e-5)  # fmt: skip
    with pytest.raises(NetworkError, match="exists"):
        register_chirality_classifier(lake_path, "tubes", trained)
    with pytest.raises(ParameterError, match="not a zone-axis classifier"):
        load_zone_axis_classifier(lake_path, "tubes")
    with pytest.raises(ParameterError, match="classes"):
        register_chirality_classifier(lake_path, "five", trained, class_names=CHIRALITY_CLASSES)


def test_training_input_errors_name_the_argument():
    pytest.importorskip("keras")
    from hrtemlake.analysis.chirality import train_chirality_classifier

    x = np.zeros((4, 16, 16, 1), np.float32)
    with pytest.raises(ParameterError, match="labels"):
        train_chirality_classifier(x, np.array([0, 1, 5, 0]), epochs=1)
    with pytest.raises(ParameterError, match="class_names"):
        train_chirality_classifier(x, np.array([0, 0, 0, 0]), class_names=["(11,6)"], epochs=1)


# -- simulated training data ----------------------------------------------------------------


@pytest.mark.parametrize(
    "options, match",
    [({"n_tubes": 0}, "n_tubes"), ({"images_per_tube": 0}, "images_per_tube"),
     ({"cell": -1.0}, "cell"), ({"start": -1}, "start"), ({"chiralities": [(5, 6)]}, "n >= m"),
     ({"q_max": 5.0}, "Nyquist")],
)  # fmt: skip
def test_simulation_option_errors_name_the_option(options, match):
    from hrtemlake.analysis.chirality import simulate_chirality_samples

    with pytest.raises(ParameterError, match=match):
        simulate_chirality_samples(**{"n_tubes": 2, **options})


@pytest.mark.slow
def test_simulated_tubes_give_labelled_inputs_in_the_tubes_frame():
    pytest.importorskip("abtem")
    from hrtemlake.analysis.chirality import ChiralitySamples, simulate_chirality_samples

    options = {"images_per_tube": 2, "cell": 30.0, "length": (18.0, 22.0),
               "waves": {"sampling": 0.15},
               "image_parameters": {"sampling": (0.3, 0.3), "defocus": (60.0, 80.0)}}  # fmt: skip
    first = simulate_chirality_samples(2, seed=3, **options)
    second = simulate_chirality_samples(1, seed=3, start=2, **options)
    samples = ChiralitySamples.concatenate([first, second])
    assert len(samples) == 6 and samples.inputs.shape == (6, 64, 64, 1)
    assert samples.labels.tolist() == [0, 0, 1, 1, 2, 2] and samples.tube.tolist()[-1] == 2
    assert samples.parameters["class_names"] == list(CHIRALITY_CLASSES)
    assert samples.parameters["label"] == "Class" and np.allclose(samples.dose, 1e4)
    assert np.all(np.isfinite(samples.inputs)) and np.allclose(samples.sampling, 0.3)
    errors = [angle_error(a, b) for a, b in zip(samples.estimated_angle, samples.angle)]
    assert max(errors) < 1.0  # 60-80 Å defocus: the walls show


# -- tracks of an analysis run --------------------------------------------------------------


def test_every_track_of_a_run_gets_its_chiralities_from_the_cli(trained, lake_path, capsys, tmp_path):
    """Two frames of two tubes (the second frame shifted by 4 px) → masks → instances →
    tracks → ``hrtemlake analyze chirality``: one row per track, a CSV row per (frame, track)."""
    import pandas as pd

    from hrtemlake.analysis import pipeline as ap
    from hrtemlake.analysis.chirality import register_chirality_classifier
    from hrtemlake.lake import Lake
    from tests.cli_helpers import run_cli

    from .test_pipeline import write_series

    frame, labels = two_tube_frame()
    frames = np.stack([frame, np.roll(frame, 4, axis=1)])
    masks = np.stack([labels > 0, np.roll(labels > 0, 4, axis=1)])
    lake = Lake(lake_path, mode="a")
    write_series(lake, "tubes", frames, pixel_size=0.3125)
    register_chirality_classifier(lake, "tubes", trained, class_names=("(11,5)", "(11,7)"))
    ap.import_masks(lake, "r", masks, 0.3125, series="tubes")
    writer = ap.start_instances(lake, "r", threshold=0.5, min_separation=0.5)
    for block in ap.missing_blocks(writer, 5):
        ap.instance_block(writer, "r", block)
    ap.track_run(lake, "r")
    out = tmp_path / "chirality.csv"
    code, text, err = run_cli(capsys, "analyze", "chirality", "--run", "r", "--network", "tubes",
                              "--top", "2", "--out", str(out), "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert "analysis/r: chirality of 2 tracks over 2 frames (network 'tubes')" in text
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 2 and all(r[1] in ("(11,5)", "(11,7)") for r in rows)
    csv = pd.read_csv(out)
    assert len(csv) == 4 and {"time", "track", "angle", "(11,5)", "(11,7)"} <= set(csv.columns)
    np.testing.assert_allclose(csv[["(11,5)", "(11,7)"]].sum(axis=1), 1.0, rtol=1e-5)
    first = csv[csv.track == csv.track.min()].angle  # the 30° tube in both frames
    assert all(angle_error(a, 30.0) < 1.5 for a in first)
    code, _, err = run_cli(capsys, "analyze", "chirality", "--run", "r", "--network", "none",
                           "--lake", lake_path)  # fmt: skip
    assert code != 0 and "none" in err and len(err.strip().splitlines()) == 1
