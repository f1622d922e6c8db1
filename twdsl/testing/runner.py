"""Running workflow tests: each test's workflow, compiled as ``twdsl run`` compiles it, runs on
the real engine with mock agents, on a virtual clock, with no state store; then its
expectations are checked against what happened.

:func:`prepare` checks the tests against their compiled workflows (agents and tasks named,
inputs validated by :func:`twdsl.runtime.inputs.validate_inputs`, mock results against the
agents' signatures) and returns every problem at once; :func:`run_test` runs one.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twdsl.ir.model import Program, TaskNode
from twdsl.lang.conform import problem as misfit
from twdsl.lang.values import format_duration
from twdsl.runtime.agents.builtin import BUILTINS
from twdsl.runtime.engine import Engine, RunOptions, RunResult
from twdsl.runtime.events import Event, Fanout
from twdsl.runtime.inputs import InputError, validate_inputs
from twdsl.suggest import closest
from twdsl.testing.clock import Hung, VirtualLoop
from twdsl.testing.compare import differences, show
from twdsl.testing.mocks import ANY_AGENT, Call, MockAgents
from twdsl.testing.spec import ErrorSpec, Expect, Problem, Selector, TestCase, TestFile

#: The run id every test run has (so that outputs showing it are stable).
RUN_ID = "test"
_KEY = re.compile(r"(?P<node>.*?)(?:\[(?P<index>\d+(?:,\d+)*)\])?")
_FINAL_EVENTS = frozenset({"task.completed", "task.failed", "task.timeout", "task.skipped",
                           "task.cancelled", "task.cached", "task.reused"})


class LoadError(Exception):
    """The workflow a test file names cannot be compiled or loaded (the message says why)."""


@dataclass(slots=True)
class Loaded:
    program: Program
    max_concurrency: int = 16  # the configuration's [run] max_concurrency, as `twdsl run`


#: Compiles (or loads) ``file``'s ``workflow`` as ``twdsl run`` does; raises LoadError.
Loader = Callable[[Path, str | None], Loaded]


@dataclass(slots=True)
class Prepared:
    test: TestCase
    loaded: Loaded
    inputs: dict[str, Any]


@dataclass(slots=True)
class Failure:
    line: int
    message: str


@dataclass(slots=True)
class Outcome:
    test: TestCase
    status: str  # passed, failed, skipped
    failures: list[Failure] = field(default_factory=list)
    virtual_time: float = 0.0
    wall_time: float = 0.0
    run_status: str | None = None
    workflow: str | None = None


# -- checking tests against their workflows ----------------------------------------------------

def prepare(files: list[TestFile], tests: list[TestCase], loader: Loader
            ) -> tuple[list[Prepared], list[Problem]]:
    """Each test with its compiled workflow and validated inputs, or every problem found."""
    loaded: dict[tuple[Path, str | None], Loaded | None] = {}
    problems: list[Problem] = []
    for tf in files:
        key = (tf.target.resolve(), tf.workflow)
        if key in loaded or not any(t.file is tf for t in tests):
            continue
        try:
            loaded[key] = loader(tf.target, tf.workflow)
        except LoadError as e:
            loaded[key] = None
            problems.append(Problem(tf.path, tf.target_line, str(e)))
    out = []
    for t in tests:
        done = loaded.get((t.file.target.resolve(), t.file.workflow))
        if done is None:
            continue
        found = check(t, done.program)
        inputs: dict[str, Any] = {}
        try:
            inputs = validate_inputs(done.program, dict(t.inputs))
        except InputError as e:
            found += [Problem(t.file.path, t.inputs_line, f"test {_q(t.name)}: "
                              + re.sub(r": pass --input (\S+)=…$", r": add \1 = … to inputs", p))
                      for p in e.problems]
        problems += found
        if not found:
            out.append(Prepared(t, done, inputs))
    return out, problems


def task_names(program: Program) -> list[str]:
    return sorted({n.name for n in program.nodes.values() if isinstance(n, TaskNode)})


def check(t: TestCase, program: Program) -> list[Problem]:
    """What the test names that the workflow does not have; mock results that do not fit
    their agent's signature."""
    out: list[Problem] = []
    agents = program.agents
    tasks = task_names(program)
    label = f"test {_q(t.name)}"

    def add(line: int, message: str) -> None:
        out.append(Problem(t.file.path, line, message))

    def known_task(sel: Selector | None, line: int, what: str) -> None:
        if sel is not None and sel.name not in tasks:
            hint = closest(sel.name, tasks)
            add(line, f"{label}: {what} names task '{sel.name}', which {program.workflow} does "
                "not have" + (f" (did you mean '{hint}'?)" if hint else "")
                + f"; its tasks: {', '.join(tasks)}")

    for name, mock in t.mocks.items():
        if name != ANY_AGENT and name not in agents:
            hint = closest(name, agents)
            add(mock.line, f"{label}: agents.{name}: {program.workflow} calls no agent "
                f"'{name}'" + (f" (did you mean '{hint}'?)" if hint else "")
                + f"; it calls: {', '.join(sorted(agents))}")
            continue
        covered = [name] if name != ANY_AGENT else [
            a for a in sorted(agents) if a not in t.mocks and a not in BUILTINS]
        for a in covered:
            output = agents[a].output
            if mock.generate and output is None:
                add(mock.line, f"{label}: agents.{name}: generate = true needs the agent's "
                    f"declared output, and '{a}' has no signature with one; give result or "
                    "cases")
            if output is None:
                continue
            answers = [(mock.line, "result", mock.result)] if mock.has_result else []
            answers += [(c.line, "cases", c.result) for c in mock.cases if c.error is None]
            for line, what, value in answers:
                wrong = misfit(value, output)
                if wrong is not None:
                    add(line, f"{label}: agents.{name}.{what}: the result does not fit the "
                        f"signature of '{a}' (output {output}): "
                        f"{wrong if wrong[0] != 's' else 'it ' + wrong}")
    unmocked = [a for a in sorted(agents) if a not in BUILTINS and a not in t.mocks
                and ANY_AGENT not in t.mocks]
    for a in unmocked:
        users = sorted({n.name for n in program.nodes.values()
                        if isinstance(n, TaskNode) and n.agent == a})
        add(t.line, f"{label}: agent '{a}' (task{'s' if len(users) > 1 else ''} "
            f"{', '.join(users)}) has no mock: add [test.agents.{a}] (or [agents.{a}] for "
            "every test of the file) with result, cases, generate = true or error")
    for f in t.faults:
        known_task(f.task, f.line, "a fault")
        if f.agent is not None and f.agent not in agents:
            hint = closest(f.agent, agents)
            add(f.line, f"{label}: a fault names agent '{f.agent}', which {program.workflow} "
                "does not call" + (f" (did you mean '{hint}'?)" if hint else ""))
    for e in t.expects:
        if e.task is not None:
            known_task(e.task, e.line, f"expect.tasks.{e.what[1]}")
        elif e.what[0] in ("ran", "not_ran", "order"):
            for sel in e.value:
                known_task(sel, e.line, f"expect.{e.what[0]}")
    return out


def _q(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


# -- running one test ---------------------------------------------------------------------

class _Events:
    """Every event, with the virtual time it happened at."""

    def __init__(self, loop: VirtualLoop) -> None:
        self.loop = loop
        self.events: list[tuple[float, Event]] = []

    def emit(self, event: Event) -> None:
        self.events.append((self.loop.time(), event))


@dataclass(slots=True)
class Instance:
    """What one task instance did."""

    label: str  # name, plus [i,j] in loops
    name: str
    index: tuple[int, ...]
    status: str = "pending"
    attempts: int = 0
    result: Any = None
    error: dict[str, Any] | None = None
    input: Any = None
    errors: list[str] = field(default_factory=list)  # the kind of each failed attempt
    started: int | None = None  # position of its first task.started among the events
    #: how many events had been emitted when its last attempt ended (else when it ended): it
    #: ended before another started when this is at most the other's ``started``
    ended: int | None = None
    started_at: float = 0.0
    ended_at: float = 0.0

    def selected(self, sel: Selector) -> bool:
        return self.name == sel.name and (sel.index is None or sel.index == self.index)


def run_test(p: Prepared) -> Outcome:
    """Run the test's workflow on the virtual clock with its mocks; check what it expects."""
    t = p.test
    program = p.loaded.program
    outcome = Outcome(t, "skipped", workflow=program.workflow)
    if t.skip is not None:
        return outcome
    wall = time.perf_counter()
    loop = VirtualLoop()
    epoch = t.now.timestamp()
    sink = _Events(loop)
    mocks = MockAgents(t.mocks, t.faults, {n: a.output for n, a in program.agents.items()},
                       t.seed, t.now, loop.time, lambda: len(sink.events))
    options = RunOptions(run_id=RUN_ID, max_concurrency=p.loaded.max_concurrency, seed=t.seed,
                         env=t.env, clock=lambda: epoch + loop.time())
    hung: list[float] = []

    async def main() -> RunResult | None:
        engine = Engine(program, mocks, Fanout([sink]), options)
        task = asyncio.ensure_future(engine.run(p.inputs))

        def idle() -> None:
            hung.append(loop.time())
            task.cancel()

        loop.on_idle = idle
        try:
            return await task
        except asyncio.CancelledError:
            return engine.final

    runner = asyncio.Runner(loop_factory=lambda: loop)
    result: RunResult | None = None
    try:
        result = runner.run(main())
    except Hung:
        hung.append(loop.time())
    finally:
        runner.close()
    outcome.virtual_time = loop.now
    failures: list[Failure] = []
    if hung:
        waiting = [f"'{c.task}' (attempt {c.attempt})" for c in mocks.calls
                   if c.outcome in ("hang", "cancelled", "running")]
        hint = ("; a fault with timeout = true makes an attempt hang until the task's "
                "timeout, and this task has none" if any(c.outcome == "hang"
                                                         for c in mocks.calls) else "")
        failures.append(Failure(t.line, f"the run hung at {_vt(hung[0])} of virtual time: "
                                "nothing was left to happen"
                                + (f", and {', '.join(waiting)} still waited" if waiting
                                   else "") + hint))
    failures += [Failure(m.line, m.message) for m in mocks.problems]
    if result is not None:
        outcome.run_status = result.status.value
        if not hung:
            failures += Observed(program, result, sink.events, mocks.calls).check(t.expects)
    failures.sort(key=lambda f: f.line)
    outcome.failures = failures
    outcome.status = "failed" if failures else "passed"
    outcome.wall_time = time.perf_counter() - wall
    return outcome


def _node_of(key: str) -> str:
    m = _KEY.fullmatch(key)
    return m.group("node") if m else key


def _vt(seconds: float) -> str:
    return format_duration(round(seconds, 6))


class Observed:
    """What a run did (its result, events and agent calls), checked against a test's
    expectations."""

    def __init__(self, program: Program, result: RunResult,
                 events: list[tuple[float, Event]], calls: list[Call]) -> None:
        self.result = result
        self.instances: dict[str, Instance] = {}
        for key, rec in result.tasks.items():
            m = _KEY.fullmatch(key)
            assert m is not None
            node = program.nodes.get(m.group("node"))
            name = node.name if isinstance(node, TaskNode) else m.group("node")
            index = tuple(int(i) for i in m.group("index").split(",")) if m.group("index") \
                else ()
            label = name + (f"[{m.group('index')}]" if m.group("index") else "")
            self.instances[key] = Instance(label, name, index, rec.status.value, rec.attempts,
                                           rec.result, rec.error)
        for i, (at, e) in enumerate(events):
            inst = self.instances.get(e.key or "")
            if inst is None:
                continue
            if e.type == "task.started":
                if inst.started is None:
                    inst.started, inst.started_at = i, at
                    inst.input = e.data.get("input")
            elif e.type in _FINAL_EVENTS and inst.ended is None:
                inst.ended, inst.ended_at = i + 1, at
        # A task ended when its last attempt ended (its on_error handler, if any, runs after)
        for c in sorted(calls, key=lambda c: c.attempt):
            inst = self.instances.get(c.key)
            if inst is not None and c.outcome.startswith("error:"):
                inst.errors.append(c.outcome.removeprefix("error:"))
            elif inst is not None and c.outcome in ("hang", "cancelled"):
                # stopped by the scheduler: by the task's own timeout, or cancelled
                node = program.nodes.get(_node_of(c.key))
                limit = node.timeout if isinstance(node, TaskNode) else None
                timed_out = limit is not None and c.ended_at - c.at >= limit - 1e-9
                inst.errors.append("timeout" if timed_out else "cancelled")
            if inst is not None and c.ended is not None and (
                    inst.ended is None or inst.attempts and c.attempt == inst.attempts):
                inst.ended, inst.ended_at = c.ended, c.ended_at
        self.end = events[-1][0] if events else 0.0

    def select(self, sel: Selector) -> list[Instance]:
        found = [i for i in self.instances.values() if i.selected(sel)]
        return found or [Instance(str(sel), sel.name, sel.index or ())]  # never reached

    def check(self, expects: list[Expect]) -> list[Failure]:
        out: list[Failure] = []
        for e in expects:
            for message in self.one(e):
                out.append(Failure(e.line, message))
        return out

    def one(self, e: Expect) -> list[str]:
        r = self.result
        key = e.what[0]
        if key == "status":
            if r.status.value == e.value:
                return []
            return [f"status: expected {show(e.value)}, got {show(r.status.value)}"
                    + self.why()]
        if key in ("outputs", "outputs_match"):
            if r.outputs is None:
                return [f"{key}: expected {show(e.value)}, but the run has no outputs (it "
                        f"{r.status.value}{self.why(bare=True)})"]
            return differences(e.value, r.outputs, "outputs", partial=key == "outputs_match")
        if key == "error":
            return self.error(e.value)
        if key == "ran":
            return [f"ran: '{s}' did not run ({self.state(s)})" for s in e.value
                    if not any(i.attempts for i in self.select(s))]
        if key == "not_ran":
            out = []
            for s in e.value:
                ran = [i for i in self.select(s) if i.attempts]
                if ran:
                    out.append(f"not_ran: '{s}' ran ("
                               + ", ".join(f"{i.label}: {i.attempts} attempt"
                                           f"{'s' if i.attempts > 1 else ''}" for i in ran)
                               + ")")
            return out
        if key == "order":
            return self.order(e.value)
        if key == "time":
            if abs(self.end - e.value) <= 1e-6:
                return []
            return [f"time: expected {_vt(e.value)} of virtual time, the run took "
                    f"{_vt(self.end)}"]
        assert key == "tasks" and e.task is not None
        return [m for i in self.select(e.task) for m in self.task(i, e.what[2], e.value)]

    def why(self, bare: bool = False) -> str:
        err = self.result.error
        if not err:
            return ""
        where = f" ({err['source']})" if err.get("source") else ""
        task = f"task '{err['task']}'{where}: " if err.get("task") else ""
        text = f"{task}{err.get('kind')}: {err.get('message')}"
        return f": {text}" if bare else f" ({text})"

    def state(self, s: Selector) -> str:
        found = self.select(s)
        return ", ".join(f"{i.label}: {i.status}" for i in found)

    def error(self, want: dict[str, str]) -> list[str]:
        err = self.result.error
        if err is None:
            return [f"error: expected {show(want)}, but the run {self.result.status.value} "
                    "with no error"]
        out = []
        for k in ("kind", "task"):
            if k in want and want[k] != err.get(k):
                out.append(f"error.{k}: expected {show(want[k])}, got {show(err.get(k))}")
        if "message" in want and want["message"] not in str(err.get("message", "")):
            out.append(f"error.message: expected a message containing {show(want['message'])},"
                       f" got {show(err.get('message'))}")
        return out

    def order(self, chain: list[Selector]) -> list[str]:
        text = " < ".join(map(str, chain))
        for a, b in zip(chain, chain[1:], strict=False):
            before = [i for i in self.select(a) if i.started is not None]
            after = [i for i in self.select(b) if i.started is not None]
            for s, found in ((a, before), (b, after)):
                if not found:
                    return [f"order: '{text}': '{s}' did not run ({self.state(s)})"]
            last = max(before, key=lambda i: i.ended if i.ended is not None else 1 << 62)
            first = min(after, key=lambda i: i.started or 0)
            assert first.started is not None
            if last.ended is None or last.ended > first.started:
                return [f"order: '{text}': '{first.label}' started at {_vt(first.started_at)}, "
                        f"before '{last.label}' ended"
                        + (f" at {_vt(last.ended_at)}" if last.ended is not None else "")]
        return []

    def task(self, i: Instance, what: str, value: Any) -> list[str]:
        where = f"tasks.{i.label}"
        if what == "status":
            if i.status == value:
                return []
            err = f" ({i.error['kind']}: {i.error['message']})" if i.error else ""
            return [f"{where}.status: expected {show(value)}, got {show(i.status)}{err}"]
        if what == "attempts":
            return [] if i.attempts == value else [
                f"{where}.attempts: expected {value}, got {i.attempts}"]
        if what == "error":
            assert isinstance(value, ErrorSpec)
            if i.error is None:
                return [f"{where}.error: expected {show(value.kind)}, but the task has no error "
                        f"({i.status})"]
            out = []
            if i.error.get("kind") != value.kind:
                out.append(f"{where}.error: expected {show(value.kind)}, got "
                           f"{show(i.error.get('kind'))} ({i.error.get('message')})")
            if value.message is not None and value.message not in str(i.error.get("message")):
                out.append(f"{where}.error.message: expected a message containing "
                           f"{show(value.message)}, got {show(i.error.get('message'))}")
            return out
        if what == "errors":
            return [] if i.errors == value else [
                f"{where}.errors: expected {show(value)}, got {show(i.errors)}"]
        if what in ("input", "input_match") and i.started is None:
            return [f"{where}.{what}: expected {show(value)}, but the task never started "
                    f"({i.status})"]
        actual = i.result if what.startswith("result") else i.input
        return differences(value, actual, f"{where}.{what.split('_')[0]}",
                           partial=what.endswith("_match"))
