"""Options shared by every command group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

LakeOption = Annotated[
    Optional[str],
    typer.Option(
        "--lake",
        help="Lake location (path or fsspec URL). Default: $HRTEMLAKE_LAKE, else ./lake.zarr.",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    Optional[int],
    typer.Option("--workers", "-n", help="Dask worker processes (default: the machine's cores)."),
]
ClusterOption = Annotated[
    Optional[Path],
    typer.Option(help="Cluster configuration YAML (default: $HRTEMLAKE_CLUSTER, else local)."),
]
DatasetOption = Annotated[str, typer.Option("--dataset", "-d", help="Dataset name.")]


def key_value_options(pairs: list[str], flag: str = "--set") -> dict:
    """``key=value`` command-line options with YAML values, e.g. ``--set size=[20,20]``.

    Keys given with ``--set`` (builder options) may be spelled with dashes.
    """
    import yaml

    from hrtemlake.errors import ParameterError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"{flag} expects key=value, got {pair!r}")
        key = key.strip().replace("-", "_") if flag == "--set" else key.strip()
        options[key] = yaml.safe_load(value)
    return options
