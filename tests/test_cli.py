"""The console script: --help everywhere, --version, lake ls/check/schema, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from hrtemlake import __version__
from hrtemlake.lake import Lake

from .lake.helpers import exit_waves, exitwave_writer
from .cli_helpers import run_cli as run

CATALOG_README = Path(__file__).resolve().parents[1] / "catalog" / "README.md"




def test_console_script_version():
    script = Path(sys.executable).parent / "hrtemlake"
    out = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"hrtemlake {__version__}"
    module = subprocess.run([sys.executable, "-m", "hrtemlake", "--help"], capture_output=True, text=True)
    assert module.returncode == 0 and "lake" in module.stdout


@pytest.mark.parametrize("command", [[], ["lake"], ["lake", "ls"], ["lake", "check"], ["lake", "schema"], ["demo"]])
def test_help_everywhere(capsys, command):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0 and "Usage:" in out


def test_lake_ls_and_check(capsys, lake_path):
    writer = exitwave_writer(Lake(lake_path, mode="a"), n_items=3)
    writer.write(0, {"exit_wave": exit_waves(0, 1)})
    code, out, _ = run(capsys, "lake", "ls", "--lake", lake_path)
    assert code == 0
    assert "exitwaves/  [exitwaves]  1/3 models complete" in out
    assert "exit_wave        (model: 3, y: 8, x: 6)  complex64  1.2 kB" in out
    code, out, _ = run(capsys, "lake", "check", "--lake", lake_path)
    assert code == 0 and "0 error(s), 1 warning(s)" in out


def test_lake_check_fails_on_errors(capsys, lake_path):
    exitwave_writer(Lake(lake_path, mode="a"))
    zarr.open_group(lake_path, mode="r+").create_group("simulations/train/photos")
    code, out, _ = run(capsys, "lake", "check", "--lake", lake_path)
    assert code == 1 and "photos: group not declared" in out


def test_user_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "lake", "ls", "--lake", str(tmp_path / "none.zarr"))
    assert code == 2
    assert err.strip().startswith("error: no lake at") and len(err.strip().splitlines()) == 1


def test_catalog_readme_is_generated_from_the_catalog(capsys):
    code, out, _ = run(capsys, "lake", "schema")
    assert code == 0 and "## `simulations/{dataset}/exitwaves` (exitwaves)" in out
    assert CATALOG_README.read_text(encoding="utf-8") == out, (
        "catalog/README.md is stale: run `hrtemlake lake schema > catalog/README.md`"
    )
