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
