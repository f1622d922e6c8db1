"""The Ray executor: the calls of Python agents run as Ray tasks on a Ray cluster.

twdsl stays the orchestrator: the engine decides what runs when, retries, enforces timeouts,
cancels, and records every state in its store; Ray only runs the function of one attempt,
where the cluster has room for what the agent's ``ray`` table asks (docs/agents.md).  Other
agents (commands, HTTP services, built-ins) run in this process, as with the local executor.

One attempt is one Ray task, :func:`run_attempt`, which imports the agent's function on the
worker (the same ``module:function`` rule as here, the config's folder first on sys.path),
calls it, and answers ``(True, result)`` or ``(False, (kind, message, details))``: errors are
classified on the worker by the same rule as here (``python_agent.failure``), so no user
exception has to travel back.  Cancelling the attempt (its timeout, ``fail_fast``, Ctrl-C)
cancels the Ray task: first Ray's ``KeyboardInterrupt`` in the task, then, ``kill_grace``
seconds later if it is still running, its worker process is killed (``force``).  A task lost
with its worker process or node is run again by Ray (``max_retries``, within the same
attempt), then fails the attempt as ``transient``.

This module imports Ray: ``twdsl.runtime.executors.make_executor`` imports it only when the
Ray executor is chosen.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import socket
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import exceptions as rex

from twdsl.runtime.agents.base import Agent, AgentCall, ensure_json
from twdsl.runtime.agents.breaker import BreakerAgent
from twdsl.runtime.agents.python_agent import PythonAgent, failure, load_target
from twdsl.runtime.agents.registry import DEFAULT_KILL_GRACE, DEFAULT_MAX_RETRIES
from twdsl.runtime.errors import ConfigurationError, ErrorKind, TaskError
from twdsl.runtime.executors import ExecutorError

#: Seconds to wait for a TCP connection to a named cluster before saying it is out of reach
#: (Ray itself would retry for minutes).
CONNECT_TIMEOUT = 5.0

# -- on a Ray worker ---------------------------------------------------------------------------

_FUNCTIONS: dict[tuple[str, str | None], Callable[..., Any]] = {}


def run_attempt(target: str, base_dir: str | None, call: AgentCall) -> tuple[bool, Any]:
    """One attempt of a Python agent, on a Ray worker: ``(True, result)`` with the result as
    JSON data, or ``(False, (kind, message, details))``.  Ray's ``KeyboardInterrupt`` (a
    cancellation) goes through, so Ray ends the task as cancelled."""
    try:
        func = _FUNCTIONS.get((target, base_dir))
        if func is None:
            where = f"[agents.{call.agent}] on the Ray node {_node_ip()}"
            func = load_target(target, Path(base_dir) if base_dir else Path.cwd(), where)
            _FUNCTIONS[(target, base_dir)] = func
        result = func(call.input, call)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return True, ensure_json(call.agent, result)
    except KeyboardInterrupt:
        raise
    except ConfigurationError as e:
        return False, (ErrorKind.AGENT.value, f"{e}: install the agent's module on every node "
                       "of the cluster, or give it the same path there", None)
    except TaskError as e:
        return False, (e.kind.value, e.message, e.details)
    except BaseException as e:  # noqa: BLE001 - the agent's failure, classified as locally
        err = failure(e)
        return False, (err.kind.value, err.message, err.details)


async def _awaited(value: Any) -> Any:
    return await value


def _node_ip() -> str:
    try:
        return str(ray.util.get_node_ip_address())
    except Exception:  # noqa: BLE001 - only for a message
        return "?"


# -- in twdsl ----------------------------------------------------------------------------------


class RayExecutor:
    """Runs the calls of Python agents as Ray tasks; every other agent here.

    Made by ``make_executor("ray", address)``, which connects to the cluster at once:
    ``address`` is ``host:port`` of the cluster's head, ``auto`` (``RAY_ADDRESS``, else the
    cluster ``ray start`` began on this machine), or None (Ray's rule: as ``auto``, else a
    new Ray instance on this machine for this process).  A process that is already connected
    to Ray (``ray.init`` was called) keeps that connection.
    """

    name = "ray"

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.owned = False  #: this executor connected, so close() disconnects
        #: the Python agents as this executor runs them (weak: a long-lived process makes a
        #: registry per run, and forgets it)
        self._routed: weakref.WeakKeyDictionary[Agent, Agent] = weakref.WeakKeyDictionary()
        #: cancelled Ray tasks not yet known to have ended → when to kill them (monotonic)
        self._stopping: dict[Any, float] = {}
        self._connect()

    def _connect(self) -> None:
        address = self.address
        _ray_prints_to_stderr()
        if ray.is_initialized():
            here = ray.get_runtime_context().gcs_address
            if address not in (None, "auto") and _host_port(address) != _host_port(here):
                raise ExecutorError(f"this process is already connected to the Ray cluster at "
                                    f"{here}, not {address}")
            return
        if address is not None and address not in ("auto", "local"):
            _reachable(address)
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except Exception as e:  # noqa: BLE001 - Ray says why in many ways: pass it on
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            where = f" at {address}" if address else ""
            raise ExecutorError(f"cannot connect to the Ray cluster{where}: {first}") from None
        self.owned = True

    def agent(self, agent: Agent) -> Agent:
        """``agent`` with its calls as Ray tasks when it is a Python agent (behind its circuit
        breaker, which stays here); any other agent as it is.  Made once per agent."""
        breaker = None
        if isinstance(agent, PythonAgent):
            inner = agent
        elif isinstance(agent, BreakerAgent) and isinstance(agent.inner, PythonAgent):
            inner, breaker = agent.inner, agent.breaker
        else:
            return agent
        routed = self._routed.get(agent)
        if routed is None:
            routed = inner.with_runner(self._runner(inner))
            if breaker is not None:  # the same breaker, here: it sees every call of the agent
                routed = BreakerAgent(routed, breaker)
            self._routed[agent] = routed
        return routed

    def _runner(self, agent: PythonAgent) -> RayRunner:
        table = dict(agent.ray or {})
        options: dict[str, Any] = {
            "name": f"twdsl:{agent.name}",
            "max_retries": table.get("max_retries", DEFAULT_MAX_RETRIES),
            "retry_exceptions": False,  # an agent's error is an answer: twdsl's retry decides
        }
        for key in ("num_cpus", "num_gpus", "memory", "resources"):
            if key in table:
                options[key] = table[key]
        remote = _remote_function().options(**options)
        return RayRunner(self, remote, str(agent.base_dir) if agent.base_dir else None,
                         table.get("kill_grace", DEFAULT_KILL_GRACE), options["max_retries"])

    def cancel(self, ref: Any, grace: float) -> None:
        """Stop the Ray task of ``ref``: Ray's KeyboardInterrupt now, its worker process
        killed ``grace`` seconds later if it is still running (by then, or at ``close``)."""
        try:
            ray.cancel(ref, force=grace <= 0)
        except Exception:  # noqa: BLE001 - already over, or Ray is going away
            return
        if grace > 0:
            self._stopping[ref] = time.monotonic() + grace
            asyncio.get_running_loop().call_later(grace, self._force, ref)

    def _force(self, ref: Any) -> None:
        if self._stopping.pop(ref, None) is None:
            return
        try:
            ready, _ = ray.wait([ref], timeout=0, fetch_local=False)
            if not ready:
                ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001, S110 - Ray is going away: its workers with it
            pass

    def close(self) -> None:
        """Give the Ray tasks still being stopped the rest of their grace, kill those still
        running; disconnect when this executor connected (which stops the Ray instance it
        started, if any)."""
        if self._stopping:
            wait = max(self._stopping.values()) - time.monotonic()
            refs = list(self._stopping)
            with contextlib.suppress(Exception):
                ray.wait(refs, num_returns=len(refs), timeout=max(0.0, wait), fetch_local=False)
            for ref in refs:
                self._force(ref)
        if self.owned and ray.is_initialized():
            ray.shutdown()
        self.owned = False

    def __repr__(self) -> str:
        return f"RayExecutor({self.address!r})"


class RayRunner:
    """How one Python agent's function runs: as a Ray task with the agent's options."""

    __slots__ = ("executor", "remote", "base_dir", "grace", "retries")

    def __init__(self, executor: RayExecutor, remote: Any, base_dir: str | None, grace: float,
                 retries: int) -> None:
        self.executor = executor
        self.remote = remote
        self.base_dir = base_dir
        self.grace = grace
        self.retries = retries

    async def __call__(self, agent: PythonAgent, call: AgentCall) -> Any:
        ref = self.remote.remote(agent.target, self.base_dir, call)
        try:
            ok, value = await ref
        except asyncio.CancelledError:
            self.executor.cancel(ref, self.grace)
            raise
        except rex.RayError as e:
            raise lost(agent.name, e, self.retries) from None
        if ok:
            return value
        kind, message, details = value
        raise TaskError(ErrorKind(kind), message, details)


def lost(agent: str, e: BaseException, retries: int) -> TaskError:
    """The attempt's error when Ray could not give an answer of the agent's (docs/agents.md,
    error kinds): cancelled by someone else, twdsl's task failing on the node (``agent``),
    or the task lost with its worker process or node ``retries + 1`` times (``transient``)."""
    text = str(e).strip().splitlines()
    said = f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
    if isinstance(e, rex.TaskCancelledError):
        return TaskError(ErrorKind.CANCELLED, f"the Ray task of agent '{agent}' was cancelled "
                         "outside twdsl")
    if isinstance(e, rex.RayTaskError | rex.RuntimeEnvSetupError):
        cause = getattr(e, "cause", None)
        if cause is not None:
            said = f"{type(cause).__name__}: {cause}"
        return TaskError(ErrorKind.AGENT, f"agent '{agent}' could not run on the Ray cluster: "
                         f"{said} (is twdsl installed on every node?)")
    runs = f"{retries + 1} time{'s' if retries else ''}"
    return TaskError(ErrorKind.TRANSIENT, f"the Ray task of agent '{agent}' was lost ({said}); "
                     f"Ray ran it {runs}", {"ray_error": type(e).__name__})


def _ray_prints_to_stderr() -> None:
    """Ray's driver threads print what the workers print and the cluster's error messages (a
    raylet that died, ...) to sys.stdout, which is the run's outputs (JSON) in ``twdsl run``:
    send all of it to stderr, beside the progress lines.  Done before ``ray.init``, which
    registers the printing function; Ray versions without it print as they do."""
    worker: Any = getattr(getattr(ray, "_private", None), "worker", None)
    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "twdsl_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> Any:
        return original({**data, "is_err": True}, ignore_prefix)

    to_stderr.twdsl_stderr = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


_REMOTE: list[Any] = []


def _remote_function() -> Any:
    """:func:`run_attempt` as a Ray remote function (made once: Ray ships it once)."""
    if not _REMOTE:
        _REMOTE.append(ray.remote(run_attempt))
    return _REMOTE[0]


def _host_port(address: str) -> tuple[str, int] | None:
    host, sep, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit():
        return None
    if host == "localhost":
        host = "127.0.0.1"
    return host, int(port)


def _reachable(address: str) -> None:
    """Fail at once, saying what to do, when nothing listens at ``address`` (Ray itself
    would wait for minutes)."""
    if "://" in address:
        raise ExecutorError(f"--ray-address {address}: Ray Client addresses are not supported; "
                            "run twdsl on a node of the cluster and give the head's host:port "
                            "(what `ray start --head` printed)")
    hp = _host_port(address)
    if hp is None:
        raise ExecutorError(f"--ray-address {json.dumps(address)}: expected host:port of the "
                            "cluster's head (e.g. 10.0.0.5:6379), or auto")
    try:
        socket.create_connection(hp, timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise ExecutorError(f"cannot reach the Ray cluster at {address}: {why}; start one with "
                            "`ray start --head` or give the address it printed") from None
