"""Whether a value fits a declared type, at run time (docs/language.md, Types).

The checker proves what it can before a run; what crosses a boundary at run time is checked
here: an agent's result against its signature's ``output``, a workflow's outputs against their
declared types.  Values are JSON data (what agents return, what outputs hold); a ``duration``
is a number of seconds (or a duration value), a ``datetime`` an ISO 8601 text (or a datetime
value), a ``url`` or ``file`` a string.  A record may have fields it does not declare; a
declared field it lacks must be optional.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from twdsl.lang.values import Duration, a_value, is_number


class TypeShape(Protocol):
    """What :func:`problem` reads of a type: the IR's ``TypeRef`` is one."""

    @property
    def kind(self) -> str: ...

    @property
    def of(self) -> TypeShape | None: ...

    @property
    def fields(self) -> dict[str, Any] | None: ...


_ISO = re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?")


def problem(value: Any, t: TypeShape, where: str = "") -> str | None:
    """Why ``value`` does not fit ``t`` (None: it fits), naming the place inside it
    (``.items[2].name``) from ``where``.

    >>> from twdsl.ir.model import TypeRef as T
    >>> problem({"ok": "yes"}, T(kind="record", fields={"ok": T(kind="boolean")}))
    "field 'ok' should be boolean, and is a string"
    >>> problem([1, "2"], T(kind="array", of=T(kind="number")))
    'item [1] should be number, and is a string'
    >>> problem(None, T(kind="optional", of=T(kind="number"))) is None
    True
    """
    found = mismatch(value, t, where)
    return None if found is None else found[1]


def mismatch(value: Any, t: TypeShape, where: str = "") -> tuple[str, str] | None:
    """Where inside ``value`` (``.items[2].name``, after ``where``; "" for the value itself)
    it does not fit ``t``, and why (None: it fits)."""
    k = t.kind
    if k == "any":
        return None
    if k == "optional":
        return None if value is None or t.of is None else mismatch(value, t.of, where)
    fits: bool
    if k == "null":
        fits = value is None
    elif k in ("string", "url", "file"):
        fits = isinstance(value, str)
    elif k == "number":
        fits = is_number(value)
    elif k == "boolean":
        fits = isinstance(value, bool)
    elif k == "duration":
        fits = is_number(value) or isinstance(value, Duration)
    elif k == "datetime":
        fits = isinstance(value, datetime) or (isinstance(value, str) and
                                               _ISO.fullmatch(value) is not None)
    elif k == "object":
        fits = isinstance(value, dict)
    elif k == "array":
        if not isinstance(value, list):
            fits = False
        else:
            if t.of is not None and t.of.kind != "any":
                for i, x in enumerate(value):
                    found = mismatch(x, t.of, f"{where}[{i}]")
                    if found is not None:
                        return found
            return None
    elif k == "record":
        if not isinstance(value, dict):
            fits = False
        else:
            for name, ft in (t.fields or {}).items():
                if name not in value or value[name] is None:
                    if ft.kind in ("optional", "any", "null"):
                        continue
                    at = f"{where}.{name}"
                    return (at, f"{_place(at)} is missing" if name not in value
                            else f"{_place(at)} should be {_name(ft)}, and is null")
                found = mismatch(value[name], ft, f"{where}.{name}")
                if found is not None:
                    return found
            return None
    else:
        return None  # a kind this runtime does not know: not its business to refuse
    if fits:
        return None
    head = f"{_place(where)} should" if where else "should"
    return where, f"{head} be {_name(t)}, and is {a_value(value)}"


def _place(where: str) -> str:
    """``.a.b`` -> ``field 'a.b'``, ``[2]`` -> ``item [2]``."""
    if where.startswith("."):
        return f"field '{where[1:]}'"
    return f"item {where}"


def _name(t: TypeShape) -> str:
    return str(t)
