"""`hrtemlake ingest` and `hrtemlake noise fit`: summaries, exit statuses, fragments, plots."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import yaml

from hrtemlake.ingest import noise
from hrtemlake.lake import Lake
from .cli_helpers import run_cli as run




def _vacuum_stack(path, doses=(1.0, 3.0, 9.0), shape=(128, 128)):
    rng = np.random.default_rng(5)
    stack = np.stack([noise.simulate_vacuum(shape, d, 0.3, 2.5, 0.2, rng) for d in doses])
    tifffile.imwrite(path, stack.astype(np.float32), imagej=True, resolution=(20.0, 20.0),
                     metadata={"unit": "nm", "axes": "TYX", "finterval": 0.5})  # fmt: skip
    return stack


@pytest.mark.parametrize("command", [["ingest"], ["noise"], ["noise", "fit"]])
def test_help(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "Usage:" in out


def test_ingest_summary_and_exit_status(capsys, tmp_path, lake_path):
    folder = tmp_path / "acq"
    folder.mkdir()
    _vacuum_stack(folder / "a.tif")
    (folder / "b.tif").write_bytes(b"II*\x00" + b"\x00" * 10)  # corrupt
    code, out, _ = run(capsys, "ingest", str(folder), "--series", "s1", "--lake", lake_path)
    assert code == 1  # something was quarantined
    assert "s1: 3 frame(s) ingested, 1 quarantined from 2 file(s)" in out
    assert "time axis: seconds since the first frame of" in out
    assert f"quarantined: {folder / 'b.tif'}: " in out
    code, out, _ = run(capsys, "ingest", str(folder), "-s", "s1", "--lake", lake_path)
    assert code == 0
    assert "0 frame(s) ingested, 0 quarantined" in out and "3 already in the lake" in out
    assert "1 unchanged in quarantine" in out


def test_ingest_user_errors_are_one_line(capsys, tmp_path, lake_path):
    code, _, err = run(capsys, "ingest", str(tmp_path / "nothing"), "-s", "s1", "--lake", lake_path)
    assert code == 2 and err.startswith("error: no such file or folder") and len(err.splitlines()) == 1
    code, _, err = run(capsys, "ingest", str(tmp_path), "-s", "bad/name", "--lake", lake_path)
    assert code == 2 and "invalid series" in err


def test_noise_fit_fragment_and_plot(capsys, tmp_path, lake_path):
    _vacuum_stack(tmp_path / "v.tif")
    run(capsys, "ingest", str(tmp_path / "v.tif"), "-s", "v", "--lake", lake_path)
    fragment, plot = tmp_path / "noise.yaml", tmp_path / "fit.png"
    code, out, err = run(capsys, "noise", "fit", "-s", "v", "--window", "0", "0", "128", "128",
                         "--fragment", str(fragment), "--plot", str(plot), "--plot-frame", "2",
                         "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert "v: 3 frame(s) fitted (0 failed), 3 in the noise table; window y=0 x=0 128×128" in out
    assert "readout N0 = " in out
    values = yaml.safe_load(fragment.read_text())
    assert values["mtf"] == "parametric" and len(values["mtf_c1"]) == 2 and "readout" in values
    assert plot.stat().st_size > 1000
    assert Lake(lake_path).read("noise", "dose", series="v").shape == (3,)
    code, _, err = run(capsys, "noise", "fit", "-s", "v", "--window", "0", "0", "64", "64", "--lake", lake_path)
    assert code == 2 and "other options" in err
    code, _, err = run(capsys, "noise", "fit", "-s", "absent", "--lake", lake_path)
    assert code == 2 and "error:" in err
