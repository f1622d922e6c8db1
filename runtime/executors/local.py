"""The local executor: every agent call runs in this process, as the agent itself says (an
async function on the event loop, a plain function in a thread, a subprocess, an HTTP
request).  The default of ``twdsl run``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twdsl.runtime.agents.base import Agent


class LocalExecutor:
    """Runs each agent where it is: ``agent(a)`` is ``a`` itself (no cost per call)."""

    name = "local"

    def agent(self, agent: Agent) -> Agent:
        return agent

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "LocalExecutor()"
