"""Nanotube classes: each model records its chirality as a class, the lake stores its index."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.lake import Lake
from hrtemlake.models import CHIRALITIES, build_model, chirality_class
from hrtemlake.models.nanotubes import chirality_name, nanotube
from hrtemlake.simulate.dataset import model_rng, simulate_structures, structure_classes

#: Small tubes in a small cell (diameters 11-12.4 Å need >= 16.4 Å along the beam).
TUBES = {"length": (10.0, 16.0), "cell": (24.0, 24.0, 20.0)}
NAMES = ["(10,6)", "(11,5)", "(11,6)", "(11,7)", "(12,6)"]


def test_a_nanotube_records_its_chirality_as_text_and_the_class_names():
    atoms = nanotube(np.random.default_rng(0), 11, 6, **TUBES)
    assert atoms.info["class"] == "(11,6)"
    assert atoms.info["class_names"] == NAMES
    assert atoms.info["class_names"].index(atoms.info["class"]) == chirality_class(11, 6) == 2
    assert chirality_name((12, 6)) == "(12,6)"


def test_class_names_follow_the_chiralities_option():
    atoms = nanotube(np.random.default_rng(1), chiralities=[(6, 6), (9, 0)], **TUBES)
    assert atoms.info["class_names"] == ["(6,6)", "(9,0)"]
    assert atoms.info["class"] == chirality_name(atoms.info["chirality"])


def test_stored_class_of_each_model_is_the_index_of_its_chirality(tmp_path):
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    simulate_structures(lake, "tubes", "nanotube", 6, seed=3, options=TUBES)
    names, classes = structure_classes(lake, "tubes")
    assert names == NAMES == [chirality_name(pair) for pair in CHIRALITIES]
    expected = [chirality_class(*build_model("nanotube", model_rng(3, i), **TUBES).info["chirality"])
                for i in range(6)]  # fmt: skip
    assert classes.tolist() == expected
    assert classes.dtype == np.int64 and lake.group("structures", dataset="tubes")[
        "structure_class"].dtype == np.int32  # fmt: skip


def test_a_tube_outside_the_classes_is_stored_as_minus_one(tmp_path):
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    simulate_structures(lake, "other", "nanotube", 2, seed=3,
                        options={**TUBES, "n": 9, "m": 9, "chiralities": [(11, 6), (12, 6)]})  # fmt: skip
    names, classes = structure_classes(lake, "other")
    assert names == ["(11,6)", "(12,6)"] and classes.tolist() == [-1, -1]


def test_models_without_a_class_store_none(tmp_path):
    lake = Lake(str(tmp_path / "lake.zarr"), mode="a")
    simulate_structures(lake, "flakes", "mx2", 2, seed=1, options={"size": (16.0, 16.0)})
    assert structure_classes(lake, "flakes") is None
    assert "class_names" not in lake.group("structures", dataset="flakes").attrs
    assert lake.group("structures", dataset="flakes")["structure_class"][:].tolist() == [-1, -1]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
