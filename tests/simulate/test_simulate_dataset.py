"""Simulated datasets in a real lake: structures, sites and exit waves (issue: exit waves)."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.errors import ParameterError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.simulate.dataset import (
    compute_exitwave_block,
    exitwave_writer,
    load_atoms,
    missing_exitwave_blocks,
    model_rng,
    simulate_structures,
)
from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave

SMALL_FLAKE = {"size": (16.0, 16.0)}
SETTINGS = ExitWaveSettings(energy=50e3, sampling=0.1, slice_thickness=0.5)


@pytest.fixture
def lake(lake_path) -> Lake:
    return Lake(lake_path, mode="a")


def test_structures_and_sites_round_trip(lake):
    from hrtemlake.models import build_model, find_sites

    simulate_structures(lake, "train", "mx2", 3, seed=5, options=SMALL_FLAKE)
    for i, atoms in enumerate(load_atoms(lake, "train", range(3))):
        expected = build_model("mx2", model_rng(5, i), **SMALL_FLAKE)
        np.testing.assert_array_equal(atoms.numbers, expected.numbers)
        np.testing.assert_allclose(atoms.positions, expected.positions, atol=1e-5)
        np.testing.assert_allclose(atoms.cell.array, expected.cell.array)
    sites = lake.dataset("sites", dataset="train").load()
    assert sites.attrs["class_names"] == ["Mo", "2S", "1S"]
    last = find_sites(build_model("mx2", model_rng(5, 2), **SMALL_FLAKE))
    np.testing.assert_allclose(sites.site_position[-len(last.classes):], last.positions, atol=1e-5)
    assert check_lake(lake.location) == []


def test_structures_resume_and_extend_without_duplicates(lake):
    assert simulate_structures(lake, "train", "mx2", 2, seed=5, options=SMALL_FLAKE) == 2
    assert simulate_structures(lake, "train", "mx2", 2, seed=5, options=SMALL_FLAKE) == 0
    assert simulate_structures(lake, "train", "mx2", 4, seed=5, options=SMALL_FLAKE) == 2
    ds = lake.dataset("structures", dataset="train")
    assert ds.sizes["model"] == 4
    assert list(ds.write_session.values) == [1, 1, 3, 3]


def test_stored_exit_wave_equals_direct_abtem(lake):
    import abtem

    simulate_structures(lake, "train", "mx2", 1, seed=3, options=SMALL_FLAKE)
    writer = exitwave_writer(lake, "train", SETTINGS)
    compute_exitwave_block(writer, "train", range(0, 1), SETTINGS)
    stored = lake.read("exitwaves", "exit_wave", dataset="train")[0]
    [atoms] = load_atoms(lake, "train", [0])
    potential = abtem.Potential(atoms, sampling=0.1, slice_thickness=0.5, parametrization="lobato")
    direct = abtem.PlaneWave(energy=50e3).multislice(potential).compute().array.T
    assert stored.shape == direct.shape
    assert np.abs(stored - direct).max() < 1e-4
    ds = lake.dataset("exitwaves", dataset="train")
    assert float(ds.energy) == 50e3 and float(ds.sampling) == 0.1
    np.testing.assert_allclose(ds.x.values[:3], [0, 0.1, 0.2])


def test_debye_waller_smearing_damps_high_frequencies(lake):
    simulate_structures(lake, "train", "mx2", 1, seed=3, options=SMALL_FLAKE)
    [atoms] = load_atoms(lake, "train", [0])
    sharp = compute_exit_wave(atoms, SETTINGS)
    smeared = compute_exit_wave(atoms, ExitWaveSettings(**{**SETTINGS.to_dict(), "debye_waller": 0.1}))
    power = lambda w: np.abs(np.fft.fft2(w - w.mean())) ** 2  # noqa: E731
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(sharp.shape[1]), np.fft.fftfreq(sharp.shape[0])))
    high = k > 0.3
    assert power(smeared)[high].sum() < 0.8 * power(sharp)[high].sum()


def test_missing_blocks_resume(lake):
    simulate_structures(lake, "train", "mx2", 3, seed=3, options=SMALL_FLAKE)
    writer = exitwave_writer(lake, "train", SETTINGS)
    compute_exitwave_block(writer, "train", range(1, 2), SETTINGS)
    assert [list(b) for b in missing_exitwave_blocks(writer)] == [[0], [2]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": -1}, "--count must be >= 0"),
        ({"kind": "graphite"}, "unknown model kind 'graphite'"),
        ({"kind": "nanoparticle", "options": {"element": "Xx"}}, "element 'Xx'"),
        ({"kind": "nanoparticle", "options": {"max_tilt": 95}}, "max_tilt"),
        ({"kind": "nanoparticle", "options": {"cell": (8.0, 8.0, 8.0)}}, "too small"),
    ],
)
def test_bad_arguments_fail_before_any_write(lake, kwargs, message):
    args = {"kind": "mx2", "count": 2, "options": {}} | kwargs
    with pytest.raises(ParameterError, match=message):
        simulate_structures(lake, "train", args["kind"], args["count"], seed=0, options=args["options"])
    assert not lake.exists("structures", dataset="train")


def test_bad_exit_wave_settings():
    with pytest.raises(ParameterError, match="sampling = -0.1"):
        ExitWaveSettings(sampling=-0.1)
    with pytest.raises(ParameterError, match="frozen_phonons needs phonon_sigma"):
        ExitWaveSettings(frozen_phonons=2)


@pytest.mark.parametrize(("missing", "expected"), [(0, 1), (15, 1), (36, 2), (96, 6), (10_000, 8)])
def test_default_models_per_task(missing, expected):
    from hrtemlake.simulate.dataset import models_per_task

    assert models_per_task(missing) == expected
