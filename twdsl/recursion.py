"""Resources of the tree walks: recursion depth (the recursive passes recurse once per level of
nesting, and generated files can nest thousands of levels deep) and the garbage collector (a
parse or a check allocates many small objects and frees almost none, so the cyclic collector's
passes are pure cost: at 50k lines they were a fifth of a check, and grew faster than the file)."""

from __future__ import annotations

import gc
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


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (reference counting still frees
    memory); it is turned back on only if it was on.  Process-wide: a multi-threaded caller
    (the language server) pauses it for its other threads too, briefly."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
