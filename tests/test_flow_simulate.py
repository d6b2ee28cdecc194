"""The simulate flow for real: Prefect + Dask LocalCluster, worker-count independence, resume."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake

pytestmark = [pytest.mark.flows, pytest.mark.slow]

FLOW_ARGS = {"kind": "mx2", "count": 4, "seed": 9, "options": {"size": [16.0, 16.0]},
             "energy": 50e3, "sampling": 0.1, "slice_thickness": 0.5}  # fmt: skip


def _run(lake_path: str, workers: int, **extra) -> dict:
    from hrtemlake.flows.simulate import simulate_dataset
    from hrtemlake.runtime import task_runner

    flow = simulate_dataset.with_options(task_runner=task_runner(workers=workers))
    return flow(dataset="train", lake=lake_path, **FLOW_ARGS, **extra)


def test_same_dataset_with_one_and_two_workers(tmp_path, prefect_server):
    one, two = str(tmp_path / "one.zarr"), str(tmp_path / "two.zarr")
    assert _run(one, workers=1) == {"models": 4, "exit_waves": 4}
    assert _run(two, workers=2) == {"models": 4, "exit_waves": 4}
    for kind in ("structures", "sites", "exitwaves"):
        a = Lake(one).dataset(kind, dataset="train").drop_vars("write_session").load()
        b = Lake(two).dataset(kind, dataset="train").drop_vars("write_session").load()
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=f"{kind}/{name}")
    [record] = Lake(two).provenance("exitwaves", dataset="train")
    assert record["flow_run_id"] and record["parameters"]["energy"] == 50e3
    assert check_lake(two) == []
    assert _run(two, workers=2) == {"models": 0, "exit_waves": 0}  # rerun: nothing left to do
    # the exit waves without the support, added later: these flakes have none, so the same bits
    assert _run(two, workers=2, particle_waves=True) == {"models": 0, "exit_waves": 4}
    lake = Lake(two)
    np.testing.assert_array_equal(lake.read("particle_exitwaves", "exit_wave", dataset="train"),
                                  lake.read("exitwaves", "exit_wave", dataset="train"))  # fmt: skip
    assert check_lake(two) == []


def test_killed_flow_resumes_with_only_the_missing_models(tmp_path, prefect_server):
    lake_path = str(tmp_path / "lake.zarr")
    script = Path(sys.executable).parent / "hrtemlake"
    subprocess.run(
        [script, "simulate", "structures", "-d", "train", "--count", "12", "--seed", "9",
         "--set", "size=[16, 16]", "--lake", lake_path], check=True, capture_output=True,
    )  # fmt: skip
    command = [script, "simulate", "exitwaves", "-d", "train", "--energy", "50000",
               "--sampling", "0.1", "--slice-thickness", "0.5", "-n", "1", "--lake", lake_path]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        done = 0
        while done < 2 and time.time() < deadline:
            time.sleep(0.5)
            if Lake(lake_path).exists("exitwaves", dataset="train"):
                done = int((Lake(lake_path).read("exitwaves", "write_session", dataset="train") > 0).sum())
        assert done >= 2, "the flow made no progress to interrupt"
    finally:
        import os

        os.killpg(proc.pid, signal.SIGKILL)  # the flow and its Dask workers
        proc.wait(timeout=30)
    first = Lake(lake_path).read("exitwaves", "write_session", dataset="train")
    assert 0 < (first > 0).sum() < 12

    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    sessions = Lake(lake_path).read("exitwaves", "write_session", dataset="train")
    assert (sessions > 0).all()
    assert (sessions[first > 0] == 1).all(), "models finished before the kill were recomputed"
    assert f"{int((first == 0).sum())} exit waves computed" in result.stdout
    assert check_lake(lake_path) == []
