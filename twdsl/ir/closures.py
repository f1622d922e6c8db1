"""The closure compiler: an expression tree (:mod:`twdsl.ir.expr`) turned into nested Python
closures once, called for every evaluation (a 10,000-item ``foreach`` evaluates a task's input
10,000 times, so this is the hot path).  Trees nested deeper than :data:`MAX_COMPILED_DEPTH`
are run by the iterative :func:`twdsl.ir.interpret.interpret` instead, with the same semantics
(the operations of :mod:`twdsl.ir.ops` are shared).
"""

from __future__ import annotations

import functools
from typing import Any

from twdsl.ir import expr as X
from twdsl.ir import ops
from twdsl.ir.env import Closure, Env, Fn, Let, read_task
from twdsl.ir.interpret import interpret
from twdsl.lang.builtins import FUNCTIONS
from twdsl.lang.limits import check_text
from twdsl.lang.values import Duration, EvalError, equal, render

__all__ = ["MAX_COMPILED_DEPTH", "compile_expr", "depth"]

#: Trees nested deeper than this are interpreted iteratively instead of compiled to closures
#: (each level of closures is a Python frame or two).
MAX_COMPILED_DEPTH = 100

#: A lambda counts as this many levels: calling one through a method costs about as many
#: Python frames.
_LAMBDA_WEIGHT = 5


def depth(expr: X.Expr) -> int:
    """How deeply ``expr`` nests in Python frames when compiled (a leaf is 1; a lambda counts
    :data:`_LAMBDA_WEIGHT`), counted without recursion.  A let counts its body's depth plus its
    value's: the value is evaluated where the body reads the name, possibly at its deepest."""
    height: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if not ready:
            if id(e) not in height:
                stack.append((e, True))
                stack.extend((c, False) for c in X.children(e))
            continue
        kids = [height[id(c)] for c in X.children(e)]
        if e.k == "let":
            height[id(e)] = 1 + kids[0] + kids[1]
        else:
            step = _LAMBDA_WEIGHT if e.k == "lambda" else 1
            height[id(e)] = (step + max(kids)) if kids else 1
    return height[id(expr)]


def compile_expr(expr: X.Expr) -> Fn:
    """``expr`` as a function of an :class:`Env`, built once: nested closures, or the
    iterative :func:`interpret` for trees deeper than :data:`MAX_COMPILED_DEPTH`.

    >>> from twdsl.ir.expr import Binary, Lit
    >>> from twdsl.ir.env import NoNames
    >>> compile_expr(Binary(op="*", l=Lit(v=6), r=Lit(v=7)))(NoNames())
    42
    """
    if depth(expr) > MAX_COMPILED_DEPTH:
        return functools.partial(interpret, expr)
    return _compile(expr)


def _compile(e: Any) -> Fn:  # noqa: C901 - one case per kind of node
    k = e.k
    if k == "lit":
        v = e.v
        return lambda env: v
    if k == "dur":
        d = Duration(e.seconds)
        return lambda env: d
    if k == "var":
        name = e.name

        def var(env: Env) -> Any:
            try:
                return env.lookup(name)
            except KeyError:
                raise EvalError(f"the name '{name}' has no value here") from None
        return var
    if k == "task":
        node, field = e.node, e.field
        return lambda env: read_task(env, node, field)
    if k == "get":
        return _compile_get(e.obj, e.name)
    if k == "index":
        fo, fi = _compile(e.obj), _compile(e.index)
        return lambda env: ops.index_value(fo(env), fi(env))
    if k == "call":
        fn, fargs = e.fn, [_compile(a) for a in e.args]
        found = FUNCTIONS.get(fn)
        if found is None:
            return lambda env: ops.call(fn, [f(env) for f in fargs])
        impl = found.impl
        return lambda env: impl([f(env) for f in fargs])
    if k == "method":
        fo, name, fargs = _compile(e.obj), e.name, [_compile(a) for a in e.args]

        def method(env: Env) -> Any:
            o = fo(env)
            return None if o is None else ops.method(o, name, [f(env) for f in fargs])
        return method
    if k == "un":
        fe, op = _compile(e.e), e.op
        if op == "!":
            def not_(env: Env) -> Any:
                v = fe(env)
                return (not v) if type(v) is bool else ops.unary("!", v)
            return not_
        return lambda env: ops.unary(op, fe(env))
    if k == "bin":
        return _compile_binary(e.op, _compile(e.l), _compile(e.r))
    if k == "array":
        items = [_compile(i) for i in e.items]

        def array(env: Env) -> list[Any]:
            out = []
            for f in items:
                out.append(f(env))
            return out
        return array
    if k == "object":
        entries = [(key, _compile(v)) for key, v in e.entries]

        def object_(env: Env) -> dict[str, Any]:
            out = {}
            for key, f in entries:  # a plain loop: faster than a comprehension's frame
                out[key] = f(env)
            return out
        return object_
    if k == "str":
        parts: list[Any] = [p if isinstance(p, str) else _compile(p) for p in e.parts]

        def string(env: Env) -> str:
            out = []
            for p in parts:
                if type(p) is not str:
                    p = p(env)
                    if type(p) is not str:
                        p = render(p)
                out.append(p)
            joined = "".join(out)
            check_text("the interpolated string", len(joined))
            return joined
        return string
    if k == "lambda":
        params, body = tuple(e.params), _compile(e.body)
        return lambda env: Closure(params, body, env)
    if k == "let":
        let_name, value, let_body = e.name, _compile(e.value), _compile(e.body)
        return lambda env: let_body(Let(env, let_name, value))
    raise EvalError(f"unknown kind of expression '{k}'")


def _compile_get(obj: Any, name: str) -> Fn:
    """``obj.name``, fused with reading ``obj`` when it is a name or a task's field: member
    reads are most of what task inputs do."""
    if obj.k == "var":
        var = obj.name

        def get_var(env: Env) -> Any:
            try:
                o = env.lookup(var)
            except KeyError:
                raise EvalError(f"the name '{var}' has no value here") from None
            return o.get(name) if type(o) is dict else ops.get_member(o, name)
        return get_var
    if obj.k == "task":
        node, field = obj.node, obj.field

        def get_task(env: Env) -> Any:
            try:
                o = env.task_field(node, field)
            except KeyError:
                raise EvalError(f"task '{node}' has no '{field}' here") from None
            return o.get(name) if type(o) is dict else ops.get_member(o, name)
        return get_task
    fo = _compile(obj)

    def get(env: Env) -> Any:
        o = fo(env)
        return o.get(name) if type(o) is dict else ops.get_member(o, name)
    return get



def _compile_binary(op: str, fl: Fn, fr: Fn) -> Fn:
    if op == "&&":
        def and_(env: Env) -> bool:
            return ops.boolean("&&", "left", fl(env)) and ops.boolean("&&", "right", fr(env))
        return and_
    if op == "||":
        def or_(env: Env) -> bool:
            return ops.boolean("||", "left", fl(env)) or ops.boolean("||", "right", fr(env))
        return or_
    if op == "??":
        def default(env: Env) -> Any:
            v = fl(env)
            return fr(env) if v is None else v
        return default
    f = ops.OPERATORS[op]
    if op == "==":
        def eq(env: Env) -> bool:
            a, b = fl(env), fr(env)
            return a == b if type(a) is type(b) and type(a) in (str, int) else equal(a, b)
        return eq
    return lambda env: f(fl(env), fr(env))
