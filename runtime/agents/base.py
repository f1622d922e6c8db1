"""What the scheduler hands an agent (:class:`AgentCall`) and what it expects back (:class:`Agent`).

The scheduler knows agents only through this interface, so a Python function, a subprocess
and a remote HTTP service look the same to it: an awaitable that takes one call and returns
a JSON value or raises :class:`~twdsl.runtime.errors.TaskError` with a classified kind.
Cancelling the awaiting asyncio task must stop the work (each agent kind documents how).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from twdsl.lang.values import EvalError, to_json
from twdsl.runtime.errors import ErrorKind, TaskError


@dataclass(frozen=True, slots=True)
class AgentCall:
    """One attempt of one task instance, as an agent sees it."""

    agent: str  #: the agent name the task gave
    task: str  #: the task's name
    node_id: str  #: the task node's id in the IR
    run_id: str
    workflow: str
    attempt: int  #: 1-based
    input: dict[str, Any]  #: the rendered input (JSON values)
    context: dict[str, Any]  #: run context: workflow, run_id, loop indexes, source, ...
    timeout: float | None  #: seconds this attempt may take (the scheduler enforces it too)


@runtime_checkable
class Agent(Protocol):
    """An implementation bound to an agent name.  ``await agent(call)`` returns the task's
    result (JSON-serializable) or raises TaskError; cancellation stops the work."""

    name: str

    async def __call__(self, call: AgentCall) -> Any: ...


def dumps(value: Any) -> str:
    """Compact JSON, the form given to commands and HTTP servers."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def ensure_json(agent: str, value: Any) -> Any:
    """``value`` as JSON data (what ``task.result`` can hold: tuples become lists, str enums
    their text, datetimes ISO text, as ``twdsl.lang.values.to_json`` says); a validation error
    when it has no JSON form: a result that cannot be stored or passed on is the same mistake
    on every attempt, so it is not worth retrying."""
    try:
        return to_json(value)
    except EvalError as e:
        raise TaskError(ErrorKind.VALIDATION,
                        f"agent '{agent}' returned a value that is not JSON: {e}") from None
