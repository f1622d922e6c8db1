"""The server's work behind the HTTP routes: one object holding the state store, the server's
own tables, what executes runs, the scheduler and the notifier, with the operations the API
offers.  Routes translate HTTP to these calls and :class:`ApiError` back to HTTP.

Who executes a run (docs/server.md, "Who runs the runs"): a server is either *direct*
(the SQLite default: it runs what it accepts in its own runner, ``--max-runs`` at once) or
*queued* (the PostgreSQL default, or ``--no-execute``): every run it accepts waits in a queue
of the state store, as ``twdsl submit`` leaves one, for ``twdsl worker``s; with
``--execute`` a queued server is also one of those workers.  Whichever process runs a run,
the API steers it through the store: a waiting run is held or cancelled in place, a running
one gets a control request, a resumed one goes back to its queue."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twdsl.config import Config
from twdsl.ir.model import Program
from twdsl.lang.values import to_json
from twdsl.runtime.errors import ConfigurationError
from twdsl.runtime.inputs import InputError, validate_inputs
from twdsl.runtime.store import (
    DEFAULT_QUEUE,
    RunRecord,
    Store,
    StoreError,
    TaskState,
    interrupted,
    is_url,
    new_run_id,
    open_store,
)
from twdsl.runtime.store.base import FINAL_RUN_STATUSES, process_alive, this_host
from twdsl.runtime.store.stats import percentile
from twdsl.runtime.worker import LEASE
from twdsl.server.db import Deployment, ServerDB, ServerDBError, open_db
from twdsl.server.deploy import DeployError, Prepared, check_schedule, from_ir, from_source
from twdsl.server.notify import Notifier
from twdsl.server.runner import Job, Runner, ServedQueue
from twdsl.server.scheduler import Scheduler

log = logging.getLogger("twdsl.server")


class ApiError(Exception):
    """A refused request: HTTP status, a message for people, and details (problems)."""

    def __init__(self, status: int, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []


@dataclass(slots=True)
class Settings:
    state: str | Path  # the state store: a SQLite file or a postgresql:// URL
    config: Config
    #: whether this server executes runs: None, by the store (SQLite yes, in its own runner;
    #: PostgreSQL no: runs wait in ``queue`` for workers); True on PostgreSQL: it serves
    #: ``queue`` as a worker too; False on SQLite: runs are queued for workers
    execute: bool | None = None
    queue: str = DEFAULT_QUEUE
    lease: float = LEASE  # of the runs this server claims (queued, with execute)
    max_runs: int = 4
    max_concurrency: int = 16
    max_body: int = 1 << 20  # bytes of a request body
    max_deploy_body: int = 8 << 20  # a deploy carries a source or a program
    public_url: str | None = None
    secure_cookies: bool = False
    session_hours: float = 12.0
    schedule_grace: float = 60.0
    notify_interval: float = 2.0
    scheduler: bool = True
    notifier: bool = True


class Bell:
    """Wakes the event streams of the API's event loop when events were recorded (from any
    thread); many rings between two turns of the loop make one wake-up."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: asyncio.Event | None = None
        self._pending = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()

    def ring(self) -> None:
        if self.loop is None or self._pending:
            return
        self._pending = True
        try:
            self.loop.call_soon_threadsafe(self._ring)
        except RuntimeError:  # the loop is closed: the server stops
            pass

    def _ring(self) -> None:
        self._pending = False
        ev, self.event = self.event, asyncio.Event()
        if ev is not None:
            ev.set()

    async def wait(self, timeout: float) -> None:
        ev = self.event
        if ev is None:
            await asyncio.sleep(timeout)
            return
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            pass


def run_status(run: RunRecord) -> str:
    """A run recorded as running whose process is gone, or whose worker's lease ran out,
    was interrupted (as `runs list` says)."""
    if interrupted(run, time.time()):
        return "interrupted"
    return str(run.status)


class _Lent:
    """The server's agents lent to one run of its worker: the run's end does not close
    them."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def get(self, name: str) -> Any:
        return self.registry.get(name)


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = settings.config
        shared = is_url(settings.state)
        #: whether this server executes runs, and whether the runs it accepts are queued
        self.executes = (not shared) if settings.execute is None else settings.execute
        self.queued = shared or not self.executes
        #: how often an event stream looks at the store when no bell rings (the runs of
        #: other processes: workers)
        self.poll = 1.0 if not self.queued else 0.25
        try:
            self.store: Store = open_store(settings.state)
        except StoreError as e:
            raise ApiError(500, str(e)) from None
        try:
            self.db: ServerDB = open_db(settings.state)
        except ServerDBError:
            self.store.close()
            raise
        self.bell = Bell()
        self.registry = self._registry()
        self.runner: Runner | None = None
        self.served: ServedQueue | None = None
        if self.executes and not self.queued:
            self.runner = Runner(self.store, self.registry, max_runs=settings.max_runs,
                                 max_concurrency=settings.max_concurrency, ring=self.bell.ring)
        elif self.executes:
            try:
                own = open_store(settings.state)
            except StoreError as e:
                raise ApiError(500, str(e)) from None
            self.served = ServedQueue(
                own, self._agents_for, queue=settings.queue, max_runs=settings.max_runs,
                max_concurrency=settings.max_concurrency, lease=settings.lease,
                poll=self.poll, ring=self.bell.ring, log=lambda line: log.info("%s", line),
                aclose=self.registry.aclose)
        self.server_id = f"{this_host()}:{os.getpid()}"
        self.scheduler = Scheduler(self.db, self._fire, self.server_id,
                                   grace=settings.schedule_grace)
        self.notifier = Notifier(self.db, self.store, public_url=settings.public_url,
                                 interval=settings.notify_interval)
        self.programs: OrderedDict[str, Program] = OrderedDict()
        self.programs_lock = threading.Lock()
        self.agents_lock = threading.Lock()
        self.started_at = time.time()
        self.running = False
        self.stopped = False

    def _registry(self) -> Any:
        from twdsl.runtime.agents import AgentRegistry

        try:
            return AgentRegistry(self.config.agent_specs, self.config.folder,
                                 origin=str(self.config.path) if self.config.path else None)
        except ConfigurationError as e:
            raise ApiError(500, str(e)) from None

    def mode(self) -> str:
        """Who runs the runs this server accepts, in a few words for people."""
        if not self.queued:
            return f"runs are executed by this server, {self.settings.max_runs} at once"
        where = f"queue {self.settings.queue} of the state store"
        if self.executes:
            return (f"runs wait in {where}; this server runs up to {self.settings.max_runs} "
                    "of them, beside any `twdsl worker`")
        return f"runs wait in {where} for `twdsl worker`s (this server runs none)"

    def executor_alive(self) -> bool:
        if self.runner is not None:
            return self.runner.thread.is_alive()
        if self.served is not None:
            return self.served.alive()
        return True  # nothing to execute here

    def running_here(self) -> int:
        if self.runner is not None:
            return self.runner.running()
        return self.served.running() if self.served is not None else 0

    def _agents_for(self, program: Program) -> Any:
        """The agents of a run of this server's worker; unbound ones are a
        ConfigurationError (the worker fails the run with it)."""
        with self.agents_lock:
            missing = self.registry.missing(sorted(program.agents))
        if missing:
            where = f" in {self.config.path}" if self.config.path else ""
            raise ConfigurationError("no agent is bound for " + ", ".join(
                f"'{m}'" for m in missing) + where)
        return _Lent(self.registry)

    # ------------------------------------------------------------------ lifetime
    def start(self) -> None:
        if self.runner is not None:
            self.runner.start()
            self._adopt_pending()
        if self.served is not None:
            self.served.start()
        if self.settings.scheduler:
            self.scheduler.start()
        if self.settings.notifier:
            self.notifier.start()
        self.running = True

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.running = False
        self.scheduler.stop()
        self.notifier.stop()
        if self.runner is not None:
            self.runner.stop()
        if self.served is not None:
            self.served.stop()
        self.store.close()
        self.db.close()

    def _adopt_pending(self) -> None:
        """Runs left pending by a server that stopped start now, in the order they came
        (not those waiting in a queue: workers take those)."""
        assert self.runner is not None
        for run in reversed(self.store.list_runs(status="pending", limit=None)):
            if run.queue is not None or process_alive(run.pid, run.host) is not False:
                continue
            text = self.store.program(run.id)
            if text is None:
                continue
            program = self.program_from(text)
            try:
                inputs = validate_inputs(program, dict(run.inputs or {}))
            except InputError as e:
                self.store.update_run(run.id, status="failed", finished_at=time.time(),
                                      error={"kind": "validation",
                                             "message": "; ".join(e.problems)})
                continue
            self.store.update_run(run.id, pid=os.getpid(), host=this_host())
            self.runner.submit(Job(run.id, program, inputs))

    def _new_run(self, program: Program, inputs: dict[str, Any], *, ir: str,
                 source_path: str | None, parent_id: str | None = None,
                 seeds: list[TaskState] | None = None,
                 first: Callable[[str], None] | None = None) -> str:
        """Record a new run and start it; its id.  ``first`` records what comes before the
        run's own events (a schedule's fire); ``seeds`` are completed tasks it reuses (a
        failed-only retry).  Direct: this server's runner starts it.  Queued: it waits in
        the queue, held (``paused``) until what ``first`` and ``seeds`` record is committed
        with its release, so that no worker starts it before."""
        reuse = {t.key: t.result for t in seeds or []}
        if self.runner is not None:
            run_id = self.runner.create(program, inputs, ir=ir, source_path=source_path,
                                        parent_id=parent_id)
            if first is not None:
                first(run_id)
            self.runner.submit(Job(run_id, program, inputs, reuse=reuse))
            return run_id
        run_id = new_run_id(time.time())
        hold = first is not None or bool(seeds)
        self.store.create_run(run_id, program.workflow, version=program.version,
                              source_path=source_path, ir=ir, inputs=to_json(inputs),
                              status="paused" if hold else "pending", parent_id=parent_id,
                              queue=self.settings.queue)
        if hold:
            if first is not None:
                first(run_id)
            for t in seeds or []:  # the worker reuses a run's completed tasks
                self.store.set_task(run_id, t.key, "completed", task=t.task, result=t.result)
            self.store.transition(run_id, "pending", when=frozenset({"paused"}))
        if self.served is not None:
            self.served.poke()
        return run_id

    # ------------------------------------------------------------------ programs
    def program_from(self, ir: str, sha: str | None = None) -> Program:
        key = sha or ir
        with self.programs_lock:
            found = self.programs.get(key)
            if found is not None:
                self.programs.move_to_end(key)
                return found
        program = Program.from_json(ir)
        with self.programs_lock:
            self.programs[key] = program
            while len(self.programs) > 64:
                self.programs.popitem(last=False)
        return program

    def program_of(self, d: Deployment) -> Program:
        return self.program_from(d.ir, d.ir_sha256)

    def check_agents(self, program: Program) -> None:
        """Every agent the program calls is bound in the server's configuration (loaded
        now): else a 422 naming them, before anything is recorded.  Only a server that
        executes runs checks: the runs of a queued one are bound by the workers that take
        them (as `twdsl submit` leaves them)."""
        if not self.executes:
            return
        try:
            with self.agents_lock:
                missing = self.registry.missing(sorted(program.agents))
        except ConfigurationError as e:
            raise ApiError(422, str(e)) from None
        if missing:
            where = f" in {self.config.path}" if self.config.path else ""
            raise ApiError(422, "no agent is bound for " + ", ".join(f"'{m}'" for m in missing)
                           + where + "; bind each under [agents.NAME] in the server's "
                           "twdsl.toml (docs/agents.md)")

    # ------------------------------------------------------------------ deploy
    def deploy(self, *, source: str | None, ir: Any, workflow: str | None,
               filename: str | None, schedule: str | None, inputs: dict[str, Any] | None,
               by: str | None) -> tuple[Deployment, bool, list[Any]]:
        if (source is None) == (ir is None):
            raise ApiError(422, "give either \"source\" (TWDSL text) or \"ir\" (a compiled "
                           "program), not both or neither")
        try:
            if source is not None:
                if schedule is not None:
                    raise ApiError(422, "a source deploy takes its schedule from the "
                                   "workflow's `schedule` field; \"schedule\" is for IR "
                                   "deploys")
                prepared: Prepared = from_source(source, filename, workflow, self.config)
            else:
                prepared = from_ir(ir, schedule)
                if workflow is not None and prepared.program.workflow != workflow:
                    raise ApiError(422, f"the program is workflow "
                                   f"'{prepared.program.workflow}', not '{workflow}'")
        except DeployError as e:
            raise ApiError(422, e.message, e.problems) from None
        program = prepared.program
        self.check_agents(program)
        if inputs is not None or prepared.schedule is not None:
            try:
                validate_inputs(program, dict(inputs or {}))
            except InputError as e:
                raise ApiError(422, "the inputs of scheduled runs do not fit the workflow's "
                               "declaration", e.problems) from None
        d, new = self.db.deploy(program.workflow, semver=program.version, kind=prepared.kind,
                                filename=prepared.filename, source=prepared.source,
                                ir=prepared.ir, ir_sha256=prepared.sha256,
                                schedule=prepared.schedule, inputs=inputs, by=by)
        self.db.set_schedule(program.workflow, prepared.schedule)
        self.scheduler.wake.set()
        return d, new, prepared.warnings

    def deployment(self, workflow: str, version: int | None = None) -> Deployment:
        d = self.db.deployment(workflow, version)
        if d is None:
            if version is not None and self.db.deployment(workflow) is not None:
                raise ApiError(404, f"workflow '{workflow}' has no version {version}")
            raise ApiError(404, f"no workflow '{workflow}' is deployed")
        return d

    # ------------------------------------------------------------------ runs
    def submit(self, d: Deployment, given: dict[str, Any], *, occurrence: float | None = None,
               note: str | None = None) -> RunRecord:
        program = self.program_of(d)
        try:
            inputs = validate_inputs(program, given)
        except InputError as e:
            raise ApiError(422, f"the inputs of {program.workflow} do not fit its declaration;"
                           " nothing was run", _for_api(e.problems)) from None
        self.check_agents(program)
        first = None
        if occurrence is not None:
            def first(run_id: str) -> None:
                self.store.record_event(run_id, "schedule.fired", data={
                    "scheduled_at": occurrence, "scheduled_at_iso": _iso(occurrence),
                    **({"note": note} if note else {})})
        run_id = self._new_run(program, inputs, ir=d.ir, source_path=self._source_path(d),
                               first=first)
        run = self.store.get_run(run_id)
        assert run is not None
        return run

    def _source_path(self, d: Deployment) -> str:
        # where `twdsl runs resume` looks for the configuration: the server's project
        return str(self.config.folder / (d.filename or f"{d.workflow}.json"))

    def _fire(self, workflow: str, occurrence: float, note: str | None) -> str:
        d = self.db.deployment(workflow)
        if d is None:
            raise ValueError(f"workflow '{workflow}' is no longer deployed")
        try:
            return self.submit(d, dict(d.inputs or {}), occurrence=occurrence, note=note).id
        except ApiError as e:
            raise ValueError(e.message + (": " + "; ".join(map(str, e.problems))
                                          if e.problems else "")) from None

    def run(self, run_id: str) -> RunRecord:
        try:
            run = self.store.get_run(run_id)
        except StoreError as e:
            raise ApiError(404, str(e)) from None
        if run is None:
            raise ApiError(404, f"no run '{run_id}'")
        return run

    def control(self, run_id: str, command: str) -> dict[str, Any]:
        """Cancel or pause.  A run that runs nowhere (waiting in a queue, or paused) changes
        in the store at once; a running one gets a control request, which the process that
        runs it (this server, another, a worker, `twdsl run`) acts on."""
        run = self.run(run_id)
        if command == "cancel" and run.status == "pending" and self.runner is not None:
            if self.runner.cancel_waiting(run.id):
                return {"run": run.id, "status": "cancelled"}
            run = self.run(run_id)  # it may have started meanwhile
        # a pending run without a queue waits for a slot in a live server's runner
        in_runner = (run.status == "pending" and run.queue is None
                     and process_alive(run.pid, run.host) is not False)
        if not in_runner and (run.status == "pending" or (
                run.status == "paused" and command == "cancel")):
            target = "cancelled" if command == "cancel" else "paused"
            fields: dict[str, Any] = {}
            if target == "cancelled":
                fields = {"finished_at": time.time(),
                          "error": {"kind": "cancelled", "message": "cancelled before it "
                                    "started" if run.started_at is None else "the run was "
                                    "cancelled"}}
            if self.store.transition(run.id, target, when=frozenset({run.status}),
                                     **fields) is not None:
                return {"run": run.id, "status": target}
            run = self.run(run.id)  # a worker took it meanwhile: ask that worker
        status = run_status(run)
        if status == "pending" and command == "pause":
            raise ApiError(409, f"run {run.id} has not started: cancel it, or pause it once "
                           "it runs")
        if status != "running":
            raise ApiError(409, f"run {run.id} is {status}, not running")
        self.store.request_control(run.id, command)
        return {"run": run.id, "requested": command}

    def resume(self, run_id: str) -> dict[str, Any]:
        """Continue a run in place, reusing its completed tasks: in this server's runner
        (direct, a run that was not queued), else back in its queue for a worker (a run
        that had none goes to ``default``)."""
        run = self.run(run_id)
        status = run_status(run)
        if status in ("completed", "failed"):
            raise ApiError(409, f"run {run.id} {status}; only an interrupted, paused, "
                           "cancelled or timed-out run can be resumed"
                           + (" (retry starts it again)" if status == "failed" else ""))
        if status in ("running", "pending"):
            raise ApiError(409, f"run {run.id} is {status}")
        program, inputs = self._recorded(run)
        self.check_agents(program)
        reuse = self.store.completed_results(run.id)
        if self.runner is not None and run.queue is None:
            self.runner.submit(Job(run.id, program, inputs, reuse=reuse, resumed=True))
            return {"run": run.id, "resumed": True, "reused": len(reuse)}
        got = self.store.transition(run.id, "pending", when=frozenset(
            {"paused", "cancelled", "timeout", "running"}))
        if got is None:
            raise ApiError(409, f"run {run.id} is {run_status(self.run(run.id))} now; not "
                           "resumed")
        if self.served is not None:
            self.served.poke()
        return {"run": run.id, "resumed": True, "reused": len(reuse), "queue": got.queue}

    def retry(self, run_id: str, failed_only: bool) -> RunRecord:
        run = self.run(run_id)
        if run.status in ("running", "pending"):
            raise ApiError(409, f"run {run.id} is {run.status}; retry a finished run")
        program, inputs = self._recorded(run)
        self.check_agents(program)
        seeds = [t for t in self.store.task_states(run.id)
                 if t.status == "completed" and "result" not in t.damage] if failed_only else []
        text = self.store.program(run.id)
        assert text is not None
        new_id = self._new_run(program, inputs, ir=text, source_path=run.source_path,
                               parent_id=run.id, seeds=seeds)
        return self.run(new_id)

    def _recorded(self, run: RunRecord) -> tuple[Program, dict[str, Any]]:
        text = self.store.program(run.id)
        if text is None:
            raise ApiError(409, f"run {run.id} has no stored program to run again")
        program = self.program_from(text, run.ir_sha256)
        try:
            return program, validate_inputs(program, dict(run.inputs or {}))
        except InputError as e:
            raise ApiError(409, "the recorded inputs no longer fit", e.problems) from None

    # ------------------------------------------------------------------ reading
    def run_json(self, run: RunRecord, deployments: dict[str, Deployment | None] | None = None
                 ) -> dict[str, Any]:
        dep = None
        if run.ir_sha256 is not None:
            if deployments is not None and run.ir_sha256 in deployments:
                dep = deployments[run.ir_sha256]
            else:
                dep = self.db.deployment_by_sha(run.ir_sha256)
                if deployments is not None:
                    deployments[run.ir_sha256] = dep
        return {"id": run.id, "workflow": run.workflow, "version": run.version,
                "deployment": dep.version if dep and dep.workflow == run.workflow else None,
                "status": run_status(run), "created_at": run.created_at,
                "started_at": run.started_at, "finished_at": run.finished_at,
                "duration": run.duration, "inputs": run.inputs, "outputs": run.outputs,
                "error": run.error, "parent_id": run.parent_id, "resumes": run.resumes,
                "queue": run.queue, "priority": run.priority, "worker": run.worker}

    def run_detail(self, run: RunRecord) -> dict[str, Any]:
        store = self.store
        out = self.run_json(run)
        attempts: dict[str, list[Any]] = {}
        for a in store.attempts(run.id):
            attempts.setdefault(a.key, []).append(a)
        inputs: dict[str, Any] = {}
        scheduled = None
        for e in store.events(run.id):
            data = e.data or {}
            if e.type == "task.started" and data.get("attempt") == 1 and e.key is not None:
                inputs[e.key] = data.get("input")
            elif e.type == "schedule.fired":
                scheduled = data.get("scheduled_at")
        out["scheduled_at"] = scheduled
        out["tasks"] = [{**t.to_json(inputs.get(t.key), attempts.get(t.key, ())),
                          "node": t.key.split("[", 1)[0]}  # the graph's node of the instance
                         for t in store.task_states(run.id)]
        return out

    def series(self, workflow: str, since: float, bucket: float) -> list[dict[str, Any]]:
        """Per time bucket: runs, ended, success rate, p50 and p95 duration (the statistics'
        definitions, runtime/store/stats.py)."""
        groups: dict[float, list[RunRecord]] = {}
        for r in self.store.list_runs(workflow=workflow, since=since, limit=None):
            groups.setdefault(r.created_at // bucket * bucket, []).append(r)
        out = []
        for start in sorted(groups):
            rows = groups[start]
            ended = [r for r in rows if r.status in FINAL_RUN_STATUSES]
            durations = sorted(r.duration for r in ended if r.duration is not None)
            out.append({
                "start": start, "runs": len(rows), "ended": len(ended),
                "completed": sum(r.status == "completed" for r in rows),
                "failed": sum(r.status in ("failed", "timeout") for r in rows),
                "success_rate": (sum(r.status == "completed" for r in ended) / len(ended)
                                 if ended else None),
                "p50": percentile(durations, 0.5) if durations else None,
                "p95": percentile(durations, 0.95) if durations else None})
        return out

    def queue(self) -> dict[str, Any]:
        """Waiting, running and paused runs of the whole store, the waits, what finished
        in the last 5 minutes; this server's part (``server``); and, for queued runs, the
        figures of each queue (as `twdsl queue`)."""
        now = time.time()
        pending = self.store.list_runs(status="pending", limit=None)
        running = self.store.list_runs(status="running", limit=None)
        paused = self.store.list_runs(status="paused", limit=None)
        recent = [r for r in self.store.list_runs(since=now - 300, limit=None)
                  if r.finished_at is not None and r.finished_at >= now - 300]
        waits = sorted(now - r.created_at for r in pending)
        runner = self.runner
        server = {"id": self.server_id, "executes": self.executes,
                  "queue": self.settings.queue if self.queued else None,
                  "max_runs": self.settings.max_runs if self.executes else 0,
                  "running": self.running_here(),
                  "waiting": sum(1 for r in pending if runner is not None
                                 and runner.waiting(r.id))}
        queues = [{"queue": q.queue, "waiting": q.waiting, "running": q.running,
                   "paused": q.paused, "oldest_wait": q.oldest_wait, "finished": q.finished,
                   "completed": q.completed, "failed": q.failed,
                   "per_minute": q.per_minute, "mean_duration": q.mean_duration,
                   "window": q.window} for q in self.store.queue_stats(300.0, now)]
        return {
            "server": server,
            "mode": self.mode(),
            "pending": len(pending),
            "running": sum(1 for r in running if run_status(r) == "running"),
            "interrupted": sum(1 for r in running if run_status(r) == "interrupted"),
            "paused": len(paused),
            "oldest_wait": waits[-1] if waits else None,
            "p50_wait": percentile(waits, 0.5) if waits else None,
            "finished_last_5m": len(recent),
            "throughput_per_min": len(recent) / 5,
            "queues": queues,
        }

    def schedules_json(self) -> list[dict[str, Any]]:
        from twdsl.lint.schedule import ScheduleError, parse_schedule

        now = time.time()
        out = []
        for s in self.db.schedules():
            try:
                parsed = parse_schedule(s.expr)
                nxt: float | None = None if s.paused else parsed.after(now)
                tz = parsed.timezone or "UTC"
                cron = parsed.expr
            except ScheduleError:
                nxt, tz, cron = None, None, s.expr
            fires = self.db.fires(s.workflow, limit=5)
            out.append({"workflow": s.workflow, "schedule": s.expr, "cron": cron,
                        "timezone": tz, "paused": s.paused, "missed": s.missed,
                        "since": s.since, "next_fire": nxt,
                        "last_fire": fires[0].occurrence if fires else None,
                        "recent": [fire_json(f) for f in fires]})
        return out

    def validate_schedule(self, text: str) -> None:
        try:
            check_schedule(text)
        except DeployError as e:
            raise ApiError(422, e.message) from None


def _for_api(problems: list[str]) -> list[str]:
    """The runtime's input problems, said for a JSON body rather than for --input flags.

    >>> print(_for_api(["input 'n' (number) is required: pass --input n=…"])[0])
    input 'n' (number) is required: add "n" to "inputs"
    """
    return [re.sub(r": pass --input (\w+)=…", r': add "\1" to "inputs"', p) for p in problems]


def fire_json(f: Any) -> dict[str, Any]:
    return {"workflow": f.workflow, "scheduled_at": f.occurrence, "fired_at": f.fired_at,
            "delay": f.fired_at - f.occurrence, "run_id": f.run_id, "server": f.server,
            "note": f.note}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
