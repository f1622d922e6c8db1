"""The server's tables in a PostgreSQL state store (docs/server.md, "Where things are kept"):
the queries of :class:`~twdsl.server.db.SQLServerDB` over a small psycopg 3 pool, as the
state store itself connects (``twdsl.runtime.store.postgres``).

Every statement runs in its own transaction (autocommit), but for the two that must not
interleave across servers: migrations and the numbering of a workflow's versions hold a
transaction-scoped advisory lock (``pg_advisory_xact_lock``) where SQLite takes its write lock.
That an occurrence of a schedule fires once rests on the primary key of ``server_fires``
alone: ``INSERT … ON CONFLICT DO NOTHING`` changes one row for exactly one server.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from twdsl.runtime.store.locate import redact
from twdsl.server.db import ServerDBError, SQLServerDB, T

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ServerDBError("a PostgreSQL state store needs psycopg 3 and psycopg_pool: "
                        "pip install 'twdsl[postgres]'") from e

from twdsl.runtime.store.postgres import PgConnection, pg_sql  # noqa: E402 - psycopg first


def lock_key(name: str) -> int:
    """The advisory lock of ``name``: a signed 64-bit number from its hash, in a space of
    its own (``twdsl-server:``), so that it meets no other program's lock.

    >>> lock_key("deploy:Flow") == lock_key("deploy:Flow") != lock_key("deploy:Other")
    True
    """
    digest = hashlib.sha256(f"twdsl-server:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresServerDB(SQLServerDB):
    """The server's tables in the PostgreSQL database at ``url`` (the state store's URL);
    created or migrated on first use.  ``pool_size`` bounds the connections it opens."""

    POSTGRES = True

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time,
                 pool_size: int = 4, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.where = redact(url)
        self.clock = clock
        try:
            with psycopg.connect(url, autocommit=True,
                                 connect_timeout=int(max(1, connect_timeout))) as conn:
                self._conn: Any = conn  # the migrations' connection, then the pool's
                self._migrate()
        except psycopg.Error as e:
            raise ServerDBError(f"cannot use the state store {self.where}: "
                                f"{_reason(e)}") from None
        self._conn = None
        self._pool = ConnectionPool(url, min_size=1, max_size=max(2, pool_size),
                                    kwargs={"autocommit": True},
                                    timeout=max(connect_timeout, 30.0), open=True,
                                    name="twdsl-server")

    def _connection(self) -> Any:
        return self._pool.connection()

    def _q(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return [tuple(r) for r in conn.execute(pg_sql(sql), args).fetchall()]

    def _w(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> int:
        with self._connection() as conn:
            return int(conn.execute(pg_sql(sql), args).rowcount)

    def _locked(self, key: str, body: Callable[[Any], T]) -> T:
        if self._conn is not None:  # migrating, before the pool
            return self._in_transaction(self._conn, key, body)
        with self._connection() as conn:
            return self._in_transaction(conn, key, body)

    @staticmethod
    def _in_transaction(conn: Any, key: str, body: Callable[[Any], T]) -> T:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(key),))
            return body(PgConnection(conn))

    def _has_table(self, db: Any, name: str) -> bool:
        return bool(db.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0])

    def close(self) -> None:
        self._pool.close()


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


__all__ = ["PostgresServerDB", "lock_key"]
