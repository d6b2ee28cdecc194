"""Bad input gives one clear error before anything is written: systems, settings, calculators."""

from __future__ import annotations

import pytest

from hrtemlake.errors import ParameterError
from hrtemlake.md import MDSettings, build_system, check_calculator, coordination_numbers, run_md
from hrtemlake.md.calculators import make_calculator

from .conftest import lj_settings


def test_named_systems_are_small_and_deterministic():
    flake = build_system("mos2-flake")
    assert flake.get_chemical_formula() == "Mo7S24" and not flake.pbc.any()
    assert (build_system("mos2-flake").positions == flake.positions).all()
    counts, elements = coordination_numbers(flake)
    s_to_mo = counts[flake.numbers == 16, elements.index("Mo")]
    assert sorted(set(s_to_mo)) == [1, 2, 3]  # edge S with a single Mo neighbour
    assert len(build_system("mos2-flake", {"rings": 2})) == 73
    cell = build_system("mos2-cell")
    assert cell.get_chemical_formula() == "MoS2" and list(cell.pbc) == [True, True, False]


def test_system_from_a_file(tmp_path):
    import ase.io

    path = tmp_path / "start.xyz"
    ase.io.write(path, build_system("mos2-cell", {"repeat": 2}))
    assert len(build_system(path)) == 12


@pytest.mark.parametrize(
    "system, options, message",
    [
        ("graphene-flake", {}, "unknown system 'graphene-flake'"),
        ("mos2-flake", {"radius": 3}, "system 'mos2-flake'.*radius"),
        ("mos2-flake", {"rings": 0}, "rings must be an integer"),
    ],
)
def test_bad_systems(system, options, message):
    with pytest.raises(ParameterError, match=message):
        build_system(system, options)


def test_unreadable_system_file(tmp_path):
    path = tmp_path / "notes.xyz"
    path.write_text("not a structure\n")
    with pytest.raises(ParameterError, match="cannot read system file"):
        build_system(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"temperature": -10.0}, "temperature must be a finite temperature >= 0 K"),
        ({"excitation_temperature": float("nan")}, "excitation_temperature"),
        ({"timestep": 0.0}, "timestep must be > 0"),
        ({"relax_steps": -1}, "relax_steps must be a non-negative integer"),
    ],
)
def test_bad_settings(changes, message):
    with pytest.raises(ParameterError, match=message):
        MDSettings(**changes)


@pytest.mark.parametrize(
    "name, message",
    [
        ("nequip_not_here:Calculator", "calculator 'nequip_not_here:Calculator' is not installed"),
        ("ase.calculators.lj:NoSuchCalculator", "has no 'NoSuchCalculator'"),
        ("vasp7", "unknown calculator 'vasp7'"),
    ],
)
def test_calculators_that_cannot_be_made(name, message):
    with pytest.raises(ParameterError, match=message):
        check_calculator(name, build_system("mos2-cell"))


def test_emt_is_refused_for_elements_it_lacks():
    with pytest.raises(ParameterError, match=r"'emt' has no parameters for \['Mo', 'S'\]"):
        check_calculator("emt", build_system("mos2-cell"))


def test_gpaw_data_comes_from_the_installed_package(monkeypatch):
    import gpaw
    import gpaw_data

    assert gpaw_data.datapath() in [__import__("pathlib").Path(p) for p in gpaw.setup_paths]
    check_calculator("gpaw", build_system("mos2-cell"))  # Mo and S setups and dzp bases
    monkeypatch.setattr(gpaw, "setup_paths", [])
    with pytest.raises(ParameterError, match="no PBE PAW setup for Mo.*gpaw-data"):
        check_calculator("gpaw", build_system("mos2-cell"))


def test_gpaw_defaults_follow_the_thesis():
    from hrtemlake.md.calculators import calculator_options

    assert calculator_options("gpaw") == {
        "mode": "lcao", "basis": "dzp", "xc": "PBE", "kpts": {"size": [1, 1, 1], "gamma": True},
        "symmetry": "off",
    }  # fmt: skip
    assert calculator_options("gpaw", {"basis": "szp(dzp)"})["basis"] == "szp(dzp)"
    assert calculator_options("lj", {"sigma": 2.0}) == {"sigma": 2.0}
    assert type(make_calculator("gpaw")).__module__.startswith("gpaw")


def test_bad_input_writes_nothing(lake):
    with pytest.raises(ParameterError):
        run_md(lake, "r", 3, "no-such-system", lj_settings())
    with pytest.raises(ParameterError):
        run_md(lake, "r", -1, "mos2-flake", lj_settings())
    with pytest.raises(ParameterError):
        run_md(lake, "r", 3, "mos2-flake", lj_settings(calculator="not_installed_pkg:Calc"))
    assert not lake.exists("trajectory", run="r")
