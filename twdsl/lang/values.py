"""The value domain of the evaluator: what an expression can compute, and how it is shown.

A value is one of ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``, ``dict`` (string
keys), :class:`Duration`, an aware ``datetime.datetime`` (UTC) or a lambda's closure (made by
:mod:`twdsl.ir.eval`).  Numbers are JSON numbers: ``1 == 1.0``, but ``true`` is not ``1``
(Python's ``bool`` is an ``int``, so every check here tests the exact type).

Three renderings, each for one purpose:

* :func:`render` is ``${…}`` interpolation and ``string(x)``: strings as they are, whole
  numbers without ``.0``, ``null``/``true``/``false``, arrays and objects as compact JSON (of
  :func:`to_json`), durations as written in the language (``90s`` is ``1m30s``), datetimes as
  ISO 8601 with ``Z`` (``2024-05-01T12:00:00Z``).
* :func:`to_json` turns a value into plain JSON data for agents, results and outputs.  **A
  duration becomes a number of seconds** (``90s`` is ``90``, ``500ms`` is ``0.5``), like the IR
  itself and like a ``duration`` input given as a number: an agent can compute with it and a
  ``duration`` input reads it back.  A datetime becomes its ISO 8601 string; a whole float
  within 2**53 becomes an int (JSON does not tell ``2.0`` from ``2``).  A lambda has no JSON
  form: :class:`EvalError`.
* :func:`type_name` names the kind of a value in messages (``number``, ``array``, ``lambda``…).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["Duration", "EvalError", "Lambda", "a_value", "count_of", "equal", "format_duration",
           "hash_key", "is_number", "number_result", "render", "to_json", "type_name", "whole"]

#: Ints beyond this magnitude become floats (JSON numbers are doubles for most readers).
BIG_INT = 2**63


class EvalError(Exception):
    """An expression cannot be computed: one line saying what went wrong with which values.

    Defined here (and re-exported by :mod:`twdsl.ir.eval`) so that :func:`render` and
    :func:`to_json` can raise it too.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Duration:
    """A length of time in seconds: immutable, hashable, ordered, with the arithmetic of the
    operator table (docs/language.md, Operators).

    >>> Duration(90) + Duration(30), str(Duration(90)), Duration(60) / Duration(30)
    (Duration(120.0), '1m30s', 2.0)
    """

    __slots__ = ("seconds",)
    seconds: float

    def __init__(self, seconds: float) -> None:
        object.__setattr__(self, "seconds", float(seconds))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Duration is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Duration, (self.seconds,))

    def __repr__(self) -> str:
        return f"Duration({self.seconds!r})"

    def __str__(self) -> str:
        return format_duration(self.seconds)

    def __eq__(self, other: object) -> bool:
        return type(other) is Duration and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(("duration", self.seconds))

    def __lt__(self, other: Duration) -> bool:
        if type(other) is not Duration:
            return NotImplemented
        return self.seconds < other.seconds

    def __le__(self, other: Duration) -> bool:
        if type(other) is not Duration:
            return NotImplemented
        return self.seconds <= other.seconds

    def __gt__(self, other: Duration) -> bool:
        if type(other) is not Duration:
            return NotImplemented
        return self.seconds > other.seconds

    def __ge__(self, other: Duration) -> bool:
        if type(other) is not Duration:
            return NotImplemented
        return self.seconds >= other.seconds

    def __add__(self, other: Any) -> Any:
        if type(other) is Duration:
            return Duration(self.seconds + other.seconds)
        if isinstance(other, datetime):
            return other + self.timedelta
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        if type(other) is Duration:
            return Duration(self.seconds - other.seconds)
        return NotImplemented

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, datetime):
            return other - self.timedelta
        return NotImplemented

    def __mul__(self, other: Any) -> Any:
        if type(other) is int or type(other) is float:
            return Duration(self.seconds * other)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        if type(other) is Duration:
            return self.seconds / other.seconds
        if type(other) is int or type(other) is float:
            return Duration(self.seconds / other)
        return NotImplemented

    def __neg__(self) -> Duration:
        return Duration(-self.seconds)

    @property
    def timedelta(self) -> timedelta:
        return timedelta(seconds=self.seconds)


_UNITS = (("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000))


def format_duration(seconds: float) -> str:
    """Seconds as the language writes a duration, largest units first, to the microsecond.

    >>> format_duration(90), format_duration(93784.005), format_duration(0.0015)
    ('1m30s', '1d2h3m4s5ms', '1.5ms')
    """
    if not math.isfinite(seconds):
        return "infinite" if seconds == seconds else "NaN"
    us = round(abs(seconds) * 1_000_000)
    if us == 0:
        return "0s"
    out = ["-"] if seconds < 0 else []
    for unit, size in _UNITS:
        n, us = divmod(us, size)
        if n:
            out.append(f"{n}{unit}")
    if us:
        ms, frac = divmod(us, 1000)
        out.append(f"{ms}ms" if not frac else f"{ms}.{frac:03d}".rstrip("0") + "ms")
    return "".join(out)


def type_name(value: Any) -> str:
    """The kind of ``value`` as the language calls it, for messages.

    >>> type_name(None), type_name(True), type_name(1.5), type_name([]), type_name(Duration(1))
    ('null', 'boolean', 'number', 'array', 'duration')
    """
    t = type(value)
    name = _NAMES.get(t)
    if name is not None:
        return name
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, Lambda) or callable(value):
        return "lambda"
    return f"an unsupported value ({t.__name__})"


_NAMES: dict[type, str] = {type(None): "null", bool: "boolean", int: "number", float: "number",
                           str: "string", list: "array", dict: "object", Duration: "duration",
                           datetime: "datetime"}


def _article(name: str) -> str:
    return name if name.startswith("an ") else ("an " if name[0] in "aeiou" else "a ") + name


def format_number(n: int | float) -> str:
    """A number as text: whole numbers below 1e21 without ``.0`` (as JavaScript shows them).

    >>> format_number(3.0), format_number(3.25), format_number(-0.0), format_number(10**20 * 1.0)
    ('3', '3.25', '0', '100000000000000000000')
    """
    if type(n) is float and n.is_integer() and abs(n) < 1e21:
        return str(int(n))
    return repr(n) if type(n) is float else str(n)


def format_datetime(d: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; a naive datetime is taken as UTC."""
    d = d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)
    return d.isoformat().replace("+00:00", "Z")


def to_json(value: Any) -> Any:
    """``value`` as plain JSON data (module docstring: durations become seconds).

    >>> to_json({"wait": Duration(90), "n": 2.0, "xs": [Duration(0.5), None]})
    {'wait': 90, 'n': 2, 'xs': [0.5, None]}
    """
    try:
        return _to_json(value)
    except RecursionError:
        raise EvalError("the value is nested too deeply to convert to JSON") from None


def _to_json(value: Any) -> Any:
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        if not math.isfinite(value):
            raise EvalError(f"the number {value} has no JSON form")
        return int(value) if value.is_integer() and abs(value) <= 2**53 else value
    if t is list or t is tuple:
        return [_to_json(v) for v in value]
    if t is dict:
        return {_key(k): _to_json(v) for k, v in value.items()}
    if t is Duration:
        return _to_json(value.seconds)
    if isinstance(value, datetime):
        return format_datetime(value)
    # What a Python agent may return besides: subclasses (str enums, OrderedDict…), as their
    # base type.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)  # the text, not an enum's str()
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _to_json(float(value))
    if isinstance(value, dict):
        return _to_json(dict(value))
    if isinstance(value, list):
        return _to_json(list(value))
    raise EvalError(f"{_article(type_name(value))} has no JSON form")


def _key(k: Any) -> str:
    if type(k) is str:
        return k  # type: ignore[no-any-return]
    if isinstance(k, str):
        return str(k)
    raise EvalError(f"an object's keys are strings, and this is {type_name(k)}")


def render(value: Any) -> str:
    """``value`` as ``${…}`` inserts it (module docstring).

    >>> render("a"), render(2.0), render(None), render([1, "x"]), render(Duration(90))
    ('a', '2', 'null', '[1,"x"]', '1m30s')
    """
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int or t is float:
        return format_number(value)
    if value is None:
        return "null"
    if t is Duration:
        return format_duration(value.seconds)
    if t is list or t is dict:
        try:
            return json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)
        except RecursionError:
            raise EvalError("the value is nested too deeply to show as text") from None
    if isinstance(value, datetime):
        return format_datetime(value)
    raise EvalError(f"{_article(type_name(value))} cannot be shown as text")


def equal(a: Any, b: Any) -> bool:
    """``a == b`` of the language: deep, numbers by value (``1 == 1.0``), booleans only equal
    booleans, lambdas only themselves.

    >>> equal([1, {"a": 2.0}], [1.0, {"a": 2}]), equal(True, 1), equal(None, None)
    (True, False, True)
    """
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is list:
            return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
        if ta is dict:
            return a.keys() == b.keys() and all(equal(v, b[k]) for k, v in a.items())
        if ta in _NAMES or isinstance(a, datetime):
            return bool(a == b)
        return a is b
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a == b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return False


def hash_key(value: Any) -> Any:
    """A hashable key with ``hash_key(a) == hash_key(b)`` exactly when ``equal(a, b)``: for
    ``unique()`` and sets of values."""
    t = type(value)
    if t is int or t is float:
        return ("n", value)  # hash(1) == hash(1.0) and 1 == 1.0
    if t is str or t is bool or value is None or t is Duration:
        return (t.__name__, value)
    if t is list:
        return ("a", tuple(hash_key(v) for v in value))
    if t is dict:
        return ("o", frozenset((k, hash_key(v)) for k, v in value.items()))
    if isinstance(value, datetime):
        return ("t", value)
    return ("f", id(value))


class Lambda:
    """Base of a lambda's value (the evaluator's closure): callable with its arguments."""

    __slots__ = ()

    def __call__(self, *args: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError


def is_number(v: Any) -> bool:
    """An int or a float, never a boolean."""
    t = type(v)
    return t is int or t is float


def number_result(r: int | float) -> int | float:
    """An arithmetic result kept within bounds: an int beyond 2**63 becomes a float, and a
    float that overflows is an error, so no computation grows without bound.

    >>> number_result(2**64) == float(2**64), number_result(7)
    (True, 7)
    """
    if type(r) is int:
        if -BIG_INT <= r <= BIG_INT:
            return r
        try:
            r = float(r)
        except OverflowError:
            raise EvalError("the number is too large") from None
    if not math.isfinite(r):
        raise EvalError("the number is too large")
    return r


def whole(r: float) -> int | float:
    """A float that is a whole number within 2**53, as an int."""
    return int(r) if r.is_integer() and abs(r) <= 2**53 else r


def count_of(n: int, noun: str) -> str:
    """``1 argument``, ``2 arguments``, ``no arguments``."""
    return f"{n} {noun}" if n == 1 else f"{'no' if n == 0 else n} {noun}s"


def a_value(v: Any) -> str:
    """``a number``, ``an array``, ``null``: a value's kind with its article."""
    name = type_name(v)
    if v is None:
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name
