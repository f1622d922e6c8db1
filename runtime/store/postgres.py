"""The shared state store: a PostgreSQL database that many processes and machines use at
once (``twdsl worker`` on each, ``twdsl submit`` and ``twdsl runs`` from anywhere).

The shared logic (group commit, queries, claims) is :class:`~twdsl.runtime.store.sql.SQLStore`;
here are the connections (a psycopg 3 pool: the writer thread and readers each take one),
the transactions (recorded batches commit with ``synchronous_commit = off``: the crash window
docs/state.md describes; durable writes wait for the WAL flush), row locks (claims take a run
``FOR UPDATE SKIP LOCKED``, so two workers never wait on, nor get, the same run) and bulk writes
through ``json_array_elements``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from twdsl.runtime.store.base import StoreError
from twdsl.runtime.store.locate import redact
from twdsl.runtime.store.pg_schema import VERSION, migrate

try:
    import psycopg
    from psycopg.types.string import TextLoader
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as e:  # pragma: no cover - depends on the installation
    raise StoreError("a PostgreSQL state store needs psycopg 3 and psycopg_pool: "
                     "pip install 'twdsl[postgres]'") from e

from twdsl.runtime.store.sql import JSON_COLS, SQLStore, encode

T = TypeVar("T")

#: The PostgreSQL type of each column written in bulk (the JSON rows carry text, numbers).
_TYPES = {"attempts": "integer", "line": "integer", "attempt": "integer",
          "seq_started": "integer", "seq_done": "integer",
          "started_at": "double precision", "finished_at": "double precision"}

_PG_SQL: dict[str, str] = {}

#: A run's events: the rows of ``events`` and those kept in task rows (sql.py)
EVENTS_SQL = """
SELECT run_id, seq, ts, type, key, data FROM events WHERE run_id = ? AND seq > ?
UNION ALL
SELECT run_id, seq_started, started_at, 'task.started', key,
       json_build_object('input', input, 'task', task, 'attempt', 1)
FROM tasks WHERE run_id = ? AND seq_started > ?
UNION ALL
SELECT run_id, seq_done, finished_at, 'task.completed', key,
       json_build_object('result', result,
                         'duration', round((finished_at - started_at)::numeric, 6),
                         'task', task, 'attempt', 1)
FROM tasks WHERE run_id = ? AND seq_done > ?
ORDER BY 2"""


def pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the SQL of the store and of the server
    (twdsl.server.pg) has no ``%`` nor ``?`` in literals)."""
    out = _PG_SQL.get(sql)
    if out is None:
        out = _PG_SQL[sql] = sql.replace("?", "%s")
    return out


class PgConnection:
    """A connection taking the shared SQL's ``?`` placeholders."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Any = ()) -> Any:
        return self.conn.execute(pg_sql(sql), args)


def _configure(conn: Any) -> None:
    # json columns come back as their text: the store parses them (damage reported, key order
    # and numbers as written)
    conn.adapters.register_loader("json", TextLoader)


class PostgresStore(SQLStore):
    """The state store in the PostgreSQL database at ``url`` (``postgresql://user@host/db``,
    any libpq connection URI).  The schema is created or migrated on first use.
    ``pool_size`` bounds the connections this process opens; the other options are
    :class:`~twdsl.runtime.store.sqlite.SQLiteStore`'s."""

    LOCK_FOR_CLAIM = " FOR UPDATE SKIP LOCKED"
    LOCK_FOR_FENCE = " FOR UPDATE"

    def __init__(self, url: str, *, flush_interval: float | None = 0.005, batch: int = 2000,
                 clock: Callable[[], float] = time.time, pool_size: int = 4,
                 connect_timeout: float = 10.0) -> None:
        super().__init__(flush_interval=flush_interval, batch=batch, clock=clock)
        self.url = url
        self.where = redact(url)
        self._sql: dict[tuple[Any, ...], str] = {}
        try:
            with psycopg.connect(url, autocommit=True,
                                 connect_timeout=int(max(1, connect_timeout))) as conn:
                migrate(conn)
        except ValueError as e:
            raise StoreError(
                f"{self.where} was written by a newer twdsl (state schema version "
                f"{e.args[0]}, this twdsl knows versions up to {VERSION}): upgrade twdsl or "
                "use another database") from None
        except psycopg.Error as e:
            raise StoreError(f"cannot use the state store {self.where}: "
                             f"{_reason(e)}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=max(2, pool_size),
                                    kwargs={"autocommit": True}, configure=_configure,
                                    timeout=max(connect_timeout, 30.0), open=True,
                                    name="twdsl-store")
        self._start()

    @property
    def schema_version(self) -> int:
        from twdsl.runtime.store.pg_schema import version

        with self._pool.connection() as conn:
            return version(conn)

    # ------------------------------------------------------------------ transactions
    def _transaction(self, body: Callable[[Any], T], sync: bool) -> T:
        with self._lock, self._pool.connection() as conn:
            conn.execute("BEGIN")
            try:
                if not sync:
                    conn.execute("SET LOCAL synchronous_commit = off")
                result = body(PgConnection(conn))
                conn.execute("COMMIT")
            except BaseException:
                if not conn.closed and conn.info.transaction_status != 0:  # not idle
                    try:
                        conn.execute("ROLLBACK")
                    except psycopg.Error:
                        pass
                raise
            return result

    def _snapshot(self, body: Callable[[Any], T]) -> T:
        with self._pool.connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                return body(PgConnection(conn))
            finally:
                if not conn.closed and conn.info.transaction_status != 0:
                    try:
                        conn.execute("COMMIT")
                    except psycopg.Error:
                        pass

    def _is_busy(self, e: BaseException) -> bool:
        """A lost connection, a restarting server, a deadlock or a serialization failure:
        the writer thread tries the batch again."""
        return isinstance(e, (psycopg.OperationalError, PoolTimeout,
                              psycopg.errors.DeadlockDetected,
                              psycopg.errors.SerializationFailure))

    def _db_error(self) -> tuple[type[BaseException], ...]:
        return (psycopg.Error, PoolTimeout)

    def _close_db(self) -> None:
        self._pool.close()

    # ------------------------------------------------------------------ bulk writes
    def _bulk_upsert(self, db: Any, table: str, key_cols: tuple[str, ...],
                     cols: tuple[str, ...], rows: list[list[Any]]) -> None:
        sig = (table, key_cols, cols)
        sql = self._sql.get(sig)
        if sql is None:
            names = (*key_cols, *cols)
            exprs = []
            for i, c in enumerate(names):
                if c in JSON_COLS:
                    exprs.append(f"CASE WHEN json_typeof(j.e -> {i}) = 'null' THEN NULL "
                                 f"ELSE j.e -> {i} END")
                elif c in _TYPES:
                    exprs.append(f"(j.e ->> {i})::{_TYPES[c]}")
                else:
                    exprs.append(f"j.e ->> {i}")
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols)
            sql = self._sql[sig] = (
                f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} "
                f"FROM json_array_elements(%s::json) AS j(e) "
                f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET {updates}")
        db.conn.execute(sql, (encode(rows),))

    def _bulk_events(self, db: Any, run_id: str, rows: list[list[Any]]) -> None:
        db.conn.execute(
            "INSERT INTO events (run_id, seq, ts, type, key, data) "
            "SELECT %s, (j.e ->> 0)::integer, (j.e ->> 1)::double precision, j.e ->> 2, "
            "j.e ->> 3, CASE WHEN json_typeof(j.e -> 4) = 'null' THEN NULL ELSE j.e -> 4 END "
            "FROM json_array_elements(%s::json) AS j(e)", (run_id, encode(rows)))

    def _events_sql(self, limit: bool) -> str:
        return EVENTS_SQL + (" LIMIT ?" if limit else "")


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
