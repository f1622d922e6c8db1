"""The sandboxed evaluator: runs the expression trees of :mod:`twdsl.ir.expr`, never Python's
``eval``.

Two ways to run a tree, with the same semantics (the operations below are shared):

* :func:`compile_expr` turns the tree into nested Python closures once; the runtime calls the
  result for every evaluation (a 10,000-item ``foreach`` evaluates a task's input 10,000
  times), so this is the hot path.  :func:`evaluate` compiles through a small cache.
* :func:`interpret` walks the tree with an explicit stack, no recursion: trees nested deeper
  than :data:`MAX_COMPILED_DEPTH` run this way, so that a 1,000-deep expression cannot reach
  Python's recursion limit.

:func:`fold` is the optimizer's constant folding and :func:`is_constant` its test.

Semantics (docs/language.md, Expressions): values are those of :mod:`twdsl.ir.values`.
Numbers are JSON numbers: an operation on two ints whose result is whole stays an int
(``6 / 3`` is ``2``, ``7 / 2`` is ``3.5``); an int beyond 2**63 becomes a float and a float
that overflows is an error, so no computation grows without bound.  ``%`` takes the sign of
the dividend (``-4 % 3`` is ``-1``, as in JavaScript, C and Go); ``round`` rounds half away
from zero (``round(2.5)`` is ``3``, ``round(-2.5)`` is ``-3``).  Reading into ``null`` gives
``null`` (Q3): a member, an index or a method call on a ``null`` receiver is ``null`` (the
arguments of such a call are not evaluated); a missing object key reads as ``null``.  Values
of type ``any`` reach this module unchecked, so every operation checks its operands and
raises :class:`EvalError` with a one-line message otherwise.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from twdsl.ir import expr as X
from twdsl.ir.values import (
    Duration,
    EvalError,
    equal,
    format_number,
    hash_key,
    render,
    type_name,
)

__all__ = ["MAX_COMPILED_DEPTH", "Closure", "Env", "EvalError", "compile_expr", "evaluate",
           "fold", "interpret", "is_constant"]

#: Trees nested deeper than this are interpreted iteratively instead of compiled to closures
#: (each level of closures is a Python frame or two).
MAX_COMPILED_DEPTH = 100
#: The most items ``range()`` makes: a sandbox does not let one expression fill the memory.
MAX_RANGE = 1_000_000
#: Ints beyond this magnitude become floats (JSON numbers are doubles for most readers).
_BIG_INT = 2**63


class Env(Protocol):
    """What an expression reads: names and the fields of tasks (the runtime provides it)."""

    def lookup(self, name: str) -> Any: ...  # KeyError when unbound

    def task_field(self, node: str, field: str) -> Any: ...


Fn = Callable[[Env], Any]


class Closure:
    """A lambda's value: its parameters, its compiled body and the names it was made among."""

    __slots__ = ("params", "body", "env")

    def __init__(self, params: tuple[str, ...], body: Fn, env: Env) -> None:
        self.params = params
        self.body = body
        self.env = env

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.params):
            raise EvalError(f"the lambda ({', '.join(self.params)}) => … takes "
                            f"{_count(len(self.params), 'argument')}, and was given {len(args)}")
        if len(args) == 1:
            return self.body(_Scope(self.env, {self.params[0]: args[0]}))
        return self.body(_Scope(self.env, dict(zip(self.params, args, strict=True))))

    def __repr__(self) -> str:
        return f"<lambda ({', '.join(self.params)})>"


class _Scope:
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


class _Let:
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


class _NoNames:
    """The names a constant expression sees: none."""

    def lookup(self, name: str) -> Any:
        raise KeyError(name)

    def task_field(self, node: str, field: str) -> Any:
        raise KeyError(node)


# -- helpers for messages -----------------------------------------------------------------

def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{'no' if n == 0 else n} {noun}s"


def _a(v: Any) -> str:
    """``a number``, ``an array``, ``null``: a value's kind with its article."""
    name = type_name(v)
    if v is None:
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name


def _is_num(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


def _lookup(env: Env, name: str) -> Any:
    try:
        return env.lookup(name)
    except KeyError:
        raise EvalError(f"the name '{name}' has no value here") from None


def _task(env: Env, node: str, field: str) -> Any:
    try:
        return env.task_field(node, field)
    except KeyError:
        raise EvalError(f"task '{node}' has no '{field}' here") from None


# -- operators ----------------------------------------------------------------------------

def _number(r: int | float) -> int | float:
    """An arithmetic result, kept within bounds (module docstring)."""
    if type(r) is int:
        if -_BIG_INT <= r <= _BIG_INT:
            return r
        try:
            r = float(r)
        except OverflowError:
            raise EvalError("the number is too large") from None
    if not math.isfinite(r):
        raise EvalError("the number is too large")
    return r


def _cannot(op: str, a: Any, b: Any) -> EvalError:
    return EvalError(f"'{op}' cannot combine {type_name(a)} and {type_name(b)}")


def _datetime(f: Callable[[], Any]) -> Any:
    try:
        return f()
    except (OverflowError, ValueError):
        raise EvalError("the datetime is out of range") from None


def _add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _number(a + b)
    if ta is tb and (ta is str or ta is list):
        return a + b
    if ta is Duration:
        if tb is Duration:
            return Duration(a.seconds + b.seconds)
        if isinstance(b, datetime):
            return _datetime(lambda: b + a.timedelta)
    elif tb is Duration and isinstance(a, datetime):
        return _datetime(lambda: a + b.timedelta)
    raise _cannot("+", a, b)


def _sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _number(a - b)
    if tb is Duration:
        if ta is Duration:
            return Duration(a.seconds - b.seconds)
        if isinstance(a, datetime):
            return _datetime(lambda: a - b.timedelta)
    elif isinstance(a, datetime) and isinstance(b, datetime):
        return Duration((a - b).total_seconds())
    raise _cannot("-", a, b)


def _mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _number(a * b)
    if ta is Duration and (tb is int or tb is float):
        return Duration(_number(a.seconds * b))
    if tb is Duration and (ta is int or ta is float):
        return Duration(_number(a * b.seconds))
    raise _cannot("*", a, b)


def _whole(r: float) -> int | float:
    return int(r) if r.is_integer() and abs(r) <= 2**53 else r


def _div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        if b == 0:
            raise EvalError(f"division by zero: {format_number(a)} / 0")
        if ta is int and tb is int and a % b == 0:
            return a // b
        try:
            return _number(a / b)
        except OverflowError:
            raise EvalError("the number is too large") from None
    if ta is Duration:
        if tb is int or tb is float:
            if b == 0:
                raise EvalError(f"division by zero: {a} / 0")
            return Duration(_number(a.seconds / b))
        if tb is Duration:
            if b.seconds == 0:
                raise EvalError(f"division by zero: {a} / {b}")
            return _whole(_number(a.seconds / b.seconds))
    raise _cannot("/", a, b)


def _mod(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        if b == 0:
            raise EvalError(f"division by zero: {format_number(a)} % 0")
        if ta is int and tb is int:
            r = abs(a) % abs(b)
            return -r if a < 0 else r
        return math.fmod(a, b)
    raise _cannot("%", a, b)


def _comparison(op: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        ta, tb = type(a), type(b)
        if ((ta is int or ta is float) and (tb is int or tb is float)) or \
                (ta is tb and (ta is str or ta is Duration)):
            return test(a, b)
        if isinstance(a, datetime) and isinstance(b, datetime):
            try:
                return test(a, b)
            except TypeError:  # naive and aware: the runtime only makes aware ones
                pass
        raise EvalError(f"'{op}' cannot compare {type_name(a)} and {type_name(b)}")
    return compare


#: The binary operators that evaluate both sides, by symbol.
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add, "-": _sub, "*": _mul, "/": _div, "%": _mod,
    "<": _comparison("<", lambda a, b: a < b), ">": _comparison(">", lambda a, b: a > b),
    "<=": _comparison("<=", lambda a, b: a <= b), ">=": _comparison(">=", lambda a, b: a >= b),
    "==": equal, "!=": lambda a, b: not equal(a, b),
}


def _boolean(op: str, side: str, v: Any) -> bool:
    if type(v) is not bool:
        raise EvalError(f"'{op}' needs booleans, and its {side} side is {type_name(v)}")
    return v


def _unary(op: str, v: Any) -> Any:
    if op == "!":
        if type(v) is bool:
            return not v
        raise EvalError(f"'!' needs a boolean, and this is {type_name(v)}")
    if type(v) is int or type(v) is float:
        return -v
    if type(v) is Duration:
        return Duration(-v.seconds)
    raise EvalError(f"'-' needs a number or a duration, and this is {type_name(v)}")


# -- member and index ---------------------------------------------------------------------

def _get(o: Any, name: str) -> Any:
    t = type(o)
    if t is dict:
        return o.get(name)
    if o is None:
        return None
    if name == "length" and (t is list or t is str):
        return len(o)
    raise EvalError(f"{_a(o)} has no member '{name}'")


def _position(o: list[Any] | str, i: Any) -> int:
    what = "an array" if type(o) is list else "a string"
    if type(i) is int:
        n = i
    elif type(i) is float:
        if not i.is_integer():
            raise EvalError(f"index {format_number(i)} is not a whole number")
        n = int(i)
    else:
        raise EvalError(f"{what} is indexed by a number, and this is {type_name(i)}")
    if 0 <= n < len(o):
        return n
    if not o:
        raise EvalError(f"index {n} is out of range for an empty {what.split()[1]}")
    size = _count(len(o), "item" if type(o) is list else "character")
    raise EvalError(f"index {n} is out of range for {what} of {size}")


def _index(o: Any, i: Any) -> Any:
    t = type(o)
    if t is list or t is str:
        return o[_position(o, i)]
    if t is dict:
        if type(i) is str:
            return o.get(i)
        raise EvalError(f"an object is indexed by a string, and this is {type_name(i)}")
    if o is None:
        return None
    raise EvalError(f"{_a(o)} cannot be indexed")


# -- builtin functions --------------------------------------------------------------------

def _arity(name: str, args: list[Any], n: int) -> None:
    if len(args) != n:
        raise EvalError(f"{name}() takes {_count(n, 'argument')}, and was given {len(args)}")


def _int_arg(name: str, v: Any) -> int:
    if type(v) is int:
        return v
    if type(v) is float and v.is_integer():
        return int(v)
    shown = format_number(v) if type(v) is float else type_name(v)
    raise EvalError(f"{name}() takes whole numbers, and this is {shown}")


def _fn_len(args: list[Any]) -> int:
    _arity("len", args, 1)
    x = args[0]
    if type(x) in (str, list, dict):
        return len(x)
    raise EvalError(f"len() takes a string, an array or an object, and this is {type_name(x)}")


def _fn_range(args: list[Any]) -> list[int]:
    if len(args) not in (1, 2):
        raise EvalError(f"range() takes 1 or 2 arguments, and was given {len(args)}")
    a, b = (0, _int_arg("range", args[0])) if len(args) == 1 else \
        (_int_arg("range", args[0]), _int_arg("range", args[1]))
    if b - a > MAX_RANGE:
        raise EvalError(f"range() would make {b - a} items; at most {MAX_RANGE}")
    return list(range(a, b))


def _numbers(name: str, args: list[Any]) -> list[Any]:
    xs = args[0] if len(args) == 1 and type(args[0]) is list else args
    if not args:
        raise EvalError(f"{name}() takes numbers or one array of numbers, and was given none")
    for x in xs:
        if not _is_num(x):
            raise EvalError(f"{name}() takes numbers, and this is {type_name(x)}")
    return xs  # type: ignore[no-any-return]


def _fn_min(args: list[Any]) -> Any:
    xs = _numbers("min", args)
    if not xs:
        raise EvalError("min() of an empty array")
    return min(xs)


def _fn_max(args: list[Any]) -> Any:
    xs = _numbers("max", args)
    if not xs:
        raise EvalError("max() of an empty array")
    return max(xs)


def _fn_sum(args: list[Any]) -> Any:
    _arity("sum", args, 1)
    if type(args[0]) is not list:
        raise EvalError(f"sum() takes an array of numbers, and this is {type_name(args[0])}")
    total: Any = 0
    for x in args[0]:
        if not _is_num(x):
            raise EvalError(f"sum() takes numbers, and this is {type_name(x)}")
        total = _number(total + x)
    return total


def _fn_round(args: list[Any]) -> Any:
    _arity("round", args, 1)
    x = args[0]
    if type(x) is int:
        return x
    if type(x) is not float:
        raise EvalError(f"round() takes a number, and this is {type_name(x)}")
    if abs(x) >= 2**52:  # already whole
        return _whole(x)
    n = math.floor(abs(x))
    if abs(x) - n >= 0.5:  # exact: subtracting the floor loses nothing
        n += 1
    return -n if x < 0 else n


def _fn_string(args: list[Any]) -> str:
    _arity("string", args, 1)
    return render(args[0])


_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d+)?([eE][+-]?\d+)?\s*")


def _fn_number(args: list[Any]) -> Any:
    _arity("number", args, 1)
    s = args[0]
    if _is_num(s):
        return s
    if type(s) is not str:
        raise EvalError(f"number() takes a string, and this is {type_name(s)}")
    m = _NUMBER.fullmatch(s)
    shown = render([s[:40] + "…" if len(s) > 40 else s])[1:-1]
    if m is None:
        raise EvalError(f"number({shown}): not a number")
    try:
        return _number(float(s) if m.group(1) or m.group(2) else int(s))
    except (ValueError, EvalError):
        raise EvalError(f"number({shown}): the number is too large") from None


def _object_arg(name: str, args: list[Any]) -> dict[str, Any]:
    _arity(name, args, 1)
    if type(args[0]) is not dict:
        raise EvalError(f"{name}() takes an object, and this is {type_name(args[0])}")
    return args[0]  # type: ignore[no-any-return]


def _fn_merge(args: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, a in enumerate(args, 1):
        if type(a) is not dict:
            raise EvalError(f"merge() takes objects, and argument {n} is {type_name(a)}")
        out.update(a)
    return out


#: The builtin functions (docs/language.md, Builtin functions), each taking its arguments.
FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "len": _fn_len, "range": _fn_range, "min": _fn_min, "max": _fn_max, "sum": _fn_sum,
    "round": _fn_round, "string": _fn_string, "number": _fn_number,
    "keys": lambda a: list(_object_arg("keys", a)),
    "values": lambda a: list(_object_arg("values", a).values()),
    "merge": _fn_merge,
}


def _call(fn: str, args: list[Any]) -> Any:
    f = FUNCTIONS.get(fn)
    if f is None:
        raise EvalError(f"unknown function '{fn}'")
    return f(args)


# -- methods ------------------------------------------------------------------------------

def _lambda(method: str, f: Any) -> Closure:
    if type(f) is not Closure:
        raise EvalError(f"{method}() takes a lambda, and this is {type_name(f)}")
    return f


def _test(method: str, f: Closure, x: Any) -> bool:
    r = f(x)
    if type(r) is not bool:
        raise EvalError(f"{method}(): the lambda returned {type_name(r)}, not a boolean")
    return r


def _string_arg(method: str, v: Any) -> str:
    if type(v) is not str:
        raise EvalError(f"{method}() takes a string, and this is {type_name(v)}")
    return v  # type: ignore[no-any-return]


def _sort(xs: list[Any]) -> list[Any]:
    if not xs:
        return []
    first = xs[0]
    kind = type_name(first)
    if kind not in ("number", "string", "duration", "datetime"):
        raise EvalError(f"sort() cannot order values of type {kind}")
    for x in xs:
        if type_name(x) != kind:
            raise EvalError(f"sort() cannot compare {kind} and {type_name(x)}")
    return sorted(xs)


def _slice(xs: list[Any], a: Any, b: Any) -> list[Any]:
    lo, hi = _int_arg("slice", a), _int_arg("slice", b)
    for n in (lo, hi):
        if n < 0:
            raise EvalError(f"slice() takes bounds of 0 or more, and this is {n}")
    return xs[lo:hi]


def _unique(xs: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for x in xs:
        k = hash_key(x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


def _flatten(xs: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in xs:
        if type(x) is list:
            out.extend(x)
        else:
            out.append(x)
    return out


def _concat(xs: list[Any], ys: Any) -> list[Any]:
    if type(ys) is not list:
        raise EvalError(f"concat() takes an array, and this is {type_name(ys)}")
    return xs + ys


def _find(xs: list[Any], f: Any) -> Any:
    f = _lambda("find", f)
    for x in xs:
        if _test("find", f, x):
            return x
    return None


def _reduce(xs: list[Any], f: Any, acc: Any) -> Any:
    f = _lambda("reduce", f)
    for x in xs:
        acc = f(acc, x)
    return acc


def _split(s: str, sep: Any) -> list[str]:
    sep = _string_arg("split", sep)
    return list(s) if sep == "" else s.split(sep)


# name -> (number of arguments, function of the receiver and the arguments)
_ARRAY: dict[str, tuple[int, Callable[..., Any]]] = {
    "filter": (1, lambda xs, f: [x for x in xs if _test("filter", _lambda("filter", f), x)]),
    "map": (1, lambda xs, f: [_lambda("map", f)(x) for x in xs]),
    "find": (1, _find),
    "any": (1, lambda xs, f: any(_test("any", _lambda("any", f), x) for x in xs)),
    "all": (1, lambda xs, f: all(_test("all", _lambda("all", f), x) for x in xs)),
    "count": (1, lambda xs, f: sum(1 for x in xs if _test("count", _lambda("count", f), x))),
    "reduce": (2, _reduce),
    "contains": (1, lambda xs, v: any(equal(x, v) for x in xs)),
    "join": (1, lambda xs, sep: _string_arg("join", sep).join(render(x) for x in xs)),
    "length": (0, len),
    "first": (0, lambda xs: xs[0] if xs else None),
    "last": (0, lambda xs: xs[-1] if xs else None),
    "sort": (0, _sort),
    "reverse": (0, lambda xs: xs[::-1]),
    "unique": (0, _unique),
    "slice": (2, _slice),
    "concat": (1, _concat),
    "flatten": (0, _flatten),
}
_STRING: dict[str, tuple[int, Callable[..., Any]]] = {
    "startsWith": (1, lambda s, p: s.startswith(_string_arg("startsWith", p))),
    "endsWith": (1, lambda s, p: s.endswith(_string_arg("endsWith", p))),
    "contains": (1, lambda s, p: _string_arg("contains", p) in s),
    "length": (0, len),
    "upper": (0, str.upper),
    "lower": (0, str.lower),
    "trim": (0, str.strip),
    "split": (1, _split),
    "replace": (2, lambda s, a, b: s.replace(_string_arg("replace", a),
                                            _string_arg("replace", b))),
}
_OBJECT: dict[str, tuple[int, Callable[..., Any]]] = {
    "keys": (0, list),
    "values": (0, lambda o: list(o.values())),
    "has": (1, lambda o, k: _string_arg("has", k) in o),
}
_METHODS: dict[type, dict[str, tuple[int, Callable[..., Any]]]] = {
    list: _ARRAY, str: _STRING, dict: _OBJECT}


def _method(o: Any, name: str, args: list[Any]) -> Any:
    table = _METHODS.get(type(o))
    if table is None:
        if o is None:
            return None
        raise EvalError(f"{_a(o)} has no method '{name}'")
    m = table.get(name)
    if m is None:
        raise EvalError(f"{_a(o)} has no method '{name}'")
    if len(args) != m[0]:
        raise EvalError(f"{name}() takes {_count(m[0], 'argument')}, and was given {len(args)}")
    return m[1](o, *args)


# -- compiling to closures ----------------------------------------------------------------

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
    >>> compile_expr(Binary(op="*", l=Lit(v=6), r=Lit(v=7)))(_NoNames())
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
        return lambda env: _task(env, node, field)
    if k == "get":
        return _compile_get(e.obj, e.name)
    if k == "index":
        fo, fi = _compile(e.obj), _compile(e.index)
        return lambda env: _index(fo(env), fi(env))
    if k == "call":
        fn, fargs = e.fn, [_compile(a) for a in e.args]
        impl = FUNCTIONS.get(fn)
        if impl is None:
            return lambda env: _call(fn, [f(env) for f in fargs])
        return lambda env: impl([f(env) for f in fargs])
    if k == "method":
        fo, name, fargs = _compile(e.obj), e.name, [_compile(a) for a in e.args]

        def method(env: Env) -> Any:
            o = fo(env)
            return None if o is None else _method(o, name, [f(env) for f in fargs])
        return method
    if k == "un":
        fe, op = _compile(e.e), e.op
        if op == "!":
            def not_(env: Env) -> Any:
                v = fe(env)
                return (not v) if type(v) is bool else _unary("!", v)
            return not_
        return lambda env: _unary(op, fe(env))
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
            return "".join(out)
        return string
    if k == "lambda":
        params, body = tuple(e.params), _compile(e.body)
        return lambda env: Closure(params, body, env)
    if k == "let":
        let_name, value, let_body = e.name, _compile(e.value), _compile(e.body)
        return lambda env: let_body(_Let(env, let_name, value))
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
            return o.get(name) if type(o) is dict else _get(o, name)
        return get_var
    if obj.k == "task":
        node, field = obj.node, obj.field

        def get_task(env: Env) -> Any:
            try:
                o = env.task_field(node, field)
            except KeyError:
                raise EvalError(f"task '{node}' has no '{field}' here") from None
            return o.get(name) if type(o) is dict else _get(o, name)
        return get_task
    fo = _compile(obj)

    def get(env: Env) -> Any:
        o = fo(env)
        return o.get(name) if type(o) is dict else _get(o, name)
    return get


def _text(v: Any) -> str:
    return v if type(v) is str else render(v)


def _compile_binary(op: str, fl: Fn, fr: Fn) -> Fn:
    if op == "&&":
        def and_(env: Env) -> bool:
            return _boolean("&&", "left", fl(env)) and _boolean("&&", "right", fr(env))
        return and_
    if op == "||":
        def or_(env: Env) -> bool:
            return _boolean("||", "left", fl(env)) or _boolean("||", "right", fr(env))
        return or_
    if op == "??":
        def default(env: Env) -> Any:
            v = fl(env)
            return fr(env) if v is None else v
        return default
    f = OPERATORS[op]
    if op == "==":
        def eq(env: Env) -> bool:
            a, b = fl(env), fr(env)
            return a == b if type(a) is type(b) and type(a) in (str, int) else equal(a, b)
        return eq
    return lambda env: f(fl(env), fr(env))


# -- interpreting without recursion -------------------------------------------------------

_EVAL, _APPLY, _METHOD, _SHORT = range(4)


def interpret(expr: X.Expr, env: Env) -> Any:
    """Evaluate ``expr`` by walking the tree with an explicit stack: any depth, no recursion
    (except into lambdas called by methods, and into a let's value on its first read).  Same
    semantics as :func:`compile_expr`.

    >>> from twdsl.ir.expr import Str, Lit
    >>> interpret(Str(parts=["n = ", Lit(v=2.0)]), _NoNames())
    'n = 2'
    """
    try:
        return _interpret(expr, env)
    except RecursionError:
        raise _TooDeep("the expression is nested too deeply to evaluate") from None


class _TooDeep(EvalError):
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
            push((_APPLY, lambda v, name=name: _method(v[0], name, v[1:]), len(a.args) + 1))
            todo.extend((_EVAL, x, b) for x in reversed(a.args))
            continue
        if tag == _SHORT:  # the left side is on top; a: the Binary node, b: env
            left, op = vals.pop(), a.op
            if op == "??":
                if left is None:
                    push((_EVAL, a.r, b))
                else:
                    vals.append(left)
            elif _boolean(op, "left", left) == (op == "||"):
                vals.append(left)
            else:
                push((_APPLY, lambda v, op=op: _boolean(op, "right", v[0]), 1))
                push((_EVAL, a.r, b))
            continue
        e, env = a, b
        k = e.k
        if k == "lit":
            vals.append(e.v)
        elif k == "dur":
            vals.append(Duration(e.seconds))
        elif k == "var":
            vals.append(_lookup(env, e.name))
        elif k == "task":
            vals.append(_task(env, e.node, e.field))
        elif k == "lambda":
            vals.append(Closure(tuple(e.params), functools.partial(_interpret, e.body), env))
        elif k == "let":  # the value is interpreted (by a call of its own) when first read
            push((_EVAL, e.body, _Let(env, e.name, functools.partial(_interpret, e.value))))
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
        return lambda v: _get(v[0], e.name)
    if k == "index":
        return lambda v: _index(v[0], v[1])
    if k == "call":
        return lambda v: _call(e.fn, v)
    if k == "un":
        return lambda v: _unary(e.op, v[0])
    if k == "bin":
        return lambda v: OPERATORS[e.op](v[0], v[1])
    if k == "array":
        return list
    if k == "object":
        return lambda v: {key: x for (key, _), x in zip(e.entries, v, strict=True)}
    if k == "str":
        def join(v: list[Any]) -> str:
            it = iter(v)
            return "".join([p if isinstance(p, str) else _text(next(it)) for p in e.parts])
        return join
    raise EvalError(f"unknown kind of expression '{k}'")


# -- evaluate -----------------------------------------------------------------------------

_CACHE: dict[int, tuple[Any, Fn]] = {}
_CACHE_SIZE = 2048


def evaluate(expr: X.Expr, env: Env) -> Any:
    """The value of ``expr`` among the names of ``env``.  The compiled form is cached by the
    identity of ``expr`` (the models hold lists, so they are not hashable).

    >>> from twdsl.ir.expr import Binary, Lit
    >>> evaluate(Binary(op="/", l=Lit(v=7), r=Lit(v=2)), _NoNames())
    3.5
    """
    hit = _CACHE.get(id(expr))
    if hit is None or hit[0] is not expr:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        hit = _CACHE[id(expr)] = (expr, compile_expr(expr))
    return hit[1](env)


# -- constant folding ---------------------------------------------------------------------

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
            value = compile_expr(e)(_NoNames())
        except (_TooDeep, RecursionError):
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
        v = compile_expr(e)(_NoNames())
    except (_TooDeep, RecursionError):
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
                p = _text(compile_expr(p)(_NoNames()))
            except EvalError:
                pass
        if isinstance(p, str) and parts and isinstance(parts[-1], str):
            parts[-1] += p
        elif not (isinstance(p, str) and p == ""):
            parts.append(p)
    if all(isinstance(p, str) for p in parts):
        return X.Lit(v="".join(parts))
    return e if parts == e.parts else e.model_copy(update={"parts": parts})
