"""Clusters and containers: job scripts from dask-jobqueue, the container layer, in-process runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hrtemlake.containers import Container, configured_container, run_hrtemlake, stream_command
from hrtemlake.errors import ParameterError
from hrtemlake.lake import Lake
from hrtemlake.runtime import job_script, load_cluster_config, task_runner

from .lake.helpers import exitwave_writer


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


def test_slurm_job_script_with_gpus_and_container(tmp_path):
    config = _config(tmp_path, """
class: dask_jobqueue.SLURMCluster
kwargs: {cores: 16, processes: 4, memory: 64GB, walltime: "02:00:00", queue: gpu}
gpus: 2
container: /images/hrtemlake-gpu.sif
binds: [/data]
""")
    script = job_script(config, lake="/scratch/me/lake.zarr")
    for line in ("#SBATCH -p gpu", "#SBATCH --cpus-per-task=16", "#SBATCH -t 02:00:00", "#SBATCH --gres=gpu:2"):
        assert line in script
    assert ("apptainer exec --nv --bind /scratch/me:/scratch/me --bind /data "
            "/images/hrtemlake-gpu.sif python -m distributed.cli.dask_worker") in script


def test_pbs_job_script(tmp_path):
    config = _config(tmp_path, """
class: dask_jobqueue.PBSCluster
kwargs: {cores: 8, memory: 32GB, walltime: "01:00:00", queue: workq}
gpus: 1
""")
    script = job_script(config)
    assert "#PBS -q workq" in script and "#PBS -l walltime=01:00:00" in script
    assert "#PBS -l ngpus=1" in script
    assert f"{sys.executable} -m distributed.cli.dask_worker" in script


def test_cluster_config_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("HRTEMLAKE_CLUSTER", raising=False)
    assert load_cluster_config()["class"] == "distributed.LocalCluster"
    with pytest.raises(ParameterError, match="does not exist"):
        load_cluster_config(tmp_path / "missing.yaml")
    with pytest.raises(ParameterError, match="got \\['clas', 'kwargs'\\]"):
        load_cluster_config(_config(tmp_path, "clas: x\nkwargs: {}\n"))
    with pytest.raises(ParameterError, match="submits no job script"):
        job_script(_config(tmp_path, "class: distributed.LocalCluster\n"))
    with pytest.raises(ParameterError, match="--workers must be at least 1"):
        task_runner(workers=0)


def test_local_task_runner_defaults():
    runner = task_runner(workers=3)
    assert runner.cluster_kwargs["n_workers"] == 3
    assert runner.cluster_kwargs["threads_per_worker"] == 1
    assert runner.cluster_class == "hrtemlake.localcluster.LocalCluster"


def test_container_command_line(tmp_path):
    image = Container("/images/hrtemlake-gpu.sif", binds=("/data:/data",))
    lake = str(tmp_path / "lakes" / "lake.zarr")
    assert image.command(["analyze", "run", "--lake", lake], lake) == [
        "apptainer", "exec", "--nv", "--bind", f"{tmp_path / 'lakes'}:{tmp_path / 'lakes'}",
        "--bind", "/data:/data", "/images/hrtemlake-gpu.sif", "hrtemlake", "analyze", "run",
        "--lake", lake,
    ]  # fmt: skip
    cpu = Container("cpu.sif", gpu=False, executable="singularity")
    assert cpu.command(["--version"], "s3://bucket/lake.zarr") == [
        "singularity", "exec", "cpu.sif", "hrtemlake", "--version"
    ]


def test_configured_container_from_environment(monkeypatch):
    monkeypatch.delenv("HRTEMLAKE_CONTAINER", raising=False)
    assert configured_container() is None
    monkeypatch.setenv("HRTEMLAKE_CONTAINER", "/images/x.sif")
    assert configured_container().image == "/images/x.sif"


def test_stream_command_passes_lines_as_they_come():
    lines: list[str] = []
    code = stream_command([sys.executable, "-c", "print('a'); print('b'); raise SystemExit(3)"], lines.append)
    assert (code, lines) == (3, ["a", "b"])


def test_in_process_run_without_container(lake_path, capsys):
    exitwave_writer(Lake(lake_path, mode="a"))
    assert run_hrtemlake(["lake", "check", "--lake", lake_path], lake=lake_path) == 0
    assert "0 error(s)" in capsys.readouterr().out
    assert run_hrtemlake(["lake", "ls", "--lake", str(Path(lake_path).parent / "none")]) == 2


def _worker_malloc_settings() -> dict:
    import os

    return {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")}


def test_local_workers_keep_glibc_steady_state_thresholds(monkeypatch):
    from hrtemlake.localcluster import LocalCluster

    # earlier Dask clusters in this process may have exported Dask's own value
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        with cluster.get_client() as client:
            [seen] = client.run(_worker_malloc_settings).values()
    assert seen == {"MALLOC_TRIM_THRESHOLD_": str(64 * 2**20), "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20)}


def test_a_users_own_malloc_setting_wins(monkeypatch):
    import dask

    from hrtemlake.localcluster import worker_environment

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 1024}):
        assert worker_environment()["MALLOC_TRIM_THRESHOLD_"] == 1024
        assert "MALLOC_MMAP_THRESHOLD_" not in worker_environment()
