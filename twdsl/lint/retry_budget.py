"""TW506 retry-budget: a task whose attempts cannot all fit in the timeout around it.

Worst case of a task with a per-attempt ``timeout`` T and ``retry`` N (docs/language.md,
retry): (N + 1) attempts of T each, plus the waits before retries n = 1..N
(:func:`twdsl.lang.retry.wait`).  The task's policy is the one it runs with: its own, else its
agent's, else (retry) its workflow's (:meth:`twdsl.semantics.model.SemanticModel.task_policy`).
When the worst case exceeds the timeout of the workflow or of an enclosing block, the last
attempts can never happen: the budget is a lie.
"""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic, Related
from twdsl.lint import LintContext
from twdsl.semantics.model import SemanticModel
from twdsl.syntax import ast as A

CODE = CODES["TW506"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for decl in ctx.module.items:
        if isinstance(decl, A.WorkflowDecl):
            yield from _walk(ctx.model, decl, decl.body, _timeout(decl.body),
                             f"workflow '{decl.name.name}'")


def _walk(model: SemanticModel, decl: A.WorkflowDecl, block: A.Block,
          limit: tuple[float, A.Field] | None, owner: str) -> Iterator[Diagnostic]:
    for item in block.items:
        if isinstance(item, A.TaskStmt) and item.body is not None and limit is not None:
            worst = model.task_policy(item, decl).worst_case()
            if worst is not None and worst > limit[0]:
                yield Diagnostic(
                    CODE.code, CODE.severity,
                    f"task '{item.name.name}' may need {_fmt(worst)} (every attempt timing out, "
                    f"with the waits between retries) but {owner} allows {_fmt(limit[0])}",
                    item.name.span, (Related(limit[1].span, "the enclosing timeout"),))
        elif isinstance(item, (A.ParallelStmt, A.SequenceStmt)):
            inner = _timeout(item.body)
            tighter = inner if inner and (limit is None or inner[0] < limit[0]) else limit
            kind = "parallel" if isinstance(item, A.ParallelStmt) else "sequence"
            yield from _walk(model, decl, item.body, tighter,
                             f"the {kind} block" if tighter is inner else owner)
        elif isinstance(item, A.Stmt):
            for child in item.children():
                if isinstance(child, A.Block):
                    yield from _walk(model, decl, child, limit, owner)


def _timeout(block: A.Block) -> tuple[float, A.Field] | None:
    f = block.get("timeout")
    if f is not None and isinstance(f.value, A.DurationLit):
        return f.value.millis / 1000, f
    return None


def _fmt(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
