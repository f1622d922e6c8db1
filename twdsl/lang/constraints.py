"""Template parameters' ``where`` constraints (docs/language.md, Templates): what each one
accepts, written once for the checker (literal arguments, at ``twdsl check``) and the runtime
(computed arguments, when the template instance starts).
"""

from __future__ import annotations

import re
from typing import Any

#: The constraint keys a ``where { … }`` may hold, besides ``required``.
KEYS = ("min", "max", "min_length", "max_length", "pattern", "choices")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def violation(key: str, bound: Any, value: Any) -> str | None:
    """What is wrong with ``value`` under the constraint ``key: bound`` (None: nothing, or the
    constraint does not apply to a value of this kind).  A ``pattern`` that is not a valid
    regular expression raises ``re.error``.

    >>> violation("min", 1, 0), violation("pattern", "^[a-z]+$", "Api"), violation("max", 3, 2)
    ('is below the minimum 1', "does not match the pattern '^[a-z]+$'", None)
    """
    if key == "min" and _number(value) and _number(bound) and value < bound:
        return f"is below the minimum {_show(bound)}"
    if key == "max" and _number(value) and _number(bound) and value > bound:
        return f"is above the maximum {_show(bound)}"
    if key in ("min_length", "max_length") and isinstance(value, (str, list)) and _number(bound):
        n = len(value)
        if key == "min_length" and n < bound:
            return f"is shorter than {bound:g}"
        if key == "max_length" and n > bound:
            return f"is longer than {bound:g}"
        return None
    if key == "pattern" and isinstance(value, str) and isinstance(bound, str):
        if len(value) > 100_000 or re.fullmatch(bound, value) is None:
            return f"does not match the pattern {bound!r}"
        return None
    if key == "choices" and isinstance(bound, list) and value not in bound:
        return f"is not one of {', '.join(map(repr, bound))}"
    return None


def _show(n: Any) -> str:
    return f"{n:g}" if isinstance(n, float) else str(n)
