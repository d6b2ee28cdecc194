"""MD runs into the lake: GPAW for real, the protocol, units, continuation after a crash."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units

from hrtemlake.errors import LakeError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.md import (
    MDSettings,
    build_system,
    committed_steps,
    export_trajectory,
    load_trajectory,
    run_md,
)

from .conftest import lj_settings


@pytest.mark.slow
def test_gpaw_mos2_cell_gamma_point_three_steps(lake):
    """The CI check of the production path: GPAW LCAO/dzp/PBE at Γ on the periodic cell."""
    settings = MDSettings(calculator="gpaw", calculator_options={"h": 0.3}, relax_steps=0)
    result = run_md(lake, "gpaw-cell", 3, "mos2-cell", settings)
    assert (result.new_steps, result.steps, result.continued) == (3, 3, False)
    run = load_trajectory(lake, "gpaw-cell")
    np.testing.assert_allclose(run.time, [0.0, 0.5, 1.0, 1.5])
    assert np.isfinite(run.potential_energy).all() and np.ptp(run.potential_energy) < 1.0
    assert run.temperature[0] == pytest.approx(500.0)  # the excitation temperature
    # energy is conserved up to the thermostat's small rescaling over 1.5 fs
    total = run.potential_energy + run.kinetic_energy
    assert np.ptp(total) < 0.02
    attrs = lake.group("trajectory", run="gpaw-cell").attrs
    assert attrs["calculator"] == "gpaw" and attrs["system"] == "mos2-cell"
    parameters = attrs["parameters"]
    assert parameters["calculator_options"] == {
        "mode": "lcao", "basis": "dzp", "xc": "PBE", "kpts": {"size": [1, 1, 1], "gamma": True},
        "symmetry": "off", "h": 0.3,
    }  # fmt: skip
    assert parameters["timestep"] == 0.5 and parameters["taut"] == 250.0
    assert check_lake(lake.location) == []


def test_protocol_relax_then_excite_without_drift_or_rotation(lake):
    result = run_md(lake, "lj", 4, "mos2-flake", lj_settings(relax_steps=5, seed=3))
    assert result.relax_steps == 5
    run = load_trajectory(lake, "lj")
    atoms = run.atoms(0)
    assert run.temperature[0] == pytest.approx(500.0)
    momenta = atoms.get_momenta()
    np.testing.assert_allclose(momenta.sum(axis=0), 0.0, atol=1e-10)
    com = atoms.get_center_of_mass()
    angular = np.cross(atoms.positions - com, momenta).sum(axis=0)
    np.testing.assert_allclose(angular, 0.0, atol=1e-9)
    relaxed = build_system("mos2-flake")
    assert np.abs(run.positions[0] - relaxed.positions).max() > 1e-3  # it was relaxed
    # the same seed gives the same run
    run_md(lake, "lj-again", 4, "mos2-flake", lj_settings(relax_steps=5, seed=3))
    np.testing.assert_array_equal(load_trajectory(lake, "lj-again").velocities, run.velocities)


def test_velocities_are_stored_in_angstrom_per_femtosecond(lake):
    run_md(lake, "units", 6, "mos2-flake", lj_settings())
    run = load_trajectory(lake, "units")
    finite_difference = np.diff(run.positions, axis=0) / 0.5  # Å/fs
    midpoint = 0.5 * (run.velocities[1:] + run.velocities[:-1])
    scale = np.abs(midpoint).max()
    assert np.abs(finite_difference - midpoint).max() < 0.05 * scale
    # and the stored step restores ASE's velocities exactly
    np.testing.assert_allclose(run.atoms(3).get_velocities() * units.fs, run.velocities[3])


class _Crash(Exception):
    pass


def test_continued_run_appends_without_repeating_steps(tmp_path):
    straight = Lake(str(tmp_path / "straight.zarr"), mode="a")
    run_md(straight, "r", 8, "mos2-flake", lj_settings(relax_steps=3))

    lake = Lake(str(tmp_path / "crashed.zarr"), mode="a")

    def crash_at_step_5(progress):
        if progress.stage == "md" and progress.step == 5:
            raise _Crash

    with pytest.raises(_Crash):
        run_md(lake, "r", 8, "mos2-flake", lj_settings(relax_steps=3), progress=crash_at_step_5)
    assert committed_steps(lake, "r") == 6  # steps 0..5 were committed before the crash
    seen = []
    result = run_md(lake, "r", 8, "mos2-flake", lj_settings(relax_steps=3),
                    progress=lambda p: seen.append((p.stage, p.step)))  # fmt: skip
    assert result.continued and result.new_steps == 3 and result.relax_steps == 0
    assert seen == [("md", 6), ("md", 7), ("md", 8)]  # no relaxation, no repeated step
    sessions = lake.read("trajectory", "write_session", run="r")
    assert list(sessions) == [1] * 6 + [2] * 3
    a, b = load_trajectory(straight, "r"), load_trajectory(lake, "r")
    np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.velocities, a.velocities, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.time, np.arange(9) * 0.5)
    # extending later continues again; asking for fewer steps does nothing
    assert run_md(lake, "r", 10, "mos2-flake", lj_settings(relax_steps=3)).new_steps == 2
    assert run_md(lake, "r", 4, "mos2-flake", lj_settings(relax_steps=3)).new_steps == 0
    assert committed_steps(lake, "r") == 11
    assert check_lake(lake.location) == []


def test_a_run_keeps_its_parameters(lake):
    run_md(lake, "r", 2, "mos2-flake", lj_settings())
    with pytest.raises(LakeError, match="different parameters.*temperature"):
        run_md(lake, "r", 4, "mos2-flake", lj_settings(temperature=1200.0))
    with pytest.raises(LakeError, match="different parameters"):
        run_md(lake, "r", 4, "mos2-cell", lj_settings())


def test_export_writes_an_ase_trajectory(lake, tmp_path):
    import ase.io

    run_md(lake, "r", 6, "mos2-flake", lj_settings())
    out = tmp_path / "r.traj"
    assert export_trajectory(lake, "md/r", out, every=2) == 4
    images = ase.io.read(out, ":")
    run = load_trajectory(lake, "r")
    assert [a.info.get("step") for a in images] in ([0, 2, 4, 6], [None] * 4)
    np.testing.assert_allclose(images[1].positions, run.positions[2])
    np.testing.assert_allclose(images[1].get_velocities() * units.fs, run.velocities[2])
    assert images[3].get_potential_energy() == pytest.approx(run.potential_energy[6])
    xyz = tmp_path / "r.xyz"
    assert export_trajectory(lake, "r", xyz, start=2, stop=4) == 2
    assert len(ase.io.read(xyz, ":")) == 2
