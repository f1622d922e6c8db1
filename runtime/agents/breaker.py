"""A circuit breaker per agent: after ``failures`` consecutive failed calls the agent is not
called for ``reset_after`` seconds (calls fail fast, as ``transient``), then one trial call
decides whether it is back (closed) or still down (open again).

Why: a dead service behind a ``foreach`` of 10,000 items would otherwise be hit 10,000 times
(times the retries), each waiting for its own timeout.  Only the kinds that say something
about the agent's health count (agent, transient, timeout); a validation error is an answer,
and a cancellation is the scheduler's doing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from twdsl.runtime.agents.base import Agent, AgentCall
from twdsl.runtime.errors import ErrorKind, TaskError

#: Seconds by which a cancellation may come before ``call.timeout`` and still be that
#: timeout (the scheduler's timer starts a moment before the call does).
TIMEOUT_SLACK = 0.01
#: The failure kinds a breaker counts.
COUNTED = frozenset({ErrorKind.AGENT, ErrorKind.TRANSIENT, ErrorKind.TIMEOUT})


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """``failures`` consecutive failures open the circuit (0 disables the breaker) for
    ``reset_after`` seconds."""

    failures: int = 5
    reset_after: float = 60.0


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls fail fast until reset_after has passed
    HALF_OPEN = "half-open"  # one trial call goes through; the others fail fast


class CircuitBreaker:
    """The state machine, apart from any agent so that it can be tested with a fake clock.

    ``before()`` asks for permission (raising the fail-fast TaskError), then exactly one of
    ``success()``, ``failure(error)`` or ``release()`` (the call ended without a verdict:
    cancelled, or a validation error) reports the outcome.
    """

    def __init__(self, agent: str, settings: BreakerSettings = BreakerSettings(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.agent = agent
        self.settings = settings
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive = 0  #: consecutive counted failures
        self.opened_at = 0.0
        self.last_error: TaskError | None = None
        self._trial = False  #: a half-open trial call is under way

    def before(self) -> None:
        if self.settings.failures <= 0:
            return
        if self.state is BreakerState.OPEN:
            if self.clock() - self.opened_at >= self.settings.reset_after:
                self.state = BreakerState.HALF_OPEN
            else:
                raise self._fail_fast()
        if self.state is BreakerState.HALF_OPEN:
            if self._trial:
                raise self._fail_fast()
            self._trial = True

    def success(self) -> None:
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self._trial = False

    def failure(self, error: TaskError) -> None:
        if error.kind not in COUNTED:
            self.release()
            return
        self.consecutive += 1
        self.last_error = error
        was_trial, self._trial = self._trial, False
        if self.state is BreakerState.OPEN:
            return  # a call that started before the circuit opened: no new window
        if self.settings.failures > 0 and (
                was_trial or self.state is BreakerState.HALF_OPEN
                or self.consecutive >= self.settings.failures):
            self.state = BreakerState.OPEN
            self.opened_at = self.clock()

    def release(self) -> None:
        """The call ended without telling whether the agent works: let another trial go."""
        self._trial = False

    def remaining(self) -> float:
        """Seconds until a trial call is allowed (0 when it is allowed now)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.settings.reset_after - (self.clock() - self.opened_at))

    def _fail_fast(self) -> TaskError:
        last = self.last_error
        why = f"{self.consecutive} consecutive failures"
        if last is not None:
            why += f", last: {last.kind.value}: {last.message}"
        if self.state is BreakerState.HALF_OPEN:
            when = "a trial call is under way"
        else:
            when = f"retrying after {self.remaining():.1f}s"
        return TaskError(ErrorKind.TRANSIENT,
                         f"circuit open for agent '{self.agent}' ({why}); {when}",
                         {"breaker": self.state.value, "failures": self.consecutive,
                          "retry_after": round(self.remaining(), 3),
                          "last_error": last.to_json() if last is not None else None})


class BreakerAgent:
    """An agent behind its breaker (what the registry hands out for external agents)."""

    def __init__(self, inner: Agent, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.name = inner.name
        self.breaker = breaker

    async def __call__(self, call: AgentCall) -> Any:
        self.breaker.before()
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            result = await self.inner(call)
        except TaskError as e:
            self.breaker.failure(e)
            raise
        except asyncio.CancelledError:
            # The scheduler enforces the task's timeout by cancelling the call, so a timeout
            # reaches us as a cancellation: one that comes when the attempt's time is up
            # (within the timer's slack) is that timeout, and counts; others (fail_fast,
            # Ctrl-C) say nothing about the agent.
            limit = call.timeout
            if limit is not None and loop.time() - start >= limit - TIMEOUT_SLACK:
                self.breaker.failure(TaskError(
                    ErrorKind.TIMEOUT, f"agent '{self.name}' ran past its timeout of "
                    f"{limit:g}s"))
            else:
                self.breaker.release()
            raise
        except Exception:
            # An agent that raises something else has a bug: the scheduler will call it an
            # agent error, and so does the breaker.
            self.breaker.failure(TaskError(ErrorKind.AGENT, "the agent raised"))
            raise
        self.breaker.success()
        return result

    def __getattr__(self, item: str) -> Any:
        # health(), aclose() and friends of the wrapped agent.
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)
