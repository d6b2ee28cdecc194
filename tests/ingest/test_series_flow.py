"""The ingest flow for real (Prefect): ingest, fit noise, rerun appends nothing."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from hrtemlake.ingest import noise
from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake

pytestmark = [pytest.mark.flows, pytest.mark.slow]


def test_flow_ingests_fits_and_is_idempotent(tmp_path, lake_path, prefect_server):
    from hrtemlake.flows.ingest import ingest_flow

    rng = np.random.default_rng(2)
    stack = np.stack([noise.simulate_vacuum((128, 128), d, 0.3, 2.5, 0.2, rng) for d in (2.0, 6.0)])
    tifffile.imwrite(tmp_path / "v.tif", stack.astype(np.float32), imagej=True,
                     resolution=(20.0, 20.0), metadata={"unit": "nm", "axes": "TYX"})  # fmt: skip
    (tmp_path / "bad.dm4").write_text("not a DM file")
    result = ingest_flow(paths=[str(tmp_path)], series="f", lake=lake_path, fit_noise=True,
                         window=[0, 0, 128, 128])  # fmt: skip
    assert result == {"frames": 2, "quarantined": 1, "fitted": 2}
    assert Lake(lake_path).read("noise", "c0", series="f") == pytest.approx([0.3, 0.3], rel=0.15)
    [record] = Lake(lake_path).provenance("frames", series="f")
    assert record["flow_run_id"]
    again = ingest_flow(paths=[str(tmp_path)], series="f", lake=lake_path, fit_noise=True,
                        window=[0, 0, 128, 128])  # fmt: skip
    assert again == {"frames": 0, "quarantined": 0, "fitted": 0}
    assert check_lake(lake_path) == []
