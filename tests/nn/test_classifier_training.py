"""Class labels (one class per image: a nanotube's chirality) and a classifier from the lake."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from hrtemlake.lake import Lake
from hrtemlake.nn import TrainingError, TrainingOptions, evaluate_network, train_network
from hrtemlake.nn.evaluate import summarise_scores
from hrtemlake.simulate import ImageParameters
from hrtemlake.simulate.dataset import (
    exitwave_writer,
    load_atoms,
    simulate_structures,
    structure_classes,
)
from hrtemlake.simulate.exitwaves import ExitWaveSettings
from hrtemlake.simulate.images import compute_image_block, image_writer, synthesize_images
from hrtemlake.simulate.params import ParameterError

from .helpers import stripe_image_set

TUBES = {"length": (10.0, 16.0), "cell": (24.0, 24.0, 20.0)}
PARAMS = dict(label="Class", image_size=(32, 32), image_epochs=2, sampling=(0.74, 0.76),
              normalizedistance=6.0, debug=None, seed=5)  # fmt: skip
OPTIONS = dict(arch="classifier", filters=2, depth=1, batch_size=4, epochsave=10)


def _cheap_waves(lake: Lake, dataset: str, count: int) -> None:
    """Stand-in exit waves (0.4 Å, 300 keV): a Gaussian of phase 0.05 rad per atom, no
    multislice (the tests need the lake's layout, not abTEM's physics)."""
    settings = ExitWaveSettings(energy=300e3, sampling=0.4)
    writer = exitwave_writer(lake, dataset, settings)
    ny, nx = writer.array("exit_wave").shape[1:]
    y, x = np.mgrid[:ny, :nx] * settings.sampling
    for i, atoms in enumerate(load_atoms(lake, dataset, range(count))):
        phase = np.zeros((ny, nx))
        for ax, ay, _ in atoms.positions:
            phase += 0.05 * np.exp(-((x - ax) ** 2 + (y - ay) ** 2) / 0.18)
        writer.write(i, {"exit_wave": np.exp(1j * phase)[None].astype(np.complex64)})


def _tube_images(lake: Lake, dataset: str, count: int, seed: int, epochs: int = 2) -> str:
    simulate_structures(lake, dataset, "nanotube", count, seed=seed, options=TUBES)
    _cheap_waves(lake, dataset, count)
    params = ImageParameters(**PARAMS)
    writer = image_writer(lake, dataset, "class", params, epochs)
    compute_image_block(writer, dataset, range(count), params, epochs)
    return f"{dataset}/class"


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(str(tmp_path_factory.mktemp("classes") / "lake.zarr"), mode="a")
    _tube_images(lake, "train", 6, seed=1)
    _tube_images(lake, "val", 4, seed=2, epochs=1)
    return lake


def test_class_labels_are_the_stored_class_of_each_model(lake):
    names, classes = structure_classes(lake, "train")
    group = lake.group("images", dataset="train", imageset="class")
    assert group.attrs["label"] == "Class"
    assert list(group.attrs["channel_names"]) == ["class"]
    assert list(group.attrs["class_names"]) == names == ["(10,6)", "(11,5)", "(11,6)",
                                                         "(11,7)", "(12,6)"]  # fmt: skip
    targets = group["targets"][:]
    assert targets.shape == (6, 2, 1)
    for epoch in range(2):
        assert targets[:, epoch, 0].tolist() == classes.tolist()
    assert group["image"].shape == (6, 2, 1, 32, 32)
    assert np.isfinite(group["image"][:]).all() and group["image"][:].max() > 0


def test_class_labels_need_models_with_classes(tmp_path):
    with pytest.raises(ParameterError, match="Class labels need models"):
        ImageParameters(label="Class").check_dataset(has_sites=True)
    ImageParameters(label="Class").check_dataset(has_sites=False, has_classes=True)
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    simulate_structures(lake, "flakes", "mx2", 1, seed=1, options={"size": (16.0, 16.0)})
    _cheap_waves(lake, "flakes", 1)
    with pytest.raises(ParameterError, match="Class labels need models"):
        image_writer(lake, "flakes", "class", ImageParameters(**PARAMS), 1)


def test_synthesized_class_labels_need_the_class_index():
    wave = np.ones((40, 40), np.complex64)
    params = ImageParameters(**{**PARAMS, "image_size": (16, 16)})
    with pytest.raises(Exception, match="structure_class"):
        synthesize_images(wave, 0.4, params, 0, energy=300e3)
    out = synthesize_images(wave, 0.4, params, 0, energy=300e3, n_epochs=2, structure_class=3)
    assert out["targets"].tolist() == [[3.0], [3.0]] and "label" not in out


def test_a_classifier_trains_on_class_labels_and_is_evaluated(lake):
    result = train_network(lake, "chirality", "train", "val", epochs=1,
                           options=TrainingOptions(**OPTIONS))  # fmt: skip
    assert result.model.output_shape[-1] == 5  # one output per class name
    assert result.model.loss == "sparse_categorical_crossentropy"
    row = result.curve[0]
    assert np.isfinite(row["loss"]) and 0.0 <= row["metric"] <= 1.0
    scores = evaluate_network(lake, "chirality", "val").load()
    assert scores.class_correct.shape == (4, 1)
    assert set(np.unique(scores.class_correct.values)) <= {0.0, 1.0}
    summary = summarise_scores(scores)
    assert summary["accuracy"] == pytest.approx(float(scores.class_correct.mean()))
    assert np.isnan(scores.rmse).all()


def test_classifier_and_class_labels_go_only_together(lake, tmp_path):
    with pytest.raises(TrainingError, match="classifier"):
        train_network(lake, "unet-on-classes", "train", "val", epochs=1,
                      options=TrainingOptions(**{**OPTIONS, "arch": "unet"}))  # fmt: skip
    other = Lake(str(tmp_path / "lake.zarr"), mode="a")
    stripe_image_set(other, "train", n_models=4, seed=1)
    with pytest.raises(TrainingError, match="classifier"):
        train_network(other, "classifier-on-stripes", "train", "train", epochs=1,
                      options=TrainingOptions(**OPTIONS))  # fmt: skip


def test_the_cli_accepts_the_classifier_arch():
    from hrtemlake.cli.nn import _check_arch
    from hrtemlake.errors import ParameterError as CliError

    _check_arch("classifier")
    with pytest.raises(CliError, match="classifier"):
        _check_arch("classify")
