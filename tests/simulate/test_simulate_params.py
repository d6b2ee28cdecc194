"""The parameter file: defaults, validation errors, serialisation and example files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

import hrtemlake.simulate.params as params_module
from hrtemlake.simulate.params import (
    LABELS,
    ImageParameters,
    ParameterError,
    expected_num_classes,
    load_parameters,
)

EXAMPLES = Path(params_module.__file__).parent / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_defaults_follow_listing_a1():
    p = ImageParameters()
    assert p.label == "Mask"
    assert p.image_epochs == 10
    assert p.image_size == (512, 512)
    assert p.noise == "poisson"
    assert p.mtf == "parametric"
    assert p.spotsize == 0.4
    assert p.sampling == (0.17, 0.18)
    assert p.multifocus is None
    assert p.log_dose == (2.0, 6.0)
    assert p.blur == (0.1, 0.8)
    assert p.focal_spread == (5.0, 20.0)
    assert p.defocus == (-200.0, 200.0)
    assert p.ctf_c30 == (0.0, 1.5 * 83000)
    assert p.ctf_c12 == p.ctf_c21 == p.ctf_c23 == p.ctf_c32 == p.ctf_c34 == p.ctf_c45
    assert p.mtf_c1 == (0.2, 0.6) and p.mtf_c2 == (0.0, 0.0) and p.mtf_c3 == (2.0, 5.0)
    assert p.readout == (0.005, 0.015)
    assert p.normalizedistance == 12.0
    assert p.debug == 100 and p.seed == 100


def test_lists_become_tuples_and_numbers_floats():
    p = ImageParameters(sampling=[0.1, 0.2], image_size=[256, 128], multifocus=[3, 50, 1])
    assert p.sampling == (0.1, 0.2)
    assert p.image_size == (256, 128)
    assert p.multifocus == (3, 50, 1)
    assert ImageParameters(blur=(0, 1)).blur == (0.0, 1.0)
    assert ImageParameters(image_size=256).image_size == (256, 256)


def test_none_strings_and_label_spelling_are_normalised():
    p = ImageParameters.from_dict({"noise": "None", "mtf": "none", "label": "mask"})
    assert p.noise is None and p.mtf is None and p.label == "Mask"


def test_frozen_and_replace_validates():
    p = ImageParameters()
    with pytest.raises(AttributeError):
        p.label = "Disk"  # type: ignore[misc]
    assert p.replace(blur=(0.2, 0.3)).blur == (0.2, 0.3)
    with pytest.raises(ParameterError, match="'blur'"):
        p.replace(blur=(0.3, 0.2))
    with pytest.raises(ParameterError, match="'blurr'.*did you mean 'blur'"):
        p.replace(blurr=(0.2, 0.3))


# (changes, field named in the error, fragment of the message)
INVALID = [
    ({"blur": (0.8, 0.1)}, "blur", "lower bound 0.8 exceeds upper bound 0.1"),
    ({"defocus": (200, -200)}, "defocus", "exceeds"),
    ({"sampling": (0.0, 0.1)}, "sampling", "greater than 0"),
    ({"sampling": (-0.1, 0.1)}, "sampling", "greater than 0"),
    ({"blur": (-0.1, 0.1)}, "blur", "at least 0"),
    ({"focal_spread": (-1, 5)}, "focal_spread", "at least 0"),
    ({"angular_spread": (-1, 0)}, "angular_spread", "at least 0"),
    ({"ctf_c12": (-5, 5)}, "ctf_c12", "at least 0"),
    ({"ctf_c45": (-5, 5)}, "ctf_c45", "at least 0"),
    ({"readout": (-0.01, 0.01)}, "readout", "at least 0"),
    ({"mtf_c1": (-0.6, 0.2)}, "mtf_c1", "greater than 0"),
    ({"mtf_c3": (0.0, 2.0)}, "mtf_c3", "greater than 0"),
    ({"mtf_c2": (0.0, 1.5)}, "mtf_c2", "at most 1"),
    ({"blur": 0.5}, "blur", "expected a range"),
    ({"blur": (0.1, 0.2, 0.3)}, "blur", "expected a range"),
    ({"blur": ("a", 0.2)}, "blur", "finite numbers"),
    ({"blur": (0.1, math.inf)}, "blur", "finite numbers"),
    ({"blur": (True, 1.0)}, "blur", "finite numbers"),
    ({"label": "Disc"}, "label", "did you mean 'Disk'"),
    ({"label": 3}, "label", "expected one of"),
    ({"noise": "gaussian"}, "noise", "unknown option"),
    ({"mtf": "lorentzian"}, "mtf", "unknown option"),
    ({"image_epochs": "10"}, "image_epochs", "expected an integer"),
    ({"image_epochs": 0}, "image_epochs", "at least 1"),
    ({"image_epochs": 2.5}, "image_epochs", "expected an integer"),
    ({"image_size": (512,)}, "image_size", "two integers"),
    ({"image_size": (512, 0)}, "image_size", "positive"),
    ({"num_classes": 0}, "num_classes", "at least 1"),
    ({"null_class": "yes"}, "null_class", "true or false"),
    ({"spotsize": 0}, "spotsize", "positive"),
    ({"spotsize": "big"}, "spotsize", "expected a number"),
    ({"normalizedistance": -12}, "normalizedistance", "positive"),
    ({"seed": -1}, "seed", "at least 0"),
    ({"seed": 1.5}, "seed", "expected an integer"),
    ({"debug": -3}, "debug", "at least 0"),
    ({"energy": 0}, "energy", "positive"),
    ({"multifocus": (3, 50)}, "multifocus", "number of images"),
    ({"multifocus": (0, 50, 1)}, "multifocus", "at least 1"),
    ({"multifocus": (3, 50, -1)}, "multifocus", "jitter"),
    ({"multifocus": (3, 250, 1)}, "multifocus", "does not fit in the defocus range"),
    ({"regression_targets": ()}, "regression_targets", "non-empty"),
    ({"regression_targets": ("defocs",)}, "regression_targets", "did you mean 'defocus'"),
    # num_classes against the label
    ({"num_classes": 2}, "num_classes", "Mask labels have 1"),
    ({"null_class": True}, "num_classes", "Mask labels have 2"),
    ({"label": "Exitwave"}, "num_classes", "Exitwave labels have 2"),
    ({"label": "Exitwave", "num_classes": 2, "null_class": True}, "null_class", "background"),
    ({"label": "Disk", "num_classes": 1, "null_class": True}, "num_classes", "at least 2"),
    ({"label": "Denoise", "num_classes": 1, "multifocus": (3, 50, 1)}, "num_classes",
     "Denoise labels have 3"),
    ({"label": "Regression", "num_classes": 1}, "num_classes", "Regression labels have 2"),
]


@pytest.mark.parametrize("changes, field, fragment", INVALID)
def test_validation_errors_name_the_field(changes, field, fragment):
    with pytest.raises(ParameterError) as info:
        ImageParameters.from_dict(changes)
    assert info.value.field == field
    assert f"'{field}'" in str(info.value)
    assert fragment in str(info.value)


def test_unknown_fields_are_named_with_a_suggestion():
    with pytest.raises(ParameterError) as info:
        ImageParameters.from_dict({"focalspread": (5, 20), "imagesize": [64, 64]})
    message = str(info.value)
    assert info.value.field == "focalspread"
    assert "'focalspread' (did you mean 'focal_spread'?)" in message
    assert "'imagesize' (did you mean 'image_size'?)" in message


def test_unknown_field_without_a_close_match():
    with pytest.raises(ParameterError, match="unknown field 'zzz'$"):
        ImageParameters.from_dict({"zzz": 1})


def test_from_dict_needs_a_mapping():
    with pytest.raises(ParameterError, match="mapping"):
        ImageParameters.from_dict([1, 2])  # type: ignore[arg-type]


def test_mtf_bounds_only_apply_to_the_parametric_mtf():
    p = ImageParameters(mtf=None, mtf_c1=(0.0, 0.0), mtf_c3=(0.0, 0.0))
    assert p.mtf is None


def test_valid_label_configurations():
    assert ImageParameters(label="Mask", num_classes=2, null_class=True).num_classes == 2
    assert ImageParameters(label="Disk", num_classes=4, null_class=True).label == "Disk"
    assert ImageParameters(label="Gaussian", num_classes=3).label == "Gaussian"
    assert ImageParameters(label="Exitwave", num_classes=2).label == "Exitwave"
    assert ImageParameters(label="Denoise", num_classes=1).label == "Denoise"
    assert ImageParameters(
        label="Denoise", num_classes=3, multifocus=(3, 50, 1)
    ).num_focal == 3
    p = ImageParameters(label="Regression", num_classes=3,
                        regression_targets=("defocus", "ctf_c12", "ctf_phi12"))
    assert p.regression_targets == ("defocus", "ctf_c12", "ctf_phi12")
    assert ImageParameters(label="Regression", num_classes=1,
                           regression_targets="dose").regression_targets == ("dose",)


def test_expected_num_classes_table():
    assert expected_num_classes("Mask", False) == 1
    assert expected_num_classes("Mask", True) == 2
    assert expected_num_classes("Disk", True, num_site_classes=3) == 4
    assert expected_num_classes("Gaussian", False, num_site_classes=3) == 3
    assert expected_num_classes("Disk", True) == -1
    assert expected_num_classes("Exitwave", False) == 2
    assert expected_num_classes("Denoise", False, num_focal=3) == 3
    assert expected_num_classes("Regression", False, num_targets=4) == 4
    with pytest.raises(ValueError):
        expected_num_classes("Blob", False)
    assert expected_num_classes("Heights", False) == 1
    assert expected_num_classes("Class", False) == 1
    assert expected_num_classes("ClassMask", True, num_model_classes=2) == 3
    assert set(LABELS) == {"Mask", "Disk", "Gaussian", "Exitwave", "Denoise", "Regression",
                           "Heights", "Class", "ClassMask"}  # fmt: skip


def test_check_dataset():
    disk = ImageParameters(label="Disk", num_classes=4, null_class=True)
    disk.check_dataset(has_sites=True, num_site_classes=3)
    with pytest.raises(ParameterError, match="needs atomic sites|need atomic sites") as info:
        disk.check_dataset(has_sites=False)
    assert info.value.field == "label"
    with pytest.raises(ParameterError, match="2 site classes") as info:
        disk.check_dataset(has_sites=True, num_site_classes=2)
    assert info.value.field == "num_classes"
    with pytest.raises(ParameterError, match="'label'"):
        ImageParameters().check_dataset(has_sites=False)  # Mask needs sites too
    ImageParameters(label="Exitwave", num_classes=2).check_dataset(has_sites=False)
    ImageParameters(label="Denoise").check_dataset(has_sites=False, num_site_classes=0)


def _roundtrip_params():
    return ImageParameters(
        label="Disk", num_classes=4, null_class=True, multifocus=(3, 50.0, 1.0),
        ctf_c12=(0.0, 25.0), angular_spread=(0.1, 0.5), energy=300e3, debug=True,
        seed=None, noise=None,
    )


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_dump_and_load_round_trip(tmp_path, suffix):
    p = _roundtrip_params()
    path = p.dump(tmp_path / f"params{suffix}")
    assert load_parameters(path) == p
    assert load_parameters(ImageParameters().dump(tmp_path / f"d{suffix}")) == ImageParameters()


def test_to_dict_is_plain_and_serialisable():
    data = _roundtrip_params().to_dict()
    # remove_support is written only when set, so files and image sets made before it existed
    # keep their identity
    assert list(data) == [n for n in ImageParameters.field_names() if n != "remove_support"]
    assert list(_roundtrip_params().replace(label="Exitwave", num_classes=2, null_class=False,
                                            remove_support=True).to_dict())[-1] == "remove_support"
    assert data["multifocus"] == [3, 50.0, 1.0]
    assert json.loads(json.dumps(data)) == data
    assert yaml.safe_load(yaml.safe_dump(data)) == data
    assert ImageParameters.from_dict(data) == _roundtrip_params()


def test_yaml_ranges_are_written_inline(tmp_path):
    text = ImageParameters().dump(tmp_path / "p.yaml").read_text()
    assert "sampling: [0.17, 0.18]" in text


def test_dump_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="suffix|type"):
        ImageParameters().dump(tmp_path / "p.txt")


def test_empty_file_gives_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n")
    assert load_parameters(path) == ImageParameters()


def test_json_with_wrong_type_names_field(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"sampling": "0.1"}))
    with pytest.raises(ParameterError, match="'sampling'"):
        load_parameters(path)


def test_all_example_files_exist():
    names = {path.name for path in EXAMPLE_FILES}
    assert names >= {
        "listing_a1.yaml",
        "paper1_exitwave_mos2.yaml",
        "paper2_au_ceo2_mask.yaml",
        "paper3_mos2_disk.yaml",
    }


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_files_load_and_validate(path, tmp_path):
    p = load_parameters(path)
    assert load_parameters(p.dump(tmp_path / "again.json")) == p
    assert path.read_text().lstrip().startswith("#")  # cites its source


def test_example_values_match_the_papers():
    listing = load_parameters(EXAMPLES / "listing_a1.yaml")
    assert listing == ImageParameters()
    paper1 = load_parameters(EXAMPLES / "paper1_exitwave_mos2.yaml")
    assert paper1.label == "Exitwave" and paper1.num_classes == 2
    assert paper1.ctf_c21 == (0.0, 600.0) and paper1.ctf_c12 == (0.0, 25.0)
    assert paper1.log_dose == (2.5, 5.0) and paper1.energy == 50e3
    paper2 = load_parameters(EXAMPLES / "paper2_au_ceo2_mask.yaml")
    assert paper2.ctf_c30 == (0.0, 124500.0) and paper2.sampling == (0.07, 0.08)
    assert paper2.mtf_c1 == (0.25, 0.6) and paper2.readout == (0.005, 0.015)
    paper3 = load_parameters(EXAMPLES / "paper3_mos2_disk.yaml")
    assert paper3.defocus == (-150.0, 50.0) and paper3.blur == (0.05, 0.25)
    paper3.check_dataset(has_sites=True, num_site_classes=3)
