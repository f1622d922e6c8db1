"""Where agents come from, as the checker and the runtime both see it (docs/agents.md).

A task's ``agent: "name"`` is found, in this order: an ``[agents.name]`` binding of the
configuration, an installed package's entry point in the group :data:`ENTRY_POINT_GROUP`, a
built-in agent.  A built-in is always available; a configuration that binds a built-in's name
replaces it (``twdsl check`` says so, TW217).
"""

from __future__ import annotations

from functools import cache

#: The entry-point group of installed agent packages.
ENTRY_POINT_GROUP = "twdsl.agents"

#: The built-in agents (implemented in twdsl.runtime.agents.builtin), with what they do.
BUILTIN_AGENTS: dict[str, str] = {
    "echo": "returns its input.",
    "sleep": "{seconds, result?}: waits, then returns result (null without it).",
    "fail": "{message?, kind?, details?}: fails with that kind (default agent).",
    "flaky": "{failures?, kind?, message?, result?}: fails attempts 1..failures (default 1) "
             "with kind (default transient), then returns result.",
    "log": "{message}: writes [task] message to stderr, returns null.",
}


@cache
def entry_point_agents() -> frozenset[str]:
    """The agent names installed packages provide (read once per process)."""
    from importlib import metadata

    return frozenset(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
