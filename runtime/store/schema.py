"""The SQLite schema of the state store and its migrations.

``PRAGMA user_version`` holds the number of migrations a file has had; opening a store runs
the missing ones, in order, in one write transaction (a second process opening the same file
at the same moment waits, then finds nothing left to do).  A migration is a function of the
connection; once released it never changes: a change of schema is a new migration appended
to ``MIGRATIONS``.

Conventions: timestamps are REAL (UTC epoch seconds); JSON values are TEXT (SQL NULL for
Python None); statuses are TEXT, checked by the store in Python (so a new status needs no
table rebuild).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _v1_execution_record(db: sqlite3.Connection) -> None:
    """Runs, their programs, task instances, attempts and events."""
    _script(db, """
        CREATE TABLE programs (
            sha256     TEXT PRIMARY KEY,      -- of the IR JSON text
            ir         TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE runs (
            id          TEXT PRIMARY KEY,     -- 20261123-101530-3f9a1c: sorts by creation
            workflow    TEXT NOT NULL,
            version     TEXT,
            source_path TEXT,
            ir_sha256   TEXT REFERENCES programs(sha256),
            inputs      TEXT,                 -- JSON
            status      TEXT NOT NULL,
            created_at  REAL NOT NULL,
            started_at  REAL,
            finished_at REAL,
            error       TEXT,                 -- JSON
            outputs     TEXT,                 -- JSON
            parent_id   TEXT REFERENCES runs(id) ON DELETE SET NULL,
            resumes     INTEGER NOT NULL DEFAULT 0,
            pid         INTEGER,
            host        TEXT
        );
        CREATE INDEX runs_by_workflow ON runs(workflow, created_at);
        CREATE INDEX runs_by_created ON runs(created_at);
        CREATE INDEX runs_by_status ON runs(status, created_at);

        -- One row per task instance: node id plus iteration path ("loop[3]/convert").
        -- rowid order is the order instances were first recorded.
        CREATE TABLE tasks (
            run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            key         TEXT NOT NULL,
            task        TEXT,
            status      TEXT NOT NULL,
            attempts    INTEGER NOT NULL DEFAULT 0,
            result      TEXT,                 -- JSON
            error       TEXT,                 -- JSON
            started_at  REAL,
            finished_at REAL,
            line        INTEGER,
            UNIQUE (run_id, key)
        );
        CREATE TABLE attempts (
            run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            key         TEXT NOT NULL,        -- the task instance (tasks.run_id, tasks.key)
            attempt     INTEGER NOT NULL,     -- from 1
            status      TEXT NOT NULL,
            started_at  REAL,
            finished_at REAL,
            error       TEXT,                 -- JSON
            UNIQUE (run_id, key, attempt)
        );
        CREATE TABLE events (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            seq    INTEGER NOT NULL,          -- from 1 per run, in commit order
            ts     REAL NOT NULL,
            type   TEXT NOT NULL,             -- workflow.started, task.completed, ...
            key    TEXT,
            data   TEXT,                      -- JSON
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
    """)


def _v2_control_plane(db: sqlite3.Connection) -> None:
    """Checkpoints, control requests from other processes, and the task cache."""
    _script(db, """
        CREATE TABLE checkpoints (
            run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            key        TEXT NOT NULL,
            value      TEXT,                  -- JSON
            updated_at REAL NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE controls (
            id           INTEGER PRIMARY KEY,
            run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            command      TEXT NOT NULL CHECK (command IN ('pause', 'resume', 'cancel')),
            requested_at REAL NOT NULL,
            handled_at   REAL
        );
        CREATE INDEX controls_pending ON controls(run_id) WHERE handled_at IS NULL;
        CREATE TABLE cache (
            key        TEXT PRIMARY KEY,      -- sha256 of agent, task definition, inputs
            workflow   TEXT,
            task       TEXT,
            result     TEXT,                  -- JSON
            created_at REAL NOT NULL,
            expires_at REAL,                  -- NULL: never
            hits       INTEGER NOT NULL DEFAULT 0,
            last_hit_at REAL
        );
        CREATE INDEX cache_by_workflow ON cache(workflow);
    """)


def _v3_queues(db: sqlite3.Connection) -> None:
    """Queues of submitted runs, their priority, and the leases of the workers running them
    (docs/scale-out.md)."""
    _script(db, """
        ALTER TABLE runs ADD COLUMN queue TEXT;             -- NULL: started by `twdsl run`
        ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN queued_at REAL;         -- when it last entered its queue
        ALTER TABLE runs ADD COLUMN queue_rank REAL;        -- queued_at - priority * aging
        ALTER TABLE runs ADD COLUMN worker TEXT;            -- the worker holding it (or last)
        ALTER TABLE runs ADD COLUMN lease_expires REAL;     -- the end of that worker's lease
        CREATE INDEX runs_waiting ON runs(queue, queue_rank)
            WHERE status = 'pending' AND queue IS NOT NULL;
        CREATE INDEX runs_leased ON runs(queue, lease_expires)
            WHERE status = 'running' AND queue IS NOT NULL;
        CREATE INDEX runs_finished ON runs(finished_at) WHERE queue IS NOT NULL;
    """)


def _v4_events_in_task_rows(db: sqlite3.Connection) -> None:
    """The events of a task's first attempt kept in its row (its input and the numbers of
    its task.started and task.completed), and each run's event counter."""
    _script(db, """
        ALTER TABLE tasks ADD COLUMN input TEXT;            -- JSON: the first attempt's input
        ALTER TABLE tasks ADD COLUMN seq_started INTEGER;   -- its task.started event
        ALTER TABLE tasks ADD COLUMN seq_done INTEGER;      -- its task.completed event
        ALTER TABLE runs ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
        UPDATE runs SET last_seq = (SELECT coalesce(max(seq), 0) FROM events
                                    WHERE events.run_id = runs.id);
    """)


#: Applied in order; ``user_version`` = how many have been applied.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_execution_record,
    _v2_control_plane,
    _v3_queues,
    _v4_events_in_task_rows,
]
VERSION = len(MIGRATIONS)


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


#: The tables of the schema (the server keeps its own, ``server_*``, in the same file)
TABLES = frozenset({"programs", "runs", "tasks", "attempts", "events", "checkpoints",
                    "controls", "cache"})


def foreign_tables(db: sqlite3.Connection) -> list[str]:
    """The tables of a database twdsl never migrated (``user_version`` 0) that are not
    twdsl's: a database of another program, which a store must not add its tables to (nor
    switch to WAL).  Empty for a new file and for a state store."""
    if user_version(db) != 0:
        return []
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return sorted(n for n in names
                  if n not in TABLES and not n.startswith(("server_", "sqlite_")))


def foreign_message(path: str, tables: list[str]) -> str:
    """Why the database of another program at ``path`` is not used as a state store."""
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    return (f"{path} is a SQLite database of another program (its tables: {shown}), not a "
            "twdsl state store; twdsl adds nothing to it: give another path")


def migrate(db: sqlite3.Connection, upto: int = VERSION) -> int:
    """Bring the schema to version ``upto`` (all of it by default) in one write transaction;
    returns the version found before.  The connection must be in autocommit mode
    (``isolation_level=None``).  Raises ValueError for a file newer than this code."""
    found = user_version(db)
    if found == upto:
        return found  # the common case: no write lock taken
    db.execute("BEGIN IMMEDIATE")
    try:
        found = user_version(db)  # another process may have migrated meanwhile
        if found > VERSION:
            raise ValueError(found)
        for step in range(found, upto):
            MIGRATIONS[step](db)
        if upto > found:
            db.execute(f"PRAGMA user_version = {int(upto)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run a script's statements one by one: ``executescript`` would commit first, and a
    migration must share the caller's transaction."""
    for statement in _statements(script):
        db.execute(statement)


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (sqlite3.complete_statement knows where
    a statement ends, comments and strings included)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return [s for s in out if not all(
        line.strip().startswith("--") or not line.strip() for line in s.splitlines())]
