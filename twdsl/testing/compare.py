"""Comparing what a run did with what a test expects: exactly, or by partial match.

Values are equal as the language's ``==`` says (:func:`twdsl.lang.values.equal`: numbers by
value, deep).  A partial match (``outputs_match``, ``result_match``, a mock case's ``when``)
asks only for what it gives: a table matches when each field it names matches (the value may
have more), an array when it has as many items and each matches.
"""

from __future__ import annotations

import json
from typing import Any

from twdsl.lang.values import equal, to_json

LIMIT = 120  # characters of a value shown in a message


def matches(expected: Any, actual: Any) -> bool:
    """``actual`` matches ``expected`` partially.

    >>> matches({"a": {"b": 1}}, {"a": {"b": 1.0, "c": 2}, "d": 3})
    True
    >>> matches([{"a": 1}], [{"a": 1}, {"a": 2}]), matches({"a": None}, {})
    (False, False)
    """
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            matches(e, a) for e, a in zip(expected, actual, strict=True))
    return equal(expected, actual)


def differences(expected: Any, actual: Any, where: str, partial: bool = False) -> list[str]:
    """Each place where ``actual`` differs from ``expected``, as ``where.x: expected ..., got
    ...`` (empty: they agree).

    >>> for d in differences({"a": 1, "b": [1, 2]}, {"a": 2, "b": [1, 3], "c": 0}, "outputs"):
    ...     print(d)
    outputs.a: expected 1, got 2
    outputs.b[1]: expected 2, got 3
    outputs.c: not expected, got 0
    >>> differences({"a": 1}, {"a": 1, "c": 0}, "outputs", partial=True)
    []
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[str] = []
        for k, v in expected.items():
            if k not in actual:
                out.append(f"{where}.{k}: expected {show(v)}, missing")
            else:
                out += differences(v, actual[k], f"{where}.{k}", partial)
        if not partial:
            out += [f"{where}.{k}: not expected, got {show(v)}" for k, v in actual.items()
                    if k not in expected]
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in differences(e, a, f"{where}[{i}]", partial)]
    if isinstance(expected, (dict, list)) and partial:
        ok = matches(expected, actual)
    else:
        ok = equal(expected, actual)
    return [] if ok else [f"{where}: expected {show(expected)}, got {show(actual)}"]


def show(value: Any) -> str:
    """A value as JSON, cut to :data:`LIMIT` characters."""
    try:
        text = json.dumps(to_json(value), ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."
