"""Removal of work that provably cannot run.

* nodes of a block that wait (directly or through siblings) for a ``break`` or ``continue``
  of that block: the loop leaves the iteration before they could start (TW507 warns);
* a ``while`` whose condition is the literal ``false``;
* a ``foreach`` over the literal empty array ``[]``;
* a task whose ``when`` is the literal ``false``.

A node goes only when no expression outside it reads one of its tasks (a reader would see
``null``, or ``[]`` for a loop, and the IR keeps no node to read it from).  Whoever waited for
it waits for what it waited for, so every other ordering stays.
"""

from __future__ import annotations

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir import tree
from twdsl.ir.model import Change, Program
from twdsl.passes import change

NAME = "unreachable"


def _why(program: Program, node: M.Node, stoppers: set[str]) -> str | None:
    if node.id in stoppers:
        return None
    if isinstance(node, M.WhileNode) and node.cond == X.Lit(v=False):
        return "this while loop's condition is false: it never runs"
    if isinstance(node, M.ForeachNode) and node.items == X.Array(items=[]):
        return "this foreach runs over an empty array: it never runs"
    if isinstance(node, M.TaskNode) and node.when == X.Lit(v=False):
        return f"task '{node.name}' has when: false: it never runs"
    return None


def run(program: Program) -> tuple[Program, list[Change]]:
    changes: list[Change] = []
    for nid in tree.order(program):
        block = program.nodes.get(nid)
        if not isinstance(block, M.BlockNode):
            continue
        stoppers = {c for c in block.children
                    if isinstance(program.nodes[c], (M.BreakNode, M.ContinueNode))}
        behind = _behind(program, block, stoppers)
        for c in list(block.children):
            node = program.nodes.get(c)
            if node is None:
                continue
            why: str | None
            if c in behind:
                stop = program.nodes[behind[c]]
                why = f"it comes after '{stop.kind}' in the same block: it never runs"
            else:
                why = _why(program, node, stoppers)
            if why is None or tree.read_from_outside(program, c):
                continue
            changes.append(change(NAME, node, why))
            tree.remove(program, c)
    return program, changes


def _behind(program: Program, block: M.BlockNode, stoppers: set[str]) -> dict[str, str]:
    """The children that wait, transitively, for a break/continue: child → that node."""
    out: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for c in block.children:
            if c in out or c in stoppers:
                continue
            for a in program.nodes[c].after:
                hit = a if a in stoppers else out.get(a)
                if hit is not None:
                    out[c] = hit
                    changed = True
                    break
    return out
