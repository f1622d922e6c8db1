"""Agents: how a task reaches real work (docs/agents.md).

:class:`AgentRegistry` turns the ``[agents]`` table of twdsl.toml, the ``twdsl.agents`` entry
points and the built-in agents into :class:`Agent` objects the scheduler awaits with an
:class:`AgentCall`.
"""

from __future__ import annotations

from twdsl.runtime.agents.base import Agent, AgentCall

__all__ = ["Agent", "AgentCall"]
