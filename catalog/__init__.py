"""The lake's declared schema (``lake.yaml``), loaded as plain data.

The validation logic lives in :mod:`hrtemlake.lake.schema`; this package only ships the
declaration so that it has one home, next to its rendered documentation (``README.md``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["load_declaration"]


@cache
def load_declaration() -> dict[str, Any]:
    """Return the parsed ``lake.yaml`` declaration."""
    text = resources.files(__name__).joinpath("lake.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)
