"""Processes and the warehouse (issue 13): the writer lock is not inherited by forked children, pool workers
die with their parent, and signals end `datasmith materialize`. Every test uses real processes and signals."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest.warehouse import WarehouseLockTimeout, writer_lock

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def start_python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    """A Python child running `code` from the project root, its stdout a pipe read line by line."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_dead(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


HOLD_LOCK_AND_FORK = """
    import os, sys, time
    from ingest.warehouse import writer_lock

    with writer_lock(sys.argv[1]):
        child = os.fork()
        if child == 0:  # the child outlives its parent, as a pool worker did after kill -9
            time.sleep(120)
            os._exit(0)
        print(child, flush=True)
        time.sleep(120)
"""


def test_a_forked_child_of_a_killed_writer_does_not_keep_the_lock(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    holder = start_python(HOLD_LOCK_AND_FORK, str(db))
    child = int(holder.stdout.readline())
    try:
        # the parent holds it: a second writer waits
        with pytest.raises(WarehouseLockTimeout), writer_lock(db, timeout_s=0.3):
            pass
        holder.kill()  # SIGKILL: no cleanup runs
        holder.wait(10)
        assert alive(child), "the forked child must still be running for this test to mean anything"
        started = time.monotonic()
        with writer_lock(db, timeout_s=5):
            waited = time.monotonic() - started
        assert waited < 1.0, f"the next writer waited {waited:.1f} s for a lock nobody should hold"
    finally:
        kill_quietly(child)
        holder.kill()


def test_threads_of_one_process_still_take_turns(tmp_path):
    import threading

    db = tmp_path / "warehouse.duckdb"
    inside, overlaps = [], []

    def writer():
        with writer_lock(db, timeout_s=10):
            if inside:
                overlaps.append(1)
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not overlaps


POOL_UNDER_LOCK = """
    import multiprocessing, sys, time
    from detection.steps import _start_pool
    from ingest.warehouse import writer_lock

    with writer_lock(sys.argv[1]):
        pool = _start_pool(2, multiprocessing.get_context(sys.argv[2]))
        started = [pool.submit(time.sleep, 1) for _ in range(2)]  # two at once: two workers
        for future in started:
            future.result()  # a worker runs its initializer before its first task
        for _ in range(2):  # both busy, as during detection
            pool.submit(time.sleep, 120)
        print(*pool._processes, flush=True)
        time.sleep(120)
"""


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_detection_pool_workers_die_with_their_killed_parent_and_free_the_lock(tmp_path, method):
    db = tmp_path / "warehouse.duckdb"
    holder = start_python(POOL_UNDER_LOCK, str(db), method)
    workers = [int(pid) for pid in holder.stdout.readline().split()]
    try:
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        holder.kill()
        holder.wait(10)
        assert all(wait_dead(pid, 5) for pid in workers), "pool workers outlived their killed parent"
        with writer_lock(db, timeout_s=2):
            pass
    finally:
        for pid in workers:
            kill_quietly(pid)
        holder.kill()


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_ends_the_materialization_after_the_step_it_interrupted(tmp_path, signum):
    """The signal arrives while dbt runs (step 3, after the results and the registry): the run stops there,
    with 128 + the signal's number."""
    from tests.support.common import fixture_path, write_sources

    sources = write_sources(
        tmp_path, {"sympy-v1": fixture_path("results", "sympy-v1")}, {"sympy-v1": "sympy/sympy"}
    )
    db = tmp_path / "warehouse.duckdb"
    run = subprocess.Popen(
        [sys.executable, "-m", "assets.cli", "materialize", "--sources", str(sources), "--db", str(db)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        for line in run.stderr:
            lines.append(line)
            if line.startswith("[3] "):
                break
        assert lines and lines[-1].startswith("[3] "), "".join(lines)
        time.sleep(3)  # dbt is building
        sent = time.monotonic()
        run.send_signal(signum)
        lines += run.stderr.readlines()
        code = run.wait(120)
        took = time.monotonic() - sent
    finally:
        run.kill()
    output = "".join(lines)
    assert code == 128 + signum, output
    assert f"datasmith: stopped by {signal.Signals(signum).name} during [3] " in output
    assert not any(line.startswith("[4] ") for line in lines), output
    assert took < 60
    with writer_lock(db, timeout_s=1):  # nothing holds the warehouse
        pass
