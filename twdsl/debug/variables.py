"""How the debugger shows TWDSL values: one line of text per value (strings quoted, numbers,
durations and datetimes as the language writes them, arrays and objects as compact JSON),
the value's type as the language names it, and the children of arrays and objects for the
Variables view, each with the TWDSL expression that reads it (``evaluateName``).

Variable references (the ids the client asks ``variables`` for) live as long as one stop:
:class:`References` is emptied when the run goes on, as the protocol allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from twdsl.lang.values import (
    Duration,
    format_datetime,
    format_duration,
    format_number,
    type_name,
)

#: Longest line of text a value is shown as (arrays and objects are cut with an ellipsis).
MAX_TEXT = 200
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*|\[[^\[\]]*\])*\Z")

Variable = dict[str, Any]


def show(value: Any) -> str:
    """``value`` in one line, as the Variables view and the debug console show it.

    >>> show("a"), show(2.0), show(None), show([1, "x"]), show(Duration(90)), show(True)
    ('"a"', '2', 'null', '[1,"x"]', '1m30s', 'true')
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if value is None:
        return "null"
    if isinstance(value, Duration):
        return format_duration(value.seconds)
    if isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_text)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
    if isinstance(value, datetime):
        return format_datetime(value)
    return type_name(value)  # a lambda


def _text(value: Any) -> str:
    return show(value)


def child_name(parent: str | None, key: str | int) -> str | None:
    """The TWDSL expression that reads ``key`` of the value read by ``parent``."""
    if parent is None:
        return None
    if not _PATH.match(parent):
        parent = f"({parent})"
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _NAME.match(key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"


class References:
    """Variable references of one stop: id → how to list the children."""

    def __init__(self) -> None:
        self.next = 1
        self.lists: dict[int, Callable[[], list[Variable]]] = {}

    def clear(self) -> None:
        self.lists.clear()  # ids are not reused: a late request of an old id finds nothing

    def add(self, children: Callable[[], list[Variable]]) -> int:
        ref = self.next
        self.next += 1
        self.lists[ref] = children
        return ref

    def children(self, ref: int) -> list[Variable] | None:
        make = self.lists.get(ref)
        return None if make is None else make()

    def variable(self, name: str, value: Any, evaluate_name: str | None = None,
                 text: str | None = None) -> Variable:
        """A variable of the Variables view; arrays and objects can be expanded."""
        out: Variable = {"name": name, "value": show(value) if text is None else text,
                         "type": type_name(value), "variablesReference": 0}
        if evaluate_name is not None:
            out["evaluateName"] = evaluate_name
        if isinstance(value, list | dict) and value:
            out["variablesReference"] = self.add(lambda: self.members(value, evaluate_name))
            if isinstance(value, list):
                out["indexedVariables"] = len(value)
            else:
                out["namedVariables"] = len(value)
        return out

    def members(self, value: list[Any] | dict[str, Any], parent: str | None) -> list[Variable]:
        if isinstance(value, list):
            return [self.variable(f"[{i}]", v, child_name(parent, i)) for i, v in
                    enumerate(value)]
        return [self.variable(k, v, child_name(parent, k)) for k, v in value.items()]
