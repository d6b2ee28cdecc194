"""The deployments every flow is served with."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytestmark = pytest.mark.flows


def test_deployments_declare_every_flow_with_the_lake(tmp_path):
    from hrtemlake.flows.deployments import deployments

    lake = str(tmp_path / "lake.zarr")
    found = {d.name: d for d in deployments(lake=lake, watch=str(tmp_path / "acq"), series="live",
                                            interval=30, analyze=["net"])}  # fmt: skip
    assert {"simulate-dataset", "simulate-images", "md-run", "train-network", "evaluate-network",
            "analyze-series", "ingest-series", "watch-live", "analyze-live"} <= set(found)
    for deployment in found.values():
        assert deployment.parameters["lake"] == lake
        assert deployment.concurrency_limit == 1
        assert deployment.enforce_parameter_schema
    watch = found["watch-live"]
    assert watch.parameters["paths"] == [str(tmp_path / "acq")]
    [schedule] = watch.schedules
    assert schedule.schedule.interval == timedelta(seconds=30)
    assert not found["ingest-series"].schedules
    analysis = found["analyze-live"]
    assert analysis.parameters["networks"] == ["net"] and analysis.parameters["series"] == "live"
    assert analysis.schedules[0].schedule.interval == timedelta(seconds=30)


def test_parameter_schema_comes_from_type_hints(tmp_path):
    from hrtemlake.flows.deployments import deployments

    [simulate] = [d for d in deployments(lake=str(tmp_path / "l.zarr")) if d.name == "simulate-dataset"]
    properties = simulate._parameter_openapi_schema.properties
    assert properties["count"]["type"] == "integer"
    assert properties["dataset"]["type"] == "string"


def _write_frames(folder, start, stop):
    import numpy as np
    import tifffile

    for index in range(start, stop):
        frame = np.random.default_rng(index).poisson(50, (64, 64)).astype("uint16")
        tifffile.imwrite(folder / f"frame{index:03d}.tif", frame)


def _frames_in(lake):
    import zarr

    try:
        return zarr.open_group(str(lake), mode="r")["experiments/live/frame"].shape[0]
    except (KeyError, FileNotFoundError):
        return 0


def _wait_for(predicate, server, seconds):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        assert server.poll() is None, "hrtemlake serve exited early"
        time.sleep(1)
    return False


@pytest.mark.timeout(300)
def test_scheduled_ingest_picks_up_new_frames(tmp_path):
    """`hrtemlake serve --watch` against its own local server: the scheduler runs the ingest."""
    import os
    import subprocess
    import sys

    acquisition, lake = tmp_path / "acq", tmp_path / "lake.zarr"
    acquisition.mkdir()
    _write_frames(acquisition, 0, 3)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1"}  # fmt: skip
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "hrtemlake", "serve", "--watch", str(acquisition), "--interval", "2",
               "--pixel-size", "0.05", "--lake", str(lake)]  # fmt: skip
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _wait_for(lambda: _frames_in(lake) == 3, server, 180), (tmp_path / "serve.log").read_text()
        _write_frames(acquisition, 3, 5)
        assert _wait_for(lambda: _frames_in(lake) == 5, server, 60), (tmp_path / "serve.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    import hrtemlake

    frames = hrtemlake.open_lake(lake)["experiments/live"].to_dataset()
    assert frames.sizes["time"] == 5
    assert float(frames["y"][1] - frames["y"][0]) == pytest.approx(0.05)
