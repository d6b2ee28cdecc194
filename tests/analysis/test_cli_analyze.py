"""``hrtemlake analyze`` from the command line (real Prefect flows, real lake)."""

from __future__ import annotations

import numpy as np
import pytest

from hrtemlake.lake import Lake
from tests.cli_helpers import run_cli

from .synthetic import SCENARIO_SHAPE, render_labels, scenario
from .test_pipeline import PIXEL, particle_frames, write_series

pytestmark = pytest.mark.flows


def test_track_your_own_masks_then_fourier_and_report(prefect_server, lake_path, capsys, tmp_path):
    truth = render_labels(scenario(5), SCENARIO_SHAPE)
    write_series(Lake(lake_path, mode="a"), "discs", particle_frames(truth))
    masks = tmp_path / "masks.npy"
    np.save(masks, truth > 0)
    code, out, err = run_cli(capsys, "analyze", "track", "--masks", str(masks), "--pixel-size",
                             str(PIXEL), "--series", "discs", "--run", "r", "--threshold", "0.5",
                             "--min-separation", "0.5", "-n", "1", "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert "analysis/r: 5 frames of masks" in out and "analysis/r: 6 tracks" in out
    code, out, err = run_cli(capsys, "analyze", "fourier", "--run", "r", "-n", "1", "--lake", lake_path)
    assert code == 0, err
    assert "analysis/r/fourier: 5 frames" in out
    report = tmp_path / "r.html"
    code, out, err = run_cli(capsys, "analyze", "report", "--run", "r", "--out", str(report),
                             "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    html = report.read_text()
    assert "data:image/png;base64," in html and "analysis r" in html


def test_a_whole_run_with_a_network_ends_with_a_report(prefect_server, lake_path, capsys, tmp_path):
    pytest.importorskip("keras")
    from hrtemlake.nn import TrainingOptions, train_network
    from tests.nn.helpers import disc_image_set

    lake = Lake(lake_path, mode="a")
    disc_image_set(lake, "train", n_models=4, epochs=1, seed=1)
    train_network(lake, "net", "train", "train", epochs=1, options=TrainingOptions(
        arch="msdnet", filters=2, layers=3, kernel=3, batch_size=4))  # fmt: skip
    truth = render_labels(scenario(3), SCENARIO_SHAPE)
    write_series(lake, "discs", particle_frames(truth))
    report = tmp_path / "run.html"
    code, out, err = run_cli(capsys, "analyze", "run", "--series", "discs", "--network", "net",
                             "--run", "r", "--window", "64", "--report", str(report), "-n", "1",
                             "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert f"report {report}" in out and report.exists()
    seg = lake.dataset("segmentation", run="r")
    assert seg.probability.shape == (3, 1, *SCENARIO_SHAPE)


def test_analysis_errors_are_one_line(lake_path, capsys, tmp_path):
    code, _, err = run_cli(capsys, "analyze", "track", "--masks", str(tmp_path / "none.npy"),
                           "--pixel-size", "0.5", "--run", "r", "--lake", lake_path)  # fmt: skip
    assert code == 2 and "none.npy: no such file" in err
    np.save(tmp_path / "m.npy", np.zeros((2, 8, 8)))
    code, _, err = run_cli(capsys, "analyze", "track", "--masks", str(tmp_path / "m.npy"),
                           "--run", "r", "--lake", lake_path)  # fmt: skip
    assert code == 2 and "--masks needs --pixel-size" in err
