"""Deep input: the recursive passes (structure checks, formatter, later the checker) recurse
once per level of nesting, and generated files can nest thousands of levels deep."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: CPython 3.11+ runs Python-to-Python calls without using the C stack, so a high limit is
#: safe for the recursive tree walks of this package.
LIMIT = 200_000


@contextmanager
def deep_recursion() -> Iterator[None]:
    """Raise the recursion limit for the duration of the block (never lower it)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
