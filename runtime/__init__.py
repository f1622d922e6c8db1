"""The executor of compiled TWDSL programs (the IR): scheduler, agents, state, events.

It depends on the IR only (``twdsl.ir``), never on the compiler's AST, so a program compiled
elsewhere (``twdsl compile``) runs the same.  The Python API::

    from twdsl.compiler import compile_source
    from twdsl.runtime import run

    program = compile_source(text, "flow.twdsl").program
    result = run(program, {"name": "ada"}, agents={"Echo": {"python": "mymod:echo"}})
    result.status, result.outputs

See docs/runtime.md.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twdsl.runtime.engine import RunResult

if TYPE_CHECKING:
    from twdsl.ir.model import Program
    from twdsl.runtime.events import EventSink


def run(program: Program, inputs: dict[str, Any] | None = None, *,
        agents: dict[str, dict[str, Any]] | None = None, base_dir: Path | None = None,
        sinks: list[EventSink] | None = None, max_concurrency: int = 16) -> RunResult:
    """Validate ``inputs`` and run ``program`` to its end on a new event loop.  ``agents`` is
    a ``[agents]`` table (name → binding); built-in agents and the ``twdsl.agents`` entry
    points are found without it.  Raises InputError or ConfigurationError for a user's
    mistake; a failed run is a result, not an exception."""
    from twdsl.runtime.agents import AgentRegistry
    from twdsl.runtime.engine import Engine, RunOptions
    from twdsl.runtime.errors import ConfigurationError
    from twdsl.runtime.events import Fanout
    from twdsl.runtime.inputs import validate_inputs

    values = validate_inputs(program, inputs or {})
    registry = AgentRegistry(agents or {}, base_dir or Path.cwd())
    missing = registry.missing(sorted(program.agents))
    if missing:
        raise ConfigurationError("no agent is bound for " + ", ".join(map(repr, missing)))
    engine = Engine(program, registry, Fanout(list(sinks or [])),
                    RunOptions(max_concurrency=max_concurrency))

    async def go() -> RunResult:
        try:
            return await engine.run(values)
        finally:
            await registry.aclose()

    return asyncio.run(go())


__all__ = ["run"]
