"""`hrtemlake demo` end to end into a temporary lake."""

from __future__ import annotations

import pytest

from hrtemlake.flows.demo import DEMO_DATASETS, DEMO_IMAGES, DEMO_NETWORK, DEMO_RUN, run_demo
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
    # it ends with a network trained on simulated series and the analysis of another one
    from hrtemlake.analysis.results import AnalysisRun
    from hrtemlake.nn import network_info

    info = network_info(lake, DEMO_NETWORK["name"])
    assert info.epochs == DEMO_NETWORK["epochs"] and info.val_metric > 0.8  # pixel F1
    run = AnalysisRun(lake, DEMO_RUN["run"])
    assert run.tracks.sizes["track"] == 3  # the three simulated particles
    assert f"analysis {DEMO_RUN['run']}: 3 tracks; report " in out
