"""Constant folding: every expression of the program through the evaluator's ``fold``.

``fold`` (twdsl.ir.eval) computes the sub-trees whose value is known before the run
(literals, operators and builtins over them) and leaves alone those that read run-time
values or would raise at run time, so the error still happens where and when the user
expects it.  A task's ``when`` that folds to ``true`` is dropped: it could not skip the task.
"""

from __future__ import annotations

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir.eval import fold
from twdsl.ir.model import Change, Program
from twdsl.ir.render import expr_text
from twdsl.passes import change

NAME = "fold-constants"


def run(program: Program) -> tuple[Program, list[Change]]:
    changes: list[Change] = []

    def f(owner: object, what: str, e: X.Expr) -> X.Expr:
        new = fold(e)
        if new != e:
            changes.append(change(NAME, owner, f"{what}: {expr_text(e)} folded to "
                                                 f"{expr_text(new)}"))
        return new

    for d in program.inputs:
        if d.default is not None:
            d.default = f(d, f"default of input {d.name}", d.default)
    for o in program.outputs:
        if o.value is not None:
            o.value = f(o, f"output {o.name}", o.value)
    for node in program.nodes.values():
        match node:
            case M.TaskNode():
                if node.input is not None:
                    node.input = f(node, "input", node.input)
                if node.when is not None:
                    node.when = f(node, "when", node.when)
                    if node.when == X.Lit(v=True):
                        node.when = None
                        changes.append(change(NAME, node, "when is always true: dropped"))
                if node.cache is not None and node.cache.key is not None:
                    node.cache.key = f(node, "cache key", node.cache.key)
            case M.BlockNode():
                node.bindings = {k: f(node, f"argument {k}", v)
                                 for k, v in node.bindings.items()}
            case M.IfNode():
                for b in node.branches:
                    b.cond = f(node, "condition", b.cond)
            case M.SwitchNode():
                node.subject = f(node, "subject", node.subject)
                for c in node.cases:
                    c.values = [f(node, "case value", v) for v in c.values]
            case M.ForeachNode():
                node.items = f(node, "items", node.items)
            case M.WhileNode():
                node.cond = f(node, "condition", node.cond)
    return program, changes
