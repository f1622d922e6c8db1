"""Agents: how a task reaches real work (docs/agents.md).

:class:`AgentRegistry` turns the ``[agents]`` table of twdsl.toml, the ``twdsl.agents`` entry
points and the built-in agents into :class:`Agent` objects the scheduler awaits with an
:class:`AgentCall`::

    registry = AgentRegistry({"Notify": {"command": ["notify", "{message}"]}}, Path("."))
    registry.missing(["Notify", "echo", "Nope"])      # ["Nope"]
    result = await registry.get("Notify")(call)       # or TaskError(kind, message, details)
"""

from __future__ import annotations

from twdsl.runtime.agents.base import Agent, AgentCall
from twdsl.runtime.agents.breaker import (
    BreakerAgent,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
)
from twdsl.runtime.agents.registry import ENTRY_POINT_GROUP, AgentRegistry

__all__ = ["ENTRY_POINT_GROUP", "Agent", "AgentCall", "AgentRegistry", "BreakerAgent",
           "BreakerSettings", "BreakerState", "CircuitBreaker"]
