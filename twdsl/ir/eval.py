"""The sandboxed evaluator: runs the expression trees of :mod:`twdsl.ir.expr`, never Python's
``eval``.  This module is its front door; the parts are

* :mod:`twdsl.ir.env` - what an expression is evaluated among (:class:`Env`, closures, lets);
* :mod:`twdsl.ir.ops` - the operations (operators, members, indexes, builtin calls, whose
  implementations live with their signatures in :mod:`twdsl.lang.builtins`);
* :mod:`twdsl.ir.closures` - the closure compiler (the hot path);
* :mod:`twdsl.ir.interpret` - the iterative interpreter, for trees too deep to compile.

Constant folding, the optimizer's use of the evaluator, is :mod:`twdsl.passes.fold`.

Semantics (docs/language.md, Expressions): values are those of :mod:`twdsl.lang.values`.
Numbers are JSON numbers: an operation on two ints whose result is whole stays an int
(``6 / 3`` is ``2``, ``7 / 2`` is ``3.5``); an int beyond 2**63 becomes a float and a float
that overflows is an error, so no computation grows without bound.  ``%`` takes the sign of
the dividend (``-4 % 3`` is ``-1``, as in JavaScript, C and Go); ``round`` rounds half away
from zero (``round(2.5)`` is ``3``, ``round(-2.5)`` is ``-3``).  Reading into ``null`` gives
``null`` (Q3): a member, an index or a method call on a ``null`` receiver is ``null`` (the
arguments of such a call are not evaluated); a missing object key reads as ``null``.  One
evaluation stays within the limits of :mod:`twdsl.lang.limits` (items, characters, steps).
"""

from __future__ import annotations

from typing import Any

from twdsl.ir import expr as X
from twdsl.ir.closures import MAX_COMPILED_DEPTH, compile_expr
from twdsl.ir.env import Closure, Env, Fn, NoNames
from twdsl.ir.interpret import interpret
from twdsl.lang.limits import reset
from twdsl.lang.values import EvalError

__all__ = ["MAX_COMPILED_DEPTH", "Closure", "Env", "EvalError", "NoNames", "compile_expr",
           "evaluate", "interpret"]

_CACHE: dict[int, tuple[Any, Fn]] = {}
_CACHE_SIZE = 2048


def evaluate(expr: X.Expr, env: Env) -> Any:
    """The value of ``expr`` among the names of ``env``.  The compiled form is cached by the
    identity of ``expr`` (the models hold lists, so they are not hashable).

    >>> from twdsl.ir.expr import Binary, Lit
    >>> from twdsl.ir.env import NoNames
    >>> evaluate(Binary(op="/", l=Lit(v=7), r=Lit(v=2)), NoNames())
    3.5
    """
    hit = _CACHE.get(id(expr))
    if hit is None or hit[0] is not expr:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        hit = _CACHE[id(expr)] = (expr, compile_expr(expr))
    reset()
    return hit[1](env)
