"""The server's own durable state, beside the runs: API tokens (hashed), deployed workflow
versions, schedules and their fires, notification rules and what they already sent.

Runs, tasks, events and statistics are *not* here: the server reads them through the state
store's interface (``twdsl.runtime.store.Store``).  This module has its own small interface,
:class:`ServerDB`, and its own migrations, counted in its own table ``server_schema`` (the
state store counts its own in SQLite's ``user_version``), so that both live in one database
file without knowing of each other.  :class:`SQLiteServerDB` is the embedded implementation;
the SQL is standard (``INSERT … ON CONFLICT DO NOTHING``, no SQLite-only types), so that a
PostgreSQL implementation is a second class beside it with the same statements, ``?``
placeholders written ``%s``.

The one guarantee that must hold across servers sharing one database: an occurrence of a
schedule fires once.  ``claim_fire`` inserts ``(workflow, occurrence)`` under the primary key
of ``server_fires``; the server that inserted the row fires it, any other gets False.
"""

from __future__ import annotations

import abc
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES = ("viewer", "operator", "admin")
MISSED_POLICIES = ("once", "skip")
RULE_KINDS = ("run_failed", "success_rate", "wait_time")


class ServerDBError(Exception):
    """The server's tables cannot be used (a newer schema, a file that is not a database)."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str  # public part of the token, shown in lists
    name: str
    role: str
    secret_sha256: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployed version of a workflow: ``version`` counts from 1 per workflow;
    ``semver`` is the workflow's own ``version`` field; ``source`` is None for a workflow
    deployed as compiled IR."""

    workflow: str
    version: int
    semver: str | None
    kind: str  # "source" or "ir"
    filename: str | None
    source: str | None
    ir: str
    ir_sha256: str
    schedule: str | None
    inputs: Any  # the inputs of scheduled runs
    deployed_at: float
    deployed_by: str | None


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A workflow's schedule.  Occurrences after ``since`` count; ``missed`` is what to do
    with those that passed while no server ran ("once": run the latest of them once;
    "skip": none)."""

    workflow: str
    expr: str
    paused: bool
    missed: str
    since: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class FireRecord:
    workflow: str
    occurrence: float  # the scheduled time (UTC epoch seconds)
    fired_at: float
    run_id: str | None
    server: str
    note: str | None  # "missed: N occurrences skipped" and the like


@dataclass(frozen=True, slots=True)
class NotifyRule:
    """``run_failed``: a run of ``workflow`` (any, when None) failed or timed out;
    ``success_rate``: over the last ``window`` seconds, completed / ended runs fell below
    ``threshold`` (with at least ``min_runs`` ended); ``wait_time``: a run has waited (queued,
    not started) more than ``limit`` seconds."""

    id: int
    name: str
    kind: str
    url: str
    workflow: str | None
    threshold: float | None
    window: float | None
    min_runs: int
    limit: float | None
    created_at: float


def _v1(db: Any) -> None:
    for stmt in (
        """CREATE TABLE server_tokens (
            id            TEXT PRIMARY KEY,
            name          TEXT NOT NULL,
            role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            secret_sha256 TEXT NOT NULL,
            created_at    DOUBLE PRECISION NOT NULL,
            revoked_at    DOUBLE PRECISION,
            last_used_at  DOUBLE PRECISION
        )""",
        """CREATE TABLE server_meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE server_deployments (
            workflow    TEXT NOT NULL,
            version     INTEGER NOT NULL,
            semver      TEXT,
            kind        TEXT NOT NULL CHECK (kind IN ('source', 'ir')),
            filename    TEXT,
            source      TEXT,
            ir          TEXT NOT NULL,
            ir_sha256   TEXT NOT NULL,
            schedule    TEXT,
            inputs      TEXT,
            deployed_at DOUBLE PRECISION NOT NULL,
            deployed_by TEXT,
            PRIMARY KEY (workflow, version)
        )""",
        "CREATE INDEX server_deployments_by_sha ON server_deployments (ir_sha256)",
        """CREATE TABLE server_schedules (
            workflow   TEXT PRIMARY KEY,
            expr       TEXT NOT NULL,
            paused     INTEGER NOT NULL DEFAULT 0,
            missed     TEXT NOT NULL DEFAULT 'once' CHECK (missed IN ('once', 'skip')),
            since      DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        # The uniqueness of (workflow, occurrence) is what makes two servers on one database
        # never fire the same occurrence twice: claim_fire inserts, the loser gets nothing.
        """CREATE TABLE server_fires (
            workflow      TEXT NOT NULL,
            occurrence_ms BIGINT NOT NULL,
            fired_at      DOUBLE PRECISION NOT NULL,
            run_id        TEXT,
            server        TEXT NOT NULL,
            note          TEXT,
            PRIMARY KEY (workflow, occurrence_ms)
        )""",
        """CREATE TABLE server_rules (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            kind       TEXT NOT NULL CHECK (kind IN ('run_failed', 'success_rate', 'wait_time')),
            url        TEXT NOT NULL,
            workflow   TEXT,
            threshold  DOUBLE PRECISION,
            win        DOUBLE PRECISION,
            min_runs   INTEGER NOT NULL DEFAULT 1,
            lim        DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        # One notification per (rule, subject): a failed run, a workflow below its rate.
        """CREATE TABLE server_notified (
            rule_id INTEGER NOT NULL REFERENCES server_rules(id) ON DELETE CASCADE,
            subject TEXT NOT NULL,
            sent_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (rule_id, subject)
        )""",
    ):
        db.execute(stmt)


#: Applied in order; ``server_schema.version`` = how many have been applied.  A released
#: migration never changes: a change of schema is a new one appended here.
MIGRATIONS: list[Callable[[Any], None]] = [_v1]
VERSION = len(MIGRATIONS)


class ServerDB(abc.ABC):
    """What the server keeps of its own.  Thread safe; several servers may share one."""

    # ------------------------------------------------------------------ tokens
    @abc.abstractmethod
    def add_token(self, token_id: str, name: str, role: str, secret_sha256: str,
                  now: float | None = None) -> TokenRecord: ...

    @abc.abstractmethod
    def get_token(self, token_id: str) -> TokenRecord | None: ...

    @abc.abstractmethod
    def list_tokens(self) -> list[TokenRecord]: ...

    @abc.abstractmethod
    def revoke_token(self, token_id: str, now: float | None = None) -> bool:
        """True if an active token was revoked."""

    @abc.abstractmethod
    def touch_token(self, token_id: str, now: float) -> None:
        """Record a use (callers do it at most once a minute per token)."""

    @abc.abstractmethod
    def secret(self, name: str) -> str:
        """A random secret shared by every server on this database, made on first use
        (the key that signs session cookies)."""

    # ------------------------------------------------------------------ deployments
    @abc.abstractmethod
    def deploy(self, workflow: str, *, semver: str | None, kind: str, filename: str | None,
               source: str | None, ir: str, ir_sha256: str, schedule: str | None,
               inputs: Any, by: str | None, now: float | None = None) -> tuple[Deployment, bool]:
        """Keep a new version (number = last + 1) unless the last one is the same program
        with the same schedule and inputs: then that one, and False."""

    @abc.abstractmethod
    def deployment(self, workflow: str, version: int | None = None) -> Deployment | None:
        """A version, or the latest when ``version`` is None."""

    @abc.abstractmethod
    def deployments(self, workflow: str | None = None) -> list[Deployment]:
        """Every version of one workflow (newest first), or the latest of each workflow
        (by name) when ``workflow`` is None."""

    @abc.abstractmethod
    def deployment_by_sha(self, ir_sha256: str) -> Deployment | None:
        """The newest version whose program has this sha256 (to tell a run's version)."""

    # ------------------------------------------------------------------ schedules
    @abc.abstractmethod
    def set_schedule(self, workflow: str, expr: str | None, now: float | None = None) -> None:
        """Set (or remove, with None) a workflow's schedule; a changed expression counts
        occurrences from now; pause and policy are kept."""

    @abc.abstractmethod
    def schedules(self) -> list[ScheduleRecord]: ...

    @abc.abstractmethod
    def update_schedule(self, workflow: str, *, paused: bool | None = None,
                        missed: str | None = None, now: float | None = None) -> bool:
        """Pause or unpause (occurrences while paused never fire: ``since`` moves to the
        time of unpausing), or change the missed-fire policy; False if there is none."""

    @abc.abstractmethod
    def claim_fire(self, workflow: str, occurrence: float, server: str,
                   now: float | None = None, note: str | None = None) -> bool:
        """Record that this server fires this occurrence: True for exactly one caller,
        whatever the number of servers."""

    @abc.abstractmethod
    def set_fire_run(self, workflow: str, occurrence: float, run_id: str | None,
                     note: str | None = None) -> None: ...

    @abc.abstractmethod
    def last_occurrence(self, workflow: str) -> float | None:
        """The latest occurrence fired (or claimed)."""

    @abc.abstractmethod
    def fires(self, workflow: str | None = None, limit: int = 50) -> list[FireRecord]:
        """Newest first."""

    # ------------------------------------------------------------------ notifications
    @abc.abstractmethod
    def add_rule(self, *, name: str, kind: str, url: str, workflow: str | None,
                 threshold: float | None, window: float | None, min_runs: int,
                 limit: float | None, now: float | None = None) -> NotifyRule: ...

    @abc.abstractmethod
    def rules(self) -> list[NotifyRule]: ...

    @abc.abstractmethod
    def delete_rule(self, rule_id: int) -> bool: ...

    @abc.abstractmethod
    def claim_notice(self, rule_id: int, subject: str, now: float | None = None) -> bool:
        """True once per (rule, subject): who sends that notification."""

    @abc.abstractmethod
    def release_notice(self, rule_id: int, subject: str) -> None:
        """Forget a notice: it may be sent again (a failed post, a rate back above)."""

    @abc.abstractmethod
    def notices(self, rule_id: int) -> list[str]: ...

    @abc.abstractmethod
    def close(self) -> None: ...


def _token(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(*row)


def _deployment(row: tuple[Any, ...]) -> Deployment:
    (workflow, version, semver, kind, filename, source, ir, sha, schedule, inputs, at,
     by) = row
    return Deployment(workflow, version, semver, kind, filename, source, ir, sha, schedule,
                      None if inputs is None else json.loads(inputs), at, by)


def _schedule(row: tuple[Any, ...]) -> ScheduleRecord:
    workflow, expr, paused, missed, since, updated = row
    return ScheduleRecord(workflow, expr, bool(paused), missed, since, updated)


def _rule(row: tuple[Any, ...]) -> NotifyRule:
    return NotifyRule(*row)


_DEPLOY_COLS = ("workflow, version, semver, kind, filename, source, ir, ir_sha256, schedule, "
                "inputs, deployed_at, deployed_by")
_RULE_COLS = "id, name, kind, url, workflow, threshold, win, min_runs, lim, created_at"


class SQLiteServerDB(ServerDB):
    """The server's tables in the SQLite file ``path`` (the state store's file: one database
    for everything the server knows)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time,
                 busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self.clock = clock
        self._lock = threading.RLock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise ServerDBError(f"{self.path} is not a usable twdsl database: {e}") from None

    def _migrate(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS server_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM server_schema").fetchone()
            found = 0 if row is None else int(row[0])
            if found > VERSION:
                raise ServerDBError(
                    f"{self.path} was written by a newer twdsl server (server schema version "
                    f"{found}, this twdsl knows up to {VERSION}): upgrade twdsl")
            for step in range(found, VERSION):
                MIGRATIONS[step](db)
            if row is None:
                db.execute("INSERT INTO server_schema (version) VALUES (?)", (VERSION,))
            elif found != VERSION:
                db.execute("UPDATE server_schema SET version = ?", (VERSION,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        return int(self._q("SELECT version FROM server_schema")[0][0])

    # ------------------------------------------------------------------ plumbing
    def _q(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _w(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> int:
        """One write statement in its own transaction; the number of rows it changed."""
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now

    # ------------------------------------------------------------------ tokens
    def add_token(self, token_id: str, name: str, role: str, secret_sha256: str,
                  now: float | None = None) -> TokenRecord:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
        at = self._now(now)
        self._w("INSERT INTO server_tokens (id, name, role, secret_sha256, created_at) "
                "VALUES (?, ?, ?, ?, ?)", (token_id, name, role, secret_sha256, at))
        return TokenRecord(token_id, name, role, secret_sha256, at, None, None)

    def get_token(self, token_id: str) -> TokenRecord | None:
        rows = self._q("SELECT id, name, role, secret_sha256, created_at, revoked_at, "
                       "last_used_at FROM server_tokens WHERE id = ?", (token_id,))
        return _token(rows[0]) if rows else None

    def list_tokens(self) -> list[TokenRecord]:
        return [_token(r) for r in self._q(
            "SELECT id, name, role, secret_sha256, created_at, revoked_at, last_used_at "
            "FROM server_tokens ORDER BY created_at, id")]

    def revoke_token(self, token_id: str, now: float | None = None) -> bool:
        return self._w("UPDATE server_tokens SET revoked_at = ? WHERE id = ? AND "
                       "revoked_at IS NULL", (self._now(now), token_id)) == 1

    def touch_token(self, token_id: str, now: float) -> None:
        self._w("UPDATE server_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))

    def secret(self, name: str) -> str:
        key = f"secret:{name}"
        rows = self._q("SELECT value FROM server_meta WHERE key = ?", (key,))
        if rows:
            return str(rows[0][0])
        self._w("INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                "DO NOTHING", (key, secrets.token_hex(32)))
        return str(self._q("SELECT value FROM server_meta WHERE key = ?", (key,))[0][0])

    # ------------------------------------------------------------------ deployments
    def deploy(self, workflow: str, *, semver: str | None, kind: str, filename: str | None,
               source: str | None, ir: str, ir_sha256: str, schedule: str | None,
               inputs: Any, by: str | None, now: float | None = None) -> tuple[Deployment, bool]:
        at = self._now(now)
        inputs_text = None if inputs is None else json.dumps(inputs, sort_keys=True)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                last = db.execute(f"SELECT {_DEPLOY_COLS} FROM server_deployments WHERE "
                                  "workflow = ? ORDER BY version DESC LIMIT 1",
                                  (workflow,)).fetchone()
                if last is not None:
                    prev = _deployment(last)
                    if (prev.ir_sha256 == ir_sha256 and prev.schedule == schedule
                            and prev.inputs == inputs and prev.source == source):
                        db.execute("COMMIT")
                        return prev, False
                version = 1 if last is None else int(last[1]) + 1
                row = (workflow, version, semver, kind, filename, source, ir, ir_sha256,
                       schedule, inputs_text, at, by)
                db.execute(f"INSERT INTO server_deployments ({_DEPLOY_COLS}) VALUES "
                           f"({', '.join('?' * len(row))})", row)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return _deployment(row), True

    def deployment(self, workflow: str, version: int | None = None) -> Deployment | None:
        if version is None:
            rows = self._q(f"SELECT {_DEPLOY_COLS} FROM server_deployments WHERE workflow = ? "
                           "ORDER BY version DESC LIMIT 1", (workflow,))
        else:
            rows = self._q(f"SELECT {_DEPLOY_COLS} FROM server_deployments WHERE workflow = ? "
                           "AND version = ?", (workflow, version))
        return _deployment(rows[0]) if rows else None

    def deployments(self, workflow: str | None = None) -> list[Deployment]:
        if workflow is not None:
            return [_deployment(r) for r in self._q(
                f"SELECT {_DEPLOY_COLS} FROM server_deployments WHERE workflow = ? "
                "ORDER BY version DESC", (workflow,))]
        return [_deployment(r) for r in self._q(
            f"SELECT {_DEPLOY_COLS} FROM server_deployments d WHERE version = (SELECT "
            "max(version) FROM server_deployments e WHERE e.workflow = d.workflow) "
            "ORDER BY workflow")]

    def deployment_by_sha(self, ir_sha256: str) -> Deployment | None:
        rows = self._q(f"SELECT {_DEPLOY_COLS} FROM server_deployments WHERE ir_sha256 = ? "
                       "ORDER BY deployed_at DESC, version DESC LIMIT 1", (ir_sha256,))
        return _deployment(rows[0]) if rows else None

    # ------------------------------------------------------------------ schedules
    def set_schedule(self, workflow: str, expr: str | None, now: float | None = None) -> None:
        at = self._now(now)
        if expr is None:
            self._w("DELETE FROM server_schedules WHERE workflow = ?", (workflow,))
            return
        self._w("INSERT INTO server_schedules (workflow, expr, since, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (workflow) DO UPDATE SET "
                "since = CASE WHEN server_schedules.expr = excluded.expr "
                "THEN server_schedules.since ELSE excluded.since END, "
                "expr = excluded.expr, updated_at = excluded.updated_at",
                (workflow, expr, at, at))

    def schedules(self) -> list[ScheduleRecord]:
        return [_schedule(r) for r in self._q(
            "SELECT workflow, expr, paused, missed, since, updated_at FROM server_schedules "
            "ORDER BY workflow")]

    def update_schedule(self, workflow: str, *, paused: bool | None = None,
                        missed: str | None = None, now: float | None = None) -> bool:
        if missed is not None and missed not in MISSED_POLICIES:
            raise ValueError(f"unknown missed-fire policy {missed!r} (expected once or skip)")
        at = self._now(now)
        sets, args = ["updated_at = ?"], [at]
        if paused is not None:
            sets.append("paused = ?")
            args.append(int(paused))
            if not paused:  # unpausing: what passed while paused never fires
                sets.append("since = CASE WHEN paused = 1 THEN ? ELSE since END")
                args.append(at)
        if missed is not None:
            sets.append("missed = ?")
            args.append(missed)  # type: ignore[arg-type]
        return self._w(f"UPDATE server_schedules SET {', '.join(sets)} WHERE workflow = ?",
                       [*args, workflow]) == 1

    def claim_fire(self, workflow: str, occurrence: float, server: str,
                   now: float | None = None, note: str | None = None) -> bool:
        return self._w("INSERT INTO server_fires (workflow, occurrence_ms, fired_at, server, "
                       "note) VALUES (?, ?, ?, ?, ?) ON CONFLICT (workflow, occurrence_ms) "
                       "DO NOTHING", (workflow, _ms(occurrence), self._now(now), server,
                                      note)) == 1

    def set_fire_run(self, workflow: str, occurrence: float, run_id: str | None,
                     note: str | None = None) -> None:
        self._w("UPDATE server_fires SET run_id = ?, note = coalesce(?, note) WHERE "
                "workflow = ? AND occurrence_ms = ?", (run_id, note, workflow,
                                                       _ms(occurrence)))

    def last_occurrence(self, workflow: str) -> float | None:
        row = self._q("SELECT max(occurrence_ms) FROM server_fires WHERE workflow = ?",
                      (workflow,))[0]
        return None if row[0] is None else row[0] / 1000

    def fires(self, workflow: str | None = None, limit: int = 50) -> list[FireRecord]:
        where, args = ("WHERE workflow = ? ", [workflow]) if workflow else ("", [])
        return [FireRecord(w, ms / 1000, at, run, server, note) for w, ms, at, run, server, note
                in self._q("SELECT workflow, occurrence_ms, fired_at, run_id, server, note "
                           f"FROM server_fires {where}ORDER BY occurrence_ms DESC LIMIT ?",
                           [*args, limit])]

    # ------------------------------------------------------------------ notifications
    def add_rule(self, *, name: str, kind: str, url: str, workflow: str | None,
                 threshold: float | None, window: float | None, min_runs: int,
                 limit: float | None, now: float | None = None) -> NotifyRule:
        if kind not in RULE_KINDS:
            raise ValueError(f"unknown rule kind {kind!r}")
        at = self._now(now)
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO server_rules (name, kind, url, workflow, threshold, win, "
                "min_runs, lim, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, kind, url, workflow, threshold, window, min_runs, limit, at))
            rid = int(cur.lastrowid or 0)
        return NotifyRule(rid, name, kind, url, workflow, threshold, window, min_runs, limit,
                          at)

    def rules(self) -> list[NotifyRule]:
        return [_rule(r) for r in self._q(f"SELECT {_RULE_COLS} FROM server_rules ORDER BY id")]

    def delete_rule(self, rule_id: int) -> bool:
        return self._w("DELETE FROM server_rules WHERE id = ?", (rule_id,)) == 1

    def claim_notice(self, rule_id: int, subject: str, now: float | None = None) -> bool:
        return self._w("INSERT INTO server_notified (rule_id, subject, sent_at) VALUES "
                       "(?, ?, ?) ON CONFLICT (rule_id, subject) DO NOTHING",
                       (rule_id, subject, self._now(now))) == 1

    def release_notice(self, rule_id: int, subject: str) -> None:
        self._w("DELETE FROM server_notified WHERE rule_id = ? AND subject = ?",
                (rule_id, subject))

    def notices(self, rule_id: int) -> list[str]:
        return [r[0] for r in self._q("SELECT subject FROM server_notified WHERE rule_id = ? "
                                      "ORDER BY sent_at, subject", (rule_id,))]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _ms(ts: float) -> int:
    """An occurrence's key: whole milliseconds (every server computes the same float from
    croniter; rounding makes the key exact)."""
    return round(ts * 1000)
