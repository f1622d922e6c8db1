"""Error kinds of the language (docs/language.md, Q4) and the exceptions that carry them."""

from __future__ import annotations

from twdsl.lang.kinds import ErrorKind

__all__ = ["ConfigurationError", "ErrorKind", "TaskError"]


class TaskError(Exception):
    """One failed attempt (or a failed task), classified.  ``message`` is for people;
    ``details`` (JSON-serializable) keeps what the agent said (stderr, HTTP body, …)."""

    def __init__(self, kind: ErrorKind, message: str, details: object = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind.value, "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"TaskError({self.kind.value}, {self.message!r})"


class ConfigurationError(Exception):
    """An agent binding or a runtime setting that cannot work: a user's mistake, reported
    in one line naming where it was set and what to do (never a traceback)."""
