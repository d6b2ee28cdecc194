"""The deployments every flow is served with."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytestmark = pytest.mark.flows


def test_deployments_declare_every_flow_with_the_lake(tmp_path):
    from hrtemlake.flows.deployments import deployments

    lake = str(tmp_path / "lake.zarr")
    found = {d.name: d for d in deployments(lake=lake, watch=str(tmp_path / "acq"), series="live", interval=30)}
    assert {"simulate-dataset", "simulate-images", "md-run", "train-network", "evaluate-network",
            "analyze-series", "ingest-series", "watch-live"} <= set(found)
    for deployment in found.values():
        assert deployment.parameters["lake"] == lake
        assert deployment.concurrency_limit == 1
        assert deployment.enforce_parameter_schema
    watch = found["watch-live"]
    assert watch.parameters["paths"] == [str(tmp_path / "acq")]
    [schedule] = watch.schedules
    assert schedule.schedule.interval == timedelta(seconds=30)
    assert not found["ingest-series"].schedules


def test_parameter_schema_comes_from_type_hints(tmp_path):
    from hrtemlake.flows.deployments import deployments

    [simulate] = [d for d in deployments(lake=str(tmp_path / "l.zarr")) if d.name == "simulate-dataset"]
    properties = simulate._parameter_openapi_schema.properties
    assert properties["count"]["type"] == "integer"
    assert properties["dataset"]["type"] == "string"
