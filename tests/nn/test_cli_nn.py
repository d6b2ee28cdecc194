"""``hrtemlake train``, ``evaluate`` and ``networks`` from the command line (real Prefect flows)."""

from __future__ import annotations

import pytest

pytest.importorskip("keras")

from hrtemlake.lake import Lake
from tests.cli_helpers import run_cli

from .helpers import disc_image_set

pytestmark = pytest.mark.flows
TINY = ["--arch", "msdnet", "--layers", "3", "--filters", "2", "--kernel", "3",
        "--batch-size", "4", "--epochsave", "1"]  # fmt: skip


def test_train_evaluate_and_list_from_the_command_line(prefect_server, lake_path, capsys, tmp_path):
    lake = Lake(lake_path, mode="a")
    disc_image_set(lake, "train", n_models=8, epochs=2, seed=1)
    disc_image_set(lake, "val", n_models=4, epochs=1, seed=2)
    code, out, err = run_cli(capsys, "train", "2", "train", "val", "net", *TINY, "--lake", lake_path)
    assert code == 0, err
    assert "epoch   2: loss" in out and "networks/net: 2 epochs trained" in out
    code, out, err = run_cli(capsys, "train", "3", "train", "val", "net", "--restart", "2",
                             "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert "epoch   3" in out and "networks/net: 1 epochs trained" in out
    code, out, _ = run_cli(capsys, "networks", "ls", "--lake", lake_path)
    assert out.startswith("net: msdnet (") and "Mask ['mask'], 3 epochs" in out
    assert "checkpoints [1, 2, 3]" in out
    code, out, err = run_cli(capsys, "evaluate", "net", "val/discs", "--lake", lake_path)
    assert code == 0, err
    assert "pixel_f1" in out
    figure = tmp_path / "curve.png"
    code, out, _ = run_cli(capsys, "networks", "plot", "net", "--out", str(figure), "--lake", lake_path)
    assert code == 0 and figure.stat().st_size > 1000


@pytest.mark.parametrize("args, message", [
    (["--arch", "resnet"], "--arch: expected one of unet, unetpp, msdnet, regressor, got 'resnet'"),
    (["--adam", "{oops"], "--adam: not JSON"),
    (["--augment", '{"contrast": [2, 1]}'], "contrast"),
])  # fmt: skip
def test_bad_training_options_are_one_line_errors(args, message, lake_path, capsys):
    code, out, err = run_cli(capsys, "train", "2", "train", "val", "net", *args, "--lake", lake_path)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
