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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

# A raw loader commits one transaction per batch of this many bytes (results files, dashboard files): big
# enough to amortise the commit, small enough that a crash loses little.
BATCH_BYTES = int(os.environ.get("DATASMITH_INGEST_BATCH_BYTES", 64 * 1024 * 1024))

DEFAULT_LOCK_TIMEOUT_S = 3600.0
log = logging.getLogger("datasmith")


def create_schema(con: duckdb.DuckDBPyConnection, ddl_statements: Iterable[str]) -> None:
    """Run each stage's DDL (``create ... if not exists``) on ``con``. This module imports no stage: the
    Dagster ``WarehouseResource`` (assets.resources) hands it every stage's tables, so dbt can build before
    the assets that write them first run."""
    for ddl in ddl_statements:
        con.execute(ddl)


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
def connect_writer(
    db_path: str | os.PathLike, ddl_statements: Iterable[str] = ()
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection, opened under the writer lock, with ``ddl_statements``'s tables in place."""
    with writer_lock(db_path):
        con = duckdb.connect(str(db_path))
        try:
            create_schema(con, ddl_statements)
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
