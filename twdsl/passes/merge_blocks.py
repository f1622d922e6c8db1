"""Merging of blocks that add nothing to the order they hold.

* a ``sequence`` (or a branch body left in place by dead-branch elimination) held directly
  by a sequential block — the workflow's body, a branch or loop body, a ``sequence``, a
  template instance — with no ``timeout`` of its own: its children take its place;
* a ``parallel`` or ``sequence`` with one child and no ``timeout``: the child takes its
  place (with one child, ``max_concurrency`` and ``fail_fast`` change nothing);
* an empty ``sequence``, ``parallel`` or body without a ``timeout`` or arguments: removed.

What the merged children wait for is kept: the first children of the inner block wait for
what the block waited for, and whoever waited for the block waits for its last children.
Handler blocks and template instances (whose arguments are names in their expressions) are
never merged away, and nothing is merged into a ``parallel``, whose failure rules
(``fail_fast: false``) differ from a sequence's.
"""

from __future__ import annotations

from twdsl.ir import model as M
from twdsl.ir import tree
from twdsl.ir.model import Change, Program
from twdsl.passes import change

NAME = "merge-blocks"
_SEQUENTIAL = ("body", "sequence", "use")


def run(program: Program) -> tuple[Program, list[Change]]:
    changes: list[Change] = []
    for nid in tree.order(program):
        parent = program.nodes.get(nid)
        if not isinstance(parent, M.BlockNode) or parent.role == "handler":
            continue
        for c in list(parent.children):
            child = program.nodes.get(c)
            if not isinstance(child, M.BlockNode) or child.role not in (
                    "body", "sequence", "parallel") or child.timeout is not None:
                continue
            if not child.children:
                changes.append(change(NAME, child, f"this {child.role} block is empty: "
                                                   "removed"))
                tree.remove(program, c)
            elif len(child.children) == 1:
                only = child.children[0]
                changes.append(change(NAME, child, f"this {child.role} block holds one "
                                                   f"statement: '{only}' takes its place"))
                tree.replace(program, c, only)
            elif child.role != "parallel" and parent.role in _SEQUENTIAL:
                changes.append(change(NAME, child, f"this {child.role} block sits in a "
                                                   "sequential block: its statements take "
                                                   "its place"))
                _flatten(program, parent, child)
    return program, changes


def _flatten(program: Program, parent: M.BlockNode, inner: M.BlockNode) -> None:
    kids = list(inner.children)
    waited = {a for k in kids for a in program.nodes[k].after}
    sinks = [k for k in kids if k not in waited]
    for k in kids:
        node = program.nodes[k]
        node.parent = parent.id
        if not node.after:
            node.after = list(inner.after)
            node.order_only = list(inner.order_only)
    at = parent.children.index(inner.id)
    parent.children[at:at + 1] = kids
    for c in parent.children:
        sib = program.nodes[c]
        if inner.id in sib.after:
            tree.rewire(sib, inner.id, sinks,
                        sinks if inner.id in sib.order_only else [])
    del program.nodes[inner.id]
