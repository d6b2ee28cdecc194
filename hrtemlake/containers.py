"""Running an hrtemlake stage inside an Apptainer image, or in-process.

GPU steps (training, segmentation) on a cluster run inside the project's image with the
host's GPU driver (``apptainer exec --nv``), the lake bind-mounted at the same path.  When
no image is configured the same command runs in this process, so a laptop and a cluster
run one code path.  Configure the image with ``$HRTEMLAKE_CONTAINER`` or the cluster
file's ``container`` key.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV_CONTAINER", "Container", "configured_container", "run_hrtemlake", "stream_command"]

ENV_CONTAINER = "HRTEMLAKE_CONTAINER"


@dataclass(frozen=True)
class Container:
    """An Apptainer image to run hrtemlake commands in.

    Parameters
    ----------
    image
        Path of the ``.sif`` image (built from ``containers/hrtemlake-*.def``).
    binds
        Extra host paths to bind (parameter files, raw data).
    gpu
        Pass the host's NVIDIA driver into the container (``--nv``).
    executable
        The Apptainer (or Singularity) executable.
    """

    image: str
    binds: tuple[str, ...] = ()
    gpu: bool = True
    executable: str = "apptainer"

    def command(self, args: Sequence[str], lake: str | None = None) -> list[str]:
        """The command line that runs ``hrtemlake ARGS`` in the image."""
        command = [self.executable, "exec"]
        if self.gpu:
            command.append("--nv")
        for path in (*_lake_binds(lake), *self.binds):
            command += ["--bind", path]
        return [*command, self.image, "hrtemlake", *args]


def _lake_binds(lake: str | None) -> list[str]:
    """A local lake's directory, bound at the same path so the lake path stays valid."""
    if not lake or "://" in lake and not lake.startswith("file://"):
        return []
    parent = Path(lake.removeprefix("file://")).expanduser().resolve().parent
    return [f"{parent}:{parent}"]


def configured_container(image: str | None = None, gpu: bool = True) -> Container | None:
    """The container given, else the one in ``$HRTEMLAKE_CONTAINER``, else None (in-process)."""
    image = image or os.environ.get(ENV_CONTAINER)
    return Container(image=image, gpu=gpu) if image else None


def stream_command(command: Sequence[str], log: Callable[[str], object] = print) -> int:
    """Run ``command``, passing each line it prints to ``log`` as it comes; the exit status."""
    with subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log(line.rstrip("\n"))
    return proc.returncode


def run_hrtemlake(
    args: Sequence[str],
    lake: str | None = None,
    container: Container | None = None,
    log: Callable[[str], object] = print,
) -> int:
    """Run ``hrtemlake ARGS`` in ``container`` (streaming its output to ``log``) or in-process.

    Returns the command's exit status.
    """
    if container is not None:
        return stream_command(container.command(args, lake), log)
    from hrtemlake.cli import main

    try:
        main(list(args))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
