"""The durable record of runs (docs/state.md): runs, task instances, attempts, events,
checkpoints, control requests from other processes, and the task cache.

    from twdsl.runtime.store import SQLiteStore, new_run_id

    with SQLiteStore(".twdsl/state.db") as store:
        run = store.create_run(new_run_id(store.clock()), "build", inputs={"n": 1})
        store.set_task(run.id, "compile", "running", task="compile", started_at=1.0)
        store.completed_results(run.id)

:class:`Store` is the interface (a PostgreSQL store would implement it);
:class:`SQLiteStore` the embedded implementation, with group commit.
"""

from __future__ import annotations

from twdsl.runtime.store.base import (
    ATTEMPT_STATUSES,
    CONTROL_COMMANDS,
    FINAL_RUN_STATUSES,
    FINAL_TASK_STATUSES,
    RUN_STATUSES,
    TASK_STATUSES,
    AmbiguousRunId,
    AttemptRecord,
    CacheHit,
    ControlRequest,
    EventRecord,
    RunNotFound,
    RunRecord,
    Store,
    StoreError,
    TaskState,
    new_run_id,
    process_alive,
    this_host,
)
from twdsl.runtime.store.schema import VERSION as SCHEMA_VERSION
from twdsl.runtime.store.sqlite import SQLiteStore

__all__ = [
    "ATTEMPT_STATUSES", "CONTROL_COMMANDS", "FINAL_RUN_STATUSES", "FINAL_TASK_STATUSES",
    "RUN_STATUSES", "SCHEMA_VERSION", "TASK_STATUSES", "AmbiguousRunId", "AttemptRecord",
    "CacheHit", "ControlRequest", "EventRecord", "RunNotFound", "RunRecord", "SQLiteStore",
    "Store", "StoreError", "TaskState", "new_run_id", "process_alive", "this_host",
]
