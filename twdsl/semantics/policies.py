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

#: The shapes a handler's and a task's fields must have (TW403), said once for the checker
#: (twdsl.semantics.names, typecheck) and lowering, which refuses them if ever reached.
NAMED_FALLBACK_IN_TEMPLATE = ("a fallback naming a task is supported for tasks of the workflow "
                              "only: write the task in a fallback { … } block")
AGENT_SHAPE = "an agent is a name or a plain string"
ON_ERROR_SHAPE = "on_error is fail, skip, continue or a handler { … }"
THEN_SHAPE = "then is fail, skip or continue"
BLOCK_SHAPE = "expected a block of statements"


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


def attempts(v: A.Node, const: Const = literal) -> int:
    return count(v, const, zero=True)


Reader = Callable[[A.Node, Const], object]

#: The fields of ``retry: { … }`` and what each must be (``on`` is read by :func:`kinds`).
RETRY_FIELDS: dict[str, Reader] = {"attempts": attempts, "delay": duration, "backoff": number,
                                   "max_delay": duration, "jitter": boolean}


def read_retry(v: A.Node, const: Const = literal) -> RetryPolicy:
    """The policy written ``retry: N`` or ``retry: { attempts, delay, backoff, max_delay,
    jitter, on }``; PolicyError when a setting is not a literal of its kind."""
    if isinstance(v, (A.Block, A.ObjectLit)):
        fields = {x.key.name: x.value for x in (v.fields() if isinstance(v, A.Block)
                                                 else v.fields)}
        got = {k: read(fields[k], const) for k, read in RETRY_FIELDS.items() if k in fields}
        p = RetryPolicy(
            attempts=got.get("attempts", R.DEFAULT_ATTEMPTS),  # type: ignore[arg-type]
            delay=got.get("delay", R.DEFAULT_DELAY),  # type: ignore[arg-type]
            backoff=got.get("backoff", R.DEFAULT_BACKOFF),  # type: ignore[arg-type]
            max_delay=got.get("max_delay", R.DEFAULT_MAX_DELAY),  # type: ignore[arg-type]
            jitter=got.get("jitter", R.DEFAULT_JITTER),  # type: ignore[arg-type]
        )
        if "on" in fields:
            p = RetryPolicy(p.attempts, p.delay, p.backoff, p.max_delay, p.jitter,
                            kinds(fields["on"]))
        return p
    return RetryPolicy(attempts=attempts(v, const))


def cache_ttl(v: A.Node, const: Const = literal) -> float | None:
    """The time to live ``cache:`` gives (``true``/``false``: none; ``5m``; ``{ ttl: 5m, key:
    … }``; the key is an expression, read when the task runs)."""
    if isinstance(v, A.BoolLit):
        return None
    if isinstance(v, (A.Block, A.ObjectLit)):
        ttl = next((x.value for x in (v.fields() if isinstance(v, A.Block) else v.fields)
                    if x.key.name == "ttl"), None)
        return None if ttl is None else duration(ttl, const)
    return duration(v, const)


#: The settings lowering writes into the program, each with what it must be: the checker
#: reads every one of them with these readers, as lowering does (TW403 when one fails).
SETTINGS: dict[str, Reader] = {
    "timeout": duration, "max_concurrency": count, "max_iterations": count,
    "parallel": boolean, "fail_fast": boolean, "priority": number,
    "retry": read_retry, "cache": cache_ttl,
}


def setting_leaves(key: str, v: A.Node) -> list[tuple[A.Node, Reader]]:
    """The values setting ``key: v`` is made of, each with its reader (a retry's fields one
    by one; a cache's ttl), for the checker to name the one that is wrong and to find the
    template parameters given as settings."""
    if key == "retry" and isinstance(v, (A.Block, A.ObjectLit)):
        fields = v.fields() if isinstance(v, A.Block) else v.fields
        return [(x.value, RETRY_FIELDS[x.key.name]) for x in fields if x.key.name in RETRY_FIELDS]
    if key == "retry":
        return [(v, attempts)]
    if key == "cache":
        if isinstance(v, (A.Block, A.ObjectLit)):
            fields = v.fields() if isinstance(v, A.Block) else v.fields
            return [(x.value, duration) for x in fields if x.key.name == "ttl"]
        return [] if isinstance(v, A.BoolLit) else [(v, duration)]
    read = SETTINGS.get(key)
    return [] if read is None else [(v, read)]


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
