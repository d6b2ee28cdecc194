"""``hrtemlake md``: clear one-line errors, amplitude tables and exports from the command line."""

from __future__ import annotations

import pytest

from hrtemlake.lake import Lake
from hrtemlake.md import run_md

from .conftest import lj_settings
from ..cli_helpers import run_cli as run




@pytest.mark.parametrize("command", [["md"], ["md", "run"], ["md", "amplitudes"], ["md", "export"]])
def test_help(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "Usage:" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--system", "graphene-flake"], "error: unknown system 'graphene-flake'"),
        (["--temperature", "-20"], "error: temperature must be a finite temperature >= 0 K, got -20.0"),
        (["--calculator", "mace_not_installed:MACECalculator"],
         "error: calculator 'mace_not_installed:MACECalculator' is not installed"),
        (["--calculator", "emt"], "error: calculator 'emt' has no parameters for ['Mo', 'S']"),
        (["--steps", "-1"], "error: --steps must be >= 0"),
        (["--calc-option", "h"], "error: --calc-option expects key=value"),
    ],
)
def test_md_run_bad_input_is_one_line_and_writes_nothing(capsys, lake_path, args, message):
    code, _, err = run(capsys, "md", "run", "--run", "r", "--lake", lake_path, *args)
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and err.startswith(message)
    assert not Lake(lake_path, mode="a").exists("trajectory", run="r")


def test_md_amplitudes_and_export(capsys, lake_path, tmp_path):
    run_md(Lake(lake_path, mode="a"), "lj", 12, "mos2-flake", lj_settings())
    plot = tmp_path / "amplitudes.png"
    code, out, err = run(capsys, "md", "amplitudes", "--run", "lj", "--start", "2", "--cutoff",
                         "Mo=1.6", "--plot", str(plot), "--lake", lake_path)  # fmt: skip
    assert code == 0, err
    assert "md/lj: steps [2, 13)" in out and "element neighbour" in out and plot.is_file()
    tables = Lake(lake_path).group("amplitudes", run="lj").attrs
    assert tables["cutoffs"]["Mo"] == 1.6
    code, _, err = run(capsys, "md", "amplitudes", "--run", "lj", "--lake", lake_path)
    assert code == 2 and "--overwrite" in err
    code, out, _ = run(capsys, "md", "amplitudes", "--run", "lj", "--overwrite", "--lake", lake_path)
    assert code == 0 and "steps [0, 13)" in out
    code, out, _ = run(capsys, "md", "export", "--run", "lj", "--out", str(tmp_path / "lj.traj"),
                       "--every", "4", "--lake", lake_path)  # fmt: skip
    assert code == 0 and "wrote 4 steps of md/lj" in out
    code, _, err = run(capsys, "md", "export", "--run", "nope", "--out", str(tmp_path / "x.traj"),
                       "--lake", lake_path)  # fmt: skip
    assert code == 2 and "no MD run 'md/nope'" in err
