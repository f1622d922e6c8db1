"""Retry policies (docs/language.md, retry): the defaults and the wait before each retry.

The wait before retry ``n`` (1-based) is ``min(max_delay, delay × backoff^(n−1))``, then, with
``jitter``, a uniformly random part of it ("full jitter").  This module is the only place that
formula is written: the engine waits by it, the TW506 lint rule and the editor's hover and inlay
hints add it up.  It never overflows: ``retry: 2000`` with ``backoff: 2`` is capped by
``max_delay`` long before ``2**1999`` would be computed.
"""

from __future__ import annotations

import math

#: The defaults of a policy's fields, in seconds.
DEFAULT_ATTEMPTS = 0
DEFAULT_DELAY = 1.0
DEFAULT_BACKOFF = 2.0
DEFAULT_MAX_DELAY = 60.0
DEFAULT_JITTER = True


def wait(n: int, delay: float = DEFAULT_DELAY, backoff: float = DEFAULT_BACKOFF,
         max_delay: float = DEFAULT_MAX_DELAY) -> float:
    """Seconds to wait before retry ``n`` (1-based), before jitter.

    >>> [wait(n) for n in (1, 2, 3, 7, 8)]
    [1.0, 2.0, 4.0, 60.0, 60.0]
    >>> wait(5000, delay=1.0, backoff=10.0, max_delay=30.0)
    30.0
    """
    if n < 1 or delay <= 0:
        return 0.0
    if backoff <= 1:
        return min(max_delay, delay)
    # delay × backoff^(n−1) reaches max_delay after this many steps: never raise to more
    steps = math.log(max_delay / delay, backoff) if max_delay > delay else 0.0
    if n - 1 > steps:
        return float(max_delay)
    return min(float(max_delay), delay * backoff ** (n - 1))


def total_wait(retries: int, delay: float = DEFAULT_DELAY, backoff: float = DEFAULT_BACKOFF,
               max_delay: float = DEFAULT_MAX_DELAY) -> float:
    """The sum of the waits before retries ``1..retries`` (no jitter), in constant time once
    the waits reach ``max_delay``.

    >>> total_wait(3)
    7.0
    >>> total_wait(2000, max_delay=60.0) == sum(wait(n) for n in range(1, 8)) + 1993 * 60.0
    True
    """
    total = 0.0
    for n in range(1, retries + 1):
        w = wait(n, delay, backoff, max_delay)
        if w >= max_delay:
            return total + w * (retries - n + 1)
        total += w
    return total


def worst_case(timeout: float, retries: int, delay: float = DEFAULT_DELAY,
               backoff: float = DEFAULT_BACKOFF, max_delay: float = DEFAULT_MAX_DELAY) -> float:
    """Seconds a task may take at worst: every one of its ``retries + 1`` attempts running to
    its ``timeout``, with the waits between them.

    >>> worst_case(10.0, 3)  # 4 attempts of 10 s + waits of 1, 2 and 4 s
    47.0
    """
    return (retries + 1) * timeout + total_wait(retries, delay, backoff, max_delay)
