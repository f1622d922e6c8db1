"""Runs executed by the server itself.  :class:`Runner` (a server whose runs are not queued:
the SQLite default): one thread with its own event loop, at most ``max_runs`` runs at a
time, the others waiting in order (status ``pending``).  :class:`ServedQueue` (a queued
server started with ``--execute``): the server is one more worker of its queue.

Each run is recorded in the state store exactly as ``twdsl run`` records one (the same
Recorder), so ``twdsl runs`` and the server see the same history, and a run's pause and
cancel requests go through the store (``request_control``) whoever asks: the server's API,
``twdsl runs cancel`` in a terminal, or another server on the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from twdsl.ir.model import Program
from twdsl.lang.values import to_json
from twdsl.runtime.controls import watch_controls
from twdsl.runtime.engine import Engine, RunOptions
from twdsl.runtime.events import Event, Fanout
from twdsl.runtime.recording import Recorder
from twdsl.runtime.store import Store, new_run_id
from twdsl.runtime.store.base import this_host


@dataclass(slots=True)
class Job:
    run_id: str
    program: Program
    inputs: dict[str, Any]
    reuse: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False


class _Bell:
    """Tells waiters (the Server-Sent Events of a run) that events were recorded; rings at
    most once per loop turn however many events come."""

    def __init__(self, ring: Callable[[], None]) -> None:
        self.ring = ring

    def emit(self, event: Event) -> None:
        self.ring()


class Runner:
    def __init__(self, store: Store, registry: Any, *, max_runs: int = 4,
                 max_concurrency: int = 16, ring: Callable[[], None] = lambda: None,
                 on_end: Callable[[str], None] = lambda run_id: None) -> None:
        self.store = store
        self.registry = registry
        self.max_runs = max_runs
        self.max_concurrency = max_concurrency
        self.ring = ring
        self.on_end = on_end
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="twdsl-runner", daemon=True)
        self.tasks: dict[str, asyncio.Task[None]] = {}  # every run of this server not ended
        self.started: set[str] = set()  # those that hold a slot and run
        self.lock = threading.Lock()
        self.slots: asyncio.Semaphore | None = None
        self._stopped = threading.Event()
        self.stopping = False

    # ------------------------------------------------------------------ lifetime
    def start(self) -> None:
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._init(), self.loop)
        fut.result(10)

    async def _init(self) -> None:
        self.slots = asyncio.Semaphore(self.max_runs)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self._stopped.set()

    def stop(self, grace: float = 5.0) -> None:
        """Cancel the runs in flight (recorded as cancelled: ``resume`` continues them) and
        stop; runs still waiting stay pending, for the next start."""
        if not self.thread.is_alive():
            return
        self.stopping = True

        async def shutdown() -> None:
            for task in list(self.tasks.values()):
                task.cancel()
            if self.tasks:
                await asyncio.wait(list(self.tasks.values()), timeout=grace)
            with contextlib.suppress(Exception):
                await self.registry.aclose()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(grace + 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._stopped.wait(grace + 5)

    # ------------------------------------------------------------------ work
    def create(self, program: Program, inputs: dict[str, Any], *, ir: str,
               source_path: str | None, parent_id: str | None = None,
               now: float | None = None) -> str:
        """Record a new pending run (durable) and return its id; ``submit`` starts it."""
        run_id = new_run_id(time.time() if now is None else now)
        self.store.create_run(run_id, program.workflow, version=program.version,
                              source_path=source_path, ir=ir, inputs=to_json(inputs),
                              status="pending", parent_id=parent_id, pid=os.getpid(),
                              host=this_host(), created_at=now)
        return run_id

    def submit(self, job: Job) -> None:
        """Start ``job`` when a slot is free (from any thread)."""
        def schedule() -> None:
            task = self.loop.create_task(self._execute(job))
            self.tasks[job.run_id] = task
            task.add_done_callback(lambda _: self._done(job.run_id))

        with self.lock:
            self.loop.call_soon_threadsafe(schedule)

    def _done(self, run_id: str) -> None:
        self.tasks.pop(run_id, None)
        self.started.discard(run_id)
        self.ring()
        with contextlib.suppress(Exception):
            self.on_end(run_id)

    def waiting(self, run_id: str) -> bool:
        """Whether the run is this server's and waits for a slot."""
        return run_id in self.tasks and run_id not in self.started

    def cancel_waiting(self, run_id: str) -> bool:
        """Cancel a run that has not started (from any thread); False if it has."""
        done = threading.Event()
        result = [False]

        def go() -> None:
            task = self.tasks.get(run_id)
            if task is not None and run_id not in self.started:
                task.cancel()
                result[0] = True
            done.set()

        self.loop.call_soon_threadsafe(go)
        done.wait(5)
        return result[0]

    def running(self) -> int:
        return len(self.started)

    async def _execute(self, job: Job) -> None:
        store, run_id = self.store, job.run_id
        assert self.slots is not None
        try:
            await self.slots.acquire()
        except asyncio.CancelledError:  # cancelled while waiting: it never started
            if self.stopping:
                raise  # the server stops: the run stays pending, for the next start
            await asyncio.to_thread(store.update_run, run_id, status="cancelled",
                                    finished_at=time.time(),
                                    error={"kind": "cancelled",
                                           "message": "cancelled before it started"})
            raise
        self.started.add(run_id)
        try:
            await self._run(job)
        finally:
            self.slots.release()

    async def _run(self, job: Job) -> None:
        store, run_id = self.store, job.run_id
        if job.resumed:
            await asyncio.to_thread(store.mark_resumed, run_id)
        recorder = Recorder(store, run_id, job.program)
        engine = Engine(job.program, self.registry, Fanout([recorder, _Bell(self.ring)]),
                        RunOptions(max_concurrency=job.program.max_concurrency
                                   or self.max_concurrency, run_id=run_id, reuse=job.reuse,
                                   cache=store, resumed=job.resumed))
        main = asyncio.ensure_future(engine.run(job.inputs))
        watcher = asyncio.ensure_future(watch_controls(store, run_id, engine, main))
        main.add_done_callback(lambda _: watcher.cancel())
        try:
            await asyncio.shield(main)
        except asyncio.CancelledError:
            if not main.done():  # the server stops: the run is cancelled, and recorded so
                main.cancel()
                with contextlib.suppress(BaseException):
                    await main
            elif engine.final is None and not main.cancelled():
                raise
        except Exception as e:  # noqa: BLE001 - a bug of the engine: the run says so
            await asyncio.to_thread(
                store.update_run, run_id, status="failed", finished_at=time.time(),
                error={"kind": "internal", "message": f"internal error: {e!r} (please "
                       "report it)", "details": {"traceback": "".join(
                           traceback.format_exception(e))}})
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.flush)

class ServedQueue:
    """This server as one more worker of its queue (a queued server started with
    ``--execute``): runs are claimed from the queue, with leases and takeover, exactly as
    ``twdsl worker`` claims them (runtime/worker.py), by a worker in a thread of its own.

    ``store`` is the worker's own connection to the state store (a worker fences the store
    it writes with: the API's store must stay free to write any run); ``agents_for`` gives
    a program's agents or raises ConfigurationError naming what is unbound."""

    def __init__(self, store: Store, agents_for: Callable[[Any], Any], *, queue: str,
                 max_runs: int, max_concurrency: int, lease: float, poll: float,
                 ring: Callable[[], None] = lambda: None,
                 log: Callable[[str], None] = lambda line: None,
                 aclose: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        from twdsl.runtime.worker import Worker, WorkerOptions, worker_id

        self.store = store
        self.aclose = aclose  # closes the agents, in the worker's loop, at the end
        self.worker = Worker(
            store, agents_for,
            WorkerOptions(queues=(queue,), concurrency=max_runs, lease=lease, poll=poll,
                          max_concurrency=max_concurrency),
            name=f"server:{worker_id()}", log=log, sinks=lambda run: [_Bell(ring)])
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="twdsl-served-queue",
                                       daemon=True)
        self.serving: Any = None  # the future of the worker's loop
        self.done = threading.Event()  # the worker's loop has ended

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _serve(self) -> None:
        try:
            await self.worker.serve()
        finally:
            self.done.set()

    def start(self) -> None:
        self.thread.start()
        self.serving = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)

    def alive(self) -> bool:
        return self.thread.is_alive() and not self.done.is_set()

    def poke(self) -> None:
        """A run was just queued (by this server): claim now rather than at the next poll."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.worker.poke)

    def running(self) -> int:
        return len(self.worker.active)

    def stop(self, grace: float = 5.0) -> None:
        """Claim nothing more and hand the runs in progress back to the queue (paused,
        attempts in flight finish, then pending: another worker continues them); those
        still busy after ``grace`` seconds are cancelled (``resume`` continues them)."""
        if not self.thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.worker.stop)
        if self.serving is not None and not self.done.wait(grace):
            self.serving.cancel()  # the runs still in progress are cancelled, and recorded so
            self.done.wait(5)
        if self.aclose is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.aclose(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        with contextlib.suppress(Exception):
            self.store.close()
