"""The DuckDB warehouse file: its raw schema and the one-writer rule.

DuckDB lets one process open a database file for writing at a time; a second process gets
"Could not set lock on file". Every writer here (ingest, dbt, asset checks) therefore takes an
exclusive POSIX record lock (``fcntl.lockf``) on ``<db>.lock`` first and waits its turn, so two
materialisations started at the same moment run one after the other and both succeed. A record lock
belongs to the process that took it: a child started with fork (detection's pool workers) does not
inherit it, and the kernel drops it when its owner dies, so a crashed run never blocks the next one,
even while children it started live on. (A ``flock`` belongs to the open file, which forked children
share: they kept it after their parent was killed.) Threads of one process take turns through an
in-process lock, since record locks do not exclude each other within a process.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

DEFAULT_LOCK_TIMEOUT_S = 3600.0
log = logging.getLogger("datasmith")

RAW_DDL = """
create schema if not exists raw;

-- One row per distinct version of each file of a results tree (append-only).
create table if not exists raw.asv_result_files (
    source_name   varchar   not null,  -- the sources-file entry the file came from
    relative_path varchar   not null,  -- path inside the source folder, '/'-separated
    tree_path     varchar   not null,  -- the results folder (holding benchmarks.json) it belongs to
    machine_dir   varchar   not null,  -- asv's machine name: the folder the file sits in
    sha256        varchar   not null,
    size_bytes    bigint    not null,
    loaded_at     timestamp not null,
    content       varchar   not null   -- the file's JSON text as written, validated at load
);
create table if not exists raw.asv_benchmark_files (
    source_name varchar not null, relative_path varchar not null, tree_path varchar not null,
    sha256 varchar not null, size_bytes bigint not null, loaded_at timestamp not null, content varchar not null
);
create table if not exists raw.asv_machine_files (
    source_name varchar not null, relative_path varchar not null, tree_path varchar not null,
    machine_dir varchar not null, sha256 varchar not null, size_bytes bigint not null,
    loaded_at timestamp not null, content varchar not null
);
-- asv.conf.json is JSON with // comments; content holds it as plain JSON, the comments stripped.
create table if not exists raw.asv_config_files (
    source_name varchar not null, relative_path varchar not null, sha256 varchar not null,
    size_bytes bigint not null, loaded_at timestamp not null, content varchar not null
);
-- Every results file that could not be loaded, with why; its bytes are kept (decoded leniently).
create table if not exists raw.results_quarantine (
    source_name   varchar   not null,
    relative_path varchar   not null,
    sha256        varchar,
    size_bytes    bigint,
    loaded_at     timestamp not null,
    reason        varchar   not null,
    content       varchar
);
-- Written by the `breakpoints` asset (detection/store.py); empty until detection has run, so the
-- marts that read them build from the first run on.
create schema if not exists detection;
create table if not exists detection.breakpoints (
    series_id varchar not null, method varchar not null, index_before bigint not null,
    index_after bigint not null, value_before double, value_after double, mean_before double,
    mean_after double, n_before bigint, n_after bigint, spread_before double, spread_after double,
    relative_change double, speedup double, direction varchar not null, p_value double,
    significant boolean, passes_floor boolean, detected_at timestamp not null
);
create table if not exists detection.skipped_series (
    series_id varchar not null, method varchar not null, reason varchar not null, detected_at timestamp not null
);
-- The sources file as it was at each load: a new row only when an entry changes.
create table if not exists raw.source_registry (
    source_name varchar not null,
    source_kind varchar not null,
    location    varchar not null,
    repo        varchar,
    registered_at timestamp not null
);
"""


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every table the ingest and detection assets write, so dbt can build before they first run."""
    from ingest.dashboards import DASHBOARD_DDL  # late: the dashboards module pulls in asv

    con.execute(RAW_DDL)
    con.execute(DASHBOARD_DDL)
    con.execute(__import__("ingest.github.store", fromlist=["GITHUB_DDL"]).GITHUB_DDL)
    from dataset.ddl import DATASET_DDL; con.execute(DATASET_DDL)  # noqa: E702, I001 - dataset stage
    from benchmark_runner.ddl import BENCHMARK_RUNS_DDL; con.execute(BENCHMARK_RUNS_DDL)  # noqa: E702, I001 - runner


class WarehouseLockTimeout(RuntimeError):
    pass


def lock_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


# One in-process lock per lock file: POSIX record locks are per process, so two threads of the
# same process would both "get" the file lock. Reset in a forked child, which owns none of them.
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _reset_after_fork() -> None:
    global _thread_locks_guard
    _thread_locks.clear()
    _thread_locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _thread_lock(path: Path) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(str(path), threading.Lock())


def _try_lock(fd: int) -> bool:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: another process holds it
        return False


@contextmanager
def writer_lock(db_path: str | os.PathLike, timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the warehouse's single-writer lock; waits (polling) up to ``timeout_s``.

    Not re-entrant: a second ``writer_lock`` on the same warehouse in the same thread waits for the
    first (and times out), as a second process would."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = lock_path_for(db_path).resolve()
    deadline = time.monotonic() + timeout_s
    in_process = _thread_lock(lock_file)
    if not in_process.acquire(timeout=max(timeout_s, 0)):
        raise WarehouseLockTimeout(f"another thread has been writing {db_path} for over {timeout_s:.0f} s")
    owner = os.getpid()
    try:
        # Only this thread has the lock file open in this process: closing any descriptor of a file
        # drops the process's record locks on it, so no other code here may open it meanwhile.
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            waited = False
            while not _try_lock(fd):
                if not waited:
                    log.info(f"waiting for another process to finish writing {db_path}")
                    waited = True
                if time.monotonic() > deadline:
                    raise WarehouseLockTimeout(
                        f"another process has been writing {db_path} for over {timeout_s:.0f} s"
                    )
                time.sleep(0.1)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the record lock
    finally:
        if os.getpid() == owner:  # a forked child leaving the block holds nothing to release
            in_process.release()


@contextmanager
def connect_writer(db_path: str | os.PathLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection, opened under the writer lock, with the raw schema in place."""
    with writer_lock(db_path):
        con = duckdb.connect(str(db_path))
        try:
            create_raw_schema(con)
            yield con
        finally:
            con.close()


def connect_reader(db_path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A read-only connection; fails clearly when the warehouse has not been built."""
    if not Path(db_path).exists():
        raise FileNotFoundError(
            f"no warehouse at {db_path}: run `datasmith materialize` (or `make demo`) first"
        )
    return duckdb.connect(str(db_path), read_only=True)
