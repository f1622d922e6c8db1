"""Constant folding: the evaluator run at compile time on what reads nothing of a run.

:func:`fold` is what the ``fold-constants`` pass (:mod:`twdsl.passes.fold_constants`) applies to
every expression, and :func:`is_constant` its test.  Folding never explodes: each constant is
evaluated with a small budget of work (:data:`FOLD_WORK`, :mod:`twdsl.lang.limits`), and one that
runs out, fails or is too big to write as a literal stays an expression, for the run to compute
(and to report with its task if it fails).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twdsl.ir import expr as X
from twdsl.ir import ops
from twdsl.ir.closures import compile_expr
from twdsl.ir.env import NoNames
from twdsl.ir.interpret import TooDeep
from twdsl.lang.limits import budget
from twdsl.lang.values import Duration, EvalError

__all__ = ["FOLD_WORK", "fold", "is_constant"]

#: The work one constant may cost the folder (an evaluation at run time may cost far more).
FOLD_WORK = 200_000

def is_constant(expr: X.Expr) -> bool:
    """Whether ``expr`` reads nothing of a run: no name but its own lambdas' parameters and
    lets' names, no task (``env``, ``context`` and ``current_time`` are names: not constant).

    >>> from twdsl.ir.expr import Lambda, Var
    >>> is_constant(Lambda(params=["x"], body=Var(name="x"))), is_constant(Var(name="env"))
    (True, False)
    """
    stack: list[tuple[Any, frozenset[str]]] = [(expr, frozenset())]
    while stack:
        e, bound = stack.pop()
        if e.k == "var":
            if e.name not in bound:
                return False
        elif e.k == "task":
            return False
        elif e.k == "lambda":
            stack.append((e.body, bound | set(e.params)))
        elif e.k == "let":
            stack.append((e.value, bound))
            stack.append((e.body, bound | {e.name}))
        else:
            stack.extend((c, bound) for c in X.children(e))
    return True


_MAX_FOLDED_NODES = 1000  # a constant whose literal would be bigger stays an expression


def _literal(v: Any, budget: list[int], level: int = 0) -> X.Expr | None:
    """``v`` written as a literal tree, or None (a datetime, a lambda, too big or deep)."""
    budget[0] -= 1
    if budget[0] < 0 or level > 64:
        return None
    t = type(v)
    if v is None or t in (bool, int, float, str):
        return X.Lit(v=v)
    if t is Duration:
        return X.Dur(seconds=v.seconds)
    if t is list:
        items = [_literal(x, budget, level + 1) for x in v]
        return None if any(i is None for i in items) else X.Array(items=items)  # type: ignore[arg-type]
    if t is dict:
        entries = [(key, _literal(x, budget, level + 1)) for key, x in v.items()]
        if any(x is None for _, x in entries):
            return None
        return X.Object(entries=entries)  # type: ignore[arg-type]
    return None


class _Folded:
    """A folded node and what :func:`fold` needs to know of it."""

    __slots__ = ("expr", "free", "task", "literal", "too_deep")

    def __init__(self, expr: Any, free: frozenset[str], task: bool, literal: bool,
                 too_deep: bool = False) -> None:
        self.expr, self.free, self.task, self.literal = expr, free, task, literal
        self.too_deep = too_deep


def fold(expr: X.Expr) -> X.Expr:
    """``expr`` with every constant sub-tree replaced by its value as a literal.

    A sub-tree whose evaluation raises :class:`EvalError` stays (the error belongs to the
    run, where it is reported with its task), so do lambdas (their constant parts are folded)
    and datetimes (they have no literal).  ``true || x`` is ``true``, ``false && x`` is
    ``false``, ``null ?? x`` is ``x``, a non-null literal ``?? x`` is the literal, a method of
    ``null`` is ``null``; constant interpolations join the text around them.  A let whose
    body does not read its name is its body; one whose value folds to a scalar literal, or
    whose body reads it once outside any lambda, is substituted into its body.  No recursion
    (but for a let substituted: its body is folded again).

    >>> from twdsl.ir.expr import Binary, Lit, Var
    >>> fold(Binary(op="+", l=Binary(op="*", l=Lit(v=2), r=Lit(v=3)), r=Var(name="n")))
    Binary(k='bin', op='+', l=Lit(k='lit', v=6), r=Var(k='var', name='n'))
    """
    return _fold(expr).expr  # type: ignore[no-any-return]


def _fold(expr: Any) -> _Folded:
    done: dict[int, _Folded] = {}
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if ready:
            done[id(e)] = _fold_node(e, done)
        elif id(e) not in done:
            stack.append((e, True))
            stack.extend((c, False) for c in X.children(e))
    return done[id(expr)]


def _rebuild(e: Any, f: Callable[[Any], Any]) -> Any:
    """``e`` with each child ``c`` replaced by ``f(c)`` (the same object when none changes)."""
    k = e.k
    if k in ("get", "index", "method", "un", "bin", "lambda", "let"):
        update = {name: f(getattr(e, name)) for name in _CHILD_FIELDS[k]}
        if k in ("method",):
            update["args"] = [f(a) for a in e.args]
    elif k in ("call", "array"):
        field = "args" if k == "call" else "items"
        update = {field: [f(a) for a in getattr(e, field)]}
    elif k == "object":
        update = {"entries": [(key, f(v)) for key, v in e.entries]}
    elif k == "str":
        update = {"parts": [p if isinstance(p, str) else f(p) for p in e.parts]}
    else:
        return e
    if all(_same(getattr(e, name), v) for name, v in update.items()):
        return e
    return e.model_copy(update=update)


_CHILD_FIELDS = {"get": ("obj",), "index": ("obj", "index"), "method": ("obj",), "un": ("e",),
                 "bin": ("l", "r"), "lambda": ("body",), "let": ("value", "body")}


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, list):
        return len(old) == len(new) and all(
            (a[1] is b[1]) if isinstance(a, tuple) else (a is b)
            for a, b in zip(old, new, strict=True))
    return old is new


def _fold_node(e: Any, done: dict[int, _Folded]) -> _Folded:  # noqa: C901 - one case per rule
    kids = [done[id(c)] for c in X.children(e)]
    e = _rebuild(e, lambda c: done[id(c)].expr)
    k = e.k
    free = frozenset().union(*(c.free for c in kids)) if kids else frozenset()
    task = any(c.task for c in kids)
    if k == "var":
        return _Folded(e, frozenset([e.name]), False, False)
    if k == "task":
        return _Folded(e, frozenset(), True, False)
    if k in ("lit", "dur"):
        return _Folded(e, free, False, True)
    if k == "lambda":
        return _Folded(e, free - set(e.params), task, False, any(c.too_deep for c in kids))
    if k == "let":
        return _fold_let(e, kids)
    if k in ("array", "object") and all(c.literal for c in kids) and \
            (k == "array" or len({key for key, _ in e.entries}) == len(e.entries)):
        return _Folded(e, free, task, True)
    if k == "bin" and e.op in ("||", "&&", "??"):
        left = kids[0]
        if e.op == "??" and left.literal:
            return kids[1] if _is_lit(e.l, None) else left
        if _is_lit(e.l, e.op == "||"):  # true || x, false && x
            return left
    if k == "method" and _is_lit(e.obj, None):
        return _Folded(X.Lit(v=None), frozenset(), False, True)
    if k == "str":
        e = _join_constant_parts(e, kids)
    if any(c.too_deep for c in kids):
        return _Folded(e, free, task, False, True)
    if not free and not task:
        try:
            with budget(FOLD_WORK):
                value = compile_expr(e)(NoNames())
        except (TooDeep, RecursionError):
            return _Folded(e, free, task, False, True)
        except EvalError:
            return _Folded(e, free, task, False)
        lit = _literal(value, [_MAX_FOLDED_NODES])
        if lit is not None:
            return _Folded(lit, frozenset(), False, True)
    return _Folded(e, free, task, False)


def _fold_let(e: Any, kids: list[_Folded]) -> _Folded:
    """A let after its value and body were folded (:func:`fold`)."""
    value, body = kids
    reads, in_lambda = _reads(e.body, e.name)
    if reads == 0:
        return body  # the value is never evaluated: nothing observable goes with it
    if (value.literal and e.value.k in ("lit", "dur")) or (
            reads == 1 and not in_lambda and not value.free & _let_names(e.body)):
        # a literal has no effect, and a single read outside lambdas evaluates the value
        # where and when the let would (lazily, at that read), at most once; unless a let
        # between would bind one of the value's names to something else
        return _fold(_substitute(e.body, e.name, e.value))
    free = value.free | (body.free - {e.name})
    task, too_deep = value.task or body.task, value.too_deep or body.too_deep
    if too_deep or free or task:
        return _Folded(e, free, task, False, too_deep)
    try:
        with budget(FOLD_WORK):
            v = compile_expr(e)(NoNames())
    except (TooDeep, RecursionError):
        return _Folded(e, free, task, False, True)
    except EvalError:
        return _Folded(e, free, task, False)
    lit = _literal(v, [_MAX_FOLDED_NODES])
    return _Folded(e, free, task, False) if lit is None else _Folded(lit, free, task, True)


def _let_names(e: Any) -> set[str]:
    return {x.name for x in X.walk(e) if x.k == "let"}


def _scoped_children(e: Any, name: str) -> list[Any]:
    """The children of ``e`` in which ``name`` still means what it means at ``e``."""
    if e.k == "lambda":
        return [] if name in e.params else [e.body]
    if e.k == "let" and e.name == name:
        return [e.value]
    return X.children(e)


def _reads(e: Any, name: str) -> tuple[int, bool]:
    """How many times ``e`` reads the free name ``name``, and whether one read is inside a
    lambda (evaluated once per call)."""
    count, in_lambda = 0, False
    stack: list[tuple[Any, bool]] = [(e, False)]
    while stack:
        x, inside = stack.pop()
        if x.k == "var":
            if x.name == name:
                count += 1
                in_lambda = in_lambda or inside
            continue
        inside = inside or x.k == "lambda"
        stack.extend((c, inside) for c in _scoped_children(x, name))
    return count, in_lambda


def _substitute(expr: Any, name: str, by: Any) -> Any:
    """``expr`` with each free read of ``name`` replaced by ``by`` (no recursion)."""
    done: dict[int, Any] = {}
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if not ready:
            if id(e) not in done:
                stack.append((e, True))
                stack.extend((c, False) for c in _scoped_children(e, name))
            continue
        if e.k == "var":
            done[id(e)] = by if e.name == name else e
        elif e.k == "lambda" and name in e.params:
            done[id(e)] = e
        elif e.k == "let" and e.name == name:  # its body sees its own name
            v = done[id(e.value)]
            done[id(e)] = e if v is e.value else e.model_copy(update={"value": v})
        else:
            done[id(e)] = _rebuild(e, lambda c: done[id(c)])
    return done[id(expr)]


def _is_lit(e: Any, v: Any) -> bool:
    """``e`` is the literal ``v`` (by identity: ``Lit(v=0) == Lit(v=False)`` for pydantic)."""
    return e.k == "lit" and e.v is v


def _join_constant_parts(e: Any, kids: list[_Folded]) -> Any:
    """A string's literal interpolations rendered into the text around them."""
    literal = iter(c.literal for c in kids)
    parts: list[Any] = []
    for p in e.parts:
        if not isinstance(p, str) and next(literal):
            try:
                p = ops.text(compile_expr(p)(NoNames()))
            except EvalError:
                pass
        if isinstance(p, str) and parts and isinstance(parts[-1], str):
            parts[-1] += p
        elif not (isinstance(p, str) and p == ""):
            parts.append(p)
    if all(isinstance(p, str) for p in parts):
        return X.Lit(v="".join(parts))
    return e if parts == e.parts else e.model_copy(update={"parts": parts})
