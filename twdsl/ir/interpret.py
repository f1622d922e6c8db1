"""The iterative interpreter: an expression tree walked with an explicit stack, no recursion,
for trees too deep to compile to closures (:mod:`twdsl.ir.closures`); same semantics.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from twdsl.ir import expr as X
from twdsl.ir import ops
from twdsl.ir.env import Closure, Env, Let, read_name, read_task
from twdsl.lang.values import Duration, EvalError

__all__ = ["TooDeep", "interpret"]

_EVAL, _APPLY, _METHOD, _SHORT = range(4)


def interpret(expr: X.Expr, env: Env) -> Any:
    """Evaluate ``expr`` by walking the tree with an explicit stack: any depth, no recursion
    (except into lambdas called by methods, and into a let's value on its first read).  Same
    semantics as :func:`compile_expr`.

    >>> from twdsl.ir.expr import Str, Lit
    >>> from twdsl.ir.env import NoNames
    >>> interpret(Str(parts=["n = ", Lit(v=2.0)]), NoNames())
    'n = 2'
    """
    try:
        return _interpret(expr, env)
    except RecursionError:
        raise TooDeep("the expression is nested too deeply to evaluate") from None


class TooDeep(EvalError):
    """Lambdas called inside lambdas past Python's recursion limit: :func:`fold` does not
    try the trees around such a one again (each try would cost a full stack)."""


def _interpret(expr: Any, env: Env) -> Any:  # noqa: C901 - one case per kind of node
    vals: list[Any] = []
    todo: list[tuple[int, Any, Any]] = [(_EVAL, expr, env)]
    push, pop = todo.append, todo.pop
    while todo:
        tag, a, b = pop()
        if tag == _APPLY:  # a: function of the values, b: how many
            args = vals[len(vals) - b:]
            del vals[len(vals) - b:]
            vals.append(a(args))
            continue
        if tag == _METHOD:  # the receiver is on top; a: the Method node, b: env
            if vals[-1] is None:
                continue  # null.method(…) is null; its arguments are not evaluated
            name = a.name
            push((_APPLY, lambda v, name=name: ops.method(v[0], name, v[1:]), len(a.args) + 1))
            todo.extend((_EVAL, x, b) for x in reversed(a.args))
            continue
        if tag == _SHORT:  # the left side is on top; a: the Binary node, b: env
            left, op = vals.pop(), a.op
            if op == "??":
                if left is None:
                    push((_EVAL, a.r, b))
                else:
                    vals.append(left)
            elif ops.boolean(op, "left", left) == (op == "||"):
                vals.append(left)
            else:
                push((_APPLY, lambda v, op=op: ops.boolean(op, "right", v[0]), 1))
                push((_EVAL, a.r, b))
            continue
        e, env = a, b
        k = e.k
        if k == "lit":
            vals.append(e.v)
        elif k == "dur":
            vals.append(Duration(e.seconds))
        elif k == "var":
            vals.append(read_name(env, e.name))
        elif k == "task":
            vals.append(read_task(env, e.node, e.field))
        elif k == "lambda":
            vals.append(Closure(tuple(e.params), functools.partial(_interpret, e.body), env))
        elif k == "let":  # the value is interpreted (by a call of its own) when first read
            push((_EVAL, e.body, Let(env, e.name, functools.partial(_interpret, e.value))))
        elif k == "method":
            push((_METHOD, e, env))
            push((_EVAL, e.obj, env))
        elif k == "bin" and e.op in ("&&", "||", "??"):
            push((_SHORT, e, env))
            push((_EVAL, e.l, env))
        else:
            kids = X.children(e)
            push((_APPLY, _combine(e), len(kids)))
            todo.extend((_EVAL, c, env) for c in reversed(kids))
    return vals[-1]


def _combine(e: Any) -> Callable[[list[Any]], Any]:
    """How a node's value comes from its children's values, in :func:`X.children` order."""
    k = e.k
    if k == "get":
        return lambda v: ops.get_member(v[0], e.name)
    if k == "index":
        return lambda v: ops.index_value(v[0], v[1])
    if k == "call":
        return lambda v: ops.call(e.fn, v)
    if k == "un":
        return lambda v: ops.unary(e.op, v[0])
    if k == "bin":
        return lambda v: ops.OPERATORS[e.op](v[0], v[1])
    if k == "array":
        return list
    if k == "object":
        return lambda v: {key: x for (key, _), x in zip(e.entries, v, strict=True)}
    if k == "str":
        def join(v: list[Any]) -> str:
            it = iter(v)
            return "".join([p if isinstance(p, str) else ops.text(next(it)) for p in e.parts])
        return join
    raise EvalError(f"unknown kind of expression '{k}'")
