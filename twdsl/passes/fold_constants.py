"""Constant folding: every expression of the program through the evaluator's ``fold``.

``fold`` (twdsl.ir.eval) computes the sub-trees whose value is known before the run
(literals, operators and builtins over them) and leaves alone those that read run-time
values or would raise at run time, so the error still happens where and when the user
expects it.  A task's ``when`` that folds to ``true`` is dropped: it could not skip the task.
"""

from __future__ import annotations

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir.model import Change, Program
from twdsl.ir.render import expr_text
from twdsl.ir.tree import map_exprs
from twdsl.passes import change
from twdsl.passes.fold import fold

NAME = "fold-constants"


def run(program: Program) -> tuple[Program, list[Change]]:
    changes: list[Change] = []

    def f(owner: object, what: str, e: X.Expr) -> X.Expr:
        new = fold(e)
        if new != e:
            changes.append(change(NAME, owner, f"{what}: {expr_text(e)} folded to "
                                                 f"{expr_text(new)}"))
        if what == "when" and new == X.Lit(v=True):
            changes.append(change(NAME, owner, "when is always true: dropped"))
        return new

    map_exprs(program, f)
    for node in program.nodes.values():
        if isinstance(node, M.TaskNode) and node.when == X.Lit(v=True):
            node.when = None  # the change was recorded by f, in its place
    return program, changes
