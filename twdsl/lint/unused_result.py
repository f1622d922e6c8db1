"""TW508 unused-result: a task whose agent is declared ``pure`` (no effect beyond its result)
and whose result nothing reads: the call is wasted work."""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic
from twdsl.lint import LintContext
from twdsl.syntax import ast as A

CODE = CODES["TW508"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    pure = {d.name.name for d in ctx.module.items if isinstance(d, A.AgentDecl)
            and isinstance((f := d.body.get("pure")), A.Field)
            and isinstance(f.value, A.BoolLit) and f.value.value}
    if not pure:
        return
    for model in ctx.models:
        if not isinstance(model.decl, A.WorkflowDecl):
            continue  # a template's tasks may be read by whoever uses it
        read = {r.target for r in model.refs} | {ref.parts[0].name for ref, _ in
                                                 model.order_refs}
        for name, info in model.tasks.items():
            body = info.node.body
            agent = body.get("agent") if body is not None else None
            if agent is not None and isinstance(agent.value, A.Name) \
                    and agent.value.name in pure and name not in read:
                yield Diagnostic(CODE.code, CODE.severity,
                                 f"the result of task '{name}' is never read, and its agent "
                                 f"'{agent.value.name}' is pure: the call does nothing",
                                 info.node.name.span)
