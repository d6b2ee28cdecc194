"""`hrtemlake demo` end to end into a temporary lake."""

from __future__ import annotations

import pytest

from hrtemlake.flows.demo import DEMO_DATASETS, DEMO_IMAGES, run_demo
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake

pytestmark = [pytest.mark.flows, pytest.mark.slow]


def test_demo_builds_every_dataset_and_a_valid_lake(lake_path, prefect_server, capsys):
    run_demo(lake=lake_path, workers=2)
    out = capsys.readouterr().out
    assert "lake check: 0 error(s)" in out
    lake = Lake(lake_path)
    for spec in DEMO_DATASETS:
        waves = lake.dataset("exitwaves", dataset=spec["dataset"])
        assert waves.sizes["model"] == spec["count"]
        assert (waves.write_session.values > 0).all()
    images = lake.dataset("images", dataset="demo-mx2", imageset=DEMO_IMAGES["imageset"])
    assert images.image.shape == (4, 2, 3, 128, 128)  # models, epochs, focal series, y, x
    assert images.attrs["channel_names"][:3] == ["Mo", "2S", "1S"]
    assert (images.write_session.values > 0).all()
    assert check_lake(lake_path) == []
