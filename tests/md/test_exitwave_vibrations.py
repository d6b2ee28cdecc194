"""Exit waves averaged over configurations perturbed with an MD run's amplitude tables."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.errors import ParameterError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.md import perturbed_configurations, run_md, write_vibration_tables
from hrtemlake.simulate.dataset import (
    compute_exitwave_block,
    exitwave_writer,
    load_atoms,
    model_rng,
    simulate_structures,
)
from hrtemlake.simulate.exitwaves import ExitWaveSettings, compute_exit_wave

from .conftest import lj_settings
from .test_vibrations import TABLES

SMALL = {"energy": 50e3, "sampling": 0.1, "slice_thickness": 0.5}
FLAKE = {"size": (12.0, 12.0), "max_tilt": 0.0}


def test_settings_carry_the_tables_as_plain_data():
    settings = ExitWaveSettings(**SMALL, frozen_phonons=2, vibrations=TABLES.to_dict(), vibration_scale=1.5)
    assert settings.vibrations == TABLES
    as_dict = settings.to_dict()
    assert as_dict["vibrations"]["run"] == "mos2-300K" and as_dict["vibration_scale"] == 1.5
    assert ExitWaveSettings(**as_dict) == settings
    # datasets made without vibrations keep the parameters they had before the feature
    assert "vibrations" not in ExitWaveSettings(**SMALL).to_dict()
    with pytest.raises(ParameterError, match="vibrations need frozen_phonons"):
        ExitWaveSettings(**SMALL, vibrations=TABLES)
    with pytest.raises(ParameterError, match="vibration_scale"):
        ExitWaveSettings(**SMALL, frozen_phonons=2, vibrations=TABLES, vibration_scale=-1)
    with pytest.raises(ParameterError, match="not an amplitude table"):
        ExitWaveSettings(**SMALL, frozen_phonons=2, vibrations={"run": "x"})


def test_exit_wave_is_the_mean_over_perturbed_configurations():
    import abtem

    from hrtemlake.models import mx2_flake
    from hrtemlake.simulate.exitwaves import ABTEM_CONFIG

    atoms = mx2_flake(np.random.default_rng(1), **FLAKE)
    settings = ExitWaveSettings(**SMALL, frozen_phonons=3, vibrations=TABLES, vibration_scale=2.0)
    wave = compute_exit_wave(atoms, settings, seed=42)
    assert wave.dtype == np.complex64 and wave.shape == (120, 120)
    np.testing.assert_array_equal(wave, compute_exit_wave(atoms, settings, seed=42))
    configurations = perturbed_configurations(atoms, TABLES, 3, np.random.default_rng(42), scale=2.0)
    with abtem.config.set(ABTEM_CONFIG):
        waves = []
        for configuration in configurations:
            potential = abtem.Potential(configuration, sampling=0.1, slice_thickness=0.5,
                                        parametrization="lobato", projection="infinite")  # fmt: skip
            waves.append(abtem.PlaneWave(energy=50e3).multislice(potential).compute().array)
    expected = np.mean(waves, axis=0).T
    assert np.abs(wave - expected).max() < 1e-4
    static = compute_exit_wave(atoms, ExitWaveSettings(**SMALL))
    assert np.abs(wave - static).max() > 1e-2


def test_dataset_exit_waves_with_an_md_runs_tables(lake_path):
    lake = Lake(lake_path, mode="a")
    run_md(lake, "lj", 10, "mos2-flake", lj_settings())
    tables = write_vibration_tables(lake, "lj")
    simulate_structures(lake, "train", "mx2", 2, seed=4, options=dict(FLAKE))
    settings = ExitWaveSettings(**SMALL, frozen_phonons=2, vibrations=tables, vibration_scale=3.0)
    writer = exitwave_writer(lake, "train", settings)
    compute_exitwave_block(writer, "train", range(0, 2), settings, seed=4)
    stored = lake.read("exitwaves", "exit_wave", dataset="train")
    [atoms] = load_atoms(lake, "train", [1])
    direct = compute_exit_wave(atoms, settings, seed=int(model_rng(4, 1).integers(2**31)))
    np.testing.assert_array_equal(stored[1], direct)
    parameters = lake.group("exitwaves", dataset="train").attrs["parameters"]
    assert parameters["vibrations"]["run"] == "lj" and parameters["vibration_scale"] == 3.0
    # reopening with the same tables is the same dataset (JSON round trip of the table)
    assert exitwave_writer(lake, "train", ExitWaveSettings(**parameters)).n_items == 2
    assert check_lake(lake_path) == []
