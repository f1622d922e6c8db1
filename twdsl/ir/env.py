"""What an expression is evaluated among: names, task fields, lambdas' closures and lets.

The runtime provides an :class:`Env` (a run's inputs, loop variables, task results); the
evaluator (:mod:`twdsl.ir.closures`, :mod:`twdsl.ir.interpret`) puts scopes in front of it
for lambdas' parameters and lets' names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twdsl.lang.limits import spend
from twdsl.lang.values import EvalError, Lambda, count_of

__all__ = ["Closure", "Env", "Fn", "Let", "NoNames", "Scope", "read_name", "read_task"]


class Env(Protocol):
    """What an expression reads: names and the fields of tasks (the runtime provides it)."""

    def lookup(self, name: str) -> Any: ...  # KeyError when unbound

    def task_field(self, node: str, field: str) -> Any: ...


Fn = Callable[[Env], Any]


class Closure(Lambda):
    """A lambda's value: its parameters, its compiled body and the names it was made among."""

    __slots__ = ("params", "body", "env")

    def __init__(self, params: tuple[str, ...], body: Fn, env: Env) -> None:
        self.params = params
        self.body = body
        self.env = env

    def __call__(self, *args: Any) -> Any:
        spend(1)
        if len(args) != len(self.params):
            raise EvalError(f"the lambda ({', '.join(self.params)}) => … takes "
                            f"{count_of(len(self.params), 'argument')}, and was given {len(args)}")
        if len(args) == 1:
            return self.body(Scope(self.env, {self.params[0]: args[0]}))
        return self.body(Scope(self.env, dict(zip(self.params, args, strict=True))))

    def __repr__(self) -> str:
        return f"<lambda ({', '.join(self.params)})>"


class Scope:
    """A lambda's parameters in front of the names it was made among."""

    __slots__ = ("parent", "vars")

    def __init__(self, parent: Env, vars: dict[str, Any]) -> None:
        self.parent = parent
        self.vars = vars

    def lookup(self, name: str) -> Any:
        if name in self.vars:
            return self.vars[name]
        return self.parent.lookup(name)

    def task_field(self, node: str, field: str) -> Any:
        return self.parent.task_field(node, field)


#: A let's value before its first read.
_UNSET: Any = object()


class Let:
    """A :class:`~twdsl.ir.expr.Let`'s name in front of the names around it, evaluated on its
    first read and remembered (X.Let: lazy, at most once).  ``compute`` evaluates the value
    among the names around the let (``parent``), never among its own."""

    __slots__ = ("parent", "name", "compute", "value")

    def __init__(self, parent: Env, name: str, compute: Fn) -> None:
        self.parent = parent
        self.name = name
        self.compute = compute
        self.value = _UNSET

    def lookup(self, name: str) -> Any:
        if name == self.name:
            v = self.value
            if v is _UNSET:  # an error leaves it unset: a later read raises it again
                v = self.value = self.compute(self.parent)
            return v
        return self.parent.lookup(name)

    def task_field(self, node: str, field: str) -> Any:
        return self.parent.task_field(node, field)


class NoNames:
    """The names a constant expression sees: none."""

    def lookup(self, name: str) -> Any:
        raise KeyError(name)

    def task_field(self, node: str, field: str) -> Any:
        raise KeyError(node)


def read_name(env: Env, name: str) -> Any:
    try:
        return env.lookup(name)
    except KeyError:
        raise EvalError(f"the name '{name}' has no value here") from None


def read_task(env: Env, node: str, field: str) -> Any:
    try:
        return env.task_field(node, field)
    except KeyError:
        raise EvalError(f"task '{node}' has no '{field}' here") from None
