"""Schedules fired by `twdsl server`: the scheduler on a controllable clock (on time, missed
while no server ran under each policy, paused), two schedulers racing on one database, and
real servers firing a seconds schedule (one run per occurrence, recorded with its scheduled
time), with `twdsl schedules` to list and pause."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server_helpers import Server, cli, deploy, make_project, token

from twdsl.server.db import SQLiteServerDB
from twdsl.server.scheduler import Scheduler

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC).timestamp()  # a Tuesday, 02:00 UTC


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _scheduler(db: SQLiteServerDB, clock: Clock, name: str = "s1",
               fired: list[tuple[str, float, str | None]] | None = None) -> Scheduler:
    out = fired if fired is not None else []

    def fire(workflow: str, occurrence: float, note: str | None) -> str:
        out.append((workflow, occurrence, note))
        return f"run-{name}-{len(out)}"

    return Scheduler(db, fire, name, grace=60, clock=clock)


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d %H:%M")


def test_an_occurrence_fires_once_on_time(tmp_path: Path) -> None:
    clock = Clock(T0)
    db = SQLiteServerDB(tmp_path / "s.db", clock=clock)
    db.set_schedule("Hourly", "0 * * * *")
    fired: list[tuple[str, float, str | None]] = []
    sched = _scheduler(db, clock, fired=fired)
    fires, upcoming = sched.tick()
    assert fires == [] and upcoming == T0 + 3600
    clock.now = T0 + 3600.2
    fires, upcoming = sched.tick()
    assert [(f.workflow, _hhmm(f.occurrence), f.run_id) for f in fires] == [
        ("Hourly", "01 03:00", "run-s1-1")]
    assert upcoming == T0 + 7200
    assert sched.tick()[0] == []  # the same occurrence never again
    record = db.fires("Hourly")[0]
    assert (record.occurrence, record.run_id, record.server) == (T0 + 3600, "run-s1-1", "s1")
    assert round(record.fired_at - record.occurrence, 3) == 0.2


def test_missed_occurrences_run_once_or_are_skipped(tmp_path: Path) -> None:
    clock = Clock(T0)
    db = SQLiteServerDB(tmp_path / "s.db", clock=clock)
    db.set_schedule("Once", "0 * * * *")
    db.set_schedule("Skip", "0 * * * *")
    db.update_schedule("Skip", missed="skip")
    fired: list[tuple[str, float, str | None]] = []
    sched = _scheduler(db, clock, fired=fired)
    # the server was down from 02:00 to 05:30: 03:00, 04:00 and 05:00 were missed
    clock.now = T0 + 3.5 * 3600
    fires, _ = sched.tick()
    got = {(f.workflow, _hhmm(f.occurrence), f.run_id is not None) for f in fires}
    assert got == {("Once", "01 05:00", True), ("Skip", "01 05:00", False)}
    assert [(w, _hhmm(t)) for w, t, _ in fired] == [("Once", "01 05:00")]
    assert fired[0][2] == "missed while no server ran: run once (policy once)"
    assert db.fires("Skip")[0].note == "missed while no server ran: skipped (policy skip)"
    # down again, and back just after 07:00: 06:00 is missed, 07:00 on time
    clock.now = T0 + 5 * 3600 + 20
    fires, _ = sched.tick()
    assert sorted((f.workflow, _hhmm(f.occurrence), f.run_id is not None) for f in fires) == [
        ("Once", "01 06:00", True), ("Once", "01 07:00", True),
        ("Skip", "01 06:00", False), ("Skip", "01 07:00", True)]


def test_a_paused_schedule_does_not_fire_what_passed_while_paused(tmp_path: Path) -> None:
    clock = Clock(T0)
    db = SQLiteServerDB(tmp_path / "s.db", clock=clock)
    db.set_schedule("Hourly", "0 * * * *")
    sched = _scheduler(db, clock)
    assert db.update_schedule("Hourly", paused=True)
    clock.now = T0 + 3 * 3600 + 5
    assert sched.tick() == ([], None)
    db.update_schedule("Hourly", paused=False)
    assert sched.tick()[0] == []  # 03:00-05:00 passed while paused: nothing fires
    clock.now = T0 + 4 * 3600 + 1
    assert [_hhmm(f.occurrence) for f in sched.tick()[0]] == ["01 06:00"]
    assert not db.update_schedule("Nope", paused=True)


def test_a_changed_expression_counts_from_the_change(tmp_path: Path) -> None:
    clock = Clock(T0)
    db = SQLiteServerDB(tmp_path / "s.db", clock=clock)
    db.set_schedule("W", "0 * * * *")
    clock.now = T0 + 7200 + 10
    db.set_schedule("W", "30 * * * *")  # a redeploy with another schedule
    assert _scheduler(db, clock).tick()[0] == []
    db.set_schedule("W", None)
    assert db.schedules() == []


def test_two_schedulers_on_one_database_fire_each_occurrence_once(tmp_path: Path) -> None:
    """Two servers (two connections, two threads) ticking at the same moments."""
    clock = Clock(T0)
    path = tmp_path / "s.db"
    SQLiteServerDB(path, clock=clock).set_schedule("Minutely", "* * * * *")
    fired: list[tuple[str, float, str | None]] = []
    lock = threading.Lock()
    schedulers = []
    for name in ("a", "b"):
        db = SQLiteServerDB(path, clock=clock)

        def fire(workflow: str, occurrence: float, note: str | None, name: str = name) -> str:
            with lock:
                fired.append((name, occurrence, note))
            return f"{name}-{occurrence}"

        schedulers.append(Scheduler(db, fire, name, grace=60, clock=clock))
    for minute in range(1, 61):
        clock.now = T0 + minute * 60 + 0.5
        barrier = threading.Barrier(2)

        def go(s: Scheduler, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            s.tick()

        threads = [threading.Thread(target=go, args=(s,)) for s in schedulers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    occurrences = sorted(t for _, t, _ in fired)
    assert occurrences == [T0 + m * 60 for m in range(1, 61)]
    assert {name for name, _, _ in fired} <= {"a", "b"}


def _seconds_workflow(project: Path, name: str, cron: str) -> None:
    (project / f"{name.lower()}.twdsl").write_text(
        f'workflow {name} {{\n  version: "1.0.0"\n  schedule: "{cron}"\n'
        '  input { n: number }\n  task tick { agent: "Work" input: { n: n } }\n}\n')


def test_a_server_fires_a_seconds_schedule_and_the_cli_pauses_it(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    admin = token(project, "admin")
    _seconds_workflow(project, "Ticker", "* * * * * *")
    server = Server(project)
    try:
        with server.client(admin) as c:
            deploy(c, project, "ticker.twdsl", inputs={"n": 7})
            deadline = time.monotonic() + 20

            def fired() -> list[dict[str, Any]]:  # a fire names its run once it has started it
                return [f for f in c.get("/api/schedules/Ticker/fires").json()["fires"]
                        if f["run_id"] is not None]

            while len(fired()) < 3:
                assert time.monotonic() < deadline, "three fires did not come"
                time.sleep(0.1)
            fires = fired()[:3]
            for f in fires:
                assert f["scheduled_at"] == int(f["scheduled_at"])  # whole seconds
                assert 0 <= f["delay"] < 0.5, f
                run = c.get(f"/api/runs/{f['run_id']}").json()
                assert run["scheduled_at"] == f["scheduled_at"]
                assert run["inputs"] == {"n": 7}
                events = c.get(f"/api/runs/{f['run_id']}/events").json()["events"]
                assert events[0]["type"] == "schedule.fired"
                assert events[0]["data"]["scheduled_at"] == f["scheduled_at"]
            seconds = [f["scheduled_at"] for f in fires]
            assert seconds == sorted(seconds, reverse=True) and len(set(seconds)) == 3
            listed = json.loads(cli(project, "schedules", "--format", "json").stdout)
            assert [(s["workflow"], s["schedule"], s["paused"], s["missed"]) for s in listed] == [
                ("Ticker", "* * * * * *", False, "once")]
            r = cli(project, "schedules", "pause", "Ticker")
            assert r.stdout.strip() == "twdsl: schedule of Ticker paused"
            time.sleep(1.5)  # the server sees it within a second
            count = len(c.get("/api/schedules/Ticker/fires").json()["fires"])
            time.sleep(2.2)
            assert len(c.get("/api/schedules/Ticker/fires").json()["fires"]) == count
            assert c.get("/api/schedules").json()[0]["paused"] is True
            text = cli(project, "schedules").stdout
            assert text.splitlines()[1].split()[:3] == ["Ticker", "*", "*"]
            assert "paused" in text
            r = cli(project, "schedules", "pause", "Nope", check=False)
            assert r.returncode == 1 and "has no schedule" in r.stderr
    finally:
        server.stop()


def test_two_servers_on_one_state_file_never_fire_an_occurrence_twice(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    admin = token(project, "admin")
    _seconds_workflow(project, "Twice", "* * * * * *")
    first = Server(project)
    second = Server(project)
    try:
        with first.client(admin) as c:
            deploy(c, project, "twice.twdsl", inputs={"n": 1})
            time.sleep(5)
            c.patch("/api/schedules/Twice", json={"paused": True})
            time.sleep(1.2)
            fires = c.get("/api/schedules/Twice/fires", params={"limit": 100}).json()["fires"]
            runs = c.get("/api/runs", params={"workflow": "Twice", "limit": 100}).json()["runs"]
        assert len(fires) >= 4
        occurrences = [f["scheduled_at"] for f in fires]
        assert len(occurrences) == len(set(occurrences))
        assert len({f["server"] for f in fires}) >= 1
        assert sorted(r["id"] for r in runs) == sorted(f["run_id"] for f in fires)
    finally:
        first.stop()
        second.stop()
