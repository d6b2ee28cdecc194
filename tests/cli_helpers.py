"""Running the console entry point in-process, as a user would from a shell."""

from __future__ import annotations

import pytest

from hrtemlake.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``hrtemlake ARGS``: the exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
        raise SystemExit(0)
    out = capsys.readouterr()
    return exit_info.value.code or 0, out.out, out.err
