"""The image-epoch flow for real: Prefect + Dask, worker-count independence, resume, CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hrtemlake.lake import Lake
from hrtemlake.lake.check import check_lake
from hrtemlake.simulate import ImageParameters

from .simulate.helpers import make_waves_lake

pytestmark = [pytest.mark.flows, pytest.mark.slow]

#: Tiny 64² images of 16 Å flakes (exit waves 160² at 0.1 Å): 0.25 Å pixels, no crop.
PARAMS = ImageParameters(label="Disk", num_classes=4, null_class=True, image_size=(64, 64),
                         sampling=(0.25, 0.25), image_epochs=2, multifocus=(3, 50.0, 1.0),
                         seed=3, debug=2)  # fmt: skip


@pytest.fixture(scope="module")
def waves_lake(tmp_path_factory) -> str:
    return make_waves_lake(str(tmp_path_factory.mktemp("flow-images") / "waves.zarr"))


def _copy(waves_lake: str, target: Path) -> str:
    shutil.copytree(waves_lake, target)
    return str(target)


def _run(lake_path: str, workers: int, **kwargs) -> dict:
    from hrtemlake.flows.images import simulate_images
    from hrtemlake.runtime import task_runner

    flow = simulate_images.with_options(task_runner=task_runner(workers=workers))
    return flow(dataset="train", params=PARAMS.to_dict(), imageset="disk", lake=lake_path, **kwargs)


def _images(lake_path: str):
    return Lake(lake_path).dataset("images", dataset="train", imageset="disk").drop_vars(
        "write_session").load()  # fmt: skip


def test_same_images_with_one_and_two_workers_and_resume(waves_lake, tmp_path, prefect_server):
    one, two = _copy(waves_lake, tmp_path / "one.zarr"), _copy(waves_lake, tmp_path / "two.zarr")
    assert _run(one, workers=1) == {"models": 3, "images": 18, "previews": 2}
    # resume: model 1 is already there, the flow makes only models 0 and 2
    from hrtemlake.simulate.images import compute_image_block, image_writer

    writer = image_writer(Lake(two, mode="a"), "train", "disk", PARAMS, 2)
    compute_image_block(writer, "train", range(1, 2), PARAMS, 2)
    assert _run(two, workers=2, models_per_task=2) == {"models": 2, "images": 12, "previews": 2}
    a, b = _images(one), _images(two)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert a.image.shape == (3, 2, 3, 64, 64)
    records = Lake(two).provenance("images", dataset="train", imageset="disk")
    assert records[-1]["flow_run_id"] and records[-1]["seed"] == 3
    sessions = Lake(two).read("images", "write_session", dataset="train", imageset="disk")
    assert list(sessions) == [2, 1, 2]
    assert check_lake(two) == []
    assert len(list((tmp_path / "two.debug" / "train" / "disk").glob("*.png"))) == 2
    assert _run(two, workers=2)["models"] == 0  # rerun: nothing left to do


def test_cli_makes_one_epoch_of_test_data(waves_lake, tmp_path, prefect_server):
    lake_path = _copy(waves_lake, tmp_path / "lake.zarr")
    params = PARAMS.replace(debug=None).dump(tmp_path / "val.yaml")
    script = Path(sys.executable).parent / "hrtemlake"
    result = subprocess.run(
        [script, "simulate", "images", "-d", "train", "-p", params, "--test", "-n", "1",
         "--lake", lake_path], capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "train: 3 models, 9 images made, 0 previews" in result.stdout
    ds = Lake(lake_path).dataset("images", dataset="train", imageset="val")
    assert ds.sizes["epoch"] == 1 and ds.sizes["focus"] == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--test", "--epochs", "3"], "--test makes one image epoch"),
        (["--epochs", "0"], "--epochs must be a positive integer"),
        (["--device", "tpu"], "--device must be cpu or gpu"),
    ],
)
def test_cli_user_errors(tmp_path, capsys, extra, message):
    from hrtemlake.cli import main

    params = PARAMS.dump(tmp_path / "p.yaml")
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "images", "-d", "train", "-p", str(params), "--lake",
              str(tmp_path / "lake.zarr"), *extra])  # fmt: skip
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "lake.zarr").exists()


def test_cli_missing_parameter_file(tmp_path, capsys):
    from hrtemlake.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "images", "-d", "train", "-p", str(tmp_path / "nope.yaml")])
    assert exit_.value.code == 2 and "does not exist" in capsys.readouterr().err
