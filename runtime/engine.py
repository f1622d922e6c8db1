"""The local executor: runs a compiled program (IR) on asyncio.

The engine walks the IR's tree of control nodes.  A block starts each child as soon as the
children it waits for (``after``) have finished, within the block's ``max_concurrency``; task
attempts also take a slot of the run's global limit, highest ``priority`` first.  Loops run
their bodies once per item (a parallel ``foreach`` through a fixed pool of workers, so a
100,000-item loop never holds 100,000 pending tasks).  Each task instance (a task, in the
iteration of its loops) goes through the checked state machine of runtime/states.py and every
change is an :class:`~twdsl.runtime.events.Event` for the store, the progress view and the
metrics.

Failures are :class:`Failed` exceptions carrying the classified :class:`TaskError`; a task's
``on_error`` decides whether one goes on to the enclosing block (docs/language.md, on_error
and Q4).  Cancellation is asyncio's: a cancelled agent call kills its work (the agents'
business, runtime/agents).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import itertools
import json
import os
import random
import re
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir.eval import EvalError, compile_expr
from twdsl.lang.conform import problem
from twdsl.lang.constraints import violation
from twdsl.lang.limits import reset as reset_budget
from twdsl.lang.values import Duration, a_value, equal, render, to_json
from twdsl.runtime.agents import AgentCall
from twdsl.runtime.errors import ErrorKind, TaskError
from twdsl.runtime.events import Event, EventSink, Fanout
from twdsl.runtime.executors import Executor, LocalExecutor
from twdsl.runtime.states import TASK_TRANSITIONS, RunStatus, TaskStatus, check_task

NONE, BREAK, CONTINUE = 0, 1, 2  # what a node's run signals to its loop
_ALLOWED = TASK_TRANSITIONS
_FINAL = frozenset(s for s in TaskStatus if s.final)


class Failed(Exception):
    """A failure going up the tree: the error and the node it came from."""

    def __init__(self, error: TaskError, node: str, task: str | None,
                 src: M.SourceRef | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.node = node
        self.task = task
        self.src = src

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.error.kind.value, "message": self.error.message}
        if self.task is not None:
            out["task"] = self.task
        if self.src is not None:
            out["source"] = str(self.src)
        if self.error.details is not None:
            out["details"] = self.error.details
        return out


@dataclass(slots=True)
class TaskRecord:
    status: TaskStatus = TaskStatus.PENDING
    result: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    started: float | None = None
    finished: float | None = None


@dataclass(slots=True)
class RunOptions:
    run_id: str | None = None
    max_concurrency: int = 16  # the run's limit when the workflow sets none
    seed: int | None = None  # for retry jitter (tests)
    #: results to reuse by task instance key (resume / retry --failed-only)
    reuse: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] | None = None  # what `env` reads; None: os.environ
    sleep: Callable[[float], Any] = asyncio.sleep
    #: where `cache` results live (the state store: cache_get/cache_put); None: no caching
    cache: Any = None
    resumed: bool = False  # a `runs resume` of this run id
    clock: Callable[[], float] = time.time  # cache expiry, current_time, task times
    #: where agent calls run (runtime/executors): here, or Python agents on a Ray cluster
    executor: Executor = field(default_factory=LocalExecutor)
    #: told before each task instance starts and after it ends (the debugger, twdsl/debug);
    #: None (the default) costs one test per task
    observer: TaskObserver | None = None


@dataclass(slots=True)
class RunResult:
    run_id: str
    status: RunStatus
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    tasks: dict[str, TaskRecord]


class TaskObserver(Protocol):
    """Told of each task instance at its boundaries (``RunOptions.observer``): before it
    starts (before its ``when``, its input and its first attempt) and after it ends
    (``failure`` is the failure going up the tree, None when the task completed, was skipped
    or its error was handled).  ``frame`` is the frame the task runs in (its loops'
    iterations, loop variables, template parameters).  The run waits while a call is awaited:
    the debugger stops a run there (docs/debugging.md); cancelling the run cancels the wait."""

    async def before_task(self, engine: Engine, node: M.TaskNode,
                          frame: Frame) -> None: ...  # pragma: no cover - protocol

    async def after_task(self, engine: Engine, node: M.TaskNode, frame: Frame,
                         failure: Failed | None) -> None: ...  # pragma: no cover - protocol


class Agents:
    """What the engine needs of agents: ``get(name)`` → an async callable of AgentCall."""

    def get(self, name: str) -> Callable[[AgentCall], Any]:  # pragma: no cover - protocol
        raise NotImplementedError


class PrioritySlots:
    """A counting semaphore that wakes the highest priority waiter first (FIFO among
    equals)."""

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self.counter = itertools.count()

    async def acquire(self, priority: int = 0) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (-priority, next(self.counter), fut)
        heapq.heappush(self.waiters, entry)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # we were given the slot as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(entry)
                    heapq.heapify(self.waiters)
            raise

    def release(self) -> None:
        while self.waiters:
            _, _, fut = heapq.heappop(self.waiters)
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


class Frame:
    """Names visible at one place of a run, and the loop iterations it is in."""

    __slots__ = ("engine", "vars", "parent", "loops")

    def __init__(self, engine: Engine, vars: dict[str, Any], parent: Frame | None,
                 loops: tuple[tuple[str, int], ...]) -> None:
        self.engine = engine
        self.vars = vars
        self.parent = parent
        self.loops = loops

    def child(self, vars: dict[str, Any], loop: tuple[str, int] | None = None) -> Frame:
        return Frame(self.engine, vars, self, self.loops + (loop,) if loop else self.loops)

    def lookup(self, name: str) -> Any:
        f: Frame | None = self
        while f is not None:
            if name in f.vars:
                return f.vars[name]
            f = f.parent
        return self.engine.builtin(name)

    def task_field(self, node: str, field: str) -> Any:
        return self.engine.read(node, field, self.loops)


def instance_key(node: str, loops: tuple[tuple[str, int], ...]) -> str:
    if not loops:
        return node
    return f"{node}[{','.join(str(i) for _, i in loops)}]"


class Engine:
    def __init__(self, program: M.Program, agents: Agents, sink: EventSink,
                 options: RunOptions | None = None) -> None:
        self.p = program
        self.nodes = program.nodes
        self.agents = agents
        self.sink = sink
        self.opt = options or RunOptions()
        self.run_id = self.opt.run_id or new_run_id()
        self.rng = random.Random(self.opt.seed)
        self.slots = PrioritySlots(program.max_concurrency or self.opt.max_concurrency)
        self.records: dict[tuple[str, tuple[int, ...]], TaskRecord] = {}
        self.iterations: dict[tuple[str, tuple[int, ...]], int] = {}
        self.loops_of = self._loops_of()
        self.compiled: dict[int, Callable[[Frame], Any]] = {}
        self.chains: dict[str, bool] = {}  # block id → its children run in written order
        self.sources = {k: str(v.src) for k, v in self.nodes.items() if v.src is not None}
        self.quiet = isinstance(sink, Fanout) and not sink.sinks  # nobody listens
        self.final: RunResult | None = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.pausing = False
        self.in_flight = 0
        self.inputs: dict[str, Any] = {}
        self.builtins: dict[str, Any] = {}

    # ------------------------------------------------------------------ setup
    def _loops_of(self) -> dict[str, tuple[str, ...]]:
        """For each task node: its enclosing loops, outermost first."""
        out: dict[str, tuple[str, ...]] = {}
        for nid, node in self.nodes.items():
            if isinstance(node, M.TaskNode):
                loops: list[str] = []
                p = node.parent
                while p is not None:
                    if isinstance(self.nodes[p], (M.ForeachNode, M.WhileNode)):
                        loops.append(p)
                    p = self.nodes[p].parent
                out[nid] = tuple(reversed(loops))
        return out

    def builtin(self, name: str) -> Any:
        if name in self.builtins:
            return self.builtins[name]
        if name == "current_time":
            return datetime.fromtimestamp(self.opt.clock(), UTC)
        raise KeyError(name)

    def emit(self, type: str, **kw: Any) -> None:
        if not self.quiet:
            self.sink.emit(Event(type, self.run_id, **kw))

    def eval(self, e: X.Expr, frame: Frame) -> Any:
        fn = self.compiled.get(id(e))
        if fn is None:
            fn = self.compiled[id(e)] = compile_expr(e)
        reset_budget()  # each evaluation within the limits of docs/language.md
        return fn(frame)

    # ------------------------------------------------------------------ reading tasks
    def read(self, node: str, field: str, loops: tuple[tuple[str, int], ...]) -> Any:
        ctx = dict(loops)
        target = self.loops_of.get(node, ())
        fixed: list[int] = []
        i = 0
        while i < len(target) and target[i] in ctx:
            fixed.append(ctx[target[i]])
            i += 1
        if field == "previous":  # the checker allows it inside the task's innermost loop only
            if not fixed or i < len(target) or fixed[-1] == 0:
                return None
            return _field(self.records.get((node, (*fixed[:-1], fixed[-1] - 1))), "result")
        return self._collect(node, field, tuple(fixed), target[i:])

    def _collect(self, node: str, field: str, path: tuple[int, ...],
                 rest: tuple[str, ...]) -> Any:
        if not rest:
            rec = self.records.get((node, path))
            return _field(rec, field)
        n = self.iterations.get((rest[0], path))
        if n is None:
            return None  # the loop did not run
        return [self._collect(node, field, path + (i,), rest[1:]) for i in range(n)]

    # ------------------------------------------------------------------ the run
    async def run(self, inputs: dict[str, Any]) -> RunResult:
        # A run allocates many short-lived objects and few cycles: collecting the youngest
        # generation every 700 allocations costs ~15% of a no-op task (bench/runtime_overhead.py)
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], 20_000), *threshold[1:])
        try:
            return await self._run(inputs)
        finally:
            gc.set_threshold(*threshold)

    async def _run(self, inputs: dict[str, Any]) -> RunResult:
        self.inputs = dict(inputs)
        self.builtins = {
            "env": dict(self.opt.env if self.opt.env is not None else os.environ),
            "context": {"workflow": self.p.workflow, "version": self.p.version,
                        "run_id": self.run_id, "inputs": self.inputs},
            "result": None, "error": None, "workflow_id": self.run_id,
            "task_id": None, "retry_count": 0,
        }
        root = Frame(self, dict(self.inputs), None, ())
        self.emit("workflow.started", data={"workflow": self.p.workflow,
                                            "inputs": to_json(self.inputs)})
        if self.opt.resumed:
            self.emit("workflow.resumed", data={"workflow": self.p.workflow,
                                                "reused": len(self.opt.reuse)})
        status, error, outputs = RunStatus.COMPLETED, None, None
        try:
            async with asyncio.timeout(self.p.timeout):
                try:
                    await self.block(self.p.root, root)
                except Failed as f:
                    if not await self.workflow_handler(f, root):
                        raise
                if self.p.on_success is not None:
                    await self.block(self.p.on_success, root)
            outputs = self.outputs(root)
        except Failed as f:
            status, error = RunStatus.FAILED, f.to_json()
        except TimeoutError:
            status = RunStatus.TIMEOUT
            error = {"kind": "timeout", "message": f"the workflow ran past its timeout of "
                     f"{Duration(self.p.timeout or 0)}"}
        except asyncio.CancelledError:  # the caller reads `final`
            if self.pausing:
                status, error = RunStatus.PAUSED, None
                self.emit("workflow.paused", status=status.value)
            else:
                status = RunStatus.CANCELLED
                error = {"kind": "cancelled", "message": "the run was cancelled"}
                self.emit("workflow.cancelled", status=status.value, data={"error": error})
            raise
        finally:
            if status not in (RunStatus.CANCELLED, RunStatus.PAUSED):
                data: dict[str, Any] = {}
                if outputs is not None:
                    data["outputs"] = outputs
                if error is not None:
                    data["error"] = error
                self.emit(f"workflow.{status.value}", status=status.value, data=data)
            self.final = RunResult(self.run_id, status, outputs, error, self.task_records())
        return self.final

    async def pause(self, main: asyncio.Future[Any]) -> None:
        """Start nothing new, let the attempts in flight finish, then stop the run as
        ``paused`` (``runs resume`` continues it, reusing every completed result)."""
        self.pausing = True
        self.gate.clear()
        while self.in_flight:
            await asyncio.sleep(0.01)
        main.cancel()

    def task_records(self) -> dict[str, TaskRecord]:
        return {instance_key(n, tuple(zip(self.loops_of.get(n, ()), path, strict=False))): r
                for (n, path), r in self.records.items()}

    def outputs(self, frame: Frame) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for o in self.p.outputs:
            if o.value is None:
                out[o.name] = None
                continue
            try:
                out[o.name] = to_json(self.eval(o.value, frame))
            except EvalError as e:
                raise Failed(TaskError(ErrorKind.VALIDATION,
                                       f"output '{o.name}': {e}"), "", None, o.src) from None
            wrong = problem(out[o.name], o.type)
            if wrong is not None:
                raise Failed(TaskError(ErrorKind.VALIDATION, f"output '{o.name}' {wrong}"),
                             "", None, o.src)
        return out

    async def workflow_handler(self, f: Failed, frame: Frame) -> bool:
        """The workflow's on_error; True when the run goes on as completed."""
        h = self.p.on_error
        if h.action == "fail":
            return False
        if h.action in ("skip", "continue"):
            return True
        if h.when is not None and f.error.kind.value not in h.when:
            return False
        return await self.handle(h, f, frame)

    async def handle(self, h: M.ErrorHandler, f: Failed, frame: Frame) -> bool:
        """Run a handler's fallback, compensation and statements; True when the failure is
        handled (the outcome `continue` or `skip`)."""
        hf = frame.child({"error": f.to_json()})
        fallback_ok = False
        if h.fallback is not None:
            try:
                await self.block(h.fallback, hf)
                fallback_ok = True
            except Failed:
                fallback_ok = False
        if h.compensate is not None:
            await self.block(h.compensate, hf, reverse=True)
        if h.body is not None:
            await self.block(h.body, hf)
        then = h.then or ("continue" if fallback_ok else "fail")
        return then != "fail"

    # ------------------------------------------------------------------ nodes
    async def node(self, nid: str, frame: Frame) -> int:
        n = self.nodes[nid]
        if isinstance(n, M.TaskNode):
            if self.opt.observer is None:
                await self.task(n, frame)
            else:
                await self.observed_task(n, frame)
            return NONE
        if isinstance(n, M.BlockNode):
            return await self.block(nid, frame)
        if isinstance(n, M.IfNode):
            for b in n.branches:
                if self.condition(b.cond, frame, n):
                    return await self.block(b.body, frame)
            if n.otherwise is not None:
                return await self.block(n.otherwise, frame)
            return NONE
        if isinstance(n, M.SwitchNode):
            subject = self.value(n.subject, frame, n)
            for case in n.cases:
                if any(equal(subject, self.value(v, frame, n)) for v in case.values):
                    return await self.block(case.body, frame)
            if n.default is not None:
                return await self.block(n.default, frame)
            return NONE
        if isinstance(n, M.ForeachNode):
            await self.foreach(n, frame)
            return NONE
        if isinstance(n, M.WhileNode):
            await self.while_(n, frame)
            return NONE
        if isinstance(n, M.BreakNode):
            return BREAK
        if isinstance(n, M.ContinueNode):
            return CONTINUE
        raise AssertionError(f"unknown node kind {n.kind}")

    def value(self, e: X.Expr, frame: Frame, n: M.Node) -> Any:
        try:
            return self.eval(e, frame)
        except EvalError as err:
            raise Failed(TaskError(ErrorKind.VALIDATION, str(err)), n.id, None, n.src) from None

    def condition(self, e: X.Expr, frame: Frame, n: M.Node) -> bool:
        v = self.value(e, frame, n)
        if not isinstance(v, bool):
            raise Failed(TaskError(ErrorKind.VALIDATION,
                                   f"the condition is {a_value(v)}, not a boolean"),
                         n.id, None, n.src)
        return v

    def check_argument(self, b: M.BlockNode, name: str, check: M.ParamCheck,
                       value: Any) -> None:
        """A computed template argument against its parameter's ``where``: a validation
        failure of the template instance when it does not fit."""
        for key, bound in check.where.items():
            try:
                wrong = violation(key, bound, value)
            except re.error:
                wrong = None  # an invalid pattern is reported by twdsl check (TW232)
            if wrong is not None:
                raise Failed(TaskError(ErrorKind.VALIDATION,
                                       f"argument '{name}' of template '{check.template}' = "
                                       f"{render(value)} {wrong}"), b.id, None,
                             check.src or b.src)

    async def block(self, bid: str, frame: Frame, reverse: bool = False) -> int:
        b = self.nodes[bid]
        assert isinstance(b, M.BlockNode)
        if b.bindings:
            frame = frame.child({k: self.value(v, frame, b) for k, v in b.bindings.items()})
            for name, check in b.checks.items():  # computed template arguments
                self.check_argument(b, name, check, frame.lookup(name))
        children = list(reversed(b.children)) if reverse else b.children
        if b.timeout is None:
            return await self._children(b, children, frame, sequential=reverse)
        try:
            async with asyncio.timeout(b.timeout):
                return await self._children(b, children, frame, sequential=reverse)
        except TimeoutError:
            raise Failed(TaskError(ErrorKind.TIMEOUT,
                                   f"the {b.role} block ran past its timeout of "
                                   f"{Duration(b.timeout)}"), bid, None, b.src) from None

    async def _children(self, b: M.BlockNode, children: list[str], frame: Frame,
                        sequential: bool) -> int:
        chain = self.chains.get(b.id)
        if chain is None:
            chain = self.chains[b.id] = all(
                self.nodes[c].after == ([children[i - 1]] if i else [])
                for i, c in enumerate(children))
        if sequential or chain:
            for c in children:  # the common case: a chain in written order
                sig = await self.node(c, frame)
                if sig != NONE:
                    return sig
            return NONE
        return await self._graph(b, children, frame)

    async def _graph(self, b: M.BlockNode, children: list[str], frame: Frame) -> int:
        """Children by their edges, within the block's limit; fail_fast as the block says."""
        waiting = {c: set(self.nodes[c].after) for c in children}
        dependents: dict[str, list[str]] = {c: [] for c in children}
        for c, deps in waiting.items():
            for d in deps:
                dependents[d].append(c)
        ready = [c for c in children if not waiting[c]]
        limit = b.max_concurrency or len(children)
        running: dict[asyncio.Task[int], str] = {}
        failures: list[Failed] = []
        signal = NONE
        try:
            while ready or running:
                while ready and len(running) < limit and signal == NONE and not (
                        failures and b.fail_fast):
                    # a block's own limit queues its children: the highest priority first, in
                    # written order among equals (the run's limit orders attempts, PrioritySlots)
                    c = ready[0] if limit >= len(children) else \
                        max(ready, key=lambda x: getattr(self.nodes[x], "priority", 0))
                    ready.remove(c)
                    running[asyncio.ensure_future(self.node(c, frame))] = c
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    c = running.pop(t)
                    try:
                        sig = t.result()
                    except Failed as f:
                        failures.append(f)
                        if b.fail_fast:
                            raise
                        continue
                    if sig != NONE:
                        signal = sig
                    for d in dependents[c]:
                        waiting[d].discard(c)
                        if not waiting[d]:
                            ready.append(d)
                if signal != NONE and not running:
                    break
        finally:
            for t in running:
                t.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        if failures:
            raise failures[0]
        return signal

    # ------------------------------------------------------------------ loops
    async def foreach(self, n: M.ForeachNode, frame: Frame) -> None:
        items = self.value(n.items, frame, n)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise Failed(TaskError(ErrorKind.VALIDATION,
                                   f"foreach needs an array, and this is {a_value(items)}"),
                         n.id, None, n.src)
        path = tuple(i for _, i in frame.loops)
        self.iterations[(n.id, path)] = len(items)

        def frame_for(i: int) -> Frame:
            vars = {n.var: items[i]}
            if n.index_var is not None:
                vars[n.index_var] = i
            return frame.child(vars, (n.id, i))

        if not n.parallel:
            for i in range(len(items)):
                sig = await self.block(n.body, frame_for(i))
                if sig == BREAK:
                    self.iterations[(n.id, path)] = i + 1
                    break
            return
        if not items:
            return
        limit = min(len(items), n.max_concurrency or self.slots_limit())
        indexes = iter(range(len(items)))
        failures: list[Failed] = []

        async def worker() -> None:
            for i in indexes:
                if failures and n.fail_fast:
                    return
                try:
                    await self.block(n.body, frame_for(i))
                except Failed as f:
                    failures.append(f)
                    if n.fail_fast:
                        raise

        workers = [asyncio.ensure_future(worker()) for _ in range(limit)]
        try:
            if n.fail_fast:
                done, pending = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
                for w in done:
                    if w.exception() is not None:
                        raise w.exception()  # type: ignore[misc]
            else:
                await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        if failures:
            raise failures[0]

    def slots_limit(self) -> int:
        return self.p.max_concurrency or self.opt.max_concurrency

    async def while_(self, n: M.WhileNode, frame: Frame) -> None:
        path = tuple(i for _, i in frame.loops)
        i = 0
        while True:
            # the condition reads the latest iteration of the body's tasks (null before one)
            cond_frame = frame.child({}, (n.id, i - 1))
            self.iterations[(n.id, path)] = i
            if not self.condition(n.cond, cond_frame, n):
                return
            if i >= n.max_iterations:
                raise Failed(TaskError(ErrorKind.AGENT,
                                       f"the while loop reached max_iterations ({n.max_iterations})"
                                       " with its condition still true"), n.id, None, n.src)
            self.iterations[(n.id, path)] = i + 1
            sig = await self.block(n.body, frame.child({}, (n.id, i)))
            i += 1
            if sig == BREAK:
                return

    # ------------------------------------------------------------------ tasks
    async def task(self, n: M.TaskNode, frame: Frame) -> None:
        path = tuple(i for _, i in frame.loops)
        key = instance_key(n.id, frame.loops)
        rec = TaskRecord()
        self.records[(n.id, path)] = rec
        ev = {"key": key, "task": n.name, "node": n.id}
        frame = frame.child({"task_id": key, "retry_count": 0})
        if key in self.opt.reuse:
            rec.result = self.opt.reuse[key]
            self._set(rec, TaskStatus.COMPLETED, key)
            self.emit("task.reused", status="completed", data={"result": rec.result}, **ev)
            return
        if n.when is not None and not self.condition(n.when, frame, n):
            self._set(rec, TaskStatus.SKIPPED, key)
            self.emit("task.skipped", status="skipped", data={"reason": "when is false"}, **ev)
            return
        try:
            payload = self.value(n.input, frame, n) if n.input is not None else {}
        except Failed as f:
            await self.fail(n, rec, f.error, frame, ev)
            return
        try:
            payload = to_json(payload)
        except EvalError as e:
            await self.fail(n, rec, TaskError(ErrorKind.VALIDATION, f"input: {e}"), frame, ev)
            return
        ckey = None
        if n.cache is not None and self.opt.cache is not None:
            basis = payload if n.cache.key is None else to_json(self.value(n.cache.key, frame, n))
            ckey = cache_key(n, basis)
            hit = self.opt.cache.cache_get(ckey, now=self.opt.clock())
            if hit is not None:
                rec.result = hit.result
                await self.succeeded(n, rec, frame, ev, "task.cached",
                                     {"result": rec.result, "cache_key": ckey})
                return
        err = await self.attempts(n, rec, payload, frame, ev, n.retry)
        if err is None and ckey is not None:
            self.opt.cache.cache_put(ckey, rec.result, workflow=self.p.workflow, task=n.name,
                                     ttl=n.cache.ttl if n.cache else None, now=self.opt.clock())
        if err is None:
            await self.succeeded(n, rec, frame, ev)
            return
        await self.fail(n, rec, err, frame, ev, payload)

    async def succeeded(self, n: M.TaskNode, rec: TaskRecord, frame: Frame,
                        ev: dict[str, Any], event: str = "task.completed",
                        data: dict[str, Any] | None = None) -> None:
        """The task has its result: record it, then run its on_success block."""
        self._set(rec, TaskStatus.COMPLETED, ev["key"])
        self.emit(event, status="completed",
                  attempt=rec.attempts if event == "task.completed" else None,
                  data=data or {"result": rec.result, "duration": _dur(rec)}, **ev)
        if n.on_success is not None:
            await self.block(n.on_success, frame.child({"result": rec.result}))

    async def fail(self, n: M.TaskNode, rec: TaskRecord, err: TaskError, frame: Frame,
                   ev: dict[str, Any], payload: Any = None) -> None:
        """Retries are used up: on_error decides."""
        key = ev["key"]
        h = n.on_error
        applies = h.action == "handle" and (h.when is None or err.kind.value in h.when)
        if applies and h.retry is not None and payload is not None:
            again = await self.attempts(n, rec, payload, frame, ev, h.retry, extra=True)
            if again is None:
                await self.succeeded(n, rec, frame, ev)
                return
            err = again
        rec.error = {"kind": err.kind.value, "message": err.message, "task": n.name}
        final = TaskStatus.TIMEOUT if err.kind is ErrorKind.TIMEOUT else TaskStatus.FAILED
        if err.kind is ErrorKind.CANCELLED:
            final = TaskStatus.CANCELLED
        failed = Failed(err, n.id, n.name, n.src)
        outcome = "fail"
        if h.action in ("skip", "continue"):
            outcome = h.action
        elif applies:
            outcome = "continue" if await self.handle(h, failed, frame) else "fail"
            if h.then == "skip":
                outcome = "skip"
        details = {"details": err.details} if err.details is not None else {}
        if outcome == "skip":
            rec.result = None
            self._set(rec, TaskStatus.SKIPPED, key)
            self.emit("task.skipped", status="skipped", attempt=rec.attempts or None,
                      data={"error": rec.error, **details}, **ev)
            return
        self._set(rec, final, key)
        self.emit(f"task.{final.value}", status=final.value, attempt=rec.attempts,
                  data={"error": rec.error, "handled": outcome == "continue", **details}, **ev)
        if outcome == "fail":
            raise failed

    async def attempts(self, n: M.TaskNode, rec: TaskRecord, payload: Any, frame: Frame,
                       ev: dict[str, Any], policy: M.RetryPolicy | None,
                       extra: bool = False) -> TaskError | None:
        """Attempts under ``policy``; None when one succeeded, else the last error."""
        try:
            return await self._attempts(n, rec, payload, frame, ev, policy, extra)
        except asyncio.CancelledError:
            if not rec.status.final:
                rec.error = {"kind": "cancelled", "message": "cancelled", "task": n.name}
                self._set(rec, TaskStatus.CANCELLED, ev["key"])
                self.emit("task.cancelled", status="cancelled", attempt=rec.attempts, **ev)
            raise

    async def _attempts(self, n: M.TaskNode, rec: TaskRecord, payload: Any, frame: Frame,
                        ev: dict[str, Any], policy: M.RetryPolicy | None,
                        extra: bool) -> TaskError | None:
        key = ev["key"]
        retries = policy.attempts if policy is not None else 0
        try:
            agent = self.opt.executor.agent(self.agents.get(n.agent))
        except Exception as e:  # noqa: BLE001 - a binding that cannot load fails the task
            return TaskError(ErrorKind.AGENT, f"agent '{n.agent}' cannot be used: {e}")
        err: TaskError | None = None
        for retry in range(retries if extra else retries + 1):  # extra: N more attempts
            if retry or extra:
                assert policy is not None
                # a handler's extra retry policy continues the count of the first one
                delay = policy.wait(retry + 1 if extra else retry)
                if policy.jitter:
                    delay = self.rng.uniform(0, delay)
                self._set(rec, TaskStatus.RETRYING, key)
                self.emit("task.retried", status="retrying", attempt=rec.attempts,
                          data={"delay": round(delay, 6), "error": err.to_json() if err else None},
                          **ev)
                await self.opt.sleep(delay)
            self._set(rec, TaskStatus.QUEUED, key)
            if not self.gate.is_set() or self.slots.free <= 0 or self.slots.waiters:
                self.emit("task.queued", status="queued", attempt=rec.attempts + 1,
                          data={"priority": n.priority}, **ev)
            if not self.gate.is_set():
                await self.gate.wait()  # closed while the run is pausing: start nothing new
            await self.slots.acquire(n.priority)
            self.in_flight += 1
            try:
                rec.attempts += 1
                self._set(rec, TaskStatus.RUNNING, key)
                if rec.started is None:
                    rec.started = self.opt.clock()
                self.emit("task.started", status="running", attempt=rec.attempts,
                          data={"input": payload} if rec.attempts == 1 else {}, **ev)
                call = AgentCall(agent=n.agent, task=n.name, node_id=n.id, run_id=self.run_id,
                                 workflow=self.p.workflow, attempt=rec.attempts, input=payload,
                                 context={"workflow": self.p.workflow, "run_id": self.run_id,
                                          "task": n.name, "key": key,
                                          "loops": [i for _, i in frame.loops],
                                          "source": self.sources.get(n.id)},
                                 timeout=n.timeout)
                try:
                    if n.timeout is None:
                        result = await agent(call)
                    else:
                        async with asyncio.timeout(n.timeout):
                            result = await agent(call)
                    try:
                        value = to_json(result)
                    except EvalError as e:
                        raise TaskError(ErrorKind.VALIDATION,
                                        f"the agent's result is not JSON data: {e}") from None
                    if n.result_type is not None:  # the agent's declared output
                        wrong = problem(value, n.result_type)
                        if wrong is not None:
                            raise TaskError(ErrorKind.VALIDATION, f"agent '{n.agent}' returned "
                                            f"a result that does not fit its signature "
                                            f"(output {n.result_type}): "
                                            f"{wrong if wrong[0] != 's' else 'it ' + wrong}")
                    rec.result = value
                    rec.finished = self.opt.clock()
                    return None
                except TimeoutError:
                    err = TaskError(ErrorKind.TIMEOUT, f"task '{n.name}' ran past its timeout of "
                                    f"{Duration(n.timeout or 0)} (attempt {rec.attempts})")
                except TaskError as e:
                    err = e
                except Exception as e:  # noqa: BLE001 - an agent's bug is the task's failure
                    err = TaskError(ErrorKind.AGENT, f"{type(e).__name__}: {e}",
                                    {"traceback": "".join(traceback.format_exception(e))})
                rec.finished = self.opt.clock()
            finally:
                self.in_flight -= 1
                self.slots.release()
            if policy is None or err.kind.value not in policy.on or not err.kind.retryable:
                break
        return err

    async def observed_task(self, n: M.TaskNode, frame: Frame) -> None:
        """:meth:`task` between the observer's calls (``RunOptions.observer``)."""
        observer = self.opt.observer
        assert observer is not None
        await observer.before_task(self, n, frame)
        try:
            await self.task(n, frame)
        except Failed as f:
            await observer.after_task(self, n, frame, f)
            raise
        await observer.after_task(self, n, frame, None)

    def _set(self, rec: TaskRecord, status: TaskStatus, key: str) -> None:
        old = rec.status
        if old is not status:
            if status not in _ALLOWED[old]:
                check_task(old, status, key)  # raises, naming the transition
        rec.status = status
        if status in _FINAL and rec.finished is None:
            rec.finished = self.opt.clock()


def cache_key(n: M.TaskNode, basis: Any) -> str:
    """A cached result is reused for the same agent, the same task definition (its IR, without
    ids and positions) and the same rendered input (or `cache.key` value)."""
    import hashlib

    definition = n.model_dump(mode="json", exclude={"id", "parent", "after", "order_only",
                                                    "src", "name"})
    text = json.dumps([n.agent, definition, basis], sort_keys=True, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _field(rec: TaskRecord | None, field: str) -> Any:
    if rec is None:  # the task did not run (docs/language.md, Q3)
        return "pending" if field == "status" else 0 if field == "attempts" else None
    if field in ("result", "self"):
        return rec.result
    if field == "status":
        return rec.status.value
    if field == "error":
        return rec.error
    if field == "attempts":
        return rec.attempts
    if field == "duration":
        return Duration(rec.finished - rec.started) if rec.finished and rec.started else None
    if field == "started_at":
        return datetime.fromtimestamp(rec.started, UTC) if rec.started else None
    if field == "finished_at":
        return datetime.fromtimestamp(rec.finished, UTC) if rec.finished else None
    raise EvalError(f"a task has no field '{field}'")


def _dur(rec: TaskRecord) -> float | None:
    if rec.started is None or rec.finished is None:
        return None
    return round(rec.finished - rec.started, 6)


def new_run_id() -> str:
    """Sortable by time, short enough to type: ``20261123-101530-3f9a1c``."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
