"""Executors: where the attempts of agent calls run.

The engine keeps the orchestration (order, retries, timeouts, cancellation, the durable
record) and asks its executor how to run each agent: ``executor.agent(agent)`` is the agent
as that executor runs it.  The local executor runs every agent in this process (the only one
here: the Ray executor comes with its own branch, behind the same factory)::

    executor = make_executor("local", None)
    agent = executor.agent(registry.get("Build"))
    ...
    executor.close()
"""

from __future__ import annotations

from typing import Any, Protocol

from twdsl.runtime.errors import ConfigurationError

#: The executors ``make_executor`` knows, the first the default.
EXECUTORS = ("local",)


class Executor(Protocol):
    """Where agent calls run.  ``agent(a)`` returns ``a`` as this executor runs it (the same
    interface: ``await agent(call)``, cancellation stops the work); ``close()`` lets go of
    what the executor holds, once no call is running."""

    name: str

    def agent(self, agent: Any) -> Any: ...

    def close(self) -> None: ...


class ExecutorError(ConfigurationError):
    """An executor that cannot be used (unknown name, out of reach): a user's mistake, one
    line saying what to do."""


class LocalExecutor:
    """Runs each agent where it is: ``agent(a)`` is ``a`` itself (no cost per call)."""

    name = "local"

    def agent(self, agent: Any) -> Any:
        return agent

    def close(self) -> None:
        pass


def make_executor(name: str, address: str | None) -> Executor:
    """The executor called ``name``; ``address`` is a cluster's (None here).

    >>> make_executor("local", None).name
    'local'
    """
    if name == "local":
        if address is not None:
            raise ExecutorError(f"--ray-address {address} needs --executor ray (the local "
                                "executor runs every agent in this process)")
        return LocalExecutor()
    raise ExecutorError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "make_executor"]
