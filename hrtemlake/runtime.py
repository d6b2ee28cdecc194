"""Where flows run: the Prefect API they report to and the Dask cluster their tasks use.

Defaults need no set-up: with no ``PREFECT_API_URL`` a local temporary Prefect server is
started once and shared by the flow and all its Dask workers (Prefect's embedded mode), and
tasks run on a Dask ``LocalCluster``.  Point ``PREFECT_API_URL`` at a Prefect server to
record runs there, and ``HRTEMLAKE_CLUSTER`` (or ``--cluster``) at a YAML file to run the
tasks on a batch system through dask-jobqueue::

    # cluster.yaml
    class: dask_jobqueue.SLURMCluster   # or PBSCluster, or distributed.LocalCluster
    kwargs: {cores: 16, memory: 64GB, walltime: "02:00:00", queue: gpu}
    scale: 4                            # jobs (or workers for LocalCluster)
    gpus: 1                             # GPUs per job (optional)
    container: /path/hrtemlake-gpu.sif  # workers run inside this Apptainer image (optional)
    binds: [/data]                      # extra paths bound into the container (optional)

``hrtemlake cluster script --cluster cluster.yaml`` prints the job script it submits.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from hrtemlake.errors import ParameterError

__all__ = ["prefect_api", "prefect_server", "task_runner", "load_cluster_config", "ENV_CLUSTER", "default_workers"]

ENV_CLUSTER = "HRTEMLAKE_CLUSTER"
_CLUSTER_KEYS = {"class", "kwargs", "scale", "adapt", "gpus", "container", "binds"}


def default_workers() -> int:
    """Local Dask workers by default: the machine's cores (at most 8)."""
    return max(1, min(os.cpu_count() or 1, 8))


@contextlib.contextmanager
def prefect_api(startup_timeout: int = 60) -> Iterator[str | None]:
    """Ensure flows in this block (and Dask workers it spawns) have a Prefect API.

    Uses ``$PREFECT_API_URL`` when set; otherwise starts one temporary local server for the
    whole block, instead of letting the flow and every worker process start their own.
    Yields the API URL.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if url:
        yield url
        return
    from prefect.server.api.server import SubprocessASGIServer

    # the temporary server inherits the environment; it has no network to report usage to
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    server = SubprocessASGIServer()
    server.start(timeout=startup_timeout)
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield server.api_url
            _drain_prefect_workers()
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


@contextlib.contextmanager
def prefect_server(port: int | None = None, scheduler_seconds: float = 10.0, startup_timeout: float = 120.0):
    """A full local Prefect server (with its scheduler) for this block, unless one is set.

    Scheduled deployments need the server's scheduler service, which the temporary server
    of :func:`prefect_api` does not run.  With ``$PREFECT_API_URL`` set, that server is used.
    """
    import socket
    import subprocess
    import sys
    import time

    import httpx

    url = os.environ.get("PREFECT_API_URL")
    if url:
        yield url
        return
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": str(scheduler_seconds),
           "PREFECT_UI_ENABLED": "false", **os.environ}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local Prefect server did not start on port {port}")
            time.sleep(0.5)
        os.environ["PREFECT_API_URL"] = url
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.terminate()
        server.wait(timeout=30)


def _drain_prefect_workers() -> None:
    """Send buffered logs and events while the server is still up (as Prefect's harness does)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.drain_all(), EventsWorker.drain_all()):
            if inspect.isawaitable(result):
                await result

    try:
        run_coro_as_sync(drain())
    except RuntimeError:  # nothing was started
        pass


def load_cluster_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read a cluster configuration (``--cluster``, else ``$HRTEMLAKE_CLUSTER``, else local)."""
    path = path or os.environ.get(ENV_CLUSTER)
    if not path:
        return {"class": "distributed.LocalCluster", "kwargs": {}, "scale": None}
    file = Path(path)
    if not file.is_file():
        raise ParameterError(f"cluster configuration {str(file)!r} does not exist")
    config = yaml.safe_load(file.read_text()) or {}
    unknown = sorted(set(config) - _CLUSTER_KEYS)
    if unknown or "class" not in config:
        raise ParameterError(
            f"{file}: expected keys {sorted(_CLUSTER_KEYS)} ('class' required); got {sorted(config)}"
        )
    config.setdefault("kwargs", {})
    return config


def cluster_kwargs(config: dict[str, Any], lake: str | None = None) -> dict[str, Any]:
    """Keyword arguments for a jobqueue cluster class: GPUs and the container folded in."""
    kwargs = dict(config.get("kwargs", {}))
    gpus = int(config.get("gpus") or 0)
    directives = list(kwargs.get("job_extra_directives", []))
    if gpus and "SLURM" in config["class"]:
        directives.append(f"--gres=gpu:{gpus}")
    elif gpus and "PBS" in config["class"]:
        directives.append(f"-l ngpus={gpus}")
    if directives:
        kwargs["job_extra_directives"] = directives
    if config.get("container"):
        from hrtemlake.containers import Container

        image = Container(str(config["container"]), tuple(config.get("binds", ())), gpu=gpus > 0)
        # the worker command is `python -m distributed.cli.dask_worker ...`: run that python in the image
        kwargs["python"] = " ".join(image.command([], lake)[:-1]) + " python"
    return kwargs


def job_script(cluster: str | os.PathLike | None = None, lake: str | None = None) -> str:
    """The batch job script the configured jobqueue cluster would submit (nothing is submitted)."""
    from importlib import import_module

    config = load_cluster_config(cluster)
    if config["class"] == "distributed.LocalCluster":
        raise ParameterError("a LocalCluster submits no job script; give a dask_jobqueue cluster file")
    module, _, name = config["class"].rpartition(".")
    cls = getattr(import_module(module), name)
    kwargs = {"scheduler_options": {"dashboard_address": None}, **cluster_kwargs(config, lake)}
    with cls(**kwargs) as batch_cluster:
        return batch_cluster.job_script()


def task_runner(
    workers: int | None = None, cluster: str | os.PathLike | None = None, lake: str | None = None
):
    """A :class:`prefect_dask.DaskTaskRunner` for the configured cluster.

    Parameters
    ----------
    workers
        Local worker processes (one thread each); default :func:`default_workers`.
        For a jobqueue cluster, the number of jobs (overrides ``scale``).
    cluster
        Cluster configuration file (see the module docstring).
    lake
        The lake the flow writes, bound into the workers' container if one is configured.
    """
    from prefect_dask import DaskTaskRunner

    config = load_cluster_config(cluster)
    kwargs = cluster_kwargs(config, lake)
    if config["class"] == "distributed.LocalCluster":
        if workers is not None and workers < 1:
            raise ParameterError(f"--workers must be at least 1, got {workers}")
        kwargs = {
            "n_workers": workers or config.get("scale") or default_workers(),
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            **kwargs,
        }
        # Dask's LocalCluster with glibc's memory thresholds in the workers (see the module)
        return DaskTaskRunner(cluster_class="hrtemlake.localcluster.LocalCluster", cluster_kwargs=kwargs)
    adapt = config.get("adapt")
    scale = workers or config.get("scale")
    if scale and not adapt:
        # prefect-dask has no scale option; adapting between equal bounds holds the jobs steady
        adapt = {"minimum": scale, "maximum": scale}
    return DaskTaskRunner(
        cluster_class=config["class"], cluster_kwargs=kwargs, adapt_kwargs=adapt or None
    )
