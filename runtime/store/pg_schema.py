"""The PostgreSQL schema of the state store and its migrations: the same tables, columns and
steps as the SQLite schema (``schema.py``), in PostgreSQL's types.

The table ``twdsl_schema`` holds the number of migrations a database has had; opening a store
runs the missing ones, in order, in one transaction under an advisory lock (a second process
opening the same database at the same moment waits, then finds nothing left to do).  A
migration, once released, never changes: a change of schema is a new migration appended to
``MIGRATIONS``, here and in ``schema.py`` alike.

Conventions: timestamps are ``double precision`` (UTC epoch seconds); JSON values are ``json``
(the text as written: key order kept; SQL NULL for Python None); statuses are ``text``,
checked by the store.  ``tasks`` and ``attempts`` have a ``rowid`` identity column: the order
rows were first recorded, as SQLite's implicit rowid.
"""

from __future__ import annotations

from typing import Any

V1_EXECUTION_RECORD = """
CREATE TABLE programs (
    sha256     text PRIMARY KEY,
    ir         text NOT NULL,
    created_at double precision NOT NULL
);
CREATE TABLE runs (
    id          text COLLATE "C" PRIMARY KEY,
    workflow    text NOT NULL,
    version     text,
    source_path text,
    ir_sha256   text REFERENCES programs(sha256),
    inputs      json,
    status      text NOT NULL,
    created_at  double precision NOT NULL,
    started_at  double precision,
    finished_at double precision,
    error       json,
    outputs     json,
    parent_id   text COLLATE "C" REFERENCES runs(id) ON DELETE SET NULL,
    resumes     integer NOT NULL DEFAULT 0,
    pid         integer,
    host        text
);
CREATE INDEX runs_by_workflow ON runs(workflow, created_at);
CREATE INDEX runs_by_created ON runs(created_at);
CREATE INDEX runs_by_status ON runs(status, created_at);
CREATE TABLE tasks (
    rowid       bigint GENERATED ALWAYS AS IDENTITY,
    run_id      text COLLATE "C" NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         text NOT NULL,
    task        text,
    status      text NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    result      json,
    error       json,
    started_at  double precision,
    finished_at double precision,
    line        integer,
    UNIQUE (run_id, key)
);
CREATE TABLE attempts (
    rowid       bigint GENERATED ALWAYS AS IDENTITY,
    run_id      text COLLATE "C" NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key         text NOT NULL,
    attempt     integer NOT NULL,
    status      text NOT NULL,
    started_at  double precision,
    finished_at double precision,
    error       json,
    UNIQUE (run_id, key, attempt)
);
CREATE TABLE events (
    run_id text COLLATE "C" NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq    integer NOT NULL,
    ts     double precision NOT NULL,
    type   text NOT NULL,
    key    text,
    data   json,
    PRIMARY KEY (run_id, seq)
);
"""

V2_CONTROL_PLANE = """
CREATE TABLE checkpoints (
    run_id     text COLLATE "C" NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key        text NOT NULL,
    value      json,
    updated_at double precision NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE controls (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       text COLLATE "C" NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    command      text NOT NULL CHECK (command IN ('pause', 'resume', 'cancel')),
    requested_at double precision NOT NULL,
    handled_at   double precision
);
CREATE INDEX controls_pending ON controls(run_id) WHERE handled_at IS NULL;
CREATE TABLE cache (
    key         text PRIMARY KEY,
    workflow    text,
    task        text,
    result      json,
    created_at  double precision NOT NULL,
    expires_at  double precision,
    hits        integer NOT NULL DEFAULT 0,
    last_hit_at double precision
);
CREATE INDEX cache_by_workflow ON cache(workflow);
"""

V3_QUEUES = """
ALTER TABLE runs ADD COLUMN queue text;
ALTER TABLE runs ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN queued_at double precision;
ALTER TABLE runs ADD COLUMN queue_rank double precision;
ALTER TABLE runs ADD COLUMN worker text;
ALTER TABLE runs ADD COLUMN lease_expires double precision;
CREATE INDEX runs_waiting ON runs(queue, queue_rank)
    WHERE status = 'pending' AND queue IS NOT NULL;
CREATE INDEX runs_leased ON runs(queue, lease_expires)
    WHERE status = 'running' AND queue IS NOT NULL;
CREATE INDEX runs_finished ON runs(finished_at) WHERE queue IS NOT NULL;
"""

V4_EVENTS_IN_TASK_ROWS = """
ALTER TABLE tasks ADD COLUMN input json;
ALTER TABLE tasks ADD COLUMN seq_started integer;
ALTER TABLE tasks ADD COLUMN seq_done integer;
ALTER TABLE runs ADD COLUMN last_seq integer NOT NULL DEFAULT 0;
UPDATE runs SET last_seq = (SELECT coalesce(max(seq), 0) FROM events
                            WHERE events.run_id = runs.id);
"""

#: Applied in order; ``twdsl_schema.version`` = how many have been applied.
MIGRATIONS: list[str] = [V1_EXECUTION_RECORD, V2_CONTROL_PLANE, V3_QUEUES,
                         V4_EVENTS_IN_TASK_ROWS]
VERSION = len(MIGRATIONS)

#: The advisory lock migrations hold (any number; this one spells "twdsl").
LOCK_KEY = 0x7477_6473_6C


def version(conn: Any) -> int:
    """The schema version of the database (0: none yet)."""
    row = conn.execute("SELECT to_regclass('twdsl_schema') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM twdsl_schema").fetchone()
    return int(row[0] or 0)


def migrate(conn: Any, upto: int = VERSION) -> int:
    """Bring the schema to version ``upto`` (all of it by default) in one transaction on an
    autocommit connection; returns the version found before.  Raises ValueError for a
    database newer than this code."""
    found = version(conn)
    if found > VERSION:
        raise ValueError(found)
    if found >= upto:
        return found
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS twdsl_schema (version integer NOT NULL)")
        found = version(conn)  # another process may have migrated meanwhile
        if found > VERSION:
            raise ValueError(found)
        for step in range(found, upto):
            conn.execute(MIGRATIONS[step])
        if upto > found:
            conn.execute("DELETE FROM twdsl_schema")
            conn.execute("INSERT INTO twdsl_schema (version) VALUES (%s)", (upto,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
