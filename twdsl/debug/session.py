"""One debug session: the Debug Adapter Protocol's requests over one workflow run, executed
in this process by the runtime's engine, stopped at task boundaries (docs/debugging.md).

The session is the engine's :class:`~twdsl.runtime.engine.TaskObserver`: the engine awaits
it before each task instance starts and after it ends, and the session decides there whether
to stop (a breakpoint on the task, a step, a pause, a failed task with the *Failed tasks*
filter on).  Stopped, it keeps the run waiting and answers what the client asks: the stack of
blocks around the task, the variables, expressions.

Threads: the run is one thread (id 1).  While it is stopped, every other task instance that
reaches a boundary waits there (agent calls already in flight go on and finish, then wait);
on ``continue`` the waiting ones go on in the order they arrived, and the first that has a
reason to stop stops the run again.  ``next`` (and ``stepIn``) stop at the next boundary of
any task, ``stepOut`` at the next boundary of a task outside the block of the current one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twdsl.debug.expressions import ExpressionCompiler, ExpressionError, norm_path
from twdsl.debug.protocol import Channel
from twdsl.debug.variables import References, Variable, show
from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.lang.values import EvalError, type_name
from twdsl.runtime.engine import Engine, Failed, Frame, RunOptions, instance_key
from twdsl.runtime.events import Event, Fanout
from twdsl.runtime.progress import TextLog

THREAD = 1
_FAILED = ("failed", "timeout")

#: What the adapter can do (the ``initialize`` response).
CAPABILITIES: dict[str, Any] = {
    "supportsConfigurationDoneRequest": True,
    "supportsConditionalBreakpoints": True,
    "supportsHitConditionalBreakpoints": False,
    "supportsEvaluateForHovers": True,
    "supportsTerminateRequest": True,
    "supportTerminateDebuggee": True,
    "supportsSetVariable": False,
    "supportsStepBack": False,
    "supportsRestartRequest": False,
    "supportsLogPoints": False,
    "supportsExceptionInfoRequest": False,
    "exceptionBreakpointFilters": [{
        "filter": "failed", "label": "Failed tasks", "default": False,
        "description": "Stop after a task fails or times out (after its retries), handled "
                       "or not.",
    }],
}


class LaunchError(Exception):
    """The launch arguments cannot be used: the message says why (nothing ran)."""


@dataclass
class Launch:
    """What a ``launch`` request prepared: the program, validated inputs and loaded agents."""

    program: M.Program
    inputs: dict[str, Any]
    agents: Any  # runtime.engine.Agents, with ``aclose`` (runtime/agents)
    expressions: ExpressionCompiler
    cwd: str  # where the program's relative source paths are resolved from
    max_concurrency: int = 16
    stop_on_entry: bool = False
    no_debug: bool = False


Prepare = Callable[[dict[str, Any]], Launch]


@dataclass
class Breakpoint:
    id: int
    line: int  # as requested
    condition: str | None
    source: dict[str, Any]
    nodes: list[M.TaskNode] = field(default_factory=list)
    conditions: dict[str, X.Expr] = field(default_factory=dict)  # node id → compiled
    verified: bool = False
    message: str | None = "the program is not loaded yet"

    def to_dap(self, shift: int = 0) -> dict[str, Any]:
        """The breakpoint as the client counts lines (``shift``: 1 when from 0)."""
        out: dict[str, Any] = {"id": self.id, "verified": self.verified, "source": self.source}
        if self.line > 0:  # 0: the client gave no line
            out["line"] = self.line - shift
        if self.nodes and self.nodes[0].src is not None:
            out["line"] = self.nodes[0].src.line - shift
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass
class StopPoint:
    """Where the run is stopped: before ``node`` starts or after it ended."""

    reason: str  # entry | breakpoint | step | pause | exception
    when: str  # before | after
    node: M.TaskNode
    frame: Frame
    key: str
    failure: Failed | None = None
    breakpoints: list[int] = field(default_factory=list)


class DebugSession:
    def __init__(self, channel: Channel, prepare: Prepare) -> None:
        self.channel = channel
        self.prepare = prepare
        self.launch: Launch | None = None
        self.engine: Engine | None = None
        self.run: asyncio.Future[Any] | None = None
        self.finishing = False  # the run ended; its end is being said
        self.configured = asyncio.Event()
        self.closing = asyncio.Event()  # disconnect, or the client went away
        self.breakpoints: dict[str, list[Breakpoint]] = {}  # source path → breakpoints
        self.by_node: dict[str, list[Breakpoint]] = {}
        self.tasks_in: dict[str, list[M.TaskNode]] = {}  # source path → its tasks
        self.ids = itertools.count(1)
        self.failed_filter = False
        self.stopped: StopPoint | None = None
        self.resumed = asyncio.Event()
        self.pause_requested = False
        self.entry_pending = False
        self.step: tuple[str, StopPoint] | None = None
        self.refs = References()
        self.frames: dict[int, int] = {}  # frame id → depth, for the current stop
        self.frame_ids = itertools.count(1)
        self.pending: set[asyncio.Future[Any]] = set()
        self.console = ConsoleLog(channel)
        self.line_shift = self.column_shift = 0

    # ------------------------------------------------------------------ the message loop
    async def serve(self, messages: asyncio.Queue[dict[str, Any] | None]) -> None:
        """Answer requests until ``disconnect`` or the end of the client's stream."""
        getter: asyncio.Future[Any] | None = None
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            while not self.closing.is_set():
                getter = asyncio.ensure_future(messages.get())
                await asyncio.wait([getter, closing], return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                message = getter.result()
                if message is None:  # the client went away: stop the run
                    await self.cancel_run()
                    break
                self.dispatch(message)
        finally:
            closing.cancel()
            await self.cancel_run()
            for t in list(self.pending):
                t.cancel()

    def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") != "request" or not isinstance(message.get("command"), str):
            return  # responses to reverse requests (none are sent) and stray events
        command = message["command"]
        handler = getattr(self, f"on_{command}", None)
        if handler is None:
            self.channel.fail(message, f"twdsl debug does not support the request "
                                       f"'{command}'", show=False)
            return
        args = message.get("arguments")
        if not isinstance(args, dict):
            args = {}
        if asyncio.iscoroutinefunction(handler):
            task = asyncio.ensure_future(self.guarded(handler, message, args))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
            return
        try:
            handler(message, args)
        except Exception as e:  # noqa: BLE001 - a bug answers the request, the session lives
            self.bug(message, e)

    async def guarded(self, handler: Any, message: dict[str, Any], args: dict[str, Any]) -> None:
        try:
            await handler(message, args)
        except Exception as e:  # noqa: BLE001
            self.bug(message, e)

    def bug(self, message: dict[str, Any], e: Exception) -> None:
        text = "".join(traceback.format_exception(e))
        print(text, file=sys.stderr, flush=True)
        self.channel.output(f"twdsl debug: internal error (a bug in twdsl, please report it):"
                            f"\n{text}", "important")
        self.channel.fail(message, f"internal error in twdsl debug: {type(e).__name__}: {e}")

    # ------------------------------------------------------------------ set-up requests
    def on_initialize(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        # lines and columns are 1-based here, as in the IR; a client may count from 0
        self.line_shift = 0 if args.get("linesStartAt1", True) is not False else 1
        self.column_shift = 0 if args.get("columnsStartAt1", True) is not False else 1
        self.channel.respond(req, CAPABILITIES)

    async def on_launch(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        if self.launch is not None:
            self.channel.fail(req, "this session has launched its run already")
            return
        try:
            launch = self.prepare(args)
        except LaunchError as e:
            self.channel.output(f"{e}\n", "stderr")
            self.channel.fail(req, str(e))
            return
        self.launch = launch
        for node in launch.program.nodes.values():
            if isinstance(node, M.TaskNode) and node.src is not None:
                path = norm_path(node.src.file, launch.cwd)
                self.tasks_in.setdefault(path, []).append(node)
        for path, bps in self.breakpoints.items():  # set before the program was known
            for bp in bps:
                self.bind(bp, path)
                self.channel.event("breakpoint", {"reason": "changed",
                                                  "breakpoint": bp.to_dap(self.line_shift)})
        self.index()
        self.channel.event("initialized")
        await self.configured.wait()
        self.start()
        self.channel.respond(req)

    async def on_attach(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        self.channel.fail(req, "twdsl debug starts runs itself: use a 'launch' configuration")

    def on_configurationDone(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        self.configured.set()
        self.channel.respond(req)

    def on_setBreakpoints(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        source = args.get("source") if isinstance(args.get("source"), dict) else {}
        assert isinstance(source, dict)
        path = source.get("path")
        wanted = args.get("breakpoints")
        if not isinstance(wanted, list):
            wanted = [{"line": n} for n in args.get("lines") or []]
        bps: list[Breakpoint] = []
        for w in wanted:  # one answer per breakpoint asked for, in order
            line = w.get("line") if isinstance(w, dict) else None
            cond = w.get("condition") if isinstance(w, dict) else None
            given = line + self.line_shift if isinstance(line, int) else 0
            bp = Breakpoint(next(self.ids), given,
                            cond if isinstance(cond, str) and cond.strip() else None,
                            {k: source[k] for k in ("name", "path") if k in source})
            bps.append(bp)
        key = norm_path(path, self.launch.cwd if self.launch else ".") if isinstance(
            path, str) else ""
        if self.launch is not None:
            for bp in bps:
                self.bind(bp, key)
        elif not isinstance(path, str):
            for bp in bps:
                bp.message = "a breakpoint needs a source file with a path"
        self.breakpoints[key] = bps
        self.index()
        self.channel.respond(req, {"breakpoints": [bp.to_dap(self.line_shift) for bp in bps]})

    def on_setExceptionBreakpoints(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        filters = args.get("filters") if isinstance(args.get("filters"), list) else []
        assert isinstance(filters, list)
        self.failed_filter = "failed" in filters
        self.channel.respond(req, {"breakpoints": [{"verified": f == "failed"}
                                                   for f in filters]})

    def bind(self, bp: Breakpoint, path: str) -> None:
        """The task ``bp``'s line is in (the innermost; every instance of a template's task),
        and its condition compiled in that task's scope."""
        assert self.launch is not None
        here = [n for n in self.tasks_in.get(path, ())
                if n.src is not None and n.src.line <= bp.line <= n.src.end_line]
        bp.nodes, bp.conditions, bp.verified = [], {}, False
        if not here:
            bp.message = (f"no task on line {bp.line}: the run stops before tasks start, so a "
                          "breakpoint goes on a line of a task")
            return

        def size(n: M.TaskNode) -> tuple[int, int]:
            assert n.src is not None
            return (n.src.end_line - n.src.line, n.src.end_column - n.src.column)

        inner = min(size(n) for n in here)
        first = min((n for n in here if size(n) == inner),
                    key=lambda n: (n.src.line, n.src.column) if n.src else (0, 0))
        bp.nodes = [n for n in here if n.src == first.src]
        bp.message = None
        if bp.condition is not None:
            try:
                for n in bp.nodes:
                    bp.conditions[n.id] = self.launch.expressions.condition(bp.condition, n)
            except ExpressionError as e:
                bp.message = f"condition: {e}"
                bp.conditions = {}
                return
        bp.verified = True

    def index(self) -> None:
        self.by_node = {}
        for bps in self.breakpoints.values():
            for bp in bps:
                if bp.verified:
                    for n in bp.nodes:
                        self.by_node.setdefault(n.id, []).append(bp)

    # ------------------------------------------------------------------ the run
    def start(self) -> None:
        launch = self.launch
        assert launch is not None
        options = RunOptions(max_concurrency=launch.max_concurrency,
                             observer=None if launch.no_debug else self)
        self.engine = Engine(launch.program, launch.agents, Fanout([self.console]), options)
        self.entry_pending = launch.stop_on_entry and not launch.no_debug
        self.run = asyncio.ensure_future(self.execute(self.engine, launch))

    async def execute(self, engine: Engine, launch: Launch) -> None:
        """Run, then say how the run ended (the outputs, or the error), then ``exited`` and
        ``terminated``."""
        bug: BaseException | None = None
        try:
            await engine.run(launch.inputs)
        except asyncio.CancelledError:
            pass  # terminate, disconnect: engine.final says cancelled
        except Exception as e:  # noqa: BLE001 - a bug in the engine ends the run, said so
            bug = e
        self.finishing = True
        self.stopped = None
        self.console.flush()
        code = 1
        result = engine.final
        if bug is not None:
            text = "".join(traceback.format_exception(bug))
            print(text, file=sys.stderr, flush=True)
            self.channel.output(f"twdsl debug: internal error (a bug in twdsl, please report "
                                f"it):\n{text}", "important")
            code = 3
        elif result is not None:
            if result.status.value == "completed" and result.outputs is not None:
                self.channel.output(f"run {result.run_id} completed; outputs:\n"
                                    f"{json.dumps(result.outputs, indent=2)}\n", "stdout")
                code = 0
            else:
                err = result.error or {}
                where = f" ({err['source']})" if err.get("source") else ""
                task = f"task '{err['task']}'{where}: " if err.get("task") else (
                    f"{err['source']}: " if err.get("source") else "")
                self.channel.output(f"run {result.run_id} {result.status.value}: {task}"
                                    f"{err.get('kind', '')}: {err.get('message', '')}\n",
                                    "stderr")
        try:
            await launch.agents.aclose()  # HTTP agents' connection pools
        except Exception as e:  # noqa: BLE001 - closing pools must not hide the run's end
            print(f"twdsl debug: closing the agents: {e}", file=sys.stderr)
        self.channel.event("exited", {"exitCode": code})
        self.channel.event("terminated")

    async def cancel_run(self) -> None:
        """Cancel the run (if it goes on) and wait until its end is said."""
        if self.run is None:
            return
        if not self.run.done() and not self.finishing:
            self.run.cancel()
        await asyncio.wait([self.run])

    # ------------------------------------------------------------------ the observer
    async def before_task(self, engine: Engine, node: M.TaskNode, frame: Frame) -> None:
        await self.boundary("before", node, frame, None)

    async def after_task(self, engine: Engine, node: M.TaskNode, frame: Frame,
                         failure: Failed | None) -> None:
        await self.boundary("after", node, frame, failure)

    async def boundary(self, when: str, node: M.TaskNode, frame: Frame,
                       failure: Failed | None) -> None:
        while True:
            if self.stopped is None:
                stop = self.reason(when, node, frame, failure)
                if stop is not None:
                    await self.stop_at(stop)
                return
            await self.resumed.wait()  # the run is stopped elsewhere: queue here

    def reason(self, when: str, node: M.TaskNode, frame: Frame,
               failure: Failed | None) -> StopPoint | None:
        key = instance_key(node.id, frame.loops)
        if self.pause_requested:
            self.pause_requested = False
            return StopPoint("pause", when, node, frame, key, failure)
        if self.entry_pending and when == "before":
            self.entry_pending = False
            return StopPoint("entry", when, node, frame, key, failure)
        if when == "before":
            hits = [bp.id for bp in self.by_node.get(node.id, ()) if self.holds(bp, node, frame)]
            if hits:
                return StopPoint("breakpoint", when, node, frame, key, failure, hits)
        elif self.failed_filter and self.status(node, frame) in _FAILED:
            return StopPoint("exception", when, node, frame, key, failure)
        if self.step is not None:
            mode, origin = self.step
            if mode != "stepOut" or origin.node.parent not in self.ancestors(node):
                return StopPoint("step", when, node, frame, key, failure)
        return None

    def holds(self, bp: Breakpoint, node: M.TaskNode, frame: Frame) -> bool:
        cond = bp.conditions.get(node.id)
        if cond is None:
            return True
        assert self.engine is not None
        try:
            value = self.engine.eval(cond, self.task_frame(node, frame))
        except EvalError as e:
            self.channel.output(f"breakpoint condition `{bp.condition}` (line {bp.line}) "
                                f"cannot be computed for {instance_key(node.id, frame.loops)}: "
                                f"{e}; stopping there\n", "stderr")
            return True
        if not isinstance(value, bool):
            self.channel.output(f"breakpoint condition `{bp.condition}` (line {bp.line}) is "
                                f"{type_name(value)}, not a boolean; stopping there\n", "stderr")
            return True
        return value

    def task_frame(self, node: M.TaskNode, frame: Frame) -> Frame:
        """The frame the task's own expressions (``when``, ``input``) are evaluated in."""
        return frame.child({"task_id": instance_key(node.id, frame.loops), "retry_count": 0})

    def ancestors(self, node: M.TaskNode) -> set[str]:
        assert self.launch is not None
        nodes = self.launch.program.nodes
        out: set[str] = set()
        p = node.parent
        while p is not None:
            out.add(p)
            p = nodes[p].parent
        return out

    def status(self, node: M.TaskNode, frame: Frame) -> str:
        assert self.engine is not None
        rec = self.engine.records.get((node.id, tuple(i for _, i in frame.loops)))
        return rec.status.value if rec is not None else "pending"

    async def stop_at(self, stop: StopPoint) -> None:
        self.stopped = stop
        self.step = None
        self.resumed.clear()
        self.refs.clear()
        self.frames.clear()
        if stop.when == "before":
            text = f"before {stop.key} starts"
        else:
            text = f"{stop.key} {self.status(stop.node, stop.frame)}"
            if stop.failure is not None:
                text += f": {stop.failure.error.kind.value}: {stop.failure.error.message}"
        self.console.flush()  # what happened up to the stop, before the stop
        body: dict[str, Any] = {"reason": stop.reason, "threadId": THREAD,
                                "allThreadsStopped": True, "description": text}
        if stop.breakpoints:
            body["hitBreakpointIds"] = stop.breakpoints
        self.channel.event("stopped", body)
        await self.resumed.wait()

    def resume(self) -> None:
        self.stopped = None
        self.refs.clear()
        self.frames.clear()
        self.resumed.set()

    # ------------------------------------------------------------------ execution control
    def on_continue(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        self.resume()
        self.channel.respond(req, {"allThreadsContinued": True})

    def stepping(self, req: dict[str, Any], mode: str) -> None:
        if self.stopped is not None:
            self.step = (mode, self.stopped)
            self.resume()
        self.channel.respond(req)

    def on_next(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        self.stepping(req, "next")

    def on_stepIn(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        self.stepping(req, "stepIn")

    def on_stepOut(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        self.stepping(req, "stepOut")

    def on_pause(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        if self.stopped is None and not self.finishing:
            self.pause_requested = True
        self.channel.respond(req)

    async def on_terminate(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        await self.cancel_run()
        self.channel.respond(req)

    async def on_disconnect(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        await self.cancel_run()
        self.channel.respond(req)
        self.closing.set()

    # ------------------------------------------------------------------ what is shown
    def on_threads(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        name = "run"
        if self.launch is not None:
            run = f" {self.engine.run_id}" if self.engine is not None else ""
            name = f"run{run} of {self.launch.program.workflow}"
        self.channel.respond(req, {"threads": [{"id": THREAD, "name": name}]})

    def on_stackTrace(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        stop = self.stopped
        if stop is None:
            self.channel.fail(req, "the run is not stopped", show=False)
            return
        frames = []
        for depth, (name, src) in enumerate(self.stack(stop)):
            fid = next(self.frame_ids)
            self.frames[fid] = depth
            frame: dict[str, Any] = {"id": fid, "name": name, "line": 0, "column": 0}
            if src is not None:
                assert self.launch is not None
                path = norm_path(src.file, self.launch.cwd)
                # no end: VS Code would select the whole task or block
                frame.update(line=src.line - self.line_shift,
                             column=src.column - self.column_shift,
                             source={"name": path.rsplit("/", 1)[-1], "path": path})
            frames.append(frame)
        start = args.get("startFrame") if isinstance(args.get("startFrame"), int) else 0
        levels = args.get("levels") if isinstance(args.get("levels"), int) else 0
        assert isinstance(start, int) and isinstance(levels, int)
        shown = frames[start:start + levels] if levels > 0 else frames[start:]
        self.channel.respond(req, {"stackFrames": shown, "totalFrames": len(frames)})

    def stack(self, stop: StopPoint) -> list[tuple[str, M.SourceRef | None]]:
        """The task, then the blocks around it, innermost first: ``generateFeatureTests[2]``,
        ``foreach feature[2]``, ``parallel``, ``workflow W``."""
        assert self.launch is not None
        program = self.launch.program
        nodes = program.nodes
        top = stop.key if stop.when == "before" else \
            f"{stop.key} ({self.status(stop.node, stop.frame)})"
        out: list[tuple[str, M.SourceRef | None]] = [(top, stop.node.src)]
        loops = dict(stop.frame.loops)
        child, nid = stop.node.id, stop.node.parent
        while nid is not None:
            n = nodes[nid]
            name: str | None = None
            if isinstance(n, M.BlockNode):
                if n.role in ("parallel", "sequence"):
                    name = n.role
                elif n.role == "use":
                    name = f"use {n.label}" if n.label else "use"
                elif n.role == "handler":
                    name = _handler_name(n, nodes.get(n.parent) if n.parent else None, program)
            elif isinstance(n, M.ForeachNode):
                name = f"foreach {n.var}[{loops.get(n.id, '?')}]"
            elif isinstance(n, M.WhileNode):
                name = f"while[{loops.get(n.id, '?')}]"
            elif isinstance(n, M.IfNode):
                k = next((i for i, b in enumerate(n.branches) if b.body == child), None)
                name = "if" if k == 0 else "else if" if k is not None else "else"
            elif isinstance(n, M.SwitchNode):
                k = next((i for i, c in enumerate(n.cases) if c.body == child), None)
                name = f"switch case {k + 1}" if k is not None else "switch default"
            elif isinstance(n, M.TaskNode):
                name = instance_key(n.id, tuple(
                    (loop, i) for loop, i in stop.frame.loops
                    if loop in self.ancestors(n)))
            if name is not None:
                out.append((name, n.src))
            child, nid = nid, n.parent
        out.append((f"workflow {program.workflow}", nodes[program.root].src))
        return out

    def on_scopes(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        stop = self.stopped
        if stop is None or args.get("frameId") not in self.frames:
            self.channel.fail(req, "the run is not stopped at this frame", show=False)
            return
        scopes = [
            ("Task", self.task_vars, False, None),
            ("Locals", self.local_vars, False, "locals"),
            ("Inputs", self.input_vars, False, "arguments"),
            ("Tasks", self.tasks_vars, False, None),
            ("Context", self.context_vars, False, None),
        ]
        out = []
        for name, make, expensive, hint in scopes:
            scope: dict[str, Any] = {"name": name, "variablesReference": self.refs.add(make),
                                     "expensive": expensive}
            if hint is not None:
                scope["presentationHint"] = hint
            out.append(scope)
        self.channel.respond(req, {"scopes": out})

    def on_variables(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        ref = args.get("variablesReference")
        found = self.refs.children(ref) if isinstance(ref, int) else None
        if found is None:
            self.channel.fail(req, "these variables are gone: the run went on", show=False)
            return
        start = args.get("start") if isinstance(args.get("start"), int) else 0
        count = args.get("count") if isinstance(args.get("count"), int) else 0
        assert isinstance(start, int) and isinstance(count, int)
        if args.get("filter") in ("indexed", "named") or start or count:
            found = found[start:start + count] if count > 0 else found[start:]
        self.channel.respond(req, {"variables": found})

    def task_vars(self) -> list[Variable]:
        """The stopped task instance: its status, agent, input (as it is or will be sent);
        after it ended, its attempts, result and error."""
        stop = self.stopped
        assert stop is not None and self.engine is not None
        n = stop.node
        out = [self.refs.variable("task", stop.key, None),
               self.refs.variable("agent", n.agent, None),
               self.refs.variable("status", self.status(n, stop.frame), None)]
        try:
            payload = self.engine.eval(n.input, self.task_frame(n, stop.frame)) \
                if n.input is not None else {}
            out.append(self.refs.variable("input", payload, None))
        except EvalError as e:
            out.append({"name": "input", "value": f"cannot be computed: {e}", "type": "error",
                        "variablesReference": 0})
        if stop.when == "after":
            rec = self.engine.records.get((n.id, tuple(i for _, i in stop.frame.loops)))
            if rec is not None:
                out.append(self.refs.variable("attempts", rec.attempts, None))
                out.append(self.refs.variable("result", rec.result,
                                              f"{n.name}.result" if not stop.frame.loops
                                              else None))
                if rec.error is not None:
                    out.append(self.refs.variable("error", rec.error, None))
        return out

    def local_vars(self) -> list[Variable]:
        """Loop variables, template parameters, ``error`` in handlers…: every name of the
        task's frame but the inputs (the root frame), the nearest first."""
        stop = self.stopped
        assert stop is not None
        out: list[Variable] = []
        seen: set[str] = set()
        f: Frame | None = stop.frame
        while f is not None and f.parent is not None:
            for name, value in f.vars.items():
                if name not in seen and not name.startswith(X.COMPILER_PREFIX):
                    seen.add(name)
                    out.append(self.refs.variable(name, value, name))
            f = f.parent
        return out

    def input_vars(self) -> list[Variable]:
        assert self.engine is not None
        return [self.refs.variable(k, v, k) for k, v in self.engine.inputs.items()]

    def context_vars(self) -> list[Variable]:
        assert self.engine is not None
        context = self.engine.builtins.get("context") or {}
        return [self.refs.variable(k, v, f"context.{k}") for k, v in context.items()]

    def tasks_vars(self) -> list[Variable]:
        """Every task instance that started or ended, by task in the program's order: its
        status and result; a task in a loop lists its instances (``[2]``, ``[1,0]``)."""
        assert self.engine is not None and self.launch is not None
        engine = self.engine
        by_node: dict[str, list[tuple[tuple[int, ...], Any]]] = {}
        for (nid, path), rec in engine.records.items():
            by_node.setdefault(nid, []).append((path, rec))
        out: list[Variable] = []
        for nid, node in self.launch.program.nodes.items():
            if nid not in by_node or not isinstance(node, M.TaskNode):
                continue
            records = sorted(by_node[nid], key=lambda pr: pr[0])
            if not engine.loops_of.get(nid):
                out.append(self.task_var(node.name, records[0][1], node.name))
                continue

            def instances(records: list[Any] = records) -> list[Variable]:
                return [self.task_var(f"[{','.join(map(str, p))}]", r, None)
                        for p, r in records]

            n = len(records)
            out.append({"name": node.name, "value": f"{n} instance{'s' if n != 1 else ''}",
                        "type": "task", "variablesReference": self.refs.add(instances),
                        "indexedVariables": n})
        return out

    def task_var(self, name: str, rec: Any, evaluate: str | None) -> Variable:
        status = rec.status.value
        text = status
        if status == "completed":
            text = f"completed: {show(rec.result)}"
        elif rec.error is not None:
            text = f"{status}: {rec.error.get('kind')}: {rec.error.get('message')}"

        def fields() -> list[Variable]:
            out = [self.refs.variable("status", status, f"{evaluate}.status" if evaluate
                                      else None),
                   self.refs.variable("result", rec.result, f"{evaluate}.result" if evaluate
                                      else None),
                   self.refs.variable("attempts", rec.attempts, None)]
            if rec.error is not None:
                out.append(self.refs.variable("error", rec.error, None))
            return out

        return {"name": name, "value": text, "type": "task",
                "variablesReference": self.refs.add(fields)}

    def on_evaluate(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        text = args.get("expression")
        stop = self.stopped
        if not isinstance(text, str):
            self.channel.fail(req, "no expression was given", show=False)
            return
        if stop is None or self.launch is None or self.engine is None:
            self.channel.fail(req, "the run is not stopped at a task: expressions are "
                                   "evaluated where it stops", show=False)
            return
        try:
            try:
                expr = self.launch.expressions.value(text, stop.node)
            except ExpressionError:
                # a task's name alone is no value (TW301): a hover over it shows its result
                if args.get("context") != "hover" or not text.strip().isidentifier():
                    raise
                expr = self.launch.expressions.value(f"{text.strip()}.result", stop.node)
            value = self.engine.eval(expr, self.task_frame(stop.node, stop.frame))
        except (ExpressionError, EvalError) as e:
            self.channel.fail(req, str(e), show=False)
            return
        var = self.refs.variable("", value, text.strip())
        body = {"result": var["value"], "type": var["type"],
                "variablesReference": var["variablesReference"]}
        for k in ("indexedVariables", "namedVariables"):
            if k in var:
                body[k] = var[k]
        self.channel.respond(req, body)

    def on_source(self, req: dict[str, Any], args: dict[str, Any]) -> None:
        self.channel.fail(req, "the source is the workflow's file on disk", show=False)


def _handler_name(block: M.BlockNode, owner: Any, program: M.Program) -> str:
    handler = owner.on_error if isinstance(owner, M.TaskNode) else program.on_error
    success = owner.on_success if isinstance(owner, M.TaskNode) else program.on_success
    if block.id == success:
        return "on_success"
    for part in ("fallback", "compensate"):
        if getattr(handler, part) == block.id:
            return f"on_error {part}"
    return "on_error"


class ConsoleLog:
    """The run's events as the debug console's lines (the lines of ``twdsl run``), sent in
    one ``output`` event per :data:`BATCH` seconds (a loop of thousands of tasks would
    otherwise be thousands of messages), and at once before the run stops or ends."""

    BATCH = 0.05

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.lines: list[str] = []
        self.timer: asyncio.TimerHandle | None = None

    def emit(self, event: Event) -> None:
        line = TextLog.format(event)
        if line:
            self.lines.append(line + "\n")
            if self.timer is None:
                self.timer = asyncio.get_running_loop().call_later(self.BATCH, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.lines:
            text, self.lines = "".join(self.lines), []
            self.channel.output(text, "stdout")


__all__ = ["CAPABILITIES", "DebugSession", "Launch", "LaunchError", "Prepare"]
