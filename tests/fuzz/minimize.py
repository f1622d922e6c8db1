"""Shrinking a failing input: delta debugging over lines, then over tokens (comments and
white space kept as units), keeping the smallest text that still fails the same way."""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r'/\*.*?\*/|//[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"'
                    r"|'(?:[^'\\\n]|\\.)*'|\s+|[A-Za-z0-9_.]+|.", re.S)


def _ddmin(parts: list[str], fails: Callable[[str], bool], budget: list[int]) -> list[str]:
    n = 2
    while len(parts) >= 2 and budget[0] > 0:
        chunk = max(1, len(parts) // n)
        reduced = False
        for start in range(0, len(parts), chunk):
            candidate = parts[:start] + parts[start + chunk:]
            budget[0] -= 1
            if candidate and fails("".join(candidate)):
                parts, n, reduced = candidate, max(n - 1, 2), True
                break
            if budget[0] <= 0:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(parts), n * 2)
    return parts


def minimize(text: str, fails: Callable[[str], bool], tries: int = 3000) -> str:
    """The smallest text found (within ``tries`` runs of ``fails``) that still fails."""
    if not fails(text):
        return text
    budget = [tries]
    lines = _ddmin(text.splitlines(keepends=True), fails, budget)
    tokens = _ddmin(_TOKEN.findall("".join(lines)), fails, budget)
    return "".join(tokens)
