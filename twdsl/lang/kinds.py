"""Error kinds (docs/language.md, Q4) and the words ``on_error`` and ``then`` take.

Every stage reads these: the checker (``when: [...]``, ``retry: { on: [...] }``), lowering, the
IR's schema and the runtime's classification of failures.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"  # an attempt ran past its timeout
    AGENT = "agent"  # the agent raised, exited non-zero, or answered an error
    TRANSIENT = "transient"  # network failure, HTTP 429/5xx, connection refused
    VALIDATION = "validation"  # an input or a result failed its declared type
    CANCELLED = "cancelled"  # fail_fast, an enclosing timeout, or the user

    @property
    def retryable(self) -> bool:
        """Retried by a bare ``retry: N`` (a policy's ``on`` defaults to these)."""
        return self not in (ErrorKind.VALIDATION, ErrorKind.CANCELLED)


#: The kinds, as the words a program writes.
ERROR_KINDS: tuple[str, ...] = tuple(k.value for k in ErrorKind)
#: What ``retry: N`` retries when the policy names no ``on``.
RETRIED_KINDS: tuple[ErrorKind, ...] = tuple(k for k in ErrorKind if k.retryable)
#: What ``on_error: …`` and ``then: …`` may name.
ERROR_ACTIONS: tuple[str, ...] = ("skip", "continue", "fail")
THEN_ACTIONS: tuple[str, ...] = ERROR_ACTIONS
