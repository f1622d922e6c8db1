"""Dead-branch elimination: an ``if`` or ``switch`` whose choice is known before the run.

A branch whose condition is the literal ``false`` can never be taken, and a branch whose
condition is ``true`` is always taken (those after it never are).  When one branch is left
it replaces the ``if`` in place, keeping the ``if``'s edges (it waits for what the ``if``
waited for, and whoever waited for the ``if`` waits for it); when none is left the ``if``
goes, and whoever waited for it waits for what it waited for.  A ``switch`` whose subject
and case values are all literals becomes the case it would take, or its default.

A branch is dropped only when no expression outside it reads one of its tasks: a reader
would see ``null`` (docs/language.md, Q3), and the IR has no node to read it from, so such
an ``if`` is left as it is.
"""

from __future__ import annotations

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir import tree
from twdsl.ir.model import Change, Program
from twdsl.ir.render import expr_text
from twdsl.lang.values import equal
from twdsl.passes import change

NAME = "dead-branches"


def run(program: Program) -> tuple[Program, list[Change]]:
    changes: list[Change] = []
    for nid in tree.order(program):
        node = program.nodes.get(nid)
        if isinstance(node, M.IfNode):
            _if(program, node, changes)
        elif isinstance(node, M.SwitchNode):
            _switch(program, node, changes)
    return program, changes


def _if(program: Program, node: M.IfNode, changes: list[Change]) -> None:
    kept: list[M.Branch] = []
    dead: list[str] = []
    taken: str | None = None
    for b in node.branches:
        if taken is not None:
            dead.append(b.body)
        elif isinstance(b.cond, X.Lit) and b.cond.v is False:
            dead.append(b.body)
        elif isinstance(b.cond, X.Lit) and b.cond.v is True:
            taken = b.body
        else:
            kept.append(b)
    otherwise = node.otherwise
    if taken is not None and otherwise is not None:
        dead.append(otherwise)
    if not dead and taken is None:
        return
    if any(tree.read_from_outside(program, d) for d in dead):
        return
    for d in dead:
        for x in tree.subtree(program, d):
            del program.nodes[x]
    new_else = taken if taken is not None else otherwise
    if kept:
        node.branches = kept
        node.otherwise = new_else
        changes.append(change(NAME, node, f"{len(dead)} branch(es) of this if can never be "
                                          "taken (constant condition): removed"))
    elif new_else is not None:
        body = program.nodes[new_else]
        node.branches = []
        node.otherwise = None
        why = ("its condition is always true" if taken is not None
               else "every condition is false")
        changes.append(change(NAME, node, f"this if always runs one branch ({why}): the "
                                          f"branch replaces it as '{new_else}'"))
        tree.replace(program, node.id, body.id)
    else:
        changes.append(change(NAME, node, "every condition of this if is false and it has no "
                                          "else: removed"))
        tree.remove(program, node.id)


def _switch(program: Program, node: M.SwitchNode, changes: list[Change]) -> None:
    if not isinstance(node.subject, X.Lit):
        return
    subject = node.subject.v
    taken: str | None = None
    found = False
    for c in node.cases:
        for v in c.values:
            if not isinstance(v, X.Lit):
                return
            if equal(subject, v.v) and not found:  # the language's ==, as at run time
                taken, found = c.body, True
    if not found:
        taken = node.default
    others = [c.body for c in node.cases] + ([node.default] if node.default else [])
    dead = [b for b in others if b != taken]
    if any(tree.read_from_outside(program, d) for d in dead):
        return
    label = expr_text(node.subject)
    if taken is None:
        changes.append(change(NAME, node, f"switch on the constant {label} matches no case "
                                          "and has no default: removed"))
        tree.remove(program, node.id)
        return
    which = "the default" if not found else "its case"
    changes.append(change(NAME, node, f"switch on the constant {label} always runs {which}: "
                                      f"'{taken}' replaces it"))
    tree.replace(program, node.id, taken)
