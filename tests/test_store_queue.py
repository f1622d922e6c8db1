"""Queues, claims, leases and fencing in the state store, on both back ends, with a clock the
test moves by hand (aging of priorities is a rule of time)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from store_helpers import Backend, Clock, backend, pg_url, postgres  # noqa: F401
from twdsl.runtime.states import TransitionError
from twdsl.runtime.store import AGING, LeaseLost, QueueStats, Store

T0 = 1_700_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(backend: Backend, clock: Clock) -> Iterator[Store]:
    s = backend.open(flush_interval=None, clock=clock)
    yield s
    s.close()


def submit(store: Store, run_id: str, priority: int = 0, queue: str = "default") -> None:
    store.create_run(run_id, "wf", status="pending", queue=queue, priority=priority,
                     inputs={"id": run_id})


def test_a_submitted_run_waits_in_its_queue(store: Store, clock: Clock) -> None:
    submit(store, "r1", priority=3, queue="gpu")
    run = store.get_run("r1")
    assert run is not None
    assert (run.status, run.queue, run.priority, run.queued_at, run.worker,
            run.lease_expires) == ("pending", "gpu", 3, T0, None, None)
    local = store.create_run("r2", "wf")  # `twdsl run`: no queue, never claimed
    assert local.queue is None
    assert store.claim("w1", ["default"], lease=10) is None
    assert store.claim("w1", ["default", "other"], lease=10) is None
    got = store.claim("w1", ["gpu"], lease=10, pid=77, host="m2")
    assert got is not None
    assert (got.id, got.status, got.worker, got.lease_expires, got.pid, got.host,
            got.resumes) == ("r1", "running", "w1", T0 + 10, 77, "m2", 0)
    assert store.claim("w2", ["gpu"], lease=10) is None  # nobody gets it twice


def test_higher_priority_first_and_waiting_raises_it(store: Store, clock: Clock) -> None:
    # a run's effective priority is priority + waited / AGING
    submit(store, "old-low")  # at T0, priority 0
    clock.now = T0 + 2 * AGING
    submit(store, "new-p1", priority=1)  # effective 1 now; old-low has 2
    submit(store, "new-p2", priority=2)  # ties with old-low: the one that waited longer wins
    submit(store, "new-p5", priority=5)
    clock.now = T0 + 3 * AGING
    order = []
    while (run := store.claim("w", ["default"], lease=600)) is not None:
        order.append(run.id)
    assert order == ["new-p5", "old-low", "new-p2", "new-p1"]


def test_low_priority_work_is_never_starved(store: Store, clock: Clock) -> None:
    submit(store, "low", priority=-5)
    claimed = []
    # a steady stream of priority 5 work: one new run a minute, one claim a minute
    for minute in range(1, 20):
        clock.now = T0 + minute * AGING
        submit(store, f"high-{minute}", priority=5)
        run = store.claim("w", ["default"], lease=30)
        assert run is not None
        store.update_run(run.id, status="completed")
        claimed.append(run.id)
        if run.id == "low":
            break
    # it waited until priority -5 + waited/AGING reached 5, the priority of fresh work (a
    # tie goes to the run that waited longer)
    assert claimed == [f"high-{m}" for m in range(1, 10)] + ["low"]


def test_a_run_whose_lease_ran_out_is_taken_over(store: Store, clock: Clock) -> None:
    submit(store, "r1")
    first = store.claim("w1", ["default"], lease=10)
    assert first is not None and first.resumes == 0
    store.update_run("r1", started_at=T0 + 1)  # it started (workflow.started)
    clock.now = T0 + 9
    assert store.renew("w1", ["r1"], lease=10) == {"r1"}  # lease now ends at T0 + 19
    clock.now = T0 + 15
    assert store.claim("w2", ["default"], lease=10) is None  # still w1's
    clock.now = T0 + 19.5  # w1 stopped renewing: it is gone
    again = store.claim("w2", ["default"], lease=10)
    assert again is not None
    assert (again.id, again.worker, again.resumes, again.started_at, again.lease_expires) == (
        "r1", "w2", 1, T0 + 1, T0 + 29.5)
    assert store.renew("w1", ["r1"], lease=10) == set()  # w1 learns it lost the run


def test_takeovers_come_before_waiting_runs(store: Store, clock: Clock) -> None:
    submit(store, "a", priority=100)
    assert store.claim("w1", ["default"], lease=5) is not None
    submit(store, "b", priority=100)
    clock.now = T0 + 6
    got = store.claim("w2", ["default"], lease=5)
    assert got is not None and got.id == "a"


def test_a_worker_that_lost_a_run_writes_nothing_more_of_it(backend: Backend,
                                                            clock: Clock) -> None:
    with backend.open(flush_interval=None, clock=clock) as admin:
        submit(admin, "r1")
    w1 = backend.open(flush_interval=None, clock=clock)
    w1.owner = "w1"
    w2 = backend.open(flush_interval=None, clock=clock)
    w2.owner = "w2"
    try:
        assert w1.claim("w1", ["default"], lease=5) is not None
        w1.task_started("r1", "a", "a", T0, 1, {"n": 1})
        w1.flush()
        clock.now = T0 + 10
        assert w2.claim("w2", ["default"], lease=5) is not None
        w2.task_started("r1", "a", "a", T0 + 10, 1, {"n": 1})
        w2.task_completed("r1", "a", T0 + 11, {"ok": "w2"})
        w2.flush()
        # w1 did not notice yet: what it records now is dropped, and it is told
        w1.task_completed("r1", "a", T0 + 12, {"ok": "w1"})
        w1.set_task("r1", "b", "running")
        w1.flush()
        assert w1.lost == {"r1"}
        with pytest.raises(LeaseLost, match="run r1 was taken over by worker w2; w1 no longer "
                                            "writes to it"):
            w1.update_run("r1", status="completed")
        assert w2.completed_results("r1") == {"a": {"ok": "w2"}}
        assert [t.key for t in w2.task_states("r1")] == ["a"]
        run = w2.get_run("r1")
        assert run is not None and (run.status, run.worker) == ("running", "w2")
        w2.update_run("r1", status="completed")
    finally:
        w1.close()
        w2.close()


def test_release_and_requeue(store: Store, clock: Clock) -> None:
    submit(store, "r1", priority=2)
    store.claim("w1", ["default"], lease=10)
    store.update_run("r1", status="paused")
    store.release("r1", "w1")
    run = store.get_run("r1")
    assert run is not None and (run.status, run.lease_expires) == ("paused", None)
    clock.now = T0 + 100
    back = store.transition("r1", "pending", when=frozenset({"paused", "cancelled"}))
    assert back is not None
    assert (back.status, back.queued_at, back.worker, back.priority) == (
        "pending", T0 + 100, None, 2)
    assert store.transition("r1", "pending", when=frozenset({"paused"})) is None
    held = store.transition("r1", "paused", when=frozenset({"pending"}))
    assert held is not None and held.status == "paused"
    assert store.claim("w1", ["default"], lease=10) is None  # a paused run waits for resume
    store.transition("r1", "cancelled", finished_at=T0 + 101)
    with pytest.raises(TransitionError, match="run r1 cannot go from cancelled to paused"):
        store.transition("r1", "paused")


def test_a_run_left_running_keeps_its_lease(store: Store, clock: Clock) -> None:
    submit(store, "r1")
    store.claim("w1", ["default"], lease=10)
    store.release("r1", "w1")  # its end could not be recorded: the lease must still expire
    run = store.get_run("r1")
    assert run is not None and run.lease_expires == T0 + 10


def test_queue_statistics(store: Store, clock: Clock) -> None:
    for i in range(3):
        clock.now = T0 + i
        submit(store, f"w{i}")
    submit(store, "p", queue="other")
    store.transition("p", "paused")
    clock.now = T0 + 10
    for rid, status, took in (("w0", "completed", 4.0), ("w1", "failed", 2.0)):
        store.claim("w", ["default"], lease=60)
        store.update_run(rid, status="running", started_at=clock.now)
        clock.now += took
        store.update_run(rid, status=status, finished_at=clock.now)
    store.claim("w", ["default"], lease=60)  # w2 runs
    clock.now = T0 + 100
    assert store.queue_stats(window=300) == [
        QueueStats("default", 0, 1, 0, None, 2, 1, 1, 3.0, 300.0),
        QueueStats("other", 0, 0, 1, None, 0, 0, 0, None, 300.0),
    ]
    submit(store, "w3")
    clock.now = T0 + 130
    stats = store.queue_stats(window=10)
    assert stats[0] == QueueStats("default", 1, 1, 0, 30.0, 0, 0, 0, None, 10.0)
    assert stats[0].per_minute == 0.0
    assert store.queue_stats(window=300)[0].per_minute == 0.4


RACER = """
import sys
from twdsl.runtime.store import open_store
store = open_store(sys.argv[1], flush_interval=None)
name = sys.argv[2]
store.owner = name
got = []
while (run := store.claim(name, ["default"], lease=600)) is not None:
    got.append(run.id)
print(" ".join(got))
store.close()
"""


def test_many_workers_racing_never_claim_a_run_twice(backend: Backend) -> None:
    with backend.open(flush_interval=None) as s:
        for i in range(120):
            submit(s, f"r{i:03d}", priority=i % 3)
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(RACER), backend.target,
                               f"w{n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for n in range(4)]
    claimed: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        claimed += out.split()
    assert sorted(claimed) == [f"r{i:03d}" for i in range(120)]  # each once
    assert backend.peek("SELECT count(*), count(DISTINCT worker) FROM runs "
                        "WHERE status = 'running'")[0][0] == 120
