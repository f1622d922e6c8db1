"""The state store on a real SQLite file and a real PostgreSQL database: every write and read
path, with exact values, on both back ends (tests/store_helpers.py)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from store_helpers import Backend, Clock, backend, pg_url, postgres  # noqa: F401
from twdsl.runtime.states import TransitionError
from twdsl.runtime.store import (
    SCHEMA_VERSION,
    AmbiguousRunId,
    AttemptRecord,
    CacheHit,
    ControlRequest,
    EventRecord,
    RunNotFound,
    RunRecord,
    SQLiteStore,
    Store,
    StoreError,
    TaskState,
    new_run_id,
    open_store,
)
from twdsl.runtime.store.schema import MIGRATIONS, migrate


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend: Backend, clock: Clock) -> Iterator[Store]:
    s = backend.open(flush_interval=None, clock=clock)
    yield s
    s.close()


def make_run(store: Store, run_id: str = "20231114-221320-aaaaaa",
             workflow: str = "build", **kw: object) -> RunRecord:
    return store.create_run(run_id, workflow, pid=4242, host="h1", **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the file

def test_the_file_and_its_folder_are_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    with SQLiteStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert path.is_file()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"programs", "runs", "tasks", "attempts", "events", "checkpoints",
                      "controls", "cache"}


def test_the_connection_settings(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    db = store._db
    assert db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert db.execute("PRAGMA busy_timeout").fetchone() == (10_000,)
    store.close()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_text("hello, I am a text file, not a database at all " * 40)
    with pytest.raises(StoreError) as e:
        SQLiteStore(path)
    assert str(e.value) == (f"{path} is not a usable twdsl state database: "
                            "file is not a database")


def test_a_folder_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder of the state database"):
        SQLiteStore(tmp_path / "file" / "state.db")


def test_run_ids_sort_by_time_and_are_short() -> None:
    a, b = new_run_id(1_700_000_000.0), new_run_id(1_700_000_001.0)
    assert a.startswith("20231114-221320-") and len(a) == 22
    assert a < b


# ---------------------------------------------------------------------- runs

def test_create_and_get_a_run(store: Store, backend: Backend) -> None:
    ir = '{"workflow":"build","nodes":{}}'
    run = make_run(store, version="1.2", source_path="flows/build.twdsl", ir=ir,
                   inputs={"n": 3, "names": ["a", "é"]}, status="running")
    sha = hashlib.sha256(ir.encode()).hexdigest()
    expected = RunRecord(
        id="20231114-221320-aaaaaa", workflow="build", version="1.2",
        source_path="flows/build.twdsl", ir_sha256=sha, inputs={"n": 3, "names": ["a", "é"]},
        status="running", created_at=1_700_000_000.0, started_at=None, finished_at=None,
        error=None, outputs=None, parent_id=None, resumes=0, pid=4242, host="h1")
    assert run == expected
    assert store.get_run(run.id) == expected
    assert store.program(run.id) == ir
    # the IR is kept once however many runs use it
    make_run(store, "20231114-221320-bbbbbb", ir=ir)
    assert backend.peek("SELECT count(*) FROM programs") == [(1,)]


def test_a_run_defaults_to_this_process(store: Store) -> None:
    import os
    import socket
    run = store.create_run("r1", "build")
    assert (run.pid, run.host, run.status) == (os.getpid(), socket.gethostname(), "pending")


def test_a_run_is_durable_at_once(store: Store, backend: Backend) -> None:
    make_run(store)
    assert backend.peek("SELECT id, status FROM runs") == [("20231114-221320-aaaaaa", "pending")]


def test_a_duplicate_run_id_is_refused(store: Store) -> None:
    make_run(store)
    with pytest.raises(StoreError, match="a run '20231114-221320-aaaaaa' already exists"):
        make_run(store)


def test_get_run_by_unique_prefix(store: Store) -> None:
    make_run(store, "20231114-221320-aaaaaa")
    make_run(store, "20231114-221320-abbbbb")
    make_run(store, "20231115-000000-cccccc")
    found = store.get_run("20231115")
    assert found is not None and found.id == "20231115-000000-cccccc"
    found = store.get_run("20231114-221320-ab")
    assert found is not None and found.id == "20231114-221320-abbbbb"
    assert store.get_run("2024") is None
    with pytest.raises(AmbiguousRunId) as e:
        store.get_run("20231114")
    assert e.value.matches == ["20231114-221320-aaaaaa", "20231114-221320-abbbbb"]
    assert str(e.value) == ("run id prefix '20231114' is ambiguous: it matches "
                            "20231114-221320-aaaaaa, 20231114-221320-abbbbb "
                            "(type more characters)")


def test_update_run_changes_only_the_given_columns(store: Store, backend: Backend) -> None:
    run = make_run(store, inputs={"a": 1})
    store.update_run(run.id, status="running", started_at=10.0)
    store.update_run(run.id, status="failed", finished_at=12.5,
                     error={"kind": "agent", "message": "boom", "task": "compile"})
    got = store.get_run(run.id)
    assert got is not None
    assert (got.status, got.started_at, got.finished_at, got.duration, got.error, got.inputs,
            got.outputs) == ("failed", 10.0, 12.5, 2.5,
                             {"kind": "agent", "message": "boom", "task": "compile"},
                             {"a": 1}, None)
    assert backend.peek("SELECT status, finished_at FROM runs") == [("failed", 12.5)]


def test_update_run_mistakes(store: Store) -> None:
    make_run(store)
    with pytest.raises(RunNotFound, match="no run 'nope'"):
        store.update_run("nope", status="running")
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        store.update_run("20231114-221320-aaaaaa", status="done")
    with pytest.raises(TypeError, match=r"unknown fields \['colour'\]"):
        store.update_run("20231114-221320-aaaaaa", colour="red")


def test_a_non_durable_run_update_is_queued(store: Store, backend: Backend) -> None:
    run = make_run(store)
    store.update_run(run.id, durable=False, outputs={"x": 1})
    assert backend.peek("SELECT CAST(outputs AS TEXT) FROM runs") == [(None,)]
    got = store.get_run(run.id)
    assert got is not None and got.outputs == {"x": 1}


def test_mark_resumed(store: Store) -> None:
    run = make_run(store, status="running")
    store.update_run(run.id, status="timeout", started_at=1.0, finished_at=2.0,
                     error={"kind": "timeout", "message": "late"})
    again = store.mark_resumed(run.id, pid=7, host="h2")
    assert (again.status, again.resumes, again.pid, again.host, again.started_at,
            again.finished_at, again.error) == ("running", 1, 7, "h2", 1.0, None, None)
    assert store.mark_resumed(run.id, pid=8, host="h2").resumes == 2
    store.update_run(run.id, status="completed")
    with pytest.raises(TransitionError, match=f"run {run.id} cannot go from completed to "
                                              "running"):
        store.mark_resumed(run.id)


def test_run_status_changes_follow_the_run_state_machine(store: Store) -> None:
    run = make_run(store, status="pending")
    store.update_run(run.id, status="running")
    store.update_run(run.id, status="running")  # staying is no change
    store.update_run(run.id, status="paused")
    store.update_run(run.id, status="running")
    store.update_run(run.id, status="completed")
    for status in ("running", "pending", "failed", "paused"):
        with pytest.raises(TransitionError, match=f"cannot go from completed to {status}"):
            store.update_run(run.id, status=status)
    got = store.get_run(run.id)
    assert got is not None and got.status == "completed"
    other = make_run(store, "r2", status="pending")
    with pytest.raises(TransitionError, match="run r2 cannot go from pending to completed"):
        store.update_run(other.id, status="completed")
    with pytest.raises(ValueError, match="a run's status changes durably"):
        store.update_run(other.id, durable=False, status="running")


def test_retry_links_to_its_parent(store: Store) -> None:
    make_run(store, "old")
    assert make_run(store, "new", parent_id="old").parent_id == "old"
    with pytest.raises(RunNotFound, match="no run 'ghost'"):
        make_run(store, "newer", parent_id="ghost")
    assert store.get_run("newer") is None


def test_list_runs_filters_and_orders(store: Store, clock: Clock) -> None:
    for i, (wf, status) in enumerate([("a", "completed"), ("b", "failed"), ("a", "failed"),
                                      ("a", "running")]):
        clock.now = 1000.0 + i * 100
        make_run(store, f"r{i}", wf, status=status)
    assert [r.id for r in store.list_runs()] == ["r3", "r2", "r1", "r0"]
    assert [r.id for r in store.list_runs(workflow="a")] == ["r3", "r2", "r0"]
    assert [r.id for r in store.list_runs(status="failed")] == ["r2", "r1"]
    assert [r.id for r in store.list_runs(workflow="a", status="failed")] == ["r2"]
    assert [r.id for r in store.list_runs(since=1100.0, until=1300.0)] == ["r2", "r1"]
    assert [r.id for r in store.list_runs(limit=2)] == ["r3", "r2"]
    assert len(store.list_runs(limit=None)) == 4


# ---------------------------------------------------------------------- tasks

def test_task_states_merge_partial_updates(store: Store) -> None:
    run = make_run(store)
    store.set_task(run.id, "build", "queued", task="build", line=7)
    store.set_task(run.id, "loop[1]/convert", "running", task="convert", started_at=1.0,
                   attempts=1, line=12)
    store.set_task(run.id, "build", "running", started_at=2.0, attempts=1)
    store.set_task(run.id, "build", "completed", result={"ok": [1, 2]}, finished_at=3.0)
    store.set_task(run.id, "loop[1]/convert", "failed", finished_at=4.0,
                   error={"kind": "agent", "message": "exit 2"})
    assert store.task_states(run.id) == [
        TaskState(run.id, "build", "build", "completed", 1, {"ok": [1, 2]}, None, 2.0, 3.0, 7),
        TaskState(run.id, "loop[1]/convert", "convert", "failed", 1, None,
                  {"kind": "agent", "message": "exit 2"}, 1.0, 4.0, 12),
    ]


def test_task_updates_across_commits_keep_earlier_columns(store: Store) -> None:
    run = make_run(store)
    store.set_task(run.id, "t", "running", task="t", started_at=1.0, line=3)
    store.flush()
    store.set_task(run.id, "t", "completed", result=None, finished_at=2.0, attempts=1)
    assert store.task_states(run.id) == [
        TaskState(run.id, "t", "t", "completed", 1, None, None, 1.0, 2.0, 3)]
    assert store.completed_results(run.id) == {"t": None}


def test_task_mistakes_fail_at_the_call(store: Store) -> None:
    run = make_run(store)
    with pytest.raises(ValueError, match="unknown task status 'done' \\(expected one of "
                                         "cancelled, completed, failed, pending, queued, "
                                         "retrying, running, skipped, timeout\\)"):
        store.set_task(run.id, "t", "done")
    with pytest.raises(TypeError, match="unknown task fields: colour"):
        store.set_task(run.id, "t", "running", colour="red")
    with pytest.raises(RunNotFound, match="no run 'ghost'"):
        store.set_task("ghost", "t", "running")
    with pytest.raises(RunNotFound):
        store.record_event("ghost", "task.started")
    with pytest.raises(ValueError, match="unknown attempt status 'retrying'"):
        store.set_attempt(run.id, "t", 1, "retrying")


def test_attempts(store: Store) -> None:
    run = make_run(store)
    store.set_attempt(run.id, "b", 1, "running", started_at=1.0)
    store.set_attempt(run.id, "a", 1, "running", started_at=1.5)
    store.set_attempt(run.id, "b", 1, "timeout", finished_at=2.0,
                      error={"kind": "timeout", "message": "after 1s"})
    store.set_attempt(run.id, "b", 2, "completed", started_at=3.0, finished_at=4.0)
    store.set_attempt(run.id, "a", 1, "completed", finished_at=5.0)
    assert store.attempts(run.id) == [
        AttemptRecord(run.id, "b", 1, "timeout", 1.0, 2.0,
                      {"kind": "timeout", "message": "after 1s"}),
        AttemptRecord(run.id, "b", 2, "completed", 3.0, 4.0, None),
        AttemptRecord(run.id, "a", 1, "completed", 1.5, 5.0, None),
    ]
    assert [a.attempt for a in store.attempts(run.id, key="b")] == [1, 2]
    assert store.attempts(run.id, key="zzz") == []


def test_events_are_numbered_per_run_and_read_after_a_seq(store: Store,
                                                          clock: Clock) -> None:
    a, b = make_run(store, "ra"), make_run(store, "rb")
    store.record_event(a.id, "workflow.started", data={"inputs": {"n": 1}})
    clock.now += 1
    store.record_event(b.id, "workflow.started")
    store.record_event(a.id, "task.started", "build", {"attempt": 1}, ts=5.0)
    store.flush()
    store.record_event(a.id, "task.completed", "build")
    assert store.events(a.id) == [
        EventRecord(a.id, 1, 1_700_000_000.0, "workflow.started", None, {"inputs": {"n": 1}}),
        EventRecord(a.id, 2, 5.0, "task.started", "build", {"attempt": 1}),
        EventRecord(a.id, 3, 1_700_000_001.0, "task.completed", "build", None),
    ]
    assert store.events(b.id) == [
        EventRecord(b.id, 1, 1_700_000_001.0, "workflow.started", None, None)]
    assert [e.seq for e in store.events(a.id, after_seq=1)] == [2, 3]
    assert [e.seq for e in store.events(a.id, after_seq=1, limit=1)] == [2]
    assert store.events(a.id, after_seq=3) == []


def test_event_numbers_continue_in_another_store(backend: Backend, clock: Clock) -> None:
    with backend.open(flush_interval=None, clock=clock) as first:
        make_run(first, "r")
        first.record_event("r", "workflow.started")
    with backend.open(flush_interval=None, clock=clock) as second, \
            backend.open(flush_interval=None, clock=clock) as third:
        second.record_event("r", "workflow.resumed")
        third.record_event("r", "workflow.cancelled")
        third.flush()
        second.flush()
        assert [(e.seq, e.type) for e in second.events("r")] == [
            (1, "workflow.started"), (2, "workflow.cancelled"), (3, "workflow.resumed")]


def test_a_first_attempt_s_events_are_kept_in_the_task_row(store: Store, backend: Backend,
                                                           clock: Clock) -> None:
    run = make_run(store)
    store.record_event(run.id, "workflow.started", data={"workflow": "build"}, ts=1.0)
    for i, key in enumerate(("a[0]", "a[1]")):
        store.record_task(run.id, key, "running", "task.started",
                          {"input": {"i": i}, "task": "a", "attempt": 1}, 2.0 + i, "started",
                          task="a", attempts=1, started_at=2.0 + i, line=4, input={"i": i})
    store.record_event(run.id, "task.queued", "b", {"task": "b", "attempt": 1}, ts=3.5)
    store.flush()  # a commit between the start and the end of a[0]
    store.record_task(run.id, "a[0]", "completed", "task.completed",
                      {"result": {"ok": 0}, "duration": 2.5, "task": "a", "attempt": 1}, 4.5,
                      "done", result={"ok": 0}, finished_at=4.5, attempts=1)
    store.record_task(run.id, "a[1]", "failed", "task.failed",
                      {"error": {"kind": "agent"}, "task": "a", "attempt": 1}, 5.0,
                      error={"kind": "agent"}, finished_at=5.0)
    assert store.events(run.id) == [
        EventRecord(run.id, 1, 1.0, "workflow.started", None, {"workflow": "build"}),
        EventRecord(run.id, 2, 2.0, "task.started", "a[0]",
                    {"input": {"i": 0}, "task": "a", "attempt": 1}),
        EventRecord(run.id, 3, 3.0, "task.started", "a[1]",
                    {"input": {"i": 1}, "task": "a", "attempt": 1}),
        EventRecord(run.id, 4, 3.5, "task.queued", "b", {"task": "b", "attempt": 1}),
        EventRecord(run.id, 5, 4.5, "task.completed", "a[0]",
                    {"result": {"ok": 0}, "duration": 2.5, "task": "a", "attempt": 1}),
        EventRecord(run.id, 6, 5.0, "task.failed", "a[1]",
                    {"error": {"kind": "agent"}, "task": "a", "attempt": 1}),
    ]
    assert [(e.seq, e.type) for e in store.events(run.id, after_seq=2, limit=3)] == [
        (3, "task.started"), (4, "task.queued"), (5, "task.completed")]
    # one row per task, and three rows of events
    assert backend.peek("SELECT count(*) FROM tasks") == [(2,)]
    assert backend.peek("SELECT seq, type FROM events ORDER BY seq") == [
        (1, "workflow.started"), (4, "task.queued"), (6, "task.failed")]
    assert backend.peek("SELECT last_seq FROM runs") == [(6,)]
    assert store.task_states(run.id)[0] == TaskState(
        run.id, "a[0]", "a", "completed", 1, {"ok": 0}, None, 2.0, 4.5, 4)
    with backend.open(flush_interval=None, clock=clock) as other:  # numbers go on
        other.record_event(run.id, "workflow.completed", ts=6.0)
    assert [e.seq for e in store.events(run.id, after_seq=5)] == [6, 7]


@pytest.mark.parametrize("commit_between", [False, True])
def test_first_attempts_on_the_fast_path_mix_with_other_writes(
        store: Store, commit_between: bool) -> None:
    run = make_run(store)
    # a: starts, completes; b: starts, fails once, starts again, completes; c: starts, fails
    store.task_started(run.id, "a", "ta", 1.0, 3, {"n": 1})
    store.task_started(run.id, "b", "tb", 1.5, 4, {"n": 2})
    store.task_started(run.id, "c", "tc", 1.6, 5, None)
    if commit_between:
        store.flush()
    store.task_completed(run.id, "a", 2.0, {"ok": 1}, "ta", 1.0)
    store.record_task(run.id, "b", "retrying", "task.retried",
                      {"error": {"kind": "agent"}, "task": "tb", "attempt": 1}, 2.5,
                      error={"kind": "agent"})
    store.set_attempt(run.id, "b", 1, "failed", started_at=1.5, finished_at=2.5)
    store.record_task(run.id, "b", "running", "task.started", {"task": "tb", "attempt": 2},
                      3.0, attempts=2)  # the row keeps the first attempt's start
    store.set_task(run.id, "c", "failed", error={"kind": "timeout"}, finished_at=3.2)
    if commit_between:
        store.flush()
    store.record_task(run.id, "b", "completed", "task.completed",
                      {"result": 7, "task": "tb", "attempt": 2}, 4.0, result=7,
                      finished_at=4.0)
    assert store.task_states(run.id) == [
        TaskState(run.id, "a", "ta", "completed", 1, {"ok": 1}, None, 1.0, 2.0, 3),
        TaskState(run.id, "b", "tb", "completed", 2, 7, {"kind": "agent"}, 1.5, 4.0, 4),
        TaskState(run.id, "c", "tc", "failed", 1, None, {"kind": "timeout"}, 1.6, 3.2, 5),
    ]
    assert [(e.seq, e.ts, e.type, e.key, e.data) for e in store.events(run.id)] == [
        (1, 1.0, "task.started", "a", {"input": {"n": 1}, "task": "ta", "attempt": 1}),
        (2, 1.5, "task.started", "b", {"input": {"n": 2}, "task": "tb", "attempt": 1}),
        (3, 1.6, "task.started", "c", {"input": None, "task": "tc", "attempt": 1}),
        (4, 2.0, "task.completed", "a",
         {"result": {"ok": 1}, "duration": 1.0, "task": "ta", "attempt": 1}),
        (5, 2.5, "task.retried", "b", {"error": {"kind": "agent"}, "task": "tb", "attempt": 1}),
        (6, 3.0, "task.started", "b", {"task": "tb", "attempt": 2}),
        (7, 4.0, "task.completed", "b", {"result": 7, "task": "tb", "attempt": 2}),
    ]
    assert store.completed_results(run.id) == {"a": {"ok": 1}, "b": 7}


def test_completed_results_are_what_a_resume_reuses(store: Store) -> None:
    run = make_run(store)
    store.set_task(run.id, "a", "completed", result={"x": 1})
    store.set_task(run.id, "b", "failed", error={"kind": "agent", "message": "no"})
    store.set_task(run.id, "c[0]", "completed", result=[1, "two", None, 2.5])
    store.set_task(run.id, "c[1]", "running")
    store.set_task(run.id, "d", "skipped")
    assert store.completed_results(run.id) == {"a": {"x": 1}, "c[0]": [1, "two", None, 2.5]}
    assert store.completed_results("other") == {}


def test_checkpoints_keep_the_last_value(store: Store, clock: Clock, backend: Backend) -> None:
    run = make_run(store)
    store.checkpoint(run.id, "loop", {"next": 1})
    store.checkpoint(run.id, "loop", {"next": 2})
    store.flush()
    clock.now += 5
    store.checkpoint(run.id, "loop", {"next": 3})
    store.checkpoint(run.id, "other", [1])
    assert store.checkpoints(run.id) == {"loop": {"next": 3}, "other": [1]}
    assert backend.peek("SELECT key, updated_at FROM checkpoints ORDER BY key") == [
        ("loop", 1_700_000_005.0), ("other", 1_700_000_005.0)]


def test_values_json_cannot_hold_are_kept_as_their_repr(store: Store) -> None:
    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    run = make_run(store)
    store.set_task(run.id, "t", "completed", result={"o": Odd(), "t": (1, 2)})
    assert store.completed_results(run.id) == {"t": {"o": "<odd>", "t": [1, 2]}}


# ---------------------------------------------------------------------- control requests

def test_control_requests(store: Store, clock: Clock, backend: Backend) -> None:
    run = make_run(store, status="running")
    assert store.pending_controls(run.id) == []
    req = store.request_control(run.id, "pause")
    assert req == ControlRequest(1, run.id, "pause", 1_700_000_000.0, None)
    assert store.pending_controls(run.id) == [req]
    clock.now += 2
    store.mark_handled(req.id)
    assert store.pending_controls(run.id) == []
    assert backend.peek("SELECT handled_at FROM controls") == [(1_700_000_002.0,)]
    with pytest.raises(ValueError, match="unknown control command 'stop' "
                                         "\\(expected one of cancel, pause, resume\\)"):
        store.request_control(run.id, "stop")
    with pytest.raises(RunNotFound, match="no run 'ghost'"):
        store.request_control("ghost", "cancel")


def test_pending_controls_see_another_connection_s_requests(store: Store,
                                                           backend: Backend) -> None:
    run = make_run(store, status="running")
    assert store.pending_controls(run.id) == []  # remembered with the data version
    backend.execute("INSERT INTO controls (run_id, command, requested_at) "
                    "VALUES (?, 'cancel', 9)", run.id)
    assert store.pending_controls(run.id) == [ControlRequest(1, run.id, "cancel", 9.0, None)]
    backend.execute("UPDATE controls SET handled_at = 10")
    assert store.pending_controls(run.id) == []


# ---------------------------------------------------------------------- cache

def test_cache_put_get_hits_and_expiry(store: Store, clock: Clock, backend: Backend) -> None:
    t0 = clock.now
    store.cache_put("k1", {"v": 1}, workflow="build", task="compile", ttl=60)
    store.cache_put("k2", None, workflow="build")
    assert store.cache_get("k1") == CacheHit("k1", {"v": 1}, t0, t0 + 60, 1)
    assert store.cache_get("k1") == CacheHit("k1", {"v": 1}, t0, t0 + 60, 2)
    assert store.cache_get("k2") == CacheHit("k2", None, t0, None, 1)
    assert store.cache_get("nope") is None
    clock.now = t0 + 59.5
    assert store.cache_get("k1") is not None
    clock.now = t0 + 60  # expires_at itself is expired
    assert store.cache_get("k1") is None
    store.flush()
    assert backend.peek("SELECT key, hits, last_hit_at FROM cache ORDER BY key") == [
        ("k1", 3, t0 + 59.5), ("k2", 1, t0)]
    store.cache_put("k1", {"v": 2}, workflow="build", ttl=1)  # a new entry
    assert store.cache_get("k1") == CacheHit("k1", {"v": 2}, t0 + 60, t0 + 61, 1)


def test_cache_clear(store: Store) -> None:
    store.cache_put("a", 1, workflow="w1")
    store.cache_put("b", 2, workflow="w2")
    store.cache_put("c", 3, workflow="w2")
    assert store.cache_clear("w2") == 2
    assert store.cache_get("b") is None and store.cache_get("a") is not None
    assert store.cache_clear() == 1
    assert store.cache_get("a") is None


# ---------------------------------------------------------------------- migrations

def test_an_old_version_file_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, upto=1)  # a file written by the first release
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    db.execute("INSERT INTO runs (id, workflow, status, created_at) "
               "VALUES ('old', 'build', 'completed', 5.0)")
    db.execute("INSERT INTO tasks (run_id, key, status, result) "
               "VALUES ('old', 'a', 'completed', '[1]')")
    db.close()
    with SQLiteStore(path, flush_interval=None) as s:
        assert s.schema_version == SCHEMA_VERSION
        got = s.get_run("old")
        assert got is not None and (got.workflow, got.status) == ("build", "completed")
        assert s.completed_results("old") == {"a": [1]}
        s.checkpoint("old", "k", 1)  # a table the migration added
        s.cache_put("c", 2)
        assert s.checkpoints("old") == {"k": 1}
        assert s.cache_get("c") is not None


def test_a_file_from_a_newer_twdsl_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError) as e:
        SQLiteStore(path)
    assert str(e.value) == (
        f"{path} was written by a newer twdsl (state schema version {SCHEMA_VERSION + 1}, "
        f"this twdsl knows versions up to {SCHEMA_VERSION}): upgrade twdsl or use another "
        "state file")


# ---------------------------------------------------------------------- lifetime

def test_a_closed_store_says_so(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "state.db")
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreError, match="is closed"):
        s.get_run("x")


def test_a_postgresql_database_is_migrated_step_by_step(pg_url: str) -> None:
    import psycopg

    from twdsl.runtime.store.pg_schema import VERSION, migrate, version

    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert version(conn) == 0
        assert migrate(conn, upto=1) == 0  # a database made by the first release
        conn.execute("INSERT INTO runs (id, workflow, status, created_at) "
                     "VALUES ('old', 'build', 'completed', 5.0)")
        conn.execute("INSERT INTO tasks (run_id, key, status, result) "
                     "VALUES ('old', 'a', 'completed', '[1]')")
    with open_store(pg_url, flush_interval=None) as s:
        assert s.schema_version == VERSION == SCHEMA_VERSION  # type: ignore[attr-defined]
        got = s.get_run("old")
        assert got is not None and (got.workflow, got.status, got.queue) == (
            "build", "completed", None)
        assert s.completed_results("old") == {"a": [1]}
        s.checkpoint("old", "k", 1)
        assert s.checkpoints("old") == {"k": 1}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE twdsl_schema SET version = %s", (VERSION + 1,))
    with pytest.raises(StoreError) as e:
        open_store(pg_url)
    assert str(e.value).endswith(
        f"was written by a newer twdsl (state schema version {VERSION + 1}, this twdsl knows "
        f"versions up to {VERSION}): upgrade twdsl or use another database")


def test_two_stores_opening_a_new_database_at_once_migrate_it_once(pg_url: str) -> None:
    import threading

    stores: list[Store] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(open_store(pg_url, flush_interval=None))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    for s in stores:
        s.close()


def test_a_postgresql_url_that_does_not_work_is_a_clear_error(postgres: object,
                                                              tmp_path: Path) -> None:
    url = f"postgresql://nobody:secret@/no_such_db?host={tmp_path}&port=1"
    with pytest.raises(StoreError) as e:
        open_store(url, connect_timeout=2)
    message = str(e.value)
    assert message.startswith(
        f"cannot use the state store postgresql://nobody:***@/no_such_db?host={tmp_path}"
        "&port=1: ")
    assert "secret" not in message


# ---------------------------------------------------------------------- damage

def _damaged(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    with SQLiteStore(path, flush_interval=None) as s:
        s.create_run("good", "build", inputs={"n": 1}, status="running")
        s.create_run("bad", "build", inputs={"n": 2}, status="running")
        for rid in ("good", "bad"):
            s.set_task(rid, "a", "completed", result={"x": 1})
            s.set_task(rid, "b", "completed", result={"y": 2})
            s.record_event(rid, "task.completed", "a", {"result": {"x": 1}})
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE runs SET inputs = '{\"n\": 2' WHERE id = 'bad'")
    db.execute("UPDATE tasks SET result = 'nope' WHERE run_id = 'bad' AND key = 'b'")
    db.execute("UPDATE events SET data = '{[' WHERE run_id = 'bad'")
    db.close()
    return path


def test_a_value_that_is_not_json_is_reported_naming_the_run(tmp_path: Path) -> None:
    path = _damaged(tmp_path)
    with SQLiteStore(path) as s:
        runs = {r.id: r for r in s.list_runs()}
        assert (runs["good"].inputs, runs["good"].damage) == ({"n": 1}, ())
        assert (runs["bad"].inputs, runs["bad"].damage) == (None, ("inputs",))
        assert s.problems == [
            f"{path}: run bad: its recorded inputs is damaged (not JSON: Expecting ',' "
            "delimiter: line 1 column 8 (char 7)); read as null"]
        s.problems.clear()
        assert s.completed_results("good") == {"a": {"x": 1}, "b": {"y": 2}}
        assert s.completed_results("bad") == {"a": {"x": 1}}  # b runs again
        assert s.problems == [
            f"{path}: run bad, task b: its recorded result (the task runs again) is damaged "
            "(not JSON: Expecting value: line 1 column 1 (char 0)); read as null"]
        states = {t.key: t for t in s.task_states("bad")}
        assert (states["b"].result, states["b"].damage) == (None, ("result",))
        (event,) = s.events("bad")
        assert (event.type, event.data) == ("task.completed", None)
        s.create_run("new", "build")  # the store stays usable
        assert s.get_run("new") is not None


def test_a_reset_schema_version_is_named_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 0")
    db.close()
    with pytest.raises(StoreError) as e:
        SQLiteStore(path)
    assert str(e.value) == (
        f"{path} is damaged: its schema version (PRAGMA user_version) says 0, yet it holds "
        "twdsl's tables (table programs already exists); if nothing else is wrong with it, "
        f"`sqlite3 {path} 'PRAGMA user_version = {SCHEMA_VERSION}'` restores the version, "
        "else move it away and start a new one")


def test_a_dropped_table_is_a_store_error_naming_the_run(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path) as s:
        s.create_run("r1", "build")
    db = sqlite3.connect(path)
    db.execute("DROP TABLE events")
    db.close()
    with SQLiteStore(path) as s:
        assert s.get_run("r1") is not None
        with pytest.raises(StoreError) as e:
            s.events("r1")
        assert str(e.value) == (f"cannot read the state store {path} (the events of run r1): "
                                "no such table: events")
