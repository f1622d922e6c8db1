"""The embedded state store: one SQLite file (WAL mode) shared by the running process and
the control-plane commands of other terminals.

Recorded writes go to a lock-free queue (``collections.deque``: appends are atomic) and a
writer thread commits them together every ``flush_interval`` seconds or ``batch`` records,
whichever comes first; updates of the same row within one batch are merged first (a task
that starts and completes between two commits is written once).  Durable writes and reads
take the connection's lock, commit the queue, and then do their own work, so that
everything recorded before a durable write is committed with it, in the same transaction.
"""

from __future__ import annotations

import atexit
import collections
import hashlib
import json
import json.encoder
import json.scanner
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from twdsl.runtime.store import stats as _stats
from twdsl.runtime.store.base import (
    ATTEMPT_STATUSES,
    CONTROL_COMMANDS,
    RUN_STATUSES,
    TASK_STATUSES,
    AmbiguousRunId,
    AttemptFields,
    AttemptRecord,
    CacheHit,
    ControlRequest,
    EventRecord,
    RunFields,
    RunNotFound,
    RunRecord,
    Store,
    StoreError,
    TaskFields,
    TaskState,
    this_host,
)
from twdsl.runtime.store.schema import VERSION, migrate, user_version

T = TypeVar("T")

_TASK_COLS = TaskFields.__optional_keys__
_ATTEMPT_COLS = AttemptFields.__optional_keys__
_RUN_COLS = RunFields.__optional_keys__
_JSON_COLS = frozenset({"result", "error", "outputs", "inputs"})

# Queue operations: (kind, …)
_TASK, _ATTEMPT, _EVENT, _CHECKPOINT, _RUN, _CACHE_PUT, _CACHE_HIT = range(7)

_RUN_SELECT = ("SELECT id, workflow, version, source_path, ir_sha256, inputs, status, "
               "created_at, started_at, finished_at, error, outputs, parent_id, resumes, pid, "
               "host FROM runs")
_TASK_SELECT = ("SELECT run_id, key, task, status, attempts, result, error, started_at, "
                "finished_at, line FROM tasks")

# The C encoder and scanner, made once: json.dumps/json.loads rebuild or re-check them on
# every call, which costs several times the work itself for the small values recorded here.
# A value JSON cannot represent is stored as its repr (a background commit must not fail).
_c_encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, repr, json.encoder.encode_basestring, None, ":", ",", False, False, True)
_c_scan = json.scanner.c_make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def _encode(value: Any) -> str:
    """JSON text of ``value``, compact, UTF-8 kept as is.

    >>> _encode({"a": [1, 2.5, "é", None]})
    '{"a":[1,2.5,"é",null]}'
    """
    return "".join(_c_encode(value, 0))
_OPEN: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _dump(value: Any) -> str | None:
    return None if value is None else _encode(value)


def _load(text: str | None) -> Any:
    if text is None:
        return None
    try:
        value, end = _c_scan(text, 0)
    except StopIteration:  # not written by us (leading space, …): the careful parser
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def _run(row: tuple[Any, ...]) -> RunRecord:
    (rid, workflow, version, source, sha, inputs, status, created, started, finished, error,
     outputs, parent, resumes, pid, host) = row
    return RunRecord(rid, workflow, version, source, sha, _load(inputs), status, created,
                     started, finished, _load(error), _load(outputs), parent, resumes, pid,
                     host)


class SQLiteStore(Store):
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
        self.path = str(path)
        self.clock = clock
        self._batch = batch
        self._interval = flush_interval
        self._q: collections.deque[tuple[Any, ...]] = collections.deque()
        self._db_lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self._cache_pending: set[str] = set()
        self._runs: set[str] = set()  # run ids known to exist: recorded writes check them
        self._controls_seen: dict[str, tuple[int, int, list[ControlRequest]]] = {}
        self._own_control_writes = 0
        self._error: BaseException | None = None
        self._closed = False
        self._db = self._connect(busy_timeout)
        # queue lengths at which the writer is told (none without a writer)
        self._signals = frozenset({1, batch}) if flush_interval is not None else frozenset()
        self._wake = threading.Event()
        self._full = threading.Event()
        self._thread: threading.Thread | None = None
        if flush_interval is not None:
            self._thread = threading.Thread(target=self._writer, name="twdsl-store-writer",
                                            daemon=True)
            self._thread.start()
        _OPEN.add(self)

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
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreError(f"{self.path} is not a usable twdsl state database: {e}") from None
        return db

    @property
    def schema_version(self) -> int:
        with self._db_lock:
            return user_version(self._db)

    # ------------------------------------------------------------------ group commit
    def _writer(self) -> None:
        """The writer thread: sleeps until a record arrives, gathers for ``flush_interval``
        (or until ``batch`` records), commits, and again."""
        q, wake, full = self._q, self._wake, self._full
        while not self._closed:
            if not q:
                wake.wait(0.5)
                wake.clear()
                continue
            if len(q) < self._batch:
                full.wait(self._interval)
            full.clear()
            if self._closed:
                return
            try:
                with self._db_lock:
                    if not self._closed:
                        self._commit(self._drain())
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    self._error = e
            except BaseException as e:  # noqa: BLE001 - surfaced by the next call
                self._error = e

    def _enqueue(self, op: tuple[Any, ...]) -> None:
        q = self._q
        q.append(op)
        if len(q) in self._signals:
            self._signal(len(q))

    def _signal(self, n: int) -> None:
        """The queue just got its first record (wake the writer) or a full batch."""
        if n == 1:
            self._wake.set()
        else:
            self._full.set()

    def _drain(self) -> list[tuple[Any, ...]]:
        with self._cache_lock:
            q = self._q
            n = len(q)
            self._cache_pending.clear()
        return [q.popleft() for _ in range(n)]

    def _commit(self, ops: list[tuple[Any, ...]],
                extra: Callable[[sqlite3.Connection], T] | None = None,
                sync: bool = False) -> T | None:
        """One transaction: the queued ``ops``, then ``extra`` (a durable write).  If
        ``extra`` fails, the ops are still committed and its error raised.  If the ops
        cannot be written, they go back to the front of the queue."""
        db = self._db
        result: T | None = None
        if sync:
            db.execute("PRAGMA synchronous=FULL")
        try:
            try:
                db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._q.extendleft(reversed(ops))
                raise
            try:
                if ops:
                    self._apply(ops)
                if extra is not None:
                    db.execute("SAVEPOINT durable")
                    try:
                        result = extra(db)
                    except BaseException:
                        db.execute("ROLLBACK TO durable")
                        db.execute("RELEASE durable")
                        db.execute("COMMIT")
                        raise
                    db.execute("RELEASE durable")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        finally:
            if sync:
                db.execute("PRAGMA synchronous=NORMAL")
        return result

    def _apply(self, ops: list[tuple[Any, ...]]) -> None:
        """Merge the queued operations row by row, then write each table in bulk."""
        runs: dict[str, dict[str, Any]] = {}
        tasks: dict[tuple[str, str], dict[str, Any]] = {}
        attempts: dict[tuple[str, str, int], dict[str, Any]] = {}
        events: list[tuple[Any, ...]] = []
        checkpoints: dict[tuple[str, str], tuple[Any, float]] = {}
        puts: dict[str, tuple[Any, ...]] = {}
        hits: dict[str, list[float]] = {}
        for op in ops:
            kind = op[0]
            if kind == _TASK:
                _merge(tasks, (op[1], op[2]), op[3], op[4])
            elif kind == _EVENT:
                events.append(op)
            elif kind == _ATTEMPT:
                _merge(attempts, (op[1], op[2], op[3]), op[4], op[5])
            elif kind == _CHECKPOINT:
                checkpoints[(op[1], op[2])] = (op[3], op[4])
            elif kind == _RUN:
                runs.setdefault(op[1], {}).update(op[2])
            elif kind == _CACHE_PUT:
                puts[op[1]] = op
                hits.pop(op[1], None)
            elif kind == _CACHE_HIT:
                h = hits.setdefault(op[1], [0, 0.0])
                h[0] += 1
                h[1] = op[2]
        db = self._db
        for rid, fields in runs.items():
            cols = sorted(fields)
            db.execute(f"UPDATE runs SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ?",
                       [*(_value(c, fields[c]) for c in cols), rid])
        if tasks:
            _upsert(db, "tasks", ("run_id", "key"), tasks)
        if attempts:
            _upsert(db, "attempts", ("run_id", "key", "attempt"), attempts)
        if events:
            self._insert_events(events)
        if checkpoints:
            db.executemany(
                "INSERT INTO checkpoints (run_id, key, value, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                [(r, k, _dump(v), ts) for (r, k), (v, ts) in checkpoints.items()])
        if puts:
            db.executemany(
                "INSERT OR REPLACE INTO cache (key, result, workflow, task, created_at, "
                "expires_at, hits) VALUES (?, ?, ?, ?, ?, ?, 0)",
                [(op[1], _dump(op[2]), *op[3:]) for op in puts.values()])
        if hits:
            db.executemany("UPDATE cache SET hits = hits + ?, last_hit_at = ? WHERE key = ?",
                           [(n, ts, key) for key, (n, ts) in hits.items()])

    def _insert_events(self, events: list[tuple[Any, ...]]) -> None:
        db = self._db
        seq: dict[str, int] = {}
        rows = []
        encode = _c_encode
        for _, rid, type_, key, data, ts in events:
            n = seq.get(rid)
            if n is None:
                n = db.execute("SELECT coalesce(max(seq), 0) FROM events WHERE run_id = ?",
                               (rid,)).fetchone()[0]
            n += 1
            seq[rid] = n
            rows.append((rid, n, ts, type_, key,
                         None if data is None else "".join(encode(data, 0))))
        db.executemany("INSERT INTO events (run_id, seq, ts, type, key, data) "
                       "VALUES (?, ?, ?, ?, ?, ?)", rows)

    # ------------------------------------------------------------------ plumbing
    def _check(self) -> None:
        if self._closed:
            raise StoreError(f"the state store {self.path} is closed")
        error, self._error = self._error, None
        if error is not None:
            raise StoreError(f"recording to the state database {self.path} failed: "
                             f"{error}") from error

    def _durable(self, extra: Callable[[sqlite3.Connection], T]) -> T:
        """Commit the queue and ``extra`` in one transaction, synced to disk."""
        self._check()
        with self._db_lock:
            try:
                return self._commit(self._drain(), extra, sync=True)  # type: ignore[return-value]
            except sqlite3.OperationalError as e:
                raise StoreError(f"cannot write the state database {self.path}: {e}") from None

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Commit this process's queued writes, then read (in one snapshot)."""
        self._check()
        with self._db_lock:
            if self._q:
                self._commit(self._drain())
            db = self._db
            db.execute("BEGIN")
            try:
                return fn(db)
            finally:
                db.execute("COMMIT")

    def _known_run(self, run_id: str) -> None:
        """Recorded writes of an unknown run would fail the whole batch later, in the
        writer thread: refuse them now."""
        with self._db_lock:
            found = self._db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
        if found is None:
            raise RunNotFound(f"no run {run_id!r} in {self.path}")
        self._runs.add(run_id)

    # ------------------------------------------------------------------ runs
    def create_run(self, run_id: str, workflow: str, *, version: str | None = None,
                   source_path: str | None = None, ir: str | None = None,
                   inputs: Any = None, status: str = "pending",
                   parent_id: str | None = None, pid: int | None = None,
                   host: str | None = None, created_at: float | None = None) -> RunRecord:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        created = self.clock() if created_at is None else created_at
        sha = None if ir is None else hashlib.sha256(ir.encode()).hexdigest()
        pid = os.getpid() if pid is None else pid
        host = this_host() if host is None else host

        def write(db: sqlite3.Connection) -> None:
            if parent_id is not None and db.execute(
                    "SELECT 1 FROM runs WHERE id = ?", (parent_id,)).fetchone() is None:
                raise RunNotFound(f"no run {parent_id!r} in {self.path}")
            if sha is not None:
                db.execute("INSERT OR IGNORE INTO programs (sha256, ir, created_at) "
                           "VALUES (?, ?, ?)", (sha, ir, created))
            try:
                db.execute(
                    "INSERT INTO runs (id, workflow, version, source_path, ir_sha256, inputs, "
                    "status, created_at, parent_id, pid, host) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, workflow, version, source_path, sha, _dump(inputs), status,
                     created, parent_id, pid, host))
            except sqlite3.IntegrityError:
                raise StoreError(f"a run {run_id!r} already exists in {self.path}") from None

        self._durable(write)
        self._runs.add(run_id)
        return RunRecord(run_id, workflow, version, source_path, sha, inputs, status, created,
                         None, None, None, None, parent_id, 0, pid, host)

    def update_run(self, run_id: str, *, durable: bool = True,
                   **fields: Any) -> None:
        if not fields.keys() <= _RUN_COLS:
            raise TypeError(f"update_run: unknown fields {sorted(fields.keys() - _RUN_COLS)}")
        if "status" in fields and fields["status"] not in RUN_STATUSES:
            raise ValueError(f"unknown run status {fields['status']!r}")
        if not fields:
            return
        if not durable:
            if run_id not in self._runs:
                self._known_run(run_id)
            self._enqueue((_RUN, run_id, dict(fields)))
            return
        cols = sorted(fields)
        values = [*(_value(c, fields[c]) for c in cols), run_id]  # type: ignore[literal-required]

        def write(db: sqlite3.Connection) -> None:
            cur = db.execute(f"UPDATE runs SET {', '.join(c + ' = ?' for c in cols)} "
                             "WHERE id = ?", values)
            if cur.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} in {self.path}")

        self._durable(write)

    def mark_resumed(self, run_id: str, *, pid: int | None = None, host: str | None = None,
                     now: float | None = None) -> RunRecord:
        pid = os.getpid() if pid is None else pid
        host = this_host() if host is None else host

        def write(db: sqlite3.Connection) -> RunRecord:
            cur = db.execute(
                "UPDATE runs SET status = 'running', resumes = resumes + 1, pid = ?, "
                "host = ?, finished_at = NULL, error = NULL, outputs = NULL WHERE id = ?",
                (pid, host, run_id))
            if cur.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} in {self.path}")
            return _run(db.execute(_RUN_SELECT + " WHERE id = ?", (run_id,)).fetchone())

        record = self._durable(write)
        self._runs.add(run_id)
        return record

    def get_run(self, id_or_prefix: str) -> RunRecord | None:
        def read(db: sqlite3.Connection) -> RunRecord | None:
            row = db.execute(_RUN_SELECT + " WHERE id = ?", (id_or_prefix,)).fetchone()
            if row is not None:
                return _run(row)
            rows = db.execute(_RUN_SELECT + " WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                              (id_or_prefix, id_or_prefix + "\U0010ffff")).fetchall()
            if len(rows) > 1:
                raise AmbiguousRunId(id_or_prefix, [r[0] for r in rows])
            return _run(rows[0]) if rows else None

        return self._read(read)

    def program(self, run_id: str) -> str | None:
        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT p.ir FROM runs r JOIN programs p ON p.sha256 = "
                             "r.ir_sha256 WHERE r.id = ?", (run_id,)).fetchone()
            return None if row is None else str(row[0])

        return self._read(read)

    def list_runs(self, workflow: str | None = None, status: str | None = None,
                  since: float | None = None, until: float | None = None,
                  limit: int | None = 50) -> list[RunRecord]:
        where, args = _where("", workflow=workflow, status=status, since=since, until=until)
        sql = (_RUN_SELECT + where + " ORDER BY created_at DESC, id DESC LIMIT ?")
        args.append(-1 if limit is None else limit)
        return self._read(lambda db: [_run(r) for r in db.execute(sql, args)])

    # ------------------------------------------------------------------ tasks (recorded)
    def set_task(self, run_id: str, key: str, status: str,
                 **fields: Any) -> None:
        if status not in TASK_STATUSES or not fields.keys() <= _TASK_COLS:
            _bad("task", status, TASK_STATUSES, fields.keys() - _TASK_COLS)
        if run_id not in self._runs:
            self._known_run(run_id)
        q = self._q
        q.append((_TASK, run_id, key, status, fields))
        if len(q) in self._signals:
            self._signal(len(q))

    def set_attempt(self, run_id: str, key: str, attempt: int, status: str,
                    **fields: Any) -> None:
        if status not in ATTEMPT_STATUSES or not fields.keys() <= _ATTEMPT_COLS:
            _bad("attempt", status, ATTEMPT_STATUSES, fields.keys() - _ATTEMPT_COLS)
        if run_id not in self._runs:
            self._known_run(run_id)
        q = self._q
        q.append((_ATTEMPT, run_id, key, attempt, status, fields))
        if len(q) in self._signals:
            self._signal(len(q))

    def record_event(self, run_id: str, type: str, key: str | None = None,
                     data: Any = None, ts: float | None = None) -> None:
        if run_id not in self._runs:
            self._known_run(run_id)
        q = self._q
        q.append((_EVENT, run_id, type, key, data, self.clock() if ts is None else ts))
        if len(q) in self._signals:
            self._signal(len(q))

    def checkpoint(self, run_id: str, key: str, value: Any) -> None:
        if run_id not in self._runs:
            self._known_run(run_id)
        self._enqueue((_CHECKPOINT, run_id, key, value, self.clock()))

    # ------------------------------------------------------------------ tasks (reads)
    def task_states(self, run_id: str) -> list[TaskState]:
        return self._read(lambda db: [
            TaskState(r, k, t, s, a, _load(res), _load(err), st, fin, line)
            for r, k, t, s, a, res, err, st, fin, line in db.execute(
                _TASK_SELECT + " WHERE run_id = ? ORDER BY rowid", (run_id,))])

    def attempts(self, run_id: str, key: str | None = None) -> list[AttemptRecord]:
        sql = ("SELECT run_id, key, attempt, status, started_at, finished_at, error "
               "FROM attempts WHERE run_id = ?")
        args: list[Any] = [run_id]
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        # instances in the order they were first recorded, then attempt numbers
        sql += (" ORDER BY (SELECT min(rowid) FROM attempts a2 WHERE a2.run_id = "
                "attempts.run_id AND a2.key = attempts.key), attempt")
        return self._read(lambda db: [
            AttemptRecord(r, k, n, s, st, fin, _load(err))
            for r, k, n, s, st, fin, err in db.execute(sql, args)])

    def events(self, run_id: str, after_seq: int = 0,
               limit: int | None = None) -> list[EventRecord]:
        sql = ("SELECT run_id, seq, ts, type, key, data FROM events "
               "WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?")
        args = (run_id, after_seq, -1 if limit is None else limit)
        return self._read(lambda db: [EventRecord(r, s, ts, t, k, _load(d))
                                      for r, s, ts, t, k, d in db.execute(sql, args)])

    def completed_results(self, run_id: str) -> dict[str, Any]:
        def read(db: sqlite3.Connection) -> dict[str, Any]:
            return {k: _load(res) for k, res in db.execute(
                "SELECT key, result FROM tasks WHERE run_id = ? AND status = 'completed'",
                (run_id,))}

        return self._read(read)

    def checkpoints(self, run_id: str) -> dict[str, Any]:
        return self._read(lambda db: {k: _load(v) for k, v in db.execute(
            "SELECT key, value FROM checkpoints WHERE run_id = ? ORDER BY key", (run_id,))})

    # ------------------------------------------------------------------ control
    def request_control(self, run_id: str, command: str,
                        now: float | None = None) -> ControlRequest:
        if command not in CONTROL_COMMANDS:
            raise ValueError(f"unknown control command {command!r} "
                             f"(expected one of {', '.join(sorted(CONTROL_COMMANDS))})")
        at = self.clock() if now is None else now

        def write(db: sqlite3.Connection) -> ControlRequest:
            try:
                cur = db.execute("INSERT INTO controls (run_id, command, requested_at) "
                                 "VALUES (?, ?, ?)", (run_id, command, at))
            except sqlite3.IntegrityError:
                raise RunNotFound(f"no run {run_id!r} in {self.path}") from None
            return ControlRequest(int(cur.lastrowid or 0), run_id, command, at, None)

        request = self._durable(write)
        self._own_control_writes += 1
        return request

    def pending_controls(self, run_id: str) -> list[ControlRequest]:
        self._check()
        with self._db_lock:
            db = self._db
            version = db.execute("PRAGMA data_version").fetchone()[0]
            seen = self._controls_seen.get(run_id)
            if seen is not None and seen[0] == version and seen[1] == self._own_control_writes:
                return list(seen[2])  # nothing committed since: no query
            found = [ControlRequest(*row) for row in db.execute(
                "SELECT id, run_id, command, requested_at, handled_at FROM controls "
                "WHERE run_id = ? AND handled_at IS NULL ORDER BY id", (run_id,))]
            self._controls_seen[run_id] = (version, self._own_control_writes, found)
            return list(found)

    def mark_handled(self, request_id: int, now: float | None = None) -> None:
        at = self.clock() if now is None else now
        self._durable(lambda db: db.execute(
            "UPDATE controls SET handled_at = ? WHERE id = ?", (at, request_id)))
        self._own_control_writes += 1

    # ------------------------------------------------------------------ cache
    def cache_get(self, key: str, now: float | None = None) -> CacheHit | None:
        at = self.clock() if now is None else now
        with self._cache_lock:
            pending = key in self._cache_pending
        if pending:
            self.flush()
        row = self._read(lambda db: db.execute(
            "SELECT result, created_at, expires_at, hits FROM cache WHERE key = ?",
            (key,)).fetchone())
        if row is None or (row[2] is not None and row[2] <= at):
            return None
        with self._cache_lock:
            self._cache_pending.add(key)
            self._enqueue((_CACHE_HIT, key, at))
        return CacheHit(key, _load(row[0]), row[1], row[2], row[3] + 1)

    def cache_put(self, key: str, result: Any, *, workflow: str | None = None,
                  task: str | None = None, ttl: float | None = None,
                  now: float | None = None) -> None:
        at = self.clock() if now is None else now
        expires = None if ttl is None else at + ttl
        with self._cache_lock:
            self._cache_pending.add(key)
            self._enqueue((_CACHE_PUT, key, result, workflow, task, at, expires))

    def cache_clear(self, workflow: str | None = None) -> int:
        def write(db: sqlite3.Connection) -> int:
            if workflow is None:
                return db.execute("DELETE FROM cache").rowcount
            return db.execute("DELETE FROM cache WHERE workflow = ?", (workflow,)).rowcount

        return self._durable(write)

    # ------------------------------------------------------------------ statistics
    def stats(self, workflow: str | None = None, since: float | None = None,
              top: int = 5) -> dict[str, Any]:
        where, args = _where("", workflow=workflow, since=since)

        def read(db: sqlite3.Connection) -> tuple[list[_stats.RunRow], list[_stats.TaskRow]]:
            runs = [_stats.RunRow(w, s, c, st, fin, _load(e) if s in _stats.FAILED else None)
                    for w, s, c, st, fin, e in db.execute(
                        "SELECT workflow, status, created_at, started_at, finished_at, error "
                        "FROM runs" + where, args)]
            t_where, _ = _where("r.", workflow=workflow, since=since)
            tasks = [_stats.TaskRow(w, t, s, st, fin, _load(e) if s in _stats.FAILED else None)
                     for w, t, s, st, fin, e in db.execute(
                         "SELECT r.workflow, coalesce(t.task, t.key), t.status, t.started_at, "
                         "t.finished_at, t.error FROM runs r JOIN tasks t ON t.run_id = r.id"
                         + t_where, args)]
            return runs, tasks

        runs, tasks = self._read(read)
        return _stats.compute(runs, tasks, top)

    # ------------------------------------------------------------------ lifetime
    def flush(self) -> None:
        self._check()
        with self._db_lock:
            if self._q:
                try:
                    self._commit(self._drain())
                except sqlite3.OperationalError as e:
                    raise StoreError(f"cannot write the state database {self.path}: "
                                     f"{e}") from None

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()
            self._full.set()
            if self._thread is not None:
                self._thread.join()
            with self._db_lock:
                self._db.close()
            _OPEN.discard(self)


def _merge(rows: dict[Any, dict[str, Any]], key: Any, status: str,
           fields: dict[str, Any]) -> None:
    row = rows.get(key)
    if row is None:
        fields["status"] = status  # a fresh **kwargs dict: ours to keep
        rows[key] = fields
    else:
        row.update(fields)
        row["status"] = status


def _value(col: str, value: Any) -> Any:
    return _dump(value) if col in _JSON_COLS else value


def _upsert(db: sqlite3.Connection, table: str, key_cols: tuple[str, ...],
            rows: dict[Any, dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO UPDATE of the given columns only, one ``executemany`` per
    set of columns (a running row and a completed one set different columns)."""
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for key, fields in rows.items():
        cols = tuple(fields)  # the callers' order: the same for most rows
        group = groups.get(cols)
        if group is None:
            group = groups[cols] = []
        group.append([*key, *fields.values()])
    width = len(key_cols)
    for cols, values_list in groups.items():
        for pos in [width + i for i, c in enumerate(cols) if c in _JSON_COLS]:
            for values in values_list:
                v = values[pos]
                if v is not None:
                    values[pos] = "".join(_c_encode(v, 0))
        names = ", ".join((*key_cols, *cols))
        marks = ", ".join("?" * (width + len(cols)))
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols)
        db.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) "
                       f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET {updates}",
                       values_list)


def _where(prefix: str, **filters: Any) -> tuple[str, list[Any]]:
    """A WHERE clause on runs' columns (``prefix``: the table's alias and a dot)."""
    clauses, args = [], []
    for name, value in filters.items():
        if value is None:
            continue
        if name == "since":
            clauses.append(f"{prefix}created_at >= ?")
        elif name == "until":
            clauses.append(f"{prefix}created_at < ?")
        else:
            clauses.append(f"{prefix}{name} = ?")
        args.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _bad(what: str, status: str, allowed: Iterable[str], unknown: Iterable[str]) -> None:
    unknown = sorted(unknown)
    if unknown:
        raise TypeError(f"unknown {what} fields: {', '.join(unknown)}")
    raise ValueError(f"unknown {what} status {status!r} (expected one of "
                     f"{', '.join(sorted(allowed))})")


@atexit.register
def _close_all() -> None:
    """A process that exits without closing its store still commits what it recorded."""
    for store in list(_OPEN):
        try:
            store.close()
        except Exception:  # noqa: BLE001, S110 - exiting: nothing better to do
            pass
