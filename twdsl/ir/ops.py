"""The operations of expressions: operators, members, indexes, and calls of the builtins of
:mod:`twdsl.lang.builtins` (docs/language.md, Expressions).

Values of type ``any`` reach these unchecked, so every operation checks its operands and raises
:class:`~twdsl.lang.values.EvalError` with a one-line message otherwise.  Numbers stay within
bounds (:func:`~twdsl.lang.values.number_result`), strings and arrays within
:mod:`twdsl.lang.limits`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twdsl.lang.builtins import FUNCTIONS, METHODS_BY_TYPE
from twdsl.lang.limits import check_items, check_text
from twdsl.lang.values import (
    Duration,
    EvalError,
    a_value,
    count_of,
    equal,
    format_number,
    number_result,
    render,
    type_name,
    whole,
)


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
        return number_result(a + b)
    if ta is tb and ta is str:
        check_text("'+'", len(a) + len(b))
        return a + b
    if ta is tb and ta is list:
        check_items("'+'", len(a) + len(b))
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
        return number_result(a - b)
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
        return number_result(a * b)
    if ta is Duration and (tb is int or tb is float):
        return Duration(number_result(a.seconds * b))
    if tb is Duration and (ta is int or ta is float):
        return Duration(number_result(a * b.seconds))
    raise _cannot("*", a, b)



def _div(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        if b == 0:
            raise EvalError(f"division by zero: {format_number(a)} / 0")
        if ta is int and tb is int and a % b == 0:
            return a // b
        try:
            return number_result(a / b)
        except OverflowError:
            raise EvalError("the number is too large") from None
    if ta is Duration:
        if tb is int or tb is float:
            if b == 0:
                raise EvalError(f"division by zero: {a} / 0")
            return Duration(number_result(a.seconds / b))
        if tb is Duration:
            if b.seconds == 0:
                raise EvalError(f"division by zero: {a} / {b}")
            return whole(number_result(a.seconds / b.seconds))
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


def boolean(op: str, side: str, v: Any) -> bool:
    if type(v) is not bool:
        raise EvalError(f"'{op}' needs booleans, and its {side} side is {type_name(v)}")
    return v


def unary(op: str, v: Any) -> Any:
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

def get_member(o: Any, name: str) -> Any:
    t = type(o)
    if t is dict:
        return o.get(name)
    if o is None:
        return None
    if name == "length" and (t is list or t is str):
        return len(o)
    raise EvalError(f"{a_value(o)} has no member '{name}'")


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
    size = count_of(len(o), "item" if type(o) is list else "character")
    raise EvalError(f"index {n} is out of range for {what} of {size}")


def index_value(o: Any, i: Any) -> Any:
    t = type(o)
    if t is list or t is str:
        return o[_position(o, i)]
    if t is dict:
        if type(i) is str:
            return o.get(i)
        raise EvalError(f"an object is indexed by a string, and this is {type_name(i)}")
    if o is None:
        return None
    raise EvalError(f"{a_value(o)} cannot be indexed")


def text(v: Any) -> str:
    """A value interpolated into a string: strings as they are, others rendered."""
    return v if type(v) is str else render(v)


# -- calls --------------------------------------------------------------------------------

def call(fn: str, args: list[Any]) -> Any:
    """A builtin function called by name."""
    f = FUNCTIONS.get(fn)
    if f is None:
        raise EvalError(f"unknown function '{fn}'")
    return f.impl(args)


def method(o: Any, name: str, args: list[Any]) -> Any:
    """A method of the receiver ``o`` (``null.anything(…)`` is null)."""
    table = METHODS_BY_TYPE.get(type(o))
    if table is None:
        if o is None:
            return None
        raise EvalError(f"{a_value(o)} has no method '{name}'")
    m = table.get(name)
    if m is None:
        raise EvalError(f"{a_value(o)} has no method '{name}'")
    if len(args) != m.arity:
        raise EvalError(f"{name}() takes {count_of(m.arity, 'argument')}, and was given "
                        f"{len(args)}")
    return m.impl(o, *args)
