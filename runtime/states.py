"""The state machines of runs and task instances (seed 002, Task 5.1), with checked
transitions: a transition the machine does not allow is a bug in the runtime and raises."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def final(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED,
                        RunStatus.TIMEOUT)


class TaskStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"  # ready, waiting for a concurrency slot
    RUNNING = "running"
    RETRYING = "retrying"  # between attempts, waiting out the backoff
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"

    @property
    def final(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED,
                        TaskStatus.TIMEOUT, TaskStatus.SKIPPED)


_R = RunStatus
#: A run's status changes (docs/state.md, "Run statuses").  ``paused``, ``cancelled`` and
#: ``timeout`` runs can be resumed (``runs resume``): to ``running`` in this process, or back to
#: ``pending`` in their queue for a worker; a ``running`` run goes back to ``pending`` when a
#: stopping worker hands it back.  Staying in a status is no transition (a run taken over by
#: another worker stays ``running``).
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    _R.PENDING: frozenset({_R.RUNNING, _R.PAUSED, _R.CANCELLED, _R.FAILED}),
    _R.RUNNING: frozenset({_R.PAUSED, _R.COMPLETED, _R.FAILED, _R.CANCELLED, _R.TIMEOUT,
                           _R.PENDING}),
    _R.PAUSED: frozenset({_R.RUNNING, _R.PENDING, _R.CANCELLED}),
    _R.COMPLETED: frozenset(),
    _R.FAILED: frozenset(),
    _R.CANCELLED: frozenset({_R.RUNNING, _R.PENDING}),
    _R.TIMEOUT: frozenset({_R.RUNNING, _R.PENDING}),
}

_T = TaskStatus
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    _T.PENDING: frozenset({_T.QUEUED, _T.SKIPPED, _T.CANCELLED, _T.COMPLETED, _T.FAILED}),
    _T.QUEUED: frozenset({_T.RUNNING, _T.CANCELLED}),
    _T.RUNNING: frozenset({_T.COMPLETED, _T.FAILED, _T.TIMEOUT, _T.CANCELLED, _T.RETRYING,
                           _T.SKIPPED}),
    _T.RETRYING: frozenset({_T.QUEUED, _T.CANCELLED}),
    # A failed or timed-out task may end as skipped or failed-and-continued by its on_error,
    # after its handler ran: those are recorded as the final state directly.
    _T.COMPLETED: frozenset(),
    _T.FAILED: frozenset(),
    _T.TIMEOUT: frozenset(),
    _T.CANCELLED: frozenset(),
    _T.SKIPPED: frozenset(),
}


class TransitionError(Exception):
    """A state change the machine does not allow: a runtime bug."""


def check_run(old: RunStatus | str, new: RunStatus | str, run_id: str | None = None) -> None:
    """Raise TransitionError unless a run may go from ``old`` to ``new`` (the same status is
    no change)."""
    if old == new:
        return
    if RunStatus(new) not in RUN_TRANSITIONS[RunStatus(old)]:
        who = f"run {run_id}" if run_id else "a run"
        raise TransitionError(f"{who} cannot go from {old} to {new}")


def check_task(old: TaskStatus, new: TaskStatus, key: str) -> None:
    if new not in TASK_TRANSITIONS[old]:
        raise TransitionError(f"task {key} cannot go from {old} to {new}")
