"""The state store on a real SQLite file: every write and read path, with exact values."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    StoreError,
    TaskState,
    new_run_id,
)
from twdsl.runtime.store.schema import MIGRATIONS, migrate


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / ".twdsl" / "state.db", flush_interval=None, clock=clock)
    yield s
    s.close()


def other(path: Path) -> sqlite3.Connection:
    """Another connection: what another process sees (committed data only)."""
    return sqlite3.connect(path, isolation_level=None)


def make_run(store: SQLiteStore, run_id: str = "20231114-221320-aaaaaa",
             workflow: str = "build", **kw: object) -> RunRecord:
    return store.create_run(run_id, workflow, pid=4242, host="h1", **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the file

def test_the_file_and_its_folder_are_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    with SQLiteStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert path.is_file()
    db = other(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"programs", "runs", "tasks", "attempts", "events", "checkpoints",
                      "controls", "cache"}


def test_the_connection_settings(store: SQLiteStore) -> None:
    db = store._db
    assert db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert db.execute("PRAGMA busy_timeout").fetchone() == (10_000,)


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

def test_create_and_get_a_run(store: SQLiteStore, clock: Clock) -> None:
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
    assert store._db.execute("SELECT count(*) FROM programs").fetchone() == (1,)


def test_a_run_defaults_to_this_process(store: SQLiteStore) -> None:
    import os
    import socket
    run = store.create_run("r1", "build")
    assert (run.pid, run.host, run.status) == (os.getpid(), socket.gethostname(), "pending")


def test_a_run_is_durable_at_once(store: SQLiteStore) -> None:
    make_run(store)
    assert other(Path(store.path)).execute("SELECT id, status FROM runs").fetchall() == [
        ("20231114-221320-aaaaaa", "pending")]


def test_a_duplicate_run_id_is_refused(store: SQLiteStore) -> None:
    make_run(store)
    with pytest.raises(StoreError, match="a run '20231114-221320-aaaaaa' already exists"):
        make_run(store)


def test_get_run_by_unique_prefix(store: SQLiteStore) -> None:
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


def test_update_run_changes_only_the_given_columns(store: SQLiteStore) -> None:
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
    seen = other(Path(store.path)).execute("SELECT status, finished_at FROM runs").fetchall()
    assert seen == [("failed", 12.5)]


def test_update_run_mistakes(store: SQLiteStore) -> None:
    make_run(store)
    with pytest.raises(RunNotFound, match="no run 'nope'"):
        store.update_run("nope", status="running")
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        store.update_run("20231114-221320-aaaaaa", status="done")
    with pytest.raises(TypeError, match=r"unknown fields \['colour'\]"):
        store.update_run("20231114-221320-aaaaaa", colour="red")


def test_a_non_durable_run_update_is_queued(store: SQLiteStore) -> None:
    run = make_run(store)
    store.update_run(run.id, durable=False, outputs={"x": 1})
    assert other(Path(store.path)).execute("SELECT outputs FROM runs").fetchall() == [(None,)]
    got = store.get_run(run.id)
    assert got is not None and got.outputs == {"x": 1}


def test_mark_resumed(store: SQLiteStore) -> None:
    run = make_run(store, status="running")
    store.update_run(run.id, status="failed", started_at=1.0, finished_at=2.0,
                     error={"kind": "timeout", "message": "late"})
    again = store.mark_resumed(run.id, pid=7, host="h2")
    assert (again.status, again.resumes, again.pid, again.host, again.started_at,
            again.finished_at, again.error) == ("running", 1, 7, "h2", 1.0, None, None)
    assert store.mark_resumed(run.id, pid=8, host="h2").resumes == 2


def test_retry_links_to_its_parent(store: SQLiteStore) -> None:
    make_run(store, "old")
    assert make_run(store, "new", parent_id="old").parent_id == "old"
    with pytest.raises(RunNotFound, match="no run 'ghost'"):
        make_run(store, "newer", parent_id="ghost")
    assert store.get_run("newer") is None


def test_list_runs_filters_and_orders(store: SQLiteStore, clock: Clock) -> None:
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

def test_task_states_merge_partial_updates(store: SQLiteStore) -> None:
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


def test_task_updates_across_commits_keep_earlier_columns(store: SQLiteStore) -> None:
    run = make_run(store)
    store.set_task(run.id, "t", "running", task="t", started_at=1.0, line=3)
    store.flush()
    store.set_task(run.id, "t", "completed", result=None, finished_at=2.0, attempts=1)
    assert store.task_states(run.id) == [
        TaskState(run.id, "t", "t", "completed", 1, None, None, 1.0, 2.0, 3)]
    assert store.completed_results(run.id) == {"t": None}


def test_task_mistakes_fail_at_the_call(store: SQLiteStore) -> None:
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


def test_attempts(store: SQLiteStore) -> None:
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


def test_events_are_numbered_per_run_and_read_after_a_seq(store: SQLiteStore,
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


def test_event_numbers_continue_in_another_store(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path, flush_interval=None, clock=clock) as first:
        make_run(first, "r")
        first.record_event("r", "workflow.started")
    with SQLiteStore(path, flush_interval=None, clock=clock) as second, \
            SQLiteStore(path, flush_interval=None, clock=clock) as third:
        second.record_event("r", "workflow.resumed")
        third.record_event("r", "workflow.cancelled")
        third.flush()
        second.flush()
        assert [(e.seq, e.type) for e in second.events("r")] == [
            (1, "workflow.started"), (2, "workflow.cancelled"), (3, "workflow.resumed")]


def test_completed_results_are_what_a_resume_reuses(store: SQLiteStore) -> None:
    run = make_run(store)
    store.set_task(run.id, "a", "completed", result={"x": 1})
    store.set_task(run.id, "b", "failed", error={"kind": "agent", "message": "no"})
    store.set_task(run.id, "c[0]", "completed", result=[1, "two", None, 2.5])
    store.set_task(run.id, "c[1]", "running")
    store.set_task(run.id, "d", "skipped")
    assert store.completed_results(run.id) == {"a": {"x": 1}, "c[0]": [1, "two", None, 2.5]}
    assert store.completed_results("other") == {}


def test_checkpoints_keep_the_last_value(store: SQLiteStore, clock: Clock) -> None:
    run = make_run(store)
    store.checkpoint(run.id, "loop", {"next": 1})
    store.checkpoint(run.id, "loop", {"next": 2})
    store.flush()
    clock.now += 5
    store.checkpoint(run.id, "loop", {"next": 3})
    store.checkpoint(run.id, "other", [1])
    assert store.checkpoints(run.id) == {"loop": {"next": 3}, "other": [1]}
    assert other(Path(store.path)).execute(
        "SELECT key, updated_at FROM checkpoints ORDER BY key").fetchall() == [
        ("loop", 1_700_000_005.0), ("other", 1_700_000_005.0)]


def test_values_json_cannot_hold_are_kept_as_their_repr(store: SQLiteStore) -> None:
    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    run = make_run(store)
    store.set_task(run.id, "t", "completed", result={"o": Odd(), "t": (1, 2)})
    assert store.completed_results(run.id) == {"t": {"o": "<odd>", "t": [1, 2]}}


# ---------------------------------------------------------------------- control requests

def test_control_requests(store: SQLiteStore, clock: Clock) -> None:
    run = make_run(store, status="running")
    assert store.pending_controls(run.id) == []
    req = store.request_control(run.id, "pause")
    assert req == ControlRequest(1, run.id, "pause", 1_700_000_000.0, None)
    assert store.pending_controls(run.id) == [req]
    clock.now += 2
    store.mark_handled(req.id)
    assert store.pending_controls(run.id) == []
    assert other(Path(store.path)).execute("SELECT handled_at FROM controls").fetchall() == [
        (1_700_000_002.0,)]
    with pytest.raises(ValueError, match="unknown control command 'stop' "
                                         "\\(expected one of cancel, pause, resume\\)"):
        store.request_control(run.id, "stop")
    with pytest.raises(RunNotFound, match="no run 'ghost'"):
        store.request_control("ghost", "cancel")


def test_pending_controls_see_another_connection_s_requests(store: SQLiteStore) -> None:
    run = make_run(store, status="running")
    assert store.pending_controls(run.id) == []  # remembered with the data version
    db = other(Path(store.path))
    db.execute("INSERT INTO controls (run_id, command, requested_at) VALUES (?, 'cancel', 9)",
               (run.id,))
    assert store.pending_controls(run.id) == [ControlRequest(1, run.id, "cancel", 9.0, None)]
    db.execute("UPDATE controls SET handled_at = 10")
    assert store.pending_controls(run.id) == []


# ---------------------------------------------------------------------- cache

def test_cache_put_get_hits_and_expiry(store: SQLiteStore, clock: Clock) -> None:
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
    assert other(Path(store.path)).execute(
        "SELECT key, hits, last_hit_at FROM cache ORDER BY key").fetchall() == [
        ("k1", 3, t0 + 59.5), ("k2", 1, t0)]
    store.cache_put("k1", {"v": 2}, workflow="build", ttl=1)  # a new entry
    assert store.cache_get("k1") == CacheHit("k1", {"v": 2}, t0 + 60, t0 + 61, 1)


def test_cache_clear(store: SQLiteStore) -> None:
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
