"""A worker: takes submitted runs from the queues of a shared state store and runs them
(docs/scale-out.md).  Any number of workers on any number of machines share one store.

* **Claims.** ``store.claim`` gives a run to one worker only (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; SQLite's write lock on one machine): first a run whose worker's lease ran out
  (its worker died: a takeover), else the waiting run of highest effective priority.
* **Leases.** The worker holds a lease on each run it executes and renews it every third of
  its length.  A run whose lease another worker took (this one stalled past it) is dropped at
  once: the store writes nothing more of it from here (the store's ``owner`` fencing).
* **Resuming.** A run that started before (taken over, or resumed after a pause) continues
  from its recorded state: completed tasks are reused, tasks that were in flight run again.
* **Control.** ``twdsl runs pause|cancel`` from any machine reach the worker through the
  store's control requests (polled every ``control_poll`` seconds).
* **Stopping.** ``stop()`` (SIGTERM, Ctrl-C): no new claims; the runs in progress are paused
  (attempts in flight finish) and put back in their queue for another worker.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twdsl.runtime.engine import Engine, RunOptions
from twdsl.runtime.events import EventSink, Fanout
from twdsl.runtime.recording import Recorder
from twdsl.runtime.store import DEFAULT_QUEUE, RunRecord, Store, StoreError, this_host

#: A worker's default lease on a run, seconds (a dead worker's runs wait this long).
LEASE = 30.0


def worker_id() -> str:
    """``host:pid:random``: unique, and says where the worker runs."""
    return f"{this_host()}:{os.getpid()}:{secrets.token_hex(2)}"


@dataclass
class WorkerOptions:
    queues: tuple[str, ...] = (DEFAULT_QUEUE,)
    concurrency: int = 1  # runs at once
    lease: float = LEASE
    poll: float = 1.0  # seconds between looks at empty queues
    control_poll: float = 0.2  # seconds between looks for pause/cancel requests
    max_concurrency: int = 16  # task attempts at once in a run (unless its workflow says)
    max_runs: int | None = None  # stop after this many runs (None: serve until stopped)
    exit_when_idle: bool = False  # stop when the queues are empty and nothing runs


@dataclass
class _Active:
    run: RunRecord
    engine: Engine | None = None
    task: asyncio.Future[Any] | None = None
    lost: bool = False  # another worker holds the run now
    stopping: bool = False  # paused by this worker's stop(): back to the queue after


@dataclass
class Outcome:
    """What became of one run the worker took."""

    run_id: str
    status: str  # the run's status when the worker let go ("lost": taken over)
    seconds: float
    resumed: bool


@dataclass
class Worker:
    """Serves the queues of ``store`` (opened with ``owner`` = ``name``).  ``agents_for``
    gives the agents of a program (raising ConfigurationError naming what is unbound);
    ``executor`` (runtime/executors) decides where agent calls run; ``log`` takes a line
    for people; ``sinks`` make more event sinks for a run (a progress log)."""

    store: Store
    agents_for: Callable[[Any], Any]
    options: WorkerOptions = field(default_factory=WorkerOptions)
    name: str = field(default_factory=worker_id)
    executor: Any = None
    log: Callable[[str], None] = lambda line: None
    sinks: Callable[[RunRecord], list[EventSink]] = lambda run: []
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store.owner = self.name
        self.active: dict[str, _Active] = {}
        self.stopping = False
        self._wake: asyncio.Event | None = None

    # ------------------------------------------------------------------ the loop
    async def serve(self) -> list[Outcome]:
        """Claim and run until stopped (or ``max_runs``, or idle with ``exit_when_idle``);
        returns what became of each run taken."""
        self._wake = asyncio.Event()
        keeper = asyncio.ensure_future(self._keep_leases())
        watcher = asyncio.ensure_future(self._watch_controls())
        claimed = 0
        try:
            while True:
                limit = self.options.max_runs
                while (not self.stopping and len(self.active) < self.options.concurrency
                       and (limit is None or claimed < limit)):
                    run = await asyncio.to_thread(
                        self.store.claim, self.name, list(self.options.queues),
                        lease=self.options.lease)
                    if run is None:
                        break
                    claimed += 1
                    self._start(run)
                done = self.stopping or (limit is not None and claimed >= limit)
                if not self.active and (done or self.options.exit_when_idle):
                    return self.outcomes
                self._wake.clear()
                if self.active and (done or len(self.active) >= self.options.concurrency):
                    await self._wake.wait()  # a run ended
                else:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.options.poll)
                    except TimeoutError:
                        pass
        finally:
            keeper.cancel()
            watcher.cancel()
            for a in list(self.active.values()):
                if a.task is not None:
                    a.task.cancel()
            await asyncio.gather(keeper, watcher, return_exceptions=True)

    def poke(self) -> None:
        """Look at the queues now, not at the next poll (this process just queued a run);
        call it from the worker's event loop."""
        if self._wake is not None:
            self._wake.set()

    def stop(self) -> None:
        """Claim nothing more; pause the runs in progress and hand them back to their
        queues."""
        if self.stopping:
            return
        self.stopping = True
        for a in self.active.values():
            if a.engine is not None and a.task is not None and not a.task.done():
                a.stopping = True
                asyncio.ensure_future(a.engine.pause(a.task))
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ one run
    def _start(self, run: RunRecord) -> None:
        active = self.active[run.id] = _Active(run)
        resumed = run.started_at is not None
        self.log(f"{'took over' if run.resumes and resumed else 'claimed'} run {run.id} "
                 f"({run.workflow}, queue {run.queue}"
                 + (f", resumed {run.resumes}x" if run.resumes else "") + ")")
        active.task = asyncio.ensure_future(self._execute(active))
        active.task.add_done_callback(lambda _: self._ended(run.id))

    def _ended(self, run_id: str) -> None:
        self.active.pop(run_id, None)
        if self._wake is not None:
            self._wake.set()

    async def _execute(self, a: _Active) -> None:
        run = a.run
        t0 = time.perf_counter()
        status = "failed"
        try:
            status = await self._run(a)
        except asyncio.CancelledError:
            status = "lost" if a.lost else "cancelled"
        except StoreError as e:
            if a.lost or run.id in self.store.lost:
                status = "lost"
            else:
                self.log(f"run {run.id}: the state store failed: {e}")
        finally:
            if status == "lost":
                self.log(f"run {run.id}: another worker holds it now (this worker's lease "
                         "ran out); let go")
            else:
                self.log(f"run {run.id} {status} in {time.perf_counter() - t0:.3f}s")
            self.outcomes.append(Outcome(run.id, status, time.perf_counter() - t0,
                                         run.started_at is not None))
            if status != "lost":
                try:
                    await asyncio.to_thread(self.store.release, run.id, self.name)
                except StoreError as e:
                    self.log(f"run {run.id}: could not release its lease: {e}")

    async def _run(self, a: _Active) -> str:
        from twdsl.ir.model import Program
        from twdsl.runtime.errors import ConfigurationError
        from twdsl.runtime.inputs import InputError, validate_inputs

        run, store = a.run, self.store
        text = await asyncio.to_thread(store.program, run.id)
        try:
            if text is None:
                raise ValueError("the store has no program for it")
            program = Program.from_json(text)
            inputs = validate_inputs(program, dict(run.inputs or {}))
            agents = self.agents_for(program)
        except (ValueError, InputError, ConfigurationError) as e:
            reason = "; ".join(e.problems) if isinstance(e, InputError) else str(e)
            message = f"worker {self.name} cannot run it: {reason}"
            await asyncio.to_thread(
                store.update_run, run.id, status="failed", finished_at=store.clock(),
                error={"kind": "validation", "message": message})
            self.log(f"run {run.id}: {message}")
            return "failed"
        resumed = run.started_at is not None
        # what the run completed is reused: a resumed run's, or the tasks a failed-only
        # retry was given before it was queued (`twdsl server`)
        reuse = await asyncio.to_thread(store.completed_results, run.id)
        recorder = Recorder(store, run.id, program, resumed=resumed)
        executor = self.executor
        engine = Engine(program, _Through(agents, executor) if executor is not None else agents,
                        Fanout([recorder, *self.sinks(run)]),
                        RunOptions(run_id=run.id, max_concurrency=self.options.max_concurrency,
                                   reuse=reuse, cache=store, resumed=resumed))
        a.engine = engine
        try:
            result = await engine.run(inputs)
        except asyncio.CancelledError:
            if engine.final is None:
                raise
            result = engine.final
        finally:
            aclose = getattr(agents, "aclose", None)
            if aclose is not None:
                await aclose()
        if a.lost or run.id in store.lost:
            a.lost = True
            return "lost"
        status = result.status.value
        if status == "paused" and a.stopping:
            await asyncio.to_thread(store.transition, run.id, "pending",
                                    when=frozenset({"paused"}))
            return "handed back"
        return status

    # ------------------------------------------------------------------ leases and controls
    async def _keep_leases(self) -> None:
        every = max(self.options.lease / 3.0, 0.05)
        while True:
            await asyncio.sleep(every)
            ids = [rid for rid, a in self.active.items() if not a.lost]
            if not ids:
                continue
            try:
                held = await asyncio.to_thread(self.store.renew, self.name, ids,
                                               lease=self.options.lease)
            except StoreError as e:  # the database is away: try again; the lease may lapse
                self.log(f"could not renew leases: {e}")
                continue
            for rid in set(ids) - held | (self.store.lost & set(ids)):
                self._lose(rid)

    def _lose(self, run_id: str) -> None:
        a = self.active.get(run_id)
        if a is None or a.lost:
            return
        a.lost = True
        self.store.lost.add(run_id)  # nothing more of it is written from here
        if a.task is not None:
            a.task.cancel()

    async def _watch_controls(self) -> None:
        while True:
            await asyncio.sleep(self.options.control_poll)
            for rid, a in list(self.active.items()):
                if a.engine is None or a.task is None or a.task.done():
                    continue
                try:
                    requests = await asyncio.to_thread(self.store.pending_controls, rid)
                except StoreError:
                    continue
                for req in requests:
                    await asyncio.to_thread(self.store.mark_handled, req.id)
                    if req.command == "cancel":
                        self.log(f"run {rid}: cancel requested")
                        a.task.cancel()
                    elif req.command == "pause":
                        self.log(f"run {rid}: pause requested")
                        asyncio.ensure_future(a.engine.pause(a.task))


class _Through:
    """The agents as an executor runs them."""

    def __init__(self, agents: Any, executor: Any) -> None:
        self.agents = agents
        self.executor = executor

    def get(self, name: str) -> Any:
        return self.executor.agent(self.agents.get(name))

    async def aclose(self) -> None:
        aclose = getattr(self.agents, "aclose", None)
        if aclose is not None:
            await aclose()
