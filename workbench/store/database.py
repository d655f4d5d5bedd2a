"""The DuckDB file under a Store: short-lived connections, opened with retries while another process
holds the file's lock, one short transaction per write, queries with bound parameters.

Connections are short-lived: each operation opens the file, does its work in one transaction and
closes it, so a writer holds DuckDB's file lock only for a moment and a reader (the dashboard)
can open it between two writes. An operation that finds the file locked retries with backoff
until ``lock_timeout`` and then fails with a clear StoreError. ``:memory:`` keeps one connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..errors import StoreError
from .migrations import apply_migrations, pending
from .values import default_db_path

# errors of the machine, not of workbench's SQL: shown to the user as a StoreError
_WRITE_FAULTS = (duckdb.IOException, duckdb.OutOfMemoryException, duckdb.PermissionException,
                 duckdb.FatalException)

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "lock on file", "database is locked")


class DatabaseFile:
    """The database file and its connections; ``Store`` adds workbench's reads and writes."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False,
                 lock_timeout: float = 60.0):
        self.path = str(path) if path is not None else default_db_path()
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self._memory = self.path == ":memory:"
        self._con: duckdb.DuckDBPyConnection | None = None
        self._local = threading.local()
        if self._memory:
            self._con = duckdb.connect(":memory:")
            apply_migrations(self._con)
        elif read_only:
            if not Path(self.path).exists():
                raise StoreError(f"database not found: {self.path}")
        else:
            parent = Path(self.path).resolve().parent
            if not parent.exists():
                raise StoreError(f"directory of the database does not exist: {parent}")
            with self.connect(write=True) as db:
                apply_migrations(db)

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    # -- connections ------------------------------------------------------------------------
    def _open(self, write: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            try:
                return duckdb.connect(self.path, read_only=not write)
            except duckdb.Error as exc:
                msg = str(exc)
                if any(m in msg for m in _LOCK_MARKERS) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 1.5, 0.5)
                    continue
                if any(m in msg for m in _LOCK_MARKERS):
                    raise StoreError(
                        f"database {self.path} is locked by another process "
                        f"(waited {self.lock_timeout:.0f}s)"
                    ) from None
                if "read-only" in msg.lower() or "Permission denied" in msg:
                    raise StoreError(f"database {self.path} is not writable: {msg}") from None
                raise StoreError(f"cannot open database {self.path}: {msg}") from None

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation; nested calls reuse the open one."""
        if self._memory:
            assert self._con is not None
            yield self._con
            return
        if write and self.read_only:
            raise StoreError(f"database {self.path} was opened read-only")
        current = getattr(self._local, "con", None)
        if current is not None:
            if write and not self._local.write:
                raise StoreError("internal: write requested inside a read-only operation")
            yield current
            return
        con = self._open(write)
        self._local.con, self._local.write = con, write
        try:
            if not write and pending(con):
                raise StoreError(
                    f"database {self.path} needs a schema upgrade: run any workbench command "
                    "that writes (e.g. `workbench runs`) once without --read-only"
                )
            yield con
        finally:
            self._local.con = None
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short write transaction."""
        with self.connect(write=True) as db:
            db.execute("BEGIN TRANSACTION")
            try:
                yield db
            except BaseException as exc:
                try:
                    db.execute("ROLLBACK")
                except duckdb.Error:  # closing the connection drops the transaction anyway
                    pass
                if isinstance(exc, _WRITE_FAULTS):
                    # disk full, I/O or permission trouble: the user's to fix, in one line
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise StoreError(f"could not write to {self.path}: {first}") from None
                raise
            else:
                try:
                    db.execute("COMMIT")
                except duckdb.Error as exc:
                    raise StoreError(f"could not write to {self.path}: {exc}") from None

    def query_df(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run a read-only query with bound parameters and return a DataFrame."""
        with self.connect() as db:
            return db.execute(sql, params or []).df()

    def insert_df(self, table: str, df: pd.DataFrame, db: duckdb.DuckDBPyConnection | None = None,
                  or_ignore: bool = True) -> int:
        """Insert a DataFrame in one statement (Arrow under the hood), skipping key conflicts."""
        if df is None or len(df) == 0:
            return 0
        cols = ", ".join(f'"{c}"' for c in df.columns)
        verb = "INSERT OR IGNORE" if or_ignore else "INSERT"

        def _do(con: duckdb.DuckDBPyConnection) -> None:
            con.register("_wb_df", df)
            try:
                con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM _wb_df")
            finally:
                con.unregister("_wb_df")

        if db is not None:
            _do(db)
        else:
            with self.transaction() as con:
                _do(con)
        return len(df)
