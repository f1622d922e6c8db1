"""Resolved policies: the retry and timeout a task runs with (docs/language.md, retry).

A task's ``retry`` is its own, else its agent's, else its workflow's; its ``timeout`` (per
attempt) its own, else its agent's.  The fields of a policy, their defaults and the wait before
each retry are :mod:`twdsl.lang.retry`'s.  Lowering reads a policy through :func:`read_retry`
(with its own way to evaluate a setting: a template parameter bound to a literal is a literal
there); the lint rules and the editor read the resolved policy of a task through
:func:`task_policy` (literals only: a policy given by a template parameter is not known before
``use``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twdsl.lang import retry as R
from twdsl.lang.kinds import ERROR_KINDS, RETRIED_KINDS
from twdsl.syntax import ast as A


class PolicyError(Exception):
    """A setting of a policy that is not what it must be; ``node`` is where."""

    def __init__(self, message: str, node: A.Node) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A retry policy with every field known (defaults filled in); durations in seconds."""

    attempts: int = R.DEFAULT_ATTEMPTS
    delay: float = R.DEFAULT_DELAY
    backoff: float = R.DEFAULT_BACKOFF
    max_delay: float = R.DEFAULT_MAX_DELAY
    jitter: bool = R.DEFAULT_JITTER
    on: tuple[str, ...] = field(default=tuple(k.value for k in RETRIED_KINDS))

    def wait(self, n: int) -> float:
        """Seconds before retry ``n`` (1-based), before jitter."""
        return R.wait(n, self.delay, self.backoff, self.max_delay)

    def worst_case(self, timeout: float) -> float:
        """Seconds the task may take at worst with per-attempt ``timeout``."""
        return R.worst_case(timeout, self.attempts, self.delay, self.backoff, self.max_delay)


#: Evaluates a setting's value: a Python value (``("duration", seconds)`` for a duration), or
#: raises PolicyError when it is not a literal (lowering knows more literals than the checker).
Const = Callable[[A.Node], object]


def literal(v: A.Node) -> object:
    """The value of a literal setting (the :data:`Const` of the checker and the editor)."""
    if isinstance(v, A.DurationLit):
        return ("duration", v.millis / 1000)
    if isinstance(v, (A.NumberLit, A.BoolLit)):
        return v.value
    if isinstance(v, A.Unary) and v.op == "-" and isinstance(v.operand, A.NumberLit):
        return -v.operand.value
    if isinstance(v, A.StringLit) and all(isinstance(p, str) for p in v.parts):
        return "".join(p for p in v.parts if isinstance(p, str))
    raise PolicyError("this setting must be a literal value (or a template parameter given "
                      "one)", v)


def duration(v: A.Node, const: Const = literal) -> float:
    c = const(v)
    if not (isinstance(c, tuple) and c[0] == "duration"):
        raise PolicyError("expected a duration such as 30s or 5m", v)
    return float(c[1])


def number(v: A.Node, const: Const = literal) -> float:
    c = const(v)
    if isinstance(c, bool) or not isinstance(c, (int, float)):
        raise PolicyError("expected a number", v)
    return c


def count(v: A.Node, const: Const = literal, zero: bool = False) -> int:
    c = number(v, const)
    if c != int(c) or c < (0 if zero else 1):
        raise PolicyError(f"expected a whole number of at least {0 if zero else 1}", v)
    return int(c)


def boolean(v: A.Node, const: Const = literal) -> bool:
    c = const(v)
    if not isinstance(c, bool):
        raise PolicyError("expected true or false", v)
    return c


def kinds(v: A.Node) -> tuple[str, ...]:
    items = v.items if isinstance(v, A.ArrayLit) else [v]
    out: list[str] = []
    for x in items:
        if not isinstance(x, A.Name) or x.name not in ERROR_KINDS:
            raise PolicyError("an error kind is one of " + ", ".join(ERROR_KINDS), x)
        out.append(x.name)
    return tuple(out)


def read_retry(v: A.Node, const: Const = literal) -> RetryPolicy:
    """The policy written ``retry: N`` or ``retry: { attempts, delay, backoff, max_delay,
    jitter, on }``; PolicyError when a setting is not a literal of its kind."""
    if isinstance(v, (A.Block, A.ObjectLit)):
        fields = {x.key.name: x.value for x in (v.fields() if isinstance(v, A.Block)
                                                 else v.fields)}
        p = RetryPolicy(
            attempts=count(fields["attempts"], const, zero=True) if "attempts" in fields
            else R.DEFAULT_ATTEMPTS,
            delay=duration(fields["delay"], const) if "delay" in fields else R.DEFAULT_DELAY,
            backoff=number(fields["backoff"], const) if "backoff" in fields
            else R.DEFAULT_BACKOFF,
            max_delay=duration(fields["max_delay"], const) if "max_delay" in fields
            else R.DEFAULT_MAX_DELAY,
            jitter=boolean(fields["jitter"], const) if "jitter" in fields else R.DEFAULT_JITTER,
        )
        if "on" in fields:
            p = RetryPolicy(p.attempts, p.delay, p.backoff, p.max_delay, p.jitter,
                            kinds(fields["on"]))
        return p
    return RetryPolicy(attempts=count(v, const, zero=True))


@dataclass(frozen=True, slots=True)
class TaskPolicy:
    """What a task runs with, and where each setting was written (None: not set)."""

    retry: RetryPolicy | None
    retry_field: A.Field | None
    timeout: float | None  # seconds, per attempt
    timeout_field: A.Field | None

    def worst_case(self) -> float | None:
        """Seconds the task may take at worst, or None without both a timeout and a retry."""
        if self.timeout is None or self.retry is None:
            return None
        return self.retry.worst_case(self.timeout)


def task_policy(task: A.Block, agent: A.AgentDecl | None = None,
                workflow: A.Block | None = None) -> TaskPolicy:
    """The resolved literal policy of the task whose body is ``task`` (its agent's and its
    workflow's settings as defaults); a setting that is not a literal counts as unset.

    >>> from twdsl.syntax.parser import parse
    >>> w = parse('workflow W { retry: 3 task a { timeout: 10s } }').module.items[0]
    >>> p = task_policy(w.body.items[1].body, None, w.body)
    >>> p.retry.attempts, p.timeout, p.worst_case()
    (3, 10.0, 47.0)
    """
    def first(name: str) -> A.Field | None:
        for body in (task, agent.body if agent is not None else None):
            f = body.get(name) if body is not None else None
            if f is not None:
                return f
        if name == "retry" and workflow is not None:
            return workflow.get("retry")
        return None

    retry_field, timeout_field = first("retry"), first("timeout")
    retry = timeout = None
    if retry_field is not None:
        try:
            retry = read_retry(retry_field.value)
        except PolicyError:
            retry = None
    if timeout_field is not None:
        try:
            timeout = duration(timeout_field.value)
        except PolicyError:
            timeout = None
    return TaskPolicy(retry, retry_field, timeout, timeout_field)
