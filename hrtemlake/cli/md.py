"""``hrtemlake md``: molecular dynamics and vibrational amplitudes."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app (none yet)."""
