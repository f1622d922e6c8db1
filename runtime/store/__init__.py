"""The durable record of runs (docs/state.md): runs, task instances, attempts, events,
checkpoints, control requests from other processes, the task cache, and the queues that
workers take runs from (docs/scale-out.md).

    from twdsl.runtime.store import open_store, new_run_id

    with open_store(".twdsl/state.db") as store:   # or "postgresql://host/db"
        run = store.create_run(new_run_id(store.clock()), "build", inputs={"n": 1})
        store.set_task(run.id, "compile", "running", task="compile", started_at=1.0)
        store.completed_results(run.id)

:class:`Store` is the interface; :class:`SQLiteStore` the embedded implementation and
:class:`~twdsl.runtime.store.postgres.PostgresStore` the shared one (imported on use: it
needs psycopg), both with group commit.
"""

from __future__ import annotations

from twdsl.runtime.store.base import (
    AGING,
    ATTEMPT_STATUSES,
    CONTROL_COMMANDS,
    DEFAULT_QUEUE,
    FINAL_RUN_STATUSES,
    FINAL_TASK_STATUSES,
    RUN_STATUSES,
    TASK_STATUSES,
    AmbiguousRunId,
    AttemptRecord,
    CacheHit,
    ControlRequest,
    EventRecord,
    LeaseLost,
    QueueStats,
    RunNotFound,
    RunRecord,
    Store,
    StoreError,
    TaskState,
    interrupted,
    new_run_id,
    process_alive,
    this_host,
)
from twdsl.runtime.store.locate import is_url, open_store, redact
from twdsl.runtime.store.schema import VERSION as SCHEMA_VERSION
from twdsl.runtime.store.sqlite import SQLiteStore

__all__ = [
    "AGING", "ATTEMPT_STATUSES", "CONTROL_COMMANDS", "DEFAULT_QUEUE", "FINAL_RUN_STATUSES",
    "FINAL_TASK_STATUSES", "RUN_STATUSES", "SCHEMA_VERSION", "TASK_STATUSES", "AmbiguousRunId",
    "AttemptRecord", "CacheHit", "ControlRequest", "EventRecord", "LeaseLost", "QueueStats",
    "RunNotFound", "RunRecord", "SQLiteStore", "Store", "StoreError", "TaskState", "is_url",
    "interrupted", "new_run_id", "open_store", "process_alive", "redact", "this_host",
]
