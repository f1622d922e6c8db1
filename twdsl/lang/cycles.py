"""Finding a cycle among things that wait for each other: the one search lowering (TW402)
and the IR's invariants use (the checker's task graph, which reports every strongly
connected component with its reasons, uses networkx)."""

from __future__ import annotations


def find_cycle(after: dict[str, list[str]]) -> list[str]:
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
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    deps_of: dict[str, list[str]] = {}  # made once per node, not once per step past it
    for start in after:
        if seen.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
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
