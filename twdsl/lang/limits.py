"""The limits of evaluation (docs/language.md, Limits): no expression can fill the memory or
hold the runtime's event loop for long, whatever its inputs.

* an array made by an expression has at most :data:`MAX_ITEMS` items, a string at most
  :data:`MAX_TEXT` characters;
* one evaluation does at most :data:`MAX_WORK` units of work (an item made, a character
  copied by ``+``, a lambda called): about a second at most.  The constant folder runs with a far
  smaller budget (:func:`budget`) and leaves an expression as it is when it runs out.

Going past a limit is an :class:`~twdsl.lang.values.EvalError`: a ``validation`` failure of
the task (or block) whose expression it is, handled by ``on_error`` like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from twdsl.lang.values import EvalError

MAX_ITEMS = 1_000_000
MAX_TEXT = 10_000_000
MAX_WORK = 20_000_000

class _Budget:
    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit


_current = _Budget(MAX_WORK)


def reset(limit: int = MAX_WORK) -> None:
    """Start a new evaluation with ``limit`` units of work."""
    _current.limit = _current.left = limit


@contextmanager
def budget(limit: int) -> Iterator[None]:
    """Run the block with its own budget of ``limit`` units (the folder's), then restore the
    budget of the evaluation around it."""
    global _current
    outer = _current
    _current = _Budget(limit)
    try:
        yield
    finally:
        _current = outer


def spend(n: int) -> None:
    """Count ``n`` units of work of the current evaluation."""
    b = _current
    b.left -= n
    if b.left < 0:
        b.left = 0
        raise EvalError(f"the expression does too much work (more than {b.limit:,} steps): "
                        "work on smaller data, or in several tasks")


def check_items(what: str, n: int) -> None:
    """Before making an array of ``n`` items: within the limits, or EvalError."""
    if n > MAX_ITEMS:
        raise EvalError(f"{what} would make an array of {n:,} items; at most {MAX_ITEMS:,}")
    spend(n)


def check_text(what: str, n: int) -> None:
    """Before (or after) making a string of ``n`` characters: within the limits, or EvalError."""
    if n > MAX_TEXT:
        raise EvalError(f"{what} would make a string of {n:,} characters; at most {MAX_TEXT:,}")
    spend(n >> 4)
