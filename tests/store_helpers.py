"""Both state store back ends for the store tests: a ``backend`` fixture parametrized over a
real SQLite file and a real PostgreSQL database (tests/pg_helpers.py), with a way to look at
the database as another process would (committed data only).

SQL given to ``peek`` and ``execute`` uses ``?`` placeholders and SQL that both databases
understand (``CAST(x AS TEXT)`` for a JSON column, ``count(*) FILTER (WHERE …)``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pg_helpers import pg_url, postgres, server  # noqa: F401 - fixtures, re-exported
from twdsl.runtime.store import Store, open_store


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Backend:
    name: str  # "sqlite" or "postgres"
    target: str  # the file path or the URL

    def open(self, **options: Any) -> Store:
        return open_store(self.target, **options)

    def peek(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """What another process sees now."""
        if self.name == "sqlite":
            db = sqlite3.connect(self.target)
            try:
                return db.execute(sql, args).fetchall()
            finally:
                db.close()
        import psycopg

        with psycopg.connect(self.target, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), args).fetchall()]

    def execute(self, sql: str, *args: Any) -> None:
        """Another process writes (and commits)."""
        if self.name == "sqlite":
            db = sqlite3.connect(self.target, isolation_level=None)
            try:
                db.execute(sql, args)
            finally:
                db.close()
            return
        import psycopg

        with psycopg.connect(self.target, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), args)


def make_backend(name: str, tmp_path: Path) -> Backend:
    if name == "sqlite":
        return Backend("sqlite", str(tmp_path / ".twdsl" / "state.db"))
    return Backend("postgres", server().new_database())


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, tmp_path)


def opener(backend: Backend, **defaults: Any) -> Callable[..., Store]:
    def open_(**options: Any) -> Store:
        return backend.open(**{**defaults, **options})
    return open_
