"""The embedded state store: one SQLite file (WAL mode) shared by the running process and
the control-plane commands of other terminals (and by workers on one machine).

The shared logic (group commit, queries, claims) is :class:`~twdsl.runtime.store.sql.SQLStore`;
here are the connection, its transactions (``BEGIN IMMEDIATE``: the write lock first, so two
writers never deadlock on an upgrade; ``synchronous=FULL`` for durable writes), and the bulk
writes (``executemany``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from twdsl.runtime.store.base import ControlRequest, StoreError
from twdsl.runtime.store.schema import (
    VERSION,
    foreign_message,
    foreign_tables,
    migrate,
    user_version,
)
from twdsl.runtime.store.sql import JSON_COLS, SQLStore, encode

T = TypeVar("T")


#: A run's events: the rows of ``events`` and those kept in task rows (sql.py)
EVENTS_SQL = """
SELECT run_id, seq, ts, type, key, data FROM events WHERE run_id = ? AND seq > ?
UNION ALL
SELECT run_id, seq_started, started_at, 'task.started', key,
       json_object('input', json(input), 'task', task, 'attempt', 1)
FROM tasks WHERE run_id = ? AND seq_started > ?
UNION ALL
SELECT run_id, seq_done, finished_at, 'task.completed', key,
       json_object('result', json(result), 'duration', round(finished_at - started_at, 6),
                   'task', task, 'attempt', 1)
FROM tasks WHERE run_id = ? AND seq_done > ?
ORDER BY 2"""


class SQLiteStore(SQLStore):
    """The state store in the SQLite file ``path`` (created with its folder on first use).

    ``flush_interval`` (seconds) and ``batch`` (records) set the group commit; with
    ``flush_interval=None`` there is no writer thread and recorded writes wait for
    ``flush()``, a read, a durable write or ``close()``.  ``clock`` gives the timestamps
    (UTC epoch seconds) when a call does not; tests pass a fake one.  ``busy_timeout``
    (seconds) is how long a write waits for another process's transaction.
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_interval: float | None = 0.005,
                 batch: int = 2000, busy_timeout: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(flush_interval=flush_interval, batch=batch, clock=clock)
        self.path = str(path)
        self.where = self.path
        self._sql: dict[tuple[Any, ...], str] = {}
        self._controls_seen: dict[str, tuple[int, int, list[ControlRequest]]] = {}
        self._writes = 0  # durable writes of this process (data_version ignores them)
        self._db = self._connect(busy_timeout)
        self._start()

    # ------------------------------------------------------------------ opening
    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder of the state database "
                                 f"{self.path}: {e.strerror or e}") from None
        try:
            db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the state database {self.path}: {e}") from None
        try:
            foreign = foreign_tables(db)
            if foreign:
                db.close()
                raise StoreError(foreign_message(self.path, foreign))
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            found = user_version(db)
            if found > VERSION:
                raise ValueError(found)
            migrate(db)
        except ValueError as e:
            db.close()
            raise StoreError(
                f"{self.path} was written by a newer twdsl (state schema version {e.args[0]}, "
                f"this twdsl knows versions up to {VERSION}): upgrade twdsl or use another "
                "state file") from None
        except sqlite3.OperationalError as e:
            db.close()
            if "already exists" in str(e):
                raise StoreError(
                    f"{self.path} is damaged: its schema version (PRAGMA user_version) says "
                    f"{found}, yet it holds twdsl's tables ({e}); if nothing else is wrong "
                    f"with it, `sqlite3 {self.path} 'PRAGMA user_version = {VERSION}'` "
                    "restores the version, else move it away and start a new one") from None
            raise StoreError(f"{self.path} is not a usable twdsl state database: {e}") from None
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreError(f"{self.path} is not a usable twdsl state database: {e}") from None
        return db

    @property
    def schema_version(self) -> int:
        with self._lock:
            return user_version(self._db)

    # ------------------------------------------------------------------ transactions
    def _transaction(self, body: Callable[[Any], T], sync: bool) -> T:
        db = self._db
        with self._lock:
            if sync:
                db.execute("PRAGMA synchronous=FULL")
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = body(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                if sync:
                    self._writes += 1
                return result
            finally:
                if sync:
                    db.execute("PRAGMA synchronous=NORMAL")

    def _snapshot(self, body: Callable[[Any], T]) -> T:
        db = self._db
        with self._lock:
            db.execute("BEGIN")
            try:
                return body(db)
            finally:
                db.execute("COMMIT")

    def _is_busy(self, e: BaseException) -> bool:
        return isinstance(e, sqlite3.OperationalError) and (
            "locked" in str(e) or "busy" in str(e))

    def _db_error(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def _close_db(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ bulk writes
    def _bulk_upsert(self, db: Any, table: str, key_cols: tuple[str, ...],
                     cols: tuple[str, ...], rows: list[list[Any]]) -> None:
        """One ``executemany``: SQLite binds a row's values faster than its JSON functions
        take one apart (each ``->>`` parses the row again)."""
        sig = (table, key_cols, cols)
        sql = self._sql.get(sig)
        if sql is None:
            names = (*key_cols, *cols)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols)
            sql = self._sql[sig] = (
                f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                f"({', '.join('?' * len(names))}) ON CONFLICT ({', '.join(key_cols)}) "
                f"DO UPDATE SET {updates}")
        width = len(key_cols)
        for pos in [width + i for i, c in enumerate(cols) if c in JSON_COLS]:
            for row in rows:
                v = row[pos]
                if v is not None:
                    row[pos] = encode(v)
        db.executemany(sql, rows)

    def _bulk_events(self, db: Any, run_id: str, rows: list[list[Any]]) -> None:
        db.executemany("INSERT INTO events (run_id, seq, ts, type, key, data) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(run_id, seq, ts, t, k, None if d is None else encode(d))
                        for seq, ts, t, k, d in rows])

    def _events_sql(self, limit: bool) -> str:
        return EVENTS_SQL + (" LIMIT ?" if limit else "")

    # ------------------------------------------------------------------ control
    def _pending_controls(self, run_id: str) -> list[ControlRequest]:
        """Cheap enough to call every few milliseconds: ``PRAGMA data_version`` tells whether
        another connection committed since the last look; if not, no query."""
        with self._lock:
            db = self._db
            version = db.execute("PRAGMA data_version").fetchone()[0]
            seen = self._controls_seen.get(run_id)
            if seen is not None and seen[0] == version and seen[1] == self._writes:
                return list(seen[2])
            found = [ControlRequest(*row) for row in db.execute(
                "SELECT id, run_id, command, requested_at, handled_at FROM controls "
                "WHERE run_id = ? AND handled_at IS NULL ORDER BY id", (run_id,))]
            self._controls_seen[run_id] = (version, self._writes, found)
            return list(found)
