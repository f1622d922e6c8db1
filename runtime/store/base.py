"""The state store's interface: what the runtime and the control plane may ask of the
durable record of runs, whatever database holds it (SQLite or PostgreSQL).

Writes come in two kinds (docs/state.md, "Durability"):

* *recorded* writes (task states, attempts, events, checkpoints, cache entries) are queued in
  memory and committed together a few milliseconds later (group commit), so that recording a
  task costs a few microseconds; a process killed in that window loses them, and the tasks
  whose completion was lost run again on resume (at-least-once);
* *durable* writes (a run's creation and status changes, control requests and their
  handling, ``cache_clear``) commit everything queued before them, in the same transaction,
  and are on disk when they return: another process sees them at once.

Every read first commits this process's queued writes, so a process always reads its own
writes.  Timestamps are UTC epoch seconds (floats): cheap to sort and to subtract.
"""

from __future__ import annotations

import abc
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

RUN_STATUSES = frozenset({"pending", "running", "paused", "completed", "failed", "cancelled",
                          "timeout"})
FINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled", "timeout"})
TASK_STATUSES = frozenset({"pending", "queued", "running", "retrying", "completed", "failed",
                           "cancelled", "timeout", "skipped"})
FINAL_TASK_STATUSES = frozenset({"completed", "failed", "cancelled", "timeout", "skipped"})
ATTEMPT_STATUSES = frozenset({"running", "completed", "failed", "cancelled", "timeout"})
CONTROL_COMMANDS = frozenset({"pause", "resume", "cancel"})

#: Seconds of waiting worth one priority level in a queue (docs/scale-out.md, "Priority and
#: aging"): a waiting run's effective priority is ``priority + waited / AGING``.
AGING = 60.0
DEFAULT_QUEUE = "default"


class StoreError(Exception):
    """The state file cannot be used (not a database, written by a newer twdsl, a failed
    write): a message for people, naming the file."""


class RunNotFound(StoreError):
    """No run has this id (or id prefix)."""


class LeaseLost(StoreError):
    """A worker wrote to a run whose lease another worker holds now (it was taken over)."""


class AmbiguousRunId(StoreError):
    """A prefix names several runs; ``matches`` lists some of them."""

    def __init__(self, prefix: str, matches: list[str]) -> None:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        super().__init__(f"run id prefix {prefix!r} is ambiguous: it matches {shown} "
                         "(type more characters)")
        self.prefix = prefix
        self.matches = matches


class RunFields(TypedDict, total=False):
    """The columns of a run that ``update_run`` may change."""

    status: str
    started_at: float | None
    finished_at: float | None
    error: Any
    outputs: Any
    pid: int | None
    host: str | None
    worker: str | None
    lease_expires: float | None


class TaskFields(TypedDict, total=False):
    """The columns of a task instance that ``set_task`` may set besides its status."""

    task: str | None
    attempts: int
    result: Any
    error: Any
    started_at: float | None
    finished_at: float | None
    line: int | None
    input: Any  # what the first attempt was given


class AttemptFields(TypedDict, total=False):
    """The columns of an attempt that ``set_attempt`` may set besides its status."""

    started_at: float | None
    finished_at: float | None
    error: Any


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run, as stored.  ``resumes`` counts the times it was resumed in place
    (``runs resume``); ``parent_id`` is the run a ``runs retry`` started it from."""

    id: str
    workflow: str
    version: str | None
    source_path: str | None
    ir_sha256: str | None
    inputs: Any
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: Any
    outputs: Any
    parent_id: str | None
    resumes: int
    pid: int | None
    host: str | None
    #: the queue of a submitted run (None: started by `twdsl run`), its priority, when it
    #: last entered the queue, the worker that holds (or last held) it and its lease's end
    queue: str | None = None
    priority: int = 0
    queued_at: float | None = None
    worker: str | None = None
    lease_expires: float | None = None
    #: columns whose stored value is damaged (not JSON): read as None
    damage: tuple[str, ...] = ()

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class TaskState:
    """One task instance of a run: ``key`` is the node id with its iteration path."""

    run_id: str
    key: str
    task: str | None
    status: str
    attempts: int
    result: Any
    error: Any
    started_at: float | None
    finished_at: float | None
    line: int | None
    damage: tuple[str, ...] = ()  # columns whose stored value is damaged (read as None)

    def to_json(self, input: Any, attempts: Iterable[AttemptRecord]) -> dict[str, Any]:
        """The task as `twdsl runs show --format json` and the server's API give it, with its
        first attempt's ``input`` and its ``attempts`` (the attempt log)."""
        return {
            "key": self.key, "task": self.task, "status": self.status,
            "attempts": self.attempts, "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration": (self.finished_at - self.started_at)
            if self.finished_at and self.started_at else None,
            "line": self.line, "input": input, "result": self.result, "error": self.error,
            "attempt_log": [{"attempt": a.attempt, "status": a.status,
                             "started_at": a.started_at, "finished_at": a.finished_at,
                             "error": a.error} for a in attempts]}


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    run_id: str
    key: str
    attempt: int
    status: str
    started_at: float | None
    finished_at: float | None
    error: Any


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored event; ``seq`` counts from 1 within the run, in commit order."""

    run_id: str
    seq: int
    ts: float
    type: str
    key: str | None
    data: Any


@dataclass(frozen=True, slots=True)
class ControlRequest:
    id: int
    run_id: str
    command: str
    requested_at: float
    handled_at: float | None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue's figures (``twdsl queue``): runs by status, the longest wait of a waiting
    run, and what finished in the last ``window`` seconds."""

    queue: str
    waiting: int
    running: int
    paused: int
    oldest_wait: float | None  # seconds the longest-waiting run has waited
    finished: int  # runs that finished in the window
    completed: int  # of which completed
    failed: int  # of which failed or timed out
    mean_duration: float | None  # of the runs finished in the window
    window: float

    @property
    def per_minute(self) -> float:
        return self.finished * 60.0 / self.window if self.window > 0 else 0.0


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A live cache entry (``result`` may itself be None: hence this wrapper)."""

    key: str
    result: Any
    created_at: float
    expires_at: float | None
    hits: int


def new_run_id(now: float) -> str:
    """A run id sortable by creation time and short enough to type:
    ``20261123-101530-3f9a1c`` (UTC second, then 24 random bits).

    >>> new_run_id(0.0)[:16]
    '19700101-000000-'
    """
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S-")
    return stamp + secrets.token_hex(3)


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int | None, host: str | None) -> bool | None:
    """Whether the process that runs a run still exists: None when it cannot be told
    (another host, no pid recorded).  A recycled pid reads as alive: the check errs on
    the side of not resuming a run twice."""
    if pid is None or host is None or host != this_host():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def interrupted(run: RunRecord, now: float) -> bool:
    """Whether a ``running`` run is running no more: the lease of the worker that holds it
    ran out, or (a run without a lease) its process on this host is gone.  A run of another
    host without a lease is taken as running (it cannot be told)."""
    if run.status != "running":
        return False
    if run.worker is not None and run.lease_expires is not None:
        return run.lease_expires < now
    return process_alive(run.pid, run.host) is False


class Store(abc.ABC):
    """The durable record of runs.  Implementations: :class:`SQLiteStore`,
    :class:`PostgresStore` (both in :mod:`twdsl.runtime.store.sql`'s shape).

    Thread safety: one store may be used from several threads.  Several processes may open
    the same store; each sees the others' *durable* writes at once and their recorded
    writes after those are committed (a few milliseconds).

    ``where`` names the store in messages (a file path, or a URL without its password).
    ``owner`` is set by a worker to its id: the store then writes only to runs that worker
    holds (``claim``); the writes of a run taken over by another worker are dropped and its
    id added to ``lost``, and ``update_run`` raises LeaseLost.  ``problems`` collects what
    reads found damaged (a value that is not JSON), one message per damaged value, naming
    the run.
    """

    where: str = "?"
    owner: str | None = None
    aging: float = AGING

    def __init__(self) -> None:
        self.lost: set[str] = set()
        self.problems: list[str] = []

    # ------------------------------------------------------------------ runs
    @abc.abstractmethod
    def create_run(self, run_id: str, workflow: str, *, version: str | None = None,
                   source_path: str | None = None, ir: str | None = None,
                   inputs: Any = None, status: str = "pending",
                   parent_id: str | None = None, pid: int | None = None,
                   host: str | None = None, created_at: float | None = None,
                   queue: str | None = None, priority: int = 0) -> RunRecord:
        """Record a new run (durable).  ``ir`` is the program's IR as JSON text: it is
        kept once per sha256, so that ``runs resume`` can run it again without its source.
        ``pid``/``host`` default to this process.  With a ``queue`` (``twdsl submit``) the
        run waits there, ``pending``, for a worker (``claim``)."""

    @abc.abstractmethod
    def update_run(self, run_id: str, *, durable: bool = True,
                   **fields: Any) -> None:
        """Change a run's columns (a status change is durable by default)."""

    @abc.abstractmethod
    def transition(self, run_id: str, status: str, *, when: frozenset[str] | None = None,
                   **fields: Any) -> RunRecord | None:
        """Move a run to ``status`` if its status is one of ``when`` (any, if None), in one
        durable step, and return it; None if its status is not one of ``when``.  Moving to
        ``pending`` puts it back at the end of its queue (``queued_at`` now, ``worker`` and
        lease cleared).  TransitionError for a change the run state machine does not allow;
        RunNotFound if there is no such run."""

    @abc.abstractmethod
    def mark_resumed(self, run_id: str, *, pid: int | None = None, host: str | None = None,
                     now: float | None = None) -> RunRecord:
        """A run starts again in place (``runs resume``): status ``running``, this process
        as its owner, ``resumes`` + 1, ``finished_at``/``error`` cleared (durable)."""

    @abc.abstractmethod
    def get_run(self, id_or_prefix: str) -> RunRecord | None:
        """The run with this id, or the only run whose id starts with it; None if none;
        AmbiguousRunId if several."""

    @abc.abstractmethod
    def program(self, run_id: str) -> str | None:
        """The IR JSON text a run was started with (or last resumed with)."""

    @abc.abstractmethod
    def set_program(self, run_id: str, ir: str, version: str | None) -> None:
        """A run goes on with another program (a compatible change of its workflow, resumed):
        the program is stored once, by its content hash (durable)."""

    @abc.abstractmethod
    def programs(self, workflow: str) -> list[tuple[str | None, str, float]]:
        """The programs runs of ``workflow`` were started with, newest first, each once:
        (version, IR JSON text, when its latest run was created)."""

    @abc.abstractmethod
    def list_runs(self, workflow: str | None = None, status: str | None = None,
                  since: float | None = None, until: float | None = None,
                  limit: int | None = 50) -> list[RunRecord]:
        """Runs, newest first; ``since <= created_at < until``."""

    # ------------------------------------------------------------------ tasks
    @abc.abstractmethod
    def set_task(self, run_id: str, key: str, status: str,
                 **fields: Any) -> None:
        """Record a task instance's state (recorded, not durable).  Only the given columns
        change; the first call creates the row."""

    @abc.abstractmethod
    def set_attempt(self, run_id: str, key: str, attempt: int, status: str,
                    **fields: Any) -> None:
        """Record one attempt of a task instance (recorded)."""

    @abc.abstractmethod
    def record_event(self, run_id: str, type: str, key: str | None = None,
                     data: Any = None, ts: float | None = None) -> None:
        """Append an event (recorded); its ``seq`` is given when it is committed."""

    def record_task(self, run_id: str, key: str, status: str, event: str, data: Any,
                    ts: float, slot: str | None = None, **fields: Any) -> None:
        """``set_task`` and ``record_event`` of the event that changed it, in one call
        (recorded).  ``slot`` ("started", "done") marks a first attempt's ``task.started`` or
        ``task.completed``, which a store may keep in the task's row."""
        self.set_task(run_id, key, status, **fields)
        self.record_event(run_id, event, key, data, ts)

    def task_started(self, run_id: str, key: str, task: str | None, ts: float,
                     line: int | None, input: Any) -> None:
        """A task instance's first attempt started (recorded): its state ``running`` and its
        ``task.started`` event (data ``{"input", "task", "attempt": 1}``), which a store may
        keep in the task's row."""
        self.set_task(run_id, key, "running", task=task, attempts=1, started_at=ts, line=line,
                      input=input)
        self.record_event(run_id, "task.started", key,
                          {"input": input, "task": task, "attempt": 1}, ts)

    def task_completed(self, run_id: str, key: str, ts: float, result: Any,
                       task: str | None = None, duration: float | None = None) -> None:
        """That first attempt succeeded (recorded): state ``completed`` with its result, and
        its ``task.completed`` event (data ``{"result", "duration", "task", "attempt": 1}``,
        the duration from the task's start), which a store may keep in the task's row."""
        self.set_task(run_id, key, "completed", result=result, finished_at=ts)
        self.record_event(run_id, "task.completed", key,
                          {"result": result, "duration": duration, "task": task,
                           "attempt": 1}, ts)

    @abc.abstractmethod
    def checkpoint(self, run_id: str, key: str, value: Any) -> None:
        """Keep ``value`` (JSON) under ``key`` for the run; the last one wins (recorded)."""

    @abc.abstractmethod
    def task_states(self, run_id: str) -> list[TaskState]:
        """The run's task instances in the order they were first recorded."""

    @abc.abstractmethod
    def attempts(self, run_id: str, key: str | None = None) -> list[AttemptRecord]:
        """Attempts by task instance (first recorded first), then attempt number."""

    @abc.abstractmethod
    def events(self, run_id: str, after_seq: int = 0,
               limit: int | None = None) -> list[EventRecord]:
        """The run's events with ``seq > after_seq``, in order (``runs watch`` polls it)."""

    @abc.abstractmethod
    def completed_results(self, run_id: str) -> dict[str, Any]:
        """Key → result of every completed task instance: what a resume reuses."""

    @abc.abstractmethod
    def checkpoints(self, run_id: str) -> dict[str, Any]:
        """Key → value of the run's checkpoints."""

    # ------------------------------------------------------------------ control
    @abc.abstractmethod
    def request_control(self, run_id: str, command: str,
                        now: float | None = None) -> ControlRequest:
        """Ask the process running a run to pause, resume or cancel it (durable)."""

    @abc.abstractmethod
    def pending_controls(self, run_id: str) -> list[ControlRequest]:
        """Unhandled control requests of a run, oldest first.  Cheap enough to call every
        few milliseconds: it does not commit queued writes (control requests are durable)."""

    @abc.abstractmethod
    def mark_handled(self, request_id: int, now: float | None = None) -> None:
        """The running process acted on a control request (durable)."""

    # ------------------------------------------------------------------ queues and workers
    @abc.abstractmethod
    def claim(self, worker: str, queues: list[str], *, lease: float,
              now: float | None = None, pid: int | None = None,
              host: str | None = None) -> RunRecord | None:
        """Take one run for ``worker`` (durable): a ``running`` run of these queues whose
        lease expired (its worker is gone: a takeover), else the waiting run of highest
        effective priority (``priority + waited / aging``; the oldest among equals).  The run
        becomes ``running`` under a lease of ``lease`` seconds; ``resumes`` + 1 if it had
        started before.  Two workers never get the same run.  None if there is nothing."""

    @abc.abstractmethod
    def renew(self, worker: str, run_ids: list[str], *, lease: float,
              now: float | None = None) -> set[str]:
        """Extend the leases ``worker`` holds on these runs by ``lease`` seconds from now
        (durable); returns the ids it still holds (a run not returned was taken over)."""

    @abc.abstractmethod
    def release(self, run_id: str, worker: str) -> None:
        """``worker`` is done with the run: its lease ends (durable)."""

    @abc.abstractmethod
    def queue_stats(self, window: float = 300.0,
                    now: float | None = None) -> list[QueueStats]:
        """Per queue, by name: waiting, running and paused runs, the oldest wait, and the runs
        that finished in the last ``window`` seconds."""

    # ------------------------------------------------------------------ cache
    @abc.abstractmethod
    def cache_get(self, key: str, now: float | None = None) -> CacheHit | None:
        """The live entry under ``key`` (not expired at ``now``), counting a hit; None if
        there is none."""

    @abc.abstractmethod
    def cache_put(self, key: str, result: Any, *, workflow: str | None = None,
                  task: str | None = None, ttl: float | None = None,
                  now: float | None = None) -> None:
        """Keep a result under ``key`` for ``ttl`` seconds (None: forever) (recorded)."""

    @abc.abstractmethod
    def cache_clear(self, workflow: str | None = None) -> int:
        """Remove the entries of one workflow, or all; returns how many (durable)."""

    # ------------------------------------------------------------------ statistics
    @abc.abstractmethod
    def stats(self, workflow: str | None = None, since: float | None = None,
              top: int = 5) -> dict[str, Any]:
        """Per workflow and per task: runs, success rate, durations, failure reasons and a
        per-day series (docs/state.md, "Statistics")."""

    # ------------------------------------------------------------------ lifetime
    @abc.abstractmethod
    def flush(self) -> None:
        """Commit every queued write now."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release the database; the store cannot be used afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
