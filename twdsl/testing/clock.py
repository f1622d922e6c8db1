"""A virtual clock for workflow tests: an asyncio event loop whose time jumps ahead.

:class:`VirtualLoop` is a selector event loop whose ``time()`` is virtual.  Whenever nothing
is ready to run and the loop would wait for its next timer, the clock jumps straight to that
timer instead of sleeping.  Everything scheduled on the loop's clock therefore runs on
virtual time with no change to the code under test: ``asyncio.sleep`` (the engine's retry
backoff, ``RunOptions.sleep``), ``asyncio.timeout`` (task, block and workflow timeouts) and
``loop.call_later``.  A run with an hour of backoff takes as long as its callbacks take.

When nothing is ready *and* no timer is set, nothing can ever happen again (the tests' agents
do no real I/O and start no threads): the loop calls ``on_idle`` so that its owner can stop
the run and say it hung, rather than waiting forever.  Real I/O still works (the loop polls
its selector without waiting before every jump), so a callback from another thread is not
lost; it simply does not hold the clock back.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Mapping
from typing import Any


class Hung(Exception):
    """Nothing is ready, no timer is set, and ``on_idle`` did not make anything ready: the
    code under test waits for something that will never come."""


class _JumpingSelector(selectors.BaseSelector):
    """The real selector, polled without waiting; a wait for a timer becomes a clock jump."""

    def __init__(self, loop: VirtualLoop) -> None:
        self.real = selectors.DefaultSelector()
        self.loop = loop
        self.idle_calls = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self.real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self.real.select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # no timer, nothing ready: stuck for good
            self.idle_calls += 1
            if self.loop.on_idle is None or self.idle_calls > 1:
                raise Hung("every task waits and no timer is set")
            self.loop.on_idle()
            return []
        self.idle_calls = 0
        self.loop.advance(timeout)
        return []

    def close(self) -> None:
        self.real.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self.real.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self.real.get_map()


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time, starting at 0, that never sleeps (module docstring).

    >>> import asyncio
    >>> loop = VirtualLoop()
    >>> async def backoff():
    ...     for delay in (60, 120, 240):
    ...         await asyncio.sleep(delay)
    ...     return asyncio.get_running_loop().time()
    >>> loop.run_until_complete(backoff())
    420.0
    >>> loop.close()
    """

    def __init__(self, on_idle: Callable[[], None] | None = None) -> None:
        self.now = 0.0
        self.on_idle = on_idle
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back)."""
        if seconds > 0:
            self.now += seconds
