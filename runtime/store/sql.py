"""What the SQLite and PostgreSQL stores share: group commit, every query, queue claims,
fencing of workers, and damage reports.  A back end (``sqlite.py``, ``postgres.py``) brings
its connections, its transactions and its bulk writes; the SQL here is written once, with
``?`` placeholders (the PostgreSQL back end turns them into ``%s``).

Recorded writes go to a lock-free queue (``collections.deque``: appends are atomic) and a
writer thread commits them together every ``flush_interval`` seconds or ``batch`` records,
whichever comes first.  At commit, updates of the same row are merged (a task that starts and
completes between two commits is written once), and each table is written by one statement
whose rows travel as one JSON array (``json_each`` in SQLite, ``json_array_elements`` in
PostgreSQL): the database does the per-row work, and the writer thread, which holds the
interpreter lock while it runs Python, does little.

The events that start and complete a task's first attempt (``record_task`` with ``slot``)
are not rows of ``events``: their numbers are kept in the task's row (``seq_started``,
``seq_done``, beside its ``input``), and ``events()`` gives them back in order with the
others.  A task that succeeds at once costs one row.  ``runs.last_seq`` counts a run's
events.  Durable writes and reads take the write
lock, commit the queue, and then do their own work, so that everything recorded before a
durable write is committed with it, in the same transaction.
"""

from __future__ import annotations

import abc
import atexit
import collections
import hashlib
import json
import json.encoder
import json.scanner
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from twdsl.runtime.states import check_run
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
    LeaseLost,
    QueueStats,
    RunFields,
    RunNotFound,
    RunRecord,
    Store,
    StoreError,
    TaskFields,
    TaskState,
    this_host,
)

T = TypeVar("T")

TASK_COLS = TaskFields.__optional_keys__
ATTEMPT_COLS = AttemptFields.__optional_keys__
RUN_COLS = RunFields.__optional_keys__
JSON_COLS = frozenset({"result", "error", "outputs", "inputs", "input"})
#: where a task's row keeps the number of the event ``record_task(slot=…)`` stands for
SLOTS = {"started": "seq_started", "done": "seq_done"}

# Queue operations: (kind, …)
_TASK, _ATTEMPT, _EVENT, _CHECKPOINT, _RUN, _CACHE_PUT, _CACHE_HIT, _STARTED, _DONE = range(9)

RUN_SELECT = ("SELECT id, workflow, version, source_path, ir_sha256, inputs, status, "
              "created_at, started_at, finished_at, error, outputs, parent_id, resumes, pid, "
              "host, queue, priority, queued_at, worker, lease_expires FROM runs")
TASK_SELECT = ("SELECT run_id, key, task, status, attempts, result, error, started_at, "
               "finished_at, line FROM tasks")
_ACTIVE = ("pending", "running", "paused")

# The C encoder and scanner, made once: json.dumps/json.loads rebuild or re-check them on
# every call, which costs several times the work itself for the small values recorded here.
# A value JSON cannot represent is stored as its repr (a background commit must not fail);
# NaN and infinities are refused here (they are not JSON) and handled by ``encode``.
_c_encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, repr, json.encoder.encode_basestring, None, ":", ",", False, False, False)
_c_scan = json.scanner.c_make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def encode(value: Any) -> str:
    """JSON text of ``value``, compact, UTF-8 kept as is; a float JSON cannot hold (NaN,
    infinities) becomes null.

    >>> encode({"a": [1, 2.5, "é", None, float("nan")]})
    '{"a":[1,2.5,"é",null,null]}'
    """
    try:
        return "".join(_c_encode(value, 0))
    except ValueError:
        return "".join(_c_encode(_finite(value), 0))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dump(value: Any) -> str | None:
    return None if value is None else encode(value)


class Damaged(ValueError):
    """A stored value that is not JSON."""


def load(text: Any) -> Any:
    """The value of a stored JSON text (None for SQL NULL); Damaged if it is not JSON."""
    if text is None:
        return None
    if not isinstance(text, str):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as e:
                raise Damaged(f"not UTF-8 text ({e.reason})") from None
        else:
            raise Damaged(f"a {type(text).__name__}, not JSON text")
    try:
        value, end = _c_scan(text, 0)
    except StopIteration:  # not written by us (leading space, …): the careful parser
        return _careful(text)
    except ValueError as e:
        raise Damaged(str(e)) from None
    return value if end == len(text) else _careful(text)


def _careful(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise Damaged(str(e)) from None


#: The columns of a first attempt's row (``task_started``, then ``task_completed``), after
#: its key (run_id, key): the row as a list, the fast path.
FAST_COLS = ("task", "status", "attempts", "started_at", "line", "input", "seq_started",
             "result", "finished_at", "seq_done")
STARTED_COLS = FAST_COLS[:7]  # a first attempt that has not completed in the batch
DONE_COLS = ("status", "result", "finished_at", "seq_done")  # completed, started before
_SEQ_STARTED, _SEQ_DONE, _DONE_SEQ = 8, 11, 5  # where the event numbers go in those lists


@dataclass
class Batch:
    """Queued operations merged by row, ready to be written table by table."""

    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: first attempts as lists: [run_id, key, *FAST_COLS] (by key), and the completions of
    #: first attempts started in an earlier batch: [run_id, key, *DONE_COLS]
    started: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    done: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    attempts: dict[tuple[str, str, int], dict[str, Any]] = field(default_factory=dict)
    #: run → its events in order: [ts, type, key, data, row, place]; a row (list or dict)
    #: and a place in it (index or column) for an event kept in a task's row
    events: dict[str, list[list[Any]]] = field(default_factory=dict)
    checkpoints: dict[tuple[str, str], tuple[Any, float]] = field(default_factory=dict)
    puts: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    hits: dict[str, list[Any]] = field(default_factory=dict)

    def run_ids(self) -> set[str]:
        ids = set(self.runs) | set(self.events)
        for keys in (self.tasks, self.started, self.done, self.attempts, self.checkpoints):
            ids.update(k[0] for k in keys)
        return ids

    def drop_runs(self, lost: set[str]) -> None:
        for rid in lost:
            self.runs.pop(rid, None)
            self.events.pop(rid, None)
        self.tasks = {k: v for k, v in self.tasks.items() if k[0] not in lost}
        self.started = {k: v for k, v in self.started.items() if k[0] not in lost}
        self.done = {k: v for k, v in self.done.items() if k[0] not in lost}
        self.attempts = {k: v for k, v in self.attempts.items() if k[0] not in lost}
        self.checkpoints = {k: v for k, v in self.checkpoints.items() if k[0] not in lost}

    def as_dict(self, k: tuple[str, str]) -> dict[str, Any] | None:
        """A task's row taken off the fast path (another kind of write came for it): as
        the columns it sets, its events now pointing there."""
        cols: tuple[str, ...]
        row = self.started.pop(k, None)
        if row is not None:
            cols = FAST_COLS if row[3] == "completed" else STARTED_COLS
        else:
            row = self.done.pop(k, None)
            if row is None:
                return None
            cols = DONE_COLS
        fields = dict(zip(cols, row[2:], strict=False))
        for ev in self.events.get(k[0], ()):
            if ev[4] is row:
                ev[4] = fields
                ev[5] = cols[ev[5] - 2]
        self.tasks[k] = fields
        return fields


def merge(ops: Iterable[tuple[Any, ...]]) -> Batch:
    """Merge queued operations row by row (later columns win; untouched columns stay)."""
    b = Batch()
    tasks, attempts, events, started = b.tasks, b.attempts, b.events, b.started
    for op in ops:
        kind = op[0]
        row: Any
        place: Any
        if kind == _STARTED:  # (kind, run, key, task, ts, line, input)
            rid, key = op[1], op[2]
            k = (rid, key)
            if k in tasks or k in b.done:
                row = b.as_dict(k) if k not in tasks else tasks[k]
                row.update(task=op[3], status="running", attempts=1, started_at=op[4],
                           line=op[5], input=op[6])
                place = "seq_started"
            else:
                row = started[k] = [rid, key, op[3], "running", 1, op[4], op[5], op[6], None,
                                    None, None, None]
                place = _SEQ_STARTED
            evs = events.get(rid)
            if evs is None:
                evs = events[rid] = []
            evs.append([op[4], "task.started", key, None, row, place])
        elif kind == _DONE:  # (kind, run, key, ts, result)
            rid, key = op[1], op[2]
            k = (rid, key)
            row = started.get(k)
            if row is not None:
                row[3] = "completed"
                row[9] = op[4]
                row[10] = op[3]
                place = _SEQ_DONE
            elif k in tasks:
                row = tasks[k]
                row.update(status="completed", result=op[4], finished_at=op[3])
                place = "seq_done"
            else:
                row = b.done[k] = [rid, key, "completed", op[4], op[3], None]
                place = _DONE_SEQ
            evs = events.get(rid)
            if evs is None:
                evs = events[rid] = []
            evs.append([op[3], "task.completed", key, None, row, place])
        elif kind == _TASK:
            k = (op[1], op[2])
            if k in started or k in b.done:
                b.as_dict(k)
            row = _merge(tasks, k, op[3], op[4])
            if len(op) > 5:  # with its event: (type, data, ts, slot)
                evs = events.get(op[1])
                if evs is None:
                    evs = events[op[1]] = []
                evs.append([op[7], op[5], op[2], op[6], row if op[8] else None, op[8]])
        elif kind == _EVENT:
            evs = events.get(op[1])
            if evs is None:
                evs = events[op[1]] = []
            evs.append([op[5], op[2], op[3], op[4], None, None])
        elif kind == _ATTEMPT:
            _merge(attempts, (op[1], op[2], op[3]), op[4], op[5])
        elif kind == _CHECKPOINT:
            b.checkpoints[(op[1], op[2])] = (op[3], op[4])
        elif kind == _RUN:
            b.runs.setdefault(op[1], {}).update(op[2])
        elif kind == _CACHE_PUT:
            b.puts[op[1]] = op
            b.hits.pop(op[1], None)
        elif kind == _CACHE_HIT:
            h = b.hits.setdefault(op[1], [0, 0.0])
            h[0] += 1
            h[1] = op[2]
    return b


def _merge(rows: dict[Any, dict[str, Any]], key: Any, status: str,
           fields: dict[str, Any]) -> dict[str, Any]:
    row = rows.get(key)
    if row is None:
        fields["status"] = status  # a fresh **kwargs dict: ours to keep
        rows[key] = fields
        return fields
    row.update(fields)
    row["status"] = status
    return row


def group_by_columns(rows: dict[Any, dict[str, Any]]) -> dict[tuple[str, ...], list[list[Any]]]:
    """Rows grouped by the set of columns they set (in the callers' order, the same for most
    rows), each row as ``[*key, *values]``."""
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for key, fields in rows.items():
        cols = tuple(fields)
        group = groups.get(cols)
        if group is None:
            group = groups[cols] = []
        group.append([*key, *fields.values()])
    return groups


def where(prefix: str, **filters: Any) -> tuple[str, list[Any]]:
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


def marks(n: int) -> str:
    return ", ".join("?" * n)


def bad(what: str, status: str, allowed: Iterable[str], unknown: Iterable[str]) -> None:
    unknown = sorted(unknown)
    if unknown:
        raise TypeError(f"unknown {what} fields: {', '.join(unknown)}")
    raise ValueError(f"unknown {what} status {status!r} (expected one of "
                     f"{', '.join(sorted(allowed))})")


_OPEN: weakref.WeakSet[SQLStore] = weakref.WeakSet()


class SQLStore(Store):
    """The state store on a SQL database; see the module's text.  A back end implements the
    methods marked abstract below."""

    #: a statement's ``FOR UPDATE SKIP LOCKED`` where the database has it
    LOCK_FOR_CLAIM = ""
    #: ``FOR SHARE`` where the database has row locks (the fencing check)
    LOCK_FOR_FENCE = ""

    def __init__(self, *, flush_interval: float | None = 0.005, batch: int = 2000,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._batch = batch
        self._interval = flush_interval
        self._q: collections.deque[tuple[Any, ...]] = collections.deque()
        self._lock = threading.RLock()  # one commit at a time, in queue order
        self._cache_lock = threading.Lock()
        self._cache_pending: set[str] = set()
        self._runs: set[str] = set()  # run ids known to exist: recorded writes check them
        self._error: BaseException | None = None
        self._closed = False
        self._signals = frozenset({1, batch}) if flush_interval is not None else frozenset()
        self._wake = threading.Event()
        self._full = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        """Start the writer thread (once the back end is connected)."""
        if self._interval is not None:
            self._thread = threading.Thread(target=self._writer, name="twdsl-store-writer",
                                            daemon=True)
            self._thread.start()
        _OPEN.add(self)

    # ------------------------------------------------------------------ the back end
    @abc.abstractmethod
    def _transaction(self, body: Callable[[Any], T], sync: bool) -> T:
        """Run ``body(db)`` in one write transaction (the caller holds ``_lock``); ``sync``:
        on disk when it returns.  ``db.execute(sql, args)`` takes ``?`` placeholders."""

    @abc.abstractmethod
    def _snapshot(self, body: Callable[[Any], T]) -> T:
        """Run ``body(db)`` in one read transaction (a consistent snapshot)."""

    @abc.abstractmethod
    def _bulk_upsert(self, db: Any, table: str, key_cols: tuple[str, ...],
                     cols: tuple[str, ...], rows: list[list[Any]]) -> None:
        """INSERT … ON CONFLICT DO UPDATE of ``cols`` for rows ``[*key, *values]``."""

    @abc.abstractmethod
    def _bulk_events(self, db: Any, run_id: str, rows: list[list[Any]]) -> None:
        """Insert a run's events ``[seq, ts, type, key, data]``."""

    @abc.abstractmethod
    def _events_sql(self, limit: bool) -> str:
        """The events of a run after a seq, with those kept in task rows: parameters
        (run_id, after_seq) three times, then the limit if ``limit``; columns run_id, seq,
        ts, type, key, data (JSON text)."""

    @abc.abstractmethod
    def _is_busy(self, e: BaseException) -> bool:
        """A commit that may work if tried again later (the database was locked)."""

    @abc.abstractmethod
    def _db_error(self) -> tuple[type[BaseException], ...]:
        """The database driver's errors: turned into StoreError naming the store."""

    @abc.abstractmethod
    def _close_db(self) -> None: ...

    def _controls_version(self, db: Any) -> Any:
        """A value that changes when another connection commits (None: unknown): lets
        ``pending_controls`` skip its query."""
        return None

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
                with self._lock:
                    if not self._closed:
                        self._commit(self._drain())
            except BaseException as e:  # noqa: BLE001 - surfaced by the next call
                if not self._is_busy(e):
                    self._error = e
                else:
                    time.sleep(0.01)

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
                extra: Callable[[Any], T] | None = None, sync: bool = False) -> T | None:
        """One transaction: the queued ``ops``, then ``extra`` (a durable write).  If
        ``extra`` fails, the ops are still committed and its error raised.  If the ops
        cannot be written, they go back to the front of the queue."""
        batch = merge(ops) if ops else None
        failure: list[BaseException] = []

        def body(db: Any) -> T | None:
            if batch is not None:
                self._write_batch(db, batch)
            if extra is None:
                return None
            db.execute("SAVEPOINT durable")
            try:
                result = extra(db)
            except BaseException as e:
                db.execute("ROLLBACK TO SAVEPOINT durable")
                db.execute("RELEASE SAVEPOINT durable")
                failure.append(e)
                return None
            db.execute("RELEASE SAVEPOINT durable")
            return result

        try:
            result = self._transaction(body, sync)
        except BaseException:
            self._q.extendleft(reversed(ops))
            raise
        if failure:
            raise failure[0]
        return result

    def _write_batch(self, db: Any, b: Batch) -> None:
        if self.owner is not None:
            self._fence(db, b)
        events: dict[str, list[list[Any]]] = {}
        for rid, evs in b.events.items():  # numbered first: task rows keep some numbers
            last = db.execute("SELECT last_seq FROM runs WHERE id = ?", (rid,)).fetchone()
            seq = int(last[0] or 0) if last else 0
            plain = events[rid] = []
            for ev in evs:
                seq += 1
                row = ev[4]
                if row is None:
                    plain.append([seq, ev[0], ev[1], ev[2], ev[3]])
                else:
                    row[ev[5]] = seq
            b.runs.setdefault(rid, {})["last_seq"] = seq
        for rid, fields in b.runs.items():
            names = sorted(fields)
            db.execute(f"UPDATE runs SET {', '.join(c + ' = ?' for c in names)} WHERE id = ?",
                       [*(dump(fields[c]) if c in JSON_COLS else fields[c] for c in names),
                        rid])
        if b.started:
            full = [r for r in b.started.values() if r[3] == "completed"]
            if full:
                self._bulk_upsert(db, "tasks", ("run_id", "key"), FAST_COLS, full)
            if len(full) < len(b.started):
                self._bulk_upsert(db, "tasks", ("run_id", "key"), STARTED_COLS,
                                  [r[:9] for r in b.started.values() if r[3] != "completed"])
        if b.done:
            self._bulk_upsert(db, "tasks", ("run_id", "key"), DONE_COLS, list(b.done.values()))
        for cols, rows in group_by_columns(b.tasks).items():
            self._bulk_upsert(db, "tasks", ("run_id", "key"), cols, rows)
        for cols, rows in group_by_columns(b.attempts).items():
            self._bulk_upsert(db, "attempts", ("run_id", "key", "attempt"), cols, rows)
        for rid, rows in events.items():
            if rows:
                self._bulk_events(db, rid, rows)
        if b.checkpoints:
            for (r, k), (v, ts) in b.checkpoints.items():
                db.execute(
                    "INSERT INTO checkpoints (run_id, key, value, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
                    "updated_at = excluded.updated_at", (r, k, dump(v), ts))
        for op in b.puts.values():
            db.execute(
                "INSERT INTO cache (key, result, workflow, task, created_at, expires_at, hits) "
                "VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (key) DO UPDATE SET "
                "result = excluded.result, workflow = excluded.workflow, task = excluded.task, "
                "created_at = excluded.created_at, expires_at = excluded.expires_at, hits = 0, "
                "last_hit_at = NULL", (op[1], dump(op[2]), *op[3:]))
        for key, (n, ts) in b.hits.items():
            db.execute("UPDATE cache SET hits = hits + ?, last_hit_at = ? WHERE key = ?",
                       (n, ts, key))

    def _fence(self, db: Any, b: Batch) -> None:
        """A worker writes only to the runs it holds: drop the rest, and say which."""
        ids = sorted(b.run_ids())
        if not ids:
            return
        rows = db.execute(f"SELECT id, worker FROM runs WHERE id IN ({marks(len(ids))})"
                          + self.LOCK_FOR_FENCE, ids).fetchall()
        lost = {rid for rid, worker in rows if worker != self.owner}
        if lost:
            self.lost |= lost
            b.drop_runs(lost)

    # ------------------------------------------------------------------ plumbing
    def _check(self) -> None:
        if self._closed:
            raise StoreError(f"the state store {self.where} is closed")
        error, self._error = self._error, None
        if error is not None:
            raise StoreError(f"recording to the state store {self.where} failed: "
                             f"{error}") from error

    def _durable(self, extra: Callable[[Any], T]) -> T:
        """Commit the queue and ``extra`` in one transaction, on disk when it returns."""
        self._check()
        with self._lock:
            try:
                return self._commit(self._drain(), extra, sync=True)  # type: ignore[return-value]
            except self._db_error() as e:
                raise StoreError(f"cannot write the state store {self.where}: "
                                 f"{_first_line(e)}") from None

    def _read(self, fn: Callable[[Any], T], what: str = "") -> T:
        """Commit this process's queued writes, then read (in one snapshot)."""
        self.flush()
        try:
            return self._snapshot(fn)
        except self._db_error() as e:
            about = f" ({what})" if what else ""
            raise StoreError(f"cannot read the state store {self.where}{about}: "
                             f"{_first_line(e)}") from None

    def _known_run(self, run_id: str) -> None:
        """Recorded writes of an unknown run would fail the whole batch later, in the
        writer thread: refuse them now."""
        found = self._snapshot(lambda db: db.execute(
            "SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone())
        if found is None:
            raise RunNotFound(f"no run {run_id!r} in {self.where}")
        self._runs.add(run_id)

    def _load(self, text: Any, about: str) -> tuple[Any, bool]:
        """A stored JSON value; a damaged one is reported in ``problems`` and read as None."""
        try:
            return load(text), True
        except Damaged as e:
            self.problems.append(f"{self.where}: {about} is damaged (not JSON: {e}); "
                                 "read as null")
            return None, False

    def _run(self, row: Any) -> RunRecord:
        (rid, workflow, version, source, sha, inputs, status, created, started, finished, error,
         outputs, parent, resumes, pid, host, queue, priority, queued_at, worker,
         lease_expires) = row
        damage: list[str] = []
        values = []
        for name, text in (("inputs", inputs), ("error", error), ("outputs", outputs)):
            v, ok = self._load(text, f"run {rid}: its recorded {name}")
            values.append(v)
            if not ok:
                damage.append(name)
        return RunRecord(rid, workflow, version, source, sha, values[0], status, created,
                         started, finished, values[1], values[2], parent, resumes, pid, host,
                         queue, priority or 0, queued_at, worker, lease_expires, tuple(damage))

    def _get(self, db: Any, run_id: str) -> RunRecord:
        row = db.execute(RUN_SELECT + " WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in {self.where}")
        return self._run(row)

    def _status(self, db: Any, run_id: str, lock: str = "") -> tuple[str, str | None]:
        row = db.execute("SELECT status, worker FROM runs WHERE id = ?" + lock,
                         (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in {self.where}")
        return row[0], row[1]

    # ------------------------------------------------------------------ runs
    def create_run(self, run_id: str, workflow: str, *, version: str | None = None,
                   source_path: str | None = None, ir: str | None = None,
                   inputs: Any = None, status: str = "pending",
                   parent_id: str | None = None, pid: int | None = None,
                   host: str | None = None, created_at: float | None = None,
                   queue: str | None = None, priority: int = 0) -> RunRecord:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        created = self.clock() if created_at is None else created_at
        sha = None if ir is None else hashlib.sha256(ir.encode()).hexdigest()
        pid = os.getpid() if pid is None else pid
        host = this_host() if host is None else host
        queued_at = created if queue is not None else None
        rank = created - priority * self.aging if queue is not None else None

        def write(db: Any) -> None:
            if parent_id is not None and db.execute(
                    "SELECT 1 FROM runs WHERE id = ?", (parent_id,)).fetchone() is None:
                raise RunNotFound(f"no run {parent_id!r} in {self.where}")
            if sha is not None:
                db.execute("INSERT INTO programs (sha256, ir, created_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (sha256) DO NOTHING", (sha, ir, created))
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise StoreError(f"a run {run_id!r} already exists in {self.where}")
            db.execute(
                "INSERT INTO runs (id, workflow, version, source_path, ir_sha256, inputs, "
                "status, created_at, parent_id, pid, host, queue, priority, queued_at, "
                "queue_rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, workflow, version, source_path, sha, dump(inputs), status,
                 created, parent_id, pid, host, queue, priority, queued_at, rank))

        self._durable(write)
        self._runs.add(run_id)
        return RunRecord(run_id, workflow, version, source_path, sha, inputs, status, created,
                         None, None, None, None, parent_id, 0, pid, host, queue, priority,
                         queued_at, None, None)

    def update_run(self, run_id: str, *, durable: bool = True,
                   **fields: Any) -> None:
        if not fields.keys() <= RUN_COLS:
            raise TypeError(f"update_run: unknown fields {sorted(fields.keys() - RUN_COLS)}")
        if "status" in fields and fields["status"] not in RUN_STATUSES:
            raise ValueError(f"unknown run status {fields['status']!r}")
        if not fields:
            return
        if not durable:
            if "status" in fields:
                raise ValueError("a run's status changes durably (durable=True)")
            if run_id not in self._runs:
                self._known_run(run_id)
            self._enqueue((_RUN, run_id, dict(fields)))
            return
        cols = sorted(fields)
        values = [*(dump(fields[c]) if c in JSON_COLS else fields[c] for c in cols), run_id]

        def write(db: Any) -> None:
            status, worker = self._status(db, run_id, self.LOCK_FOR_FENCE)
            if self.owner is not None and worker != self.owner:
                self.lost.add(run_id)
                raise LeaseLost(f"run {run_id} was taken over by worker {worker}; "
                                f"{self.owner} no longer writes to it")
            if "status" in fields:
                check_run(status, fields["status"], run_id)
            db.execute(f"UPDATE runs SET {', '.join(c + ' = ?' for c in cols)} "
                       "WHERE id = ?", values)

        self._durable(write)

    def transition(self, run_id: str, status: str, *, when: frozenset[str] | None = None,
                   **fields: Any) -> RunRecord | None:
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        if not fields.keys() <= RUN_COLS:
            raise TypeError(f"transition: unknown fields {sorted(fields.keys() - RUN_COLS)}")
        now = self.clock()

        def write(db: Any) -> RunRecord | None:
            old, _ = self._status(db, run_id, self.LOCK_FOR_FENCE)
            if when is not None and old not in when:
                return None
            check_run(old, status, run_id)
            sets = dict(fields, status=status)
            extra = ""
            args: list[Any] = []
            if status == "pending":
                sets.update(worker=None, lease_expires=None)
                extra = (", queued_at = ?, queue_rank = ? - priority * ?, "
                         "queue = coalesce(queue, ?)")
                args = [now, now, self.aging, "default"]
            cols = sorted(sets)
            db.execute(f"UPDATE runs SET {', '.join(c + ' = ?' for c in cols)}{extra} "
                       "WHERE id = ?",
                       [*(dump(sets[c]) if c in JSON_COLS else sets[c] for c in cols), *args,
                        run_id])
            return self._get(db, run_id)

        return self._durable(write)

    def mark_resumed(self, run_id: str, *, pid: int | None = None, host: str | None = None,
                     now: float | None = None) -> RunRecord:
        pid = os.getpid() if pid is None else pid
        host = this_host() if host is None else host

        def write(db: Any) -> RunRecord:
            old, _ = self._status(db, run_id, self.LOCK_FOR_FENCE)
            check_run(old, "running", run_id)
            db.execute(
                "UPDATE runs SET status = 'running', resumes = resumes + 1, pid = ?, "
                "host = ?, finished_at = NULL, error = NULL, outputs = NULL WHERE id = ?",
                (pid, host, run_id))
            return self._get(db, run_id)

        record = self._durable(write)
        self._runs.add(run_id)
        return record

    def get_run(self, id_or_prefix: str) -> RunRecord | None:
        def read(db: Any) -> RunRecord | None:
            row = db.execute(RUN_SELECT + " WHERE id = ?", (id_or_prefix,)).fetchone()
            if row is not None:
                return self._run(row)
            rows = db.execute(RUN_SELECT + " WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                              (id_or_prefix, id_or_prefix + "\U0010ffff")).fetchall()
            rows = [r for r in rows if r[0].startswith(id_or_prefix)]
            if len(rows) > 1:
                raise AmbiguousRunId(id_or_prefix, [r[0] for r in rows])
            return self._run(rows[0]) if rows else None

        return self._read(read, f"run {id_or_prefix}")

    def program(self, run_id: str) -> str | None:
        def read(db: Any) -> str | None:
            row = db.execute("SELECT p.ir FROM runs r JOIN programs p ON p.sha256 = "
                             "r.ir_sha256 WHERE r.id = ?", (run_id,)).fetchone()
            return None if row is None else str(row[0])

        return self._read(read, f"the program of run {run_id}")

    def set_program(self, run_id: str, ir: str, version: str | None) -> None:
        sha = hashlib.sha256(ir.encode()).hexdigest()

        def write(db: Any) -> None:
            db.execute("INSERT INTO programs (sha256, ir, created_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (sha256) DO NOTHING", (sha, ir, self.clock()))
            db.execute("UPDATE runs SET ir_sha256 = ?, version = ? WHERE id = ?",
                       (sha, version, run_id))

        self._durable(write)

    def programs(self, workflow: str) -> list[tuple[str | None, str, float]]:
        def read(db: Any) -> list[tuple[str | None, str, float]]:
            rows = db.execute(
                "SELECT p.sha256, max(r.version), p.ir, max(r.created_at) AS latest FROM runs r "
                "JOIN programs p ON p.sha256 = r.ir_sha256 WHERE r.workflow = ? "
                "GROUP BY p.sha256, p.ir ORDER BY latest DESC", (workflow,)).fetchall()
            return [(v, str(ir), float(t)) for _, v, ir, t in rows]

        return self._read(read, f"the programs of workflow {workflow}")

    def list_runs(self, workflow: str | None = None, status: str | None = None,
                  since: float | None = None, until: float | None = None,
                  limit: int | None = 50) -> list[RunRecord]:
        clause, args = where("", workflow=workflow, status=status, since=since, until=until)
        sql = RUN_SELECT + clause + " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return self._read(lambda db: [self._run(r) for r in db.execute(sql, args).fetchall()],
                          "the list of runs")

    # ------------------------------------------------------------------ tasks (recorded)
    def set_task(self, run_id: str, key: str, status: str,
                 **fields: Any) -> None:
        if status not in TASK_STATUSES or not fields.keys() <= TASK_COLS:
            bad("task", status, TASK_STATUSES, fields.keys() - TASK_COLS)
        if run_id not in self._runs:
            self._known_run(run_id)
        q = self._q
        q.append((_TASK, run_id, key, status, fields))
        if len(q) in self._signals:
            self._signal(len(q))

    def set_attempt(self, run_id: str, key: str, attempt: int, status: str,
                    **fields: Any) -> None:
        if status not in ATTEMPT_STATUSES or not fields.keys() <= ATTEMPT_COLS:
            bad("attempt", status, ATTEMPT_STATUSES, fields.keys() - ATTEMPT_COLS)
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

    def record_task(self, run_id: str, key: str, status: str, event: str, data: Any,
                    ts: float, slot: str | None = None, **fields: Any) -> None:
        """``set_task`` and ``record_event`` of the event that changed it, in one call: the
        runtime's fast path.  With ``slot`` ("started" or "done": a first attempt's
        ``task.started`` or ``task.completed``) the event is kept in the task's row, and
        ``events()`` gives it back, its data rebuilt from the row (docs/state.md)."""
        if status not in TASK_STATUSES or not fields.keys() <= TASK_COLS:
            bad("task", status, TASK_STATUSES, fields.keys() - TASK_COLS)
        if run_id not in self._runs:
            self._known_run(run_id)
        q = self._q
        q.append((_TASK, run_id, key, status, fields, event, data, ts,
                  SLOTS[slot] if slot is not None else None))
        if len(q) in self._signals:
            self._signal(len(q))

    def task_started(self, run_id: str, key: str, task: str | None, ts: float,
                     line: int | None, input: Any) -> None:
        if run_id not in self._runs:
            self._known_run(run_id)
        q = self._q
        q.append((_STARTED, run_id, key, task, ts, line, input))
        if len(q) in self._signals:
            self._signal(len(q))

    def task_completed(self, run_id: str, key: str, ts: float, result: Any,
                       task: str | None = None, duration: float | None = None) -> None:
        """(the task and duration of the event come back from the row: not kept twice)"""
        if run_id not in self._runs:
            self._known_run(run_id)
        q = self._q
        q.append((_DONE, run_id, key, ts, result))
        if len(q) in self._signals:
            self._signal(len(q))

    def checkpoint(self, run_id: str, key: str, value: Any) -> None:
        if run_id not in self._runs:
            self._known_run(run_id)
        self._enqueue((_CHECKPOINT, run_id, key, value, self.clock()))

    # ------------------------------------------------------------------ tasks (reads)
    def _task(self, r: Any) -> TaskState:
        rid, key, task, status, attempts, result, error, started, finished, line = r
        res, ok1 = self._load(result, f"run {rid}, task {key}: its recorded result")
        err, ok2 = self._load(error, f"run {rid}, task {key}: its recorded error")
        damage = tuple(n for n, ok in (("result", ok1), ("error", ok2)) if not ok)
        return TaskState(rid, key, task, status, attempts, res, err, started, finished, line,
                         damage)

    def task_states(self, run_id: str) -> list[TaskState]:
        return self._read(lambda db: [self._task(r) for r in db.execute(
            TASK_SELECT + " WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()],
            f"the tasks of run {run_id}")

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

        def read(db: Any) -> list[AttemptRecord]:
            out = []
            for r, k, n, s, st, fin, err in db.execute(sql, args).fetchall():
                value, _ = self._load(err, f"run {r}, task {k}, attempt {n}: its error")
                out.append(AttemptRecord(r, k, n, s, st, fin, value))
            return out

        return self._read(read, f"the attempts of run {run_id}")

    def events(self, run_id: str, after_seq: int = 0,
               limit: int | None = None) -> list[EventRecord]:
        sql = self._events_sql(limit is not None)
        args: list[Any] = [run_id, after_seq] * 3
        if limit is not None:
            args.append(limit)

        def read(db: Any) -> list[EventRecord]:
            out = []
            for r, s, ts, t, k, d in db.execute(sql, args).fetchall():
                value, _ = self._load(d, f"run {r}, event {s} ({t})")
                out.append(EventRecord(r, s, ts, t, k, value))
            return out

        return self._read(read, f"the events of run {run_id}")

    def completed_results(self, run_id: str) -> dict[str, Any]:
        """A result that is damaged is left out (that task runs again), and reported."""
        def read(db: Any) -> dict[str, Any]:
            out = {}
            for k, res in db.execute("SELECT key, result FROM tasks WHERE run_id = ? AND "
                                     "status = 'completed'", (run_id,)).fetchall():
                value, ok = self._load(res, f"run {run_id}, task {k}: its recorded result "
                                       "(the task runs again)")
                if ok:
                    out[k] = value
            return out

        return self._read(read, f"the results of run {run_id}")

    def checkpoints(self, run_id: str) -> dict[str, Any]:
        def read(db: Any) -> dict[str, Any]:
            out = {}
            for k, v in db.execute("SELECT key, value FROM checkpoints WHERE run_id = ? "
                                   "ORDER BY key", (run_id,)).fetchall():
                out[k], _ = self._load(v, f"run {run_id}, checkpoint {k}")
            return out

        return self._read(read, f"the checkpoints of run {run_id}")

    # ------------------------------------------------------------------ control
    def request_control(self, run_id: str, command: str,
                        now: float | None = None) -> ControlRequest:
        if command not in CONTROL_COMMANDS:
            raise ValueError(f"unknown control command {command!r} "
                             f"(expected one of {', '.join(sorted(CONTROL_COMMANDS))})")
        at = self.clock() if now is None else now

        def write(db: Any) -> ControlRequest:
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise RunNotFound(f"no run {run_id!r} in {self.where}")
            row = db.execute("INSERT INTO controls (run_id, command, requested_at) "
                             "VALUES (?, ?, ?) RETURNING id", (run_id, command, at)).fetchone()
            return ControlRequest(int(row[0]), run_id, command, at, None)

        return self._durable(write)

    def pending_controls(self, run_id: str) -> list[ControlRequest]:
        self._check()
        try:
            return self._pending_controls(run_id)
        except self._db_error() as e:
            raise StoreError(f"cannot read the state store {self.where} (the control "
                             f"requests of run {run_id}): {_first_line(e)}") from None

    def _pending_controls(self, run_id: str) -> list[ControlRequest]:
        return self._snapshot(lambda db: [ControlRequest(*row) for row in db.execute(
            "SELECT id, run_id, command, requested_at, handled_at FROM controls "
            "WHERE run_id = ? AND handled_at IS NULL ORDER BY id", (run_id,)).fetchall()])

    def mark_handled(self, request_id: int, now: float | None = None) -> None:
        at = self.clock() if now is None else now
        self._durable(lambda db: db.execute(
            "UPDATE controls SET handled_at = ? WHERE id = ?", (at, request_id)))

    # ------------------------------------------------------------------ queues and workers
    def claim(self, worker: str, queues: list[str], *, lease: float,
              now: float | None = None, pid: int | None = None,
              host: str | None = None) -> RunRecord | None:
        at = self.clock() if now is None else now
        pid = os.getpid() if pid is None else pid
        host = this_host() if host is None else host
        inq = f"queue IN ({marks(len(queues))})"

        def write(db: Any) -> RunRecord | None:
            row = db.execute(
                f"SELECT id FROM runs WHERE status = 'running' AND {inq} AND "
                "lease_expires < ? ORDER BY lease_expires, id LIMIT 1" + self.LOCK_FOR_CLAIM,
                [*queues, at]).fetchone()
            if row is None:
                row = db.execute(
                    f"SELECT id FROM runs WHERE status = 'pending' AND {inq} "
                    "ORDER BY queue_rank, queued_at, id LIMIT 1" + self.LOCK_FOR_CLAIM,
                    queues).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE runs SET status = 'running', worker = ?, lease_expires = ?, pid = ?, "
                "host = ?, resumes = resumes + (CASE WHEN started_at IS NULL THEN 0 ELSE 1 "
                "END), finished_at = NULL, error = NULL, outputs = NULL WHERE id = ?",
                (worker, at + lease, pid, host, row[0]))
            return self._get(db, row[0])

        record = self._durable(write)
        if record is not None:
            self._runs.add(record.id)
            self.lost.discard(record.id)
        return record

    def renew(self, worker: str, run_ids: list[str], *, lease: float,
              now: float | None = None) -> set[str]:
        if not run_ids:
            return set()
        at = self.clock() if now is None else now
        return self._durable(lambda db: {r[0] for r in db.execute(
            f"UPDATE runs SET lease_expires = ? WHERE worker = ? AND status = 'running' AND "
            f"id IN ({marks(len(run_ids))}) RETURNING id",
            [at + lease, worker, *run_ids]).fetchall()})

    def release(self, run_id: str, worker: str) -> None:
        # a run left `running` (its end could not be recorded) keeps its lease, to expire
        self._durable(lambda db: db.execute(
            "UPDATE runs SET lease_expires = NULL WHERE id = ? AND worker = ? AND "
            "status <> 'running'", (run_id, worker)))

    def queue_stats(self, window: float = 300.0,
                    now: float | None = None) -> list[QueueStats]:
        at = self.clock() if now is None else now

        def read(db: Any) -> list[QueueStats]:
            active = db.execute(
                "SELECT queue, status, count(*), min(queued_at) FROM runs WHERE queue IS NOT "
                "NULL AND status IN ('pending', 'running', 'paused') GROUP BY queue, status"
            ).fetchall()
            done = db.execute(
                "SELECT queue, status, count(*), sum(finished_at - started_at), "
                "count(started_at) FROM runs WHERE queue IS NOT NULL AND finished_at >= ? "
                "GROUP BY queue, status", (at - window,)).fetchall()
            return active, done  # type: ignore[return-value]

        active, done = self._read(read, "the queues")  # type: ignore[misc]
        names = sorted({r[0] for r in active} | {r[0] for r in done})
        out = []
        for q in names:
            counts = {s: (n, oldest) for qq, s, n, oldest in active if qq == q}
            waiting, oldest = counts.get("pending", (0, None))
            fin = [(s, n, total, timed) for qq, s, n, total, timed in done if qq == q]
            finished = sum(n for _, n, _, _ in fin)
            timed = sum(t for _, _, _, t in fin)
            total = sum(tot or 0.0 for _, _, tot, _ in fin)
            out.append(QueueStats(
                q, waiting, counts.get("running", (0, None))[0],
                counts.get("paused", (0, None))[0],
                None if oldest is None else max(0.0, at - oldest), finished,
                sum(n for s, n, _, _ in fin if s == "completed"),
                sum(n for s, n, _, _ in fin if s in ("failed", "timeout")),
                total / timed if timed else None, window))
        return out

    # ------------------------------------------------------------------ cache
    def cache_get(self, key: str, now: float | None = None) -> CacheHit | None:
        at = self.clock() if now is None else now
        with self._cache_lock:
            pending = key in self._cache_pending
        if pending:
            self.flush()
        row = self._read(lambda db: db.execute(
            "SELECT result, created_at, expires_at, hits FROM cache WHERE key = ?",
            (key,)).fetchone(), "the task cache")
        if row is None or (row[2] is not None and row[2] <= at):
            return None
        value, ok = self._load(row[0], f"the cached result {key[:12]}")
        if not ok:
            return None
        with self._cache_lock:
            self._cache_pending.add(key)
            self._enqueue((_CACHE_HIT, key, at))
        return CacheHit(key, value, row[1], row[2], row[3] + 1)

    def cache_put(self, key: str, result: Any, *, workflow: str | None = None,
                  task: str | None = None, ttl: float | None = None,
                  now: float | None = None) -> None:
        at = self.clock() if now is None else now
        expires = None if ttl is None else at + ttl
        with self._cache_lock:
            self._cache_pending.add(key)
            self._enqueue((_CACHE_PUT, key, result, workflow, task, at, expires))

    def cache_clear(self, workflow: str | None = None) -> int:
        def write(db: Any) -> int:
            if workflow is None:
                return int(db.execute("DELETE FROM cache").rowcount)
            return int(db.execute("DELETE FROM cache WHERE workflow = ?", (workflow,)).rowcount)

        return self._durable(write)

    # ------------------------------------------------------------------ statistics
    def stats(self, workflow: str | None = None, since: float | None = None,
              top: int = 5) -> dict[str, Any]:
        clause, args = where("", workflow=workflow, since=since)

        def err(e: Any, about: str) -> Any:
            return self._load(e, about)[0]

        def read(db: Any) -> tuple[list[_stats.RunRow], list[_stats.TaskRow]]:
            runs = [_stats.RunRow(w, s, c, st, fin,
                                  err(e, f"run {rid}: its recorded error")
                                  if s in _stats.FAILED else None)
                    for rid, w, s, c, st, fin, e in db.execute(
                        "SELECT id, workflow, status, created_at, started_at, finished_at, "
                        "error FROM runs" + clause, args).fetchall()]
            t_where, _ = where("r.", workflow=workflow, since=since)
            tasks = [_stats.TaskRow(w, t, s, st, fin,
                                    err(e, f"run {rid}, task {k}: its recorded error")
                                    if s in _stats.FAILED else None)
                     for rid, k, w, t, s, st, fin, e in db.execute(
                         "SELECT r.id, t.key, r.workflow, coalesce(t.task, t.key), t.status, "
                         "t.started_at, t.finished_at, t.error FROM runs r JOIN tasks t ON "
                         "t.run_id = r.id" + t_where, args).fetchall()]
            return runs, tasks

        runs, tasks = self._read(read, "the statistics")
        return _stats.compute(runs, tasks, top)

    # ------------------------------------------------------------------ lifetime
    def flush(self) -> None:
        """Commit what this process queued.  Always through the lock, even when the queue is
        empty: the writer thread may hold drained records it is committing right now, and a
        read that did not wait for them would miss this process's own writes."""
        self._check()
        with self._lock:
            if self._q:
                try:
                    self._commit(self._drain())
                except self._db_error() as e:
                    raise StoreError(f"cannot write the state store {self.where}: "
                                     f"{_first_line(e)}") from None

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()
            self._full.set()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join()
            with self._lock:
                self._close_db()
            _OPEN.discard(self)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


@atexit.register
def _close_all() -> None:
    """A process that exits without closing its store still commits what it recorded."""
    for store in list(_OPEN):
        try:
            store.close()
        except Exception:  # noqa: BLE001, S110 - exiting: nothing better to do
            pass
