"""Executors: where the attempts of agent calls run (docs/agents.md, docs/scale-out.md).

The engine keeps the orchestration (order, retries, timeouts, cancellation, the durable
record) and asks its executor how to run each agent: ``executor.agent(agent)`` is the agent
as that executor runs it.  The local executor runs every agent in this process; the Ray
executor runs the calls of Python agents as Ray tasks on a Ray cluster (Ray is imported only
when it is chosen)::

    executor = make_executor("ray", "10.0.0.5:6379")   # or make_executor("local", None)
    engine = Engine(program, registry, sink, RunOptions(executor=executor))
    ...
    executor.close()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from twdsl.runtime.errors import ConfigurationError
from twdsl.runtime.executors.local import LocalExecutor

if TYPE_CHECKING:
    from twdsl.runtime.agents.base import Agent

#: The executors ``make_executor`` knows, the first the default.
EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Where agent calls run.  ``agent(a)`` returns ``a`` as this executor runs it (the same
    interface: ``await agent(call)``, cancellation stops the work); ``close()`` lets go of
    what the executor holds (a Ray connection), once no call is running."""

    name: str

    def agent(self, agent: Agent) -> Agent: ...

    def close(self) -> None: ...


class ExecutorError(ConfigurationError):
    """An executor that cannot be used (unknown name, Ray missing or out of reach): a user's
    mistake, one line saying what to do."""


def make_executor(name: str, address: str | None) -> Executor:
    """The executor called ``name`` ("local" or "ray"); ``address`` is the Ray cluster's
    (``host:port`` of its head, or ``auto``; None: Ray's own rule, see docs/scale-out.md).
    The Ray executor connects at once, so an address out of reach is an ExecutorError here,
    before anything runs.

    >>> make_executor("local", None).name
    'local'
    """
    if name == "local":
        if address is not None:
            raise ExecutorError(f"--ray-address {address} needs --executor ray (the local "
                                "executor runs every agent in this process)")
        return LocalExecutor()
    if name == "ray":
        try:
            import ray  # noqa: F401 - only to say clearly when it is missing
        except ImportError:
            raise ExecutorError("--executor ray needs Ray, which is not installed here: "
                                "pip install 'twdsl[ray]'") from None
        from twdsl.runtime.executors.ray import RayExecutor

        return RayExecutor(address)
    raise ExecutorError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "ExecutorError", "LocalExecutor", "make_executor"]
