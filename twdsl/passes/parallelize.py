"""Parallelization of independent pure work (docs/language.md, Q2).

In a sequential block, a task that waits for the task before it *only* because it is
written after it (an order-only edge: no data, ``depends`` or chain) stops waiting for it
when

* both tasks' agents are declared ``pure: true`` (no effect beyond the result),
* neither reads the other, directly or through other siblings (no other path of edges
  links them), and
* neither has handler blocks (``on_success``, a ``fallback``, ``compensate`` or handler
  statements), which could call impure agents.

The later task then waits for what the earlier one waited for, and whoever waited for the
later task also waits for the earlier one: only the two tasks' order changes; everything
before them still finishes first and everything after them still starts after both.
Handler blocks (``compensate`` runs its statements in reverse) are left alone.
"""

from __future__ import annotations

from twdsl.ir import model as M
from twdsl.ir import tree
from twdsl.ir.model import Change, Program
from twdsl.passes import change

NAME = "parallelize"


def _eligible(node: M.Node) -> bool:
    if not isinstance(node, M.TaskNode) or not node.pure or node.on_success is not None:
        return False
    h = node.on_error
    return h.fallback is None and h.compensate is None and h.body is None


def _reaches(program: Program, start: str, goal: str, skip: tuple[str, str]) -> bool:
    """Whether ``start`` waits for ``goal`` through ``after`` edges other than ``skip``."""
    stack, seen = [start], {start}
    while stack:
        n = stack.pop()
        for a in program.nodes[n].after:
            if (n, a) == skip or a in seen:
                continue
            if a == goal:
                return True
            seen.add(a)
            stack.append(a)
    return False


def run(program: Program) -> tuple[Program, list[Change]]:
    changes: list[Change] = []
    for nid in tree.order(program):
        block = program.nodes.get(nid)
        if not isinstance(block, M.BlockNode) or block.role in ("handler", "parallel"):
            continue
        progress = True
        while progress:
            progress = False
            for y_id in block.children:
                y = program.nodes[y_id]
                if not isinstance(y, M.TaskNode) or not _eligible(y):
                    continue
                for x_id in list(y.order_only):
                    x = program.nodes[x_id]
                    if not isinstance(x, M.TaskNode) or not _eligible(x) or \
                            _reaches(program, y_id, x_id, (y_id, x_id)):
                        continue
                    _drop(program, block, x, y)
                    changes.append(change(
                        NAME, y, f"'{y.name}' no longer waits for '{x.name}': both agents "
                                 "are pure and neither reads the other (docs/language.md, Q2)"))
                    progress = True
    return program, changes


def _drop(program: Program, block: M.BlockNode, x: M.Node, y: M.Node) -> None:
    y.after.remove(x.id)
    y.order_only.remove(x.id)
    for a in x.after:  # y still starts after everything x started after
        if a not in y.after:
            y.after.append(a)
            y.order_only.append(a)
    for c in block.children:  # whoever waited for y still waits for x too
        z = program.nodes[c]
        if y.id in z.after and x.id not in z.after and c != x.id:
            z.after.append(x.id)
            if y.id in z.order_only:
                z.order_only.append(x.id)
