"""Mock agents and injected faults, behind the engine's agent interface (``get(name)``).

Each agent the workflow calls is, in a test, one of: a :class:`~twdsl.testing.spec.Mock`
(fixed result, results chosen by input, results generated from the signature, or an error),
or a built-in agent left as it is (``echo``, ``sleep``, ``fail``, ``flaky``, ``log``: they
do no real work, and ``sleep`` sleeps on the virtual clock).  Faults come first: an attempt a
fault names fails with its kind, or hangs until the task's timeout cancels it.  Nothing here
reads the configuration's ``[agents]`` bindings: a test never calls a real agent.

Mocks have no circuit breaker (like the built-ins): a test that injects ten faults sees ten
failures of the kinds it asked for.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from twdsl.ir.model import TypeRef
from twdsl.runtime.agents import AgentCall
from twdsl.runtime.agents.builtin import BUILTINS
from twdsl.runtime.errors import ConfigurationError, ErrorKind, TaskError
from twdsl.testing.compare import matches, show
from twdsl.testing.spec import ErrorSpec, Fault, Mock

#: The name of the mock that stands for every agent without one of its own.
ANY_AGENT = "*"


def generate(t: TypeRef | None, rng: random.Random, name: str, now: datetime) -> Any:
    """A value that fits ``t`` (twdsl.lang.conform), drawn from ``rng``: strings named after
    their field (``build_path-3f9a``), numbers from 0 to 100, arrays of 0 to 3 items, every
    field of a record filled (optional ones too), ``any`` as null.

    >>> import random
    >>> from datetime import UTC, datetime
    >>> T = TypeRef
    >>> t = T(kind="record", fields={"url": T(kind="url"), "ok": T(kind="boolean")})
    >>> generate(t, random.Random(1), "Deploy", datetime(2026, 1, 1, tzinfo=UTC))
    {'url': 'https://example.test/url-44cb', 'ok': False}
    """
    if t is None:
        return None
    k = t.kind
    if k in ("string", "url", "file"):
        tag = f"{name}-{rng.randrange(16 ** 4):04x}"
        return {"string": tag, "url": f"https://example.test/{tag}", "file": f"{tag}.txt"}[k]
    if k == "number":
        return rng.randint(0, 100)
    if k == "boolean":
        return rng.random() < 0.5
    if k == "duration":
        return rng.randint(1, 3600)
    if k == "datetime":
        moment = now + timedelta(seconds=rng.randint(0, 30 * 86400))
        return moment.isoformat().replace("+00:00", "Z")
    if k == "object":
        return {}
    if k == "optional":
        return generate(t.of, rng, name, now)
    if k == "array":
        return [generate(t.of, rng, name, now) for _ in range(rng.randint(0, 3))]
    if k == "record":
        return {f: generate(ft, rng, f, now) for f, ft in (t.fields or {}).items()}
    return None  # any, null, or a kind this version does not know


@dataclass(slots=True)
class Call:
    """One call of an agent in a test, as the mock saw it."""

    agent: str
    task: str
    key: str
    attempt: int
    input: Any
    at: float  # virtual seconds since the run started
    outcome: str = "running"  # result, error:KIND, hang, cancelled
    ended: int | None = None  # how many events had been emitted when the call ended
    ended_at: float = 0.0


@dataclass(slots=True)
class MockProblem:
    """A call no mock could answer: the test's mistake, reported as a failure."""

    line: int
    message: str


@dataclass
class MockAgents:
    """The engine's agent registry for one test run (``get(name)`` as ``Agents`` says)."""

    mocks: dict[str, Mock]
    faults: list[Fault]
    outputs: dict[str, TypeRef | None]  # each agent's declared output type
    seed: int
    now: datetime
    clock: Callable[[], float]
    position: Callable[[], int]  # how many events the run has emitted so far
    calls: list[Call] = field(default_factory=list)
    problems: list[MockProblem] = field(default_factory=list)

    def mock_for(self, name: str) -> Mock | None:
        if name in self.mocks:
            return self.mocks[name]
        if name in BUILTINS:
            return None
        return self.mocks.get(ANY_AGENT)

    def get(self, name: str) -> Callable[[AgentCall], Awaitable[Any]]:
        mock = self.mock_for(name)
        if mock is None and name not in BUILTINS:
            raise ConfigurationError(f"agent '{name}' has no mock in this test")

        async def agent(call: AgentCall) -> Any:
            return await self.call(name, mock, call)

        return agent

    async def call(self, name: str, mock: Mock | None, call: AgentCall) -> Any:
        record = Call(name, call.task, call.context.get("key", call.task), call.attempt,
                      call.input, self.clock())
        self.calls.append(record)
        try:
            fault = self.fault_for(call)
            if fault is not None and fault.hang:
                record.outcome = "hang"
                await asyncio.get_running_loop().create_future()  # until cancelled
            if fault is not None and fault.error is not None:
                raise _error(fault.error, f"injected fault: attempt {call.attempt} of task "
                             f"'{call.task}' fails")
            if mock is None:
                value = await BUILTINS[name](call)
            else:
                if mock.delay:
                    await asyncio.sleep(mock.delay)
                value = self.answer(name, mock, call)
            record.outcome = "result"
            return value
        except TaskError as e:
            record.outcome = f"error:{e.kind.value}"
            raise
        except asyncio.CancelledError:
            if record.outcome == "running":
                record.outcome = "cancelled"
            raise
        finally:
            record.ended, record.ended_at = self.position(), self.clock()

    def fault_for(self, call: AgentCall) -> Fault | None:
        """The first fault that names this attempt (by its task or its agent)."""
        loops = list(call.context.get("loops") or [])
        for f in self.faults:
            if f.attempts is not None and call.attempt not in f.attempts:
                continue
            if f.agent is not None and f.agent == call.agent:
                return f
            if f.task is not None and f.task.name == call.task and (
                    f.task.index is None or list(f.task.index) == loops):
                return f
        return None

    def answer(self, name: str, mock: Mock, call: AgentCall) -> Any:
        for case in mock.cases:
            if matches(case.when, call.input):
                if case.error is not None:
                    raise _error(case.error, f"mock '{name}' fails (case at line {case.line})")
                return case.result
        if mock.error is not None:
            raise _error(mock.error, f"mock '{name}' fails")
        if mock.has_result:
            return mock.result
        if mock.generate:
            seed = mock.seed if mock.seed is not None else self.seed
            rng = random.Random(f"{seed}|{name}|{call.context.get('key', call.task)}")
            return generate(self.outputs.get(name), rng, name, self.now)
        message = (f"mock agents.{mock.agent}: no case matches the input of task "
                   f"'{call.task}' (attempt {call.attempt}): {show(call.input)}")
        self.problems.append(MockProblem(mock.line, message))
        raise TaskError(ErrorKind.VALIDATION, message)


def _error(spec: ErrorSpec, default: str) -> TaskError:
    return TaskError(ErrorKind(spec.kind), spec.message or default)


__all__ = ["ANY_AGENT", "Call", "MockAgents", "MockProblem", "generate"]
