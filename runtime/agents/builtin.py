"""Built-in agents, for examples, tests and trying the runtime out without writing code.

Each is an async function of the AgentCall (no thread, cancellable at once) and checks its
input: a wrong input is a ``validation`` error naming the field.

- ``echo``: returns its input.
- ``sleep``: ``{seconds, result?}`` waits, then returns ``result`` (null without it).
- ``fail``: ``{message?, kind?, details?}`` fails with that kind (default ``agent``).
- ``flaky``: ``{failures?, kind?, message?, result?}`` fails attempts 1..``failures``
  (default 1) with ``kind`` (default ``transient``), then returns ``result``.  It depends
  on the attempt number only, so a run is reproducible.
- ``log``: ``{message}`` writes ``[task] message`` to stderr, returns null.

They are not behind a circuit breaker: they do not depend on anything that can be down, and
a test of ``on_error`` that fails ``fail`` ten times must see ten ``agent`` errors.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from twdsl.lang.agents import BUILTIN_AGENTS
from twdsl.runtime.agents.base import AgentCall, dumps
from twdsl.runtime.errors import ErrorKind, TaskError

_KINDS = {k.value: k for k in ErrorKind if k is not ErrorKind.CANCELLED}


def _field(call: AgentCall, key: str, types: type | tuple[type, ...], what: str,
           default: Any = ..., *, min_value: float | None = None) -> Any:
    if key not in call.input:
        if default is ...:
            raise TaskError(ErrorKind.VALIDATION,
                            f"agent '{call.agent}' needs input.{key} ({what})")
        return default
    value = call.input[key]
    allowed = types if isinstance(types, tuple) else (types,)
    bad = not isinstance(value, allowed) or isinstance(value, bool) and bool not in allowed
    if bad or min_value is not None and value < min_value:
        raise TaskError(ErrorKind.VALIDATION,
                        f"agent '{call.agent}': input.{key} must be {what}, not {dumps(value)}")
    return value


def _kind(call: AgentCall, default: ErrorKind) -> ErrorKind:
    name = _field(call, "kind", str, "an error kind", default.value)
    if name not in _KINDS:
        raise TaskError(ErrorKind.VALIDATION,
                        f"agent '{call.agent}': input.kind must be one of "
                        f"{', '.join(_KINDS)}, not {dumps(name)}")
    return _KINDS[name]


async def echo(call: AgentCall) -> Any:
    return call.input


async def sleep(call: AgentCall) -> Any:
    seconds = _field(call, "seconds", (int, float), "a number of seconds >= 0", min_value=0)
    await asyncio.sleep(seconds)
    return call.input.get("result")


async def fail(call: AgentCall) -> Any:
    kind = _kind(call, ErrorKind.AGENT)
    message = _field(call, "message", str, "a string", f"{call.task} failed (agent 'fail')")
    raise TaskError(kind, message, call.input.get("details"))


async def flaky(call: AgentCall) -> Any:
    failures = _field(call, "failures", int, "a whole number >= 0", 1, min_value=0)
    kind = _kind(call, ErrorKind.TRANSIENT)
    if call.attempt <= failures:
        message = _field(call, "message", str, "a string",
                         f"{call.task}: attempt {call.attempt} of the first {failures} fails "
                         "(agent 'flaky')")
        raise TaskError(kind, message, {"attempt": call.attempt, "failures": failures})
    return call.input.get("result")


async def log(call: AgentCall) -> Any:
    message = call.input.get("message", call.input)
    text = message if isinstance(message, str) else dumps(message)
    print(f"[{call.task}] {text}", file=sys.stderr, flush=True)
    return None


class BuiltinAgent:
    def __init__(self, name: str, func: Callable[[AgentCall], Awaitable[Any]]) -> None:
        self.name = name
        self.func = func

    async def __call__(self, call: AgentCall) -> Any:
        return await self.func(call)

    def __repr__(self) -> str:
        return f"BuiltinAgent({self.name!r})"


_IMPLEMENTATIONS: dict[str, Callable[[AgentCall], Awaitable[Any]]] = {
    "echo": echo, "sleep": sleep, "fail": fail, "flaky": flaky, "log": log}
#: The built-in agents, by the names twdsl.lang.agents gives them (the checker reads those).
BUILTINS = {name: _IMPLEMENTATIONS[name] for name in BUILTIN_AGENTS}
