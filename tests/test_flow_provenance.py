"""A real Prefect flow run (embedded server) records its flow-run id in the lake."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.lake import Lake

from .lake.helpers import exit_waves, exitwave_writer

pytestmark = [pytest.mark.flows, pytest.mark.slow]


def test_flow_run_id_in_provenance(lake_path, prefect_server):
    from prefect import flow, task
    from prefect.runtime import flow_run

    @task
    def write_item(writer, i: int) -> None:
        writer.write(i, {"exit_wave": exit_waves(i, 1)})

    @flow(name="provenance-probe")
    def probe(path: str) -> str:
        writer = exitwave_writer(Lake(path, mode="a"), n_items=2, parameters={"probe": True}, seed=11)
        for future in [write_item.submit(writer, i) for i in range(2)]:
            future.result()
        return str(flow_run.id)

    run_id = probe(lake_path)
    [record] = Lake(lake_path).provenance("exitwaves", dataset="train")
    assert record["flow_run_id"] == run_id
    assert record["flow_run_name"]
    assert record["seed"] == 11
    assert record["parameters"] == {"probe": True}
    assert record["packages"]["zarr"].startswith("3.")
    assert record["packages"]["prefect"]
    assert record["time_utc"].endswith("+00:00")
    assert record["code_version"].startswith("0.")
    ds = Lake(lake_path).dataset("exitwaves", dataset="train")
    assert (ds.write_session.values == record["session"]).all()
    np.testing.assert_array_equal(ds.exit_wave.values, exit_waves(0, 2))


def test_library_write_outside_prefect_has_no_run_id(lake_path):
    exitwave_writer(Lake(lake_path, mode="a"))
    [record] = Lake(lake_path).provenance("exitwaves", dataset="train")
    assert "flow_run_id" not in record
