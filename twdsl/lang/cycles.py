"""Finding a cycle among things that wait for each other: the one search lowering (TW402)
and the IR's invariants use (the checker's task graph, which reports every strongly
connected component with its reasons, uses networkx); and the rule of block cycles
(TW402), which the checker applies to the syntax tree and lowering to the IR.

A block cycle: an edge between two tasks in different blocks makes the child of their lowest
common block that holds the later task wait for the child that holds the earlier one (a
block starts when everything it waits for has finished).  Those lifted edges can close a
cycle that the tasks themselves do not have.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

H = TypeVar("H", bound=Hashable)


def lift(before: H, after: H, parent: Callable[[H], H | None],
         depth: Callable[[H], int]) -> tuple[H, H, H] | None:
    """The lowest common container of two nodes and the children of it that hold each:
    ``(common, holding before, holding after)``, climbing from each node only as far as that
    container (``depth``: a node's distance from its root, so that nested blocks cost their
    distance, not their depth).  None when one node holds the other (a task and its handler,
    a loop and its body) or when they share no root.

    >>> up = {"a": "s1", "s1": "p", "d": "s2", "s2": "p", "p": None}
    >>> deep = {"p": 0, "s1": 1, "s2": 1, "a": 2, "d": 2}
    >>> lift("a", "d", up.get, deep.__getitem__)
    ('p', 's1', 's2')
    >>> lift("a", "s1", up.get, deep.__getitem__) is None
    True
    """
    a, b = before, after
    da, db = depth(a), depth(b)
    held_a: H | None = None
    held_b: H | None = None
    while da > db:
        held_a, up = a, parent(a)
        if up is None:
            return None
        a, da = up, da - 1
    while db > da:
        held_b, up = b, parent(b)
        if up is None:
            return None
        b, db = up, db - 1
    if a == b:
        return None  # one holds the other
    while True:
        pa, pb = parent(a), parent(b)
        if pa is None or pb is None:
            return None
        held_a, held_b, a, b = a, b, pa, pb
        if a == b:
            return a, held_a, held_b


def block_cycle(children: list[H], after: dict[H, list[H]]) -> list[H]:
    """A cycle among a block's ``children`` (in written order) through ``after`` (a child ->
    the children it waits for), or [].  The search goes in written order, whatever order the
    edges were found in, so that the checker and lowering name the same cycle."""
    pos = {c: i for i, c in enumerate(children)}
    return find_cycle({c: sorted((d for d in after.get(c, ()) if d in pos), key=pos.__getitem__)
                       for c in children})


def block_cycle_message(first: str, second: str) -> str:
    """TW402's message, naming two blocks of the cycle."""
    return (f"blocks '{first}' and '{second}' each wait for a task in the other, so neither "
            "can start; move the tasks that depend on each other into one block")


def find_cycle(after: Mapping[H, Sequence[H]]) -> list[H]:
    """A cycle among the keys of ``after`` (node -> what it waits for; names that are not
    keys are ignored), as the nodes along it, or [] when there is none.  Iterative (no
    recursion, any depth) and linear; when every node waits only for nodes listed before it
    (the written order, which most edges follow), no search is made at all.

    >>> find_cycle({"a": [], "b": ["a"], "c": ["b"]})
    []
    >>> find_cycle({"a": ["c"], "b": ["a"], "c": ["b"], "d": ["d"]})
    ['a', 'c', 'b']
    """
    pos = {n: i for i, n in enumerate(after)}
    if all(pos.get(d, -1) < i for i, deps in enumerate(after.values()) for d in deps):
        return []
    seen: dict[H, int] = {}  # 1: on the current path, 2: done
    deps_of: dict[H, list[H]] = {}  # made once per node, not once per step past it
    for start in after:
        if seen.get(start):
            continue
        path: list[H] = []
        stack: list[tuple[H, int]] = [(start, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                seen[node] = 1
                path.append(node)
            deps = deps_of.get(node)
            if deps is None:
                deps = deps_of[node] = [d for d in after.get(node, []) if d in after]
            if i < len(deps):
                stack.append((node, i + 1))
                d = deps[i]
                if seen.get(d) == 1:
                    return path[path.index(d):]
                if not seen.get(d):
                    stack.append((d, 0))
            else:
                seen[node] = 2
                path.pop()
    return []
