"""Group commit, crashes, threads and other processes against one real SQLite file and one
real PostgreSQL database (tests/store_helpers.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

from store_helpers import Backend, backend, pg_url, postgres  # noqa: F401
from twdsl.runtime.store import Store


def eventually(check: Callable[[], bool], within: float = 20.0) -> bool:
    """Liveness, not speed: wait for something that must happen, with a generous deadline."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def record_task(store: Store, run_id: str, i: int) -> None:
    key = f"convert[{i}]"
    store.set_task(run_id, key, "running", task="convert", attempts=1, started_at=float(i))
    store.record_event(run_id, "task.started", key, ts=float(i))
    store.set_attempt(run_id, key, 1, "completed", started_at=float(i), finished_at=i + 0.5)
    store.set_task(run_id, key, "completed", result={"i": i}, finished_at=i + 0.5)
    store.record_event(run_id, "task.completed", key, ts=i + 0.5)


# ---------------------------------------------------------------------- group commit

def test_queued_writes_wait_for_the_flush_and_all_arrive_in_one(backend: Backend) -> None:
    with backend.open(flush_interval=None) as store:
        store.create_run("r", "w", status="running")
        for i in range(1000):
            record_task(store, "r", i)
        assert backend.peek("SELECT count(*) FROM tasks") == [(0,)]
        assert backend.peek("SELECT count(*) FROM events") == [(0,)]
        if backend.name == "sqlite":
            before = store._db.total_changes  # type: ignore[attr-defined]
        store.flush()
        if backend.name == "sqlite":
            # one task row (merged), one attempt and two events per task; the run's counter
            assert store._db.total_changes - before == 4001  # type: ignore[attr-defined]
        assert backend.peek("SELECT count(*), count(*) FILTER (WHERE status = 'completed') "
                            "FROM tasks") == [(1000, 1000)]
        assert backend.peek("SELECT count(*), min(seq), max(seq) FROM events") == [
            (2000, 1, 2000)]
        assert backend.peek("SELECT count(*) FROM attempts") == [(1000,)]


def test_reads_see_their_own_queued_writes(backend: Backend) -> None:
    with backend.open(flush_interval=None) as store:
        store.create_run("r", "w")
        record_task(store, "r", 0)
        assert backend.peek("SELECT count(*) FROM tasks") == [(0,)]
        assert store.completed_results("r") == {"convert[0]": {"i": 0}}
        assert [e.type for e in store.events("r")] == ["task.started", "task.completed"]


def test_a_durable_write_commits_what_was_queued_before_it(backend: Backend) -> None:
    with backend.open(flush_interval=None) as store:
        store.create_run("r", "w", status="running")
        record_task(store, "r", 0)
        store.update_run("r", status="completed", finished_at=9.0)
        assert backend.peek("SELECT r.status, t.status FROM runs r JOIN tasks t "
                            "ON t.run_id = r.id") == [("completed", "completed")]


def test_the_writer_thread_commits_without_being_asked(backend: Backend) -> None:
    with backend.open(flush_interval=0.005) as store:
        store.create_run("r", "w", status="running")
        for i in range(3000):
            record_task(store, "r", i)
        assert eventually(lambda: backend.peek("SELECT count(*) FROM events") == [(6000,)])
        # and again after going idle
        record_task(store, "r", 3000)
        assert eventually(lambda: backend.peek("SELECT count(*) FROM tasks") == [(3001,)])


def test_threads_recording_at_once_lose_nothing(backend: Backend) -> None:
    with backend.open(flush_interval=0.002, batch=100) as store:
        store.create_run("r", "w", status="running")

        def work(offset: int) -> None:
            for i in range(offset, offset + 500):
                record_task(store, "r", i)
                if i % 97 == 0:
                    store.completed_results("r")  # reads in between

        threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results = store.completed_results("r")
        assert len(results) == 2000
        assert results["convert[3499]"] == {"i": 3499}
        seqs = [e.seq for e in store.events("r")]
        assert seqs == list(range(1, 4001))


# ---------------------------------------------------------------------- crashes

CRASH = """
import os, signal, sys
from twdsl.runtime.store import open_store
store = open_store(sys.argv[1], flush_interval=None)
store.create_run("r", "w", status="running")
for i in range(10):
    store.set_task("r", f"t{i}", "completed", result=i)
store.flush()                                   # committed: survives
for i in range(10, 15):
    store.set_task("r", f"t{i}", "completed", result=i)
store.update_run("r", status="paused")          # durable: takes t10..t14 with it
for i in range(15, 20):
    store.set_task("r", f"t{i}", "completed", result=i)   # only queued: lost
    store.checkpoint("r", "loop", i)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_loses_only_what_was_not_committed(backend: Backend) -> None:
    proc = python(CRASH, backend.target)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    with backend.open() as store:
        assert store.completed_results("r") == {f"t{i}": i for i in range(15)}
        run = store.get_run("r")
        assert run is not None and run.status == "paused"
        assert store.checkpoints("r") == {}


def test_a_process_that_forgets_to_close_still_commits(backend: Backend) -> None:
    proc = python("""
        import sys
        from twdsl.runtime.store import open_store
        store = open_store(sys.argv[1], flush_interval=60.0)
        store.create_run("r", "w")
        for i in range(100):
            store.record_event("r", "task.started", f"t{i}")
    """, backend.target)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, "")
    assert backend.peek("SELECT count(*), max(seq) FROM events") == [(100, 100)]


# ---------------------------------------------------------------------- other processes

CANCEL = """
import sys
from twdsl.runtime.store import open_store
with open_store(sys.argv[1]) as store:
    run = store.get_run(sys.argv[2][:12])          # by prefix, as `twdsl runs cancel` does
    request = store.request_control(run.id, "cancel", now=123.0)
    print(request.id, request.run_id, request.command)
"""


def test_a_control_request_from_another_process_reaches_the_running_one(
        backend: Backend) -> None:
    run_id = "20231114-221320-aaaaaa"
    with backend.open() as store:
        store.create_run(run_id, "w", status="running")
        proc = python(CANCEL, backend.target, run_id)
        seen: list[object] = []
        i = 0

        def poll() -> bool:
            nonlocal i
            record_task(store, run_id, i)  # the run keeps writing meanwhile
            i += 1
            seen[:] = store.pending_controls(run_id)
            return bool(seen)

        assert eventually(poll)
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, out, err) == (0, f"1 {run_id} cancel\n", "")
        (request,) = seen
        assert (request.id, request.command, request.requested_at,  # type: ignore[attr-defined]
                request.handled_at) == (1, "cancel", 123.0, None)  # type: ignore[attr-defined]
        store.mark_handled(1, now=124.0)
        store.update_run(run_id, status="cancelled")
        assert store.pending_controls(run_id) == []
    assert backend.peek("SELECT command, handled_at FROM controls") == [("cancel", 124.0)]


WRITER = """
import sys
from twdsl.runtime.store import open_store
name = sys.argv[2]
with open_store(sys.argv[1], flush_interval=0.002, batch=50) as store:
    for r in range(10):
        run_id = f"{name}-{r}"
        store.create_run(run_id, "w", status="running")
        for i in range(100):
            key = f"t{i}"
            store.set_task(run_id, key, "running", started_at=float(i))
            store.record_event(run_id, "task.started", key)
            store.set_task(run_id, key, "completed", result=i, finished_at=i + 1.0)
            store.record_event(run_id, "task.completed", key)
        store.request_control(run_id, "pause")
        store.update_run(run_id, status="completed")
        store.cache_put(run_id, r, workflow="w")
        store.stats()
print("done")
"""


def test_concurrent_writers_do_not_see_database_is_locked(backend: Backend) -> None:
    procs = [python(WRITER, backend.target, f"p{n}") for n in range(4)]  # none created it
    outcomes = [(p.communicate(timeout=120), p.returncode) for p in procs]
    assert outcomes == [(("done\n", ""), 0)] * 4
    assert backend.peek("SELECT count(*) FROM runs WHERE status = 'completed'") == [(40,)]
    assert backend.peek("SELECT count(*), sum(CAST(CAST(result AS TEXT) AS INTEGER)) "
                        "FROM tasks") == [(4000, 40 * 4950)]
    assert backend.peek("SELECT count(*), count(DISTINCT run_id) FROM events "
                        "WHERE seq BETWEEN 1 AND 200") == [(8000, 40)]
    assert backend.peek("SELECT count(*) FROM controls") == [(40,)]
    assert backend.peek("SELECT count(*) FROM cache") == [(40,)]


def test_closing_stops_the_writer_thread(backend: Backend) -> None:
    store = backend.open()  # (the connection pool's threads are started before counting)
    before = threading.active_count()
    other = backend.open()
    other.create_run("r", "w")
    other.record_event("r", "x")
    other.close()
    assert threading.active_count() == before
    store.close()
    assert backend.peek("SELECT type FROM events") == [("x",)]
