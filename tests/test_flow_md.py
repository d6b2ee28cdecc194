"""The MD flow for real: Prefect, the CLI, a killed run that continues, MD vibrations in exit waves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hrtemlake.flows.md import md_flow  # noqa: F401  (Prefect sets up its logging at import:
from hrtemlake.flows.simulate import simulate_dataset  # outside any test's captured stderr)
from hrtemlake.errors import LakeError
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.md import committed_steps, load_trajectory
from .cli_helpers import run_cli as cli

pytestmark = [pytest.mark.flows, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
LJ = ["--calculator", "lj", "--calc-option", "sigma=2.2", "--calc-option", "epsilon=0.1",
      "--calc-option", "rc=5.0"]  # fmt: skip


def test_md_run_command_and_flow(capsys, caplog, lake_path, tmp_path, prefect_server):
    traj = tmp_path / "lj.traj"
    code, out, err = cli(capsys, "md", "run", "--run", "lj", "--steps", "12", *LJ, "--relax-steps",
                         "3", "--traj", str(traj), "--amplitudes", "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert "md/lj: 12 steps computed, 12 in the run" in out and "element neighbour" in out
    assert "step 12/12  T = " in caplog.text  # progress: steps done and the temperature
    store = Lake(lake_path)
    [record] = store.provenance("trajectory", run="lj")
    assert record["flow_run_id"] and record["parameters"]["calculator"] == "lj"
    assert record["parameters"]["relax_steps"] == 3 and record["seed"] == 0
    assert store.exists("amplitudes", run="lj") and store.exists("edge_vibrations", run="lj")
    import ase.io

    assert len(ase.io.read(traj, ":")) == 13
    # a second command extends the run from its last step
    code, out, err = cli(capsys, "md", "run", "--run", "lj", "--steps", "15", *LJ, "--relax-steps",
                         "3", "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert "md/lj: 3 steps computed, 15 in the run" in out
    assert list(store.read("trajectory", "write_session", run="lj")) == [1] * 13 + [2] * 3
    assert check_lake(lake_path) == []


def _steps_so_far(lake_path: str) -> int:
    """Committed steps of the running MD, 0 while its lake is still being created."""
    try:
        return committed_steps(Lake(lake_path), "slow")
    except LakeError:  # the store's folder exists before its root group is written
        return 0


def test_killed_run_continues_from_its_last_step(lake_path, prefect_server):
    script = Path(sys.executable).parent / "hrtemlake"
    command = [script, "md", "run", "--run", "slow", "--steps", "30", "--calculator",
               "tests.md.slowcalc:SlowLJ", "--calc-option", "sigma=2.2", "--calc-option",
               "epsilon=0.1", "--relax-steps", "0", "--lake", lake_path]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.time() + 120
        done = 0
        while done < 5 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            done = _steps_so_far(lake_path)
        assert done >= 5, "the run made no progress to interrupt"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    first = committed_steps(Lake(lake_path), "slow")
    assert 5 <= first < 31
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"md/slow: {31 - first} steps computed, 30 in the run" in result.stdout
    sessions = Lake(lake_path).read("trajectory", "write_session", run="slow")
    assert list(sessions) == [1] * first + [2] * (31 - first)
    run = load_trajectory(Lake(lake_path), "slow")
    np.testing.assert_allclose(run.time, np.arange(31) * 0.5)
    assert check_lake(lake_path) == []


def test_exit_waves_with_md_vibrations_through_the_simulate_flow(capsys, lake_path, prefect_server):
    from hrtemlake.runtime import task_runner

    code, _, err = cli(capsys, "md", "run", "--run", "lj", "--steps", "10", *LJ, "--relax-steps",
                       "0", "--amplitudes", "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    flow = simulate_dataset.with_options(task_runner=task_runner(workers=1))
    result = flow(dataset="vib", kind="mx2", count=1, seed=3, options={"size": [12.0, 12.0]},
                  energy=50e3, sampling=0.1, slice_thickness=0.5, frozen_phonons=2,
                  vibrations="md/lj", vibration_scale=2.0, lake=lake_path)  # fmt: skip
    assert result == {"models": 1, "exit_waves": 1}
    store = Lake(lake_path)
    parameters = store.group("exitwaves", dataset="vib").attrs["parameters"]
    assert parameters["vibrations"]["run"] == "lj" and parameters["vibration_scale"] == 2.0
    assert parameters["vibrations"]["amplitudes"]["steps"] == [0, 11]
    assert np.isfinite(store.read("exitwaves", "exit_wave", dataset="vib")).all()
    assert check_lake(lake_path) == []
