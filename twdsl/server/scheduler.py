"""Firing schedules (docs/server.md, "Schedules").

Every schedule is looked at when its next occurrence comes (and at least every second, to
see schedules changed by another process).  For each occurrence the server first *claims*
it in the database (``ServerDB.claim_fire``: one row per workflow and occurrence, under a
unique key), and only the server that claimed it starts the run; so two servers on one
database never fire one occurrence twice.  The run is recorded with its scheduled time (a
``schedule.fired`` event, and the fire row names the run).

Missed occurrences: an occurrence is *on time* when the server sees it within ``grace``
seconds (default 60); older ones passed while no server ran (or the schedule's workflow
could not be run).  Policy ``once`` (the default) runs the latest missed occurrence once,
however many were missed; ``skip`` runs none and records the latest as skipped.  Either way
the on-time occurrence, if any, runs as usual.  Occurrences while a schedule is paused never
fire: unpausing counts from then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from twdsl.lint.schedule import ScheduleError, parse_schedule
from twdsl.server.db import ScheduleRecord, ServerDB

log = logging.getLogger("twdsl.server")


@dataclass(frozen=True, slots=True)
class Fire:
    workflow: str
    occurrence: float
    run_id: str | None
    note: str | None


class Scheduler:
    """``fire(workflow, occurrence, note)`` starts the run of an occurrence and returns its
    id (or raises ValueError saying why it cannot); ``clock`` gives the time (tests give a
    fake one and call ``tick``)."""

    def __init__(self, db: ServerDB, fire: Callable[[str, float, str | None], str],
                 server_id: str, *, grace: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.fire = fire
        self.server_id = server_id
        self.grace = grace
        self.clock = clock
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def tick(self, now: float | None = None) -> tuple[list[Fire], float | None]:
        """Fire what is due at ``now``; the fires made, and when the next occurrence of any
        active schedule comes."""
        now = self.clock() if now is None else now
        fires: list[Fire] = []
        upcoming: float | None = None
        for rec in self.db.schedules():
            if rec.paused:
                continue
            try:
                schedule = parse_schedule(rec.expr)
            except ScheduleError:
                continue  # checked at deploy; a newer twdsl's syntax, say: nothing to fire
            fires += self._due(rec, schedule, now)
            nxt = schedule.after(now)
            upcoming = nxt if upcoming is None else min(upcoming, nxt)
        return fires, upcoming

    def _due(self, rec: ScheduleRecord, schedule: object, now: float) -> list[Fire]:
        from twdsl.lint.schedule import Schedule

        assert isinstance(schedule, Schedule)
        last = self.db.last_occurrence(rec.workflow)
        base = rec.since if last is None else max(last, rec.since)
        latest = schedule.latest(now)
        if latest is None or latest <= base:
            return []
        out: list[Fire] = []
        on_time = latest if now - latest <= self.grace else None
        missed = latest if on_time is None else schedule.latest(latest - 0.001)
        if missed is not None and missed > base:
            if rec.missed == "once":
                out += self._fire(rec.workflow, missed, "missed while no server ran: run "
                                  "once (policy once)")
            else:
                if self.db.claim_fire(rec.workflow, missed, self.server_id, now,
                                      "missed while no server ran: skipped (policy skip)"):
                    out.append(Fire(rec.workflow, missed, None, "skipped"))
        if on_time is not None:
            out += self._fire(rec.workflow, on_time, None)
        return out

    def _fire(self, workflow: str, occurrence: float, note: str | None) -> list[Fire]:
        if not self.db.claim_fire(workflow, occurrence, self.server_id, self.clock(), note):
            return []  # another server has it
        try:
            run_id: str | None = self.fire(workflow, occurrence, note)
        except ValueError as e:
            run_id, note = None, f"not run: {e}"
            log.warning("schedule of %s at %s: %s", workflow, occurrence, e)
        self.db.set_fire_run(workflow, occurrence, run_id, note)
        return [Fire(workflow, occurrence, run_id, note)]

    # ------------------------------------------------------------------ the thread
    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="twdsl-scheduler", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(10)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                _, upcoming = self.tick()
            except Exception:  # noqa: BLE001 - a database hiccup: try again shortly
                log.exception("the scheduler failed; trying again in 1s")
                upcoming = None
            now = self.clock()
            wait = 1.0 if upcoming is None else min(1.0, max(0.0, upcoming - now))
            self.wake.wait(wait)
            self.wake.clear()
