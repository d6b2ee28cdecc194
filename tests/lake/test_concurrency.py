"""Parallel writers on disjoint items, and a writer killed mid-way then rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from hrtemlake.lake import Lake, chunk_blocks
from hrtemlake.lake.check import check_lake

from .helpers import exit_waves, exitwave_writer, frames_writer


def _write_block(writer, block: range) -> int:
    writer.write(block.start, {"exit_wave": exit_waves(block.start, len(block))})
    return os.getpid()


@pytest.mark.slow
def test_two_dask_workers_write_disjoint_items(lake_path):
    from distributed import Client, LocalCluster

    writer = exitwave_writer(Lake(lake_path, mode="a"), n_items=12)
    blocks = chunk_blocks(writer.missing(), item_chunk=1, per_block=1)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            pids = client.gather(client.map(_write_block, [writer] * len(blocks), blocks))
    assert len(set(pids)) == 2, "both worker processes should have written"
    ds = Lake(lake_path).dataset("exitwaves", dataset="train")
    np.testing.assert_array_equal(ds.exit_wave.values, exit_waves(0, 12))
    assert (ds.write_session.values == 1).all()
    assert check_lake(lake_path) == []


_DENSE_CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, {tests!r})
from hrtemlake.lake import Lake
from lake.helpers import exit_waves, exitwave_writer
writer = exitwave_writer(Lake({path!r}, mode="a"), n_items={n})
for i in writer.missing():
    writer.write(int(i), {{"exit_wave": exit_waves(int(i), 1)}})
    print(i, flush=True)
    time.sleep(0.05)
"""

_APPEND_CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, {tests!r})
from hrtemlake.lake import Lake
from lake.helpers import frames_writer
writer = frames_writer(Lake({path!r}, mode="a"))
for i in range(writer.n_items, {n}):
    writer.append({{"frame": np.full((1, 4, 5), i), "time": [float(i)], "source": [f"f{{i}}.dm4"]}})
    print(i, flush=True)
    time.sleep(0.05)
"""


def _run_and_kill(code: str, after_lines: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    for _ in range(after_lines):
        assert proc.stdout.readline(), "writer ended before it could be killed"
    time.sleep(0.02)  # land the kill somewhere inside the next write
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_killed_dense_writer_then_rerun_completes_without_rewrites(lake_path):
    tests = os.path.dirname(os.path.dirname(__file__))
    n = 40
    _run_and_kill(_DENSE_CHILD.format(tests=tests, path=lake_path, n=n), after_lines=5)
    first = Lake(lake_path).dataset("exitwaves", dataset="train").write_session.values
    done_first = np.flatnonzero(first == 1)
    assert 5 <= done_first.size < n

    writer = exitwave_writer(Lake(lake_path, mode="a"), n_items=n)
    for i in writer.missing():
        writer.write(int(i), {"exit_wave": exit_waves(int(i), 1)})

    ds = Lake(lake_path).dataset("exitwaves", dataset="train")
    np.testing.assert_array_equal(ds.exit_wave.values, exit_waves(0, n))
    sessions = ds.write_session.values
    assert (sessions[done_first] == 1).all(), "complete items were written again"
    assert set(np.unique(sessions)) == {1, 2}  # the killed run, then the rerun
    assert check_lake(lake_path) == []


@pytest.mark.slow
def test_killed_append_writer_then_rerun_has_no_duplicates(lake_path):
    tests = os.path.dirname(os.path.dirname(__file__))
    n = 40
    _run_and_kill(_APPEND_CHILD.format(tests=tests, path=lake_path, n=n), after_lines=5)
    writer = frames_writer(Lake(lake_path, mode="a"))
    for i in range(writer.n_items, n):
        writer.append({"frame": np.full((1, 4, 5), i), "time": [float(i)], "source": [f"f{i}.dm4"]})
    ds = Lake(lake_path).dataset("frames", series="s1")
    assert list(ds.source.values) == [f"f{i}.dm4" for i in range(n)]
    np.testing.assert_array_equal(ds.frame.values[:, 0, 0], np.arange(n))
    assert check_lake(lake_path) == []
