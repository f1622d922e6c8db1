"""TW503 unbound-output: a workflow output declared without a value (``name: T`` with no
``= expr``): the run has nothing to return for it."""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic
from twdsl.lint import LintContext
from twdsl.syntax import ast as A

CODE = CODES["TW503"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for decl in ctx.module.items:
        if not isinstance(decl, A.WorkflowDecl):
            continue
        for item in decl.body.items:
            if isinstance(item, A.OutputDecl):
                for d in item.decls:
                    if d.value is None:
                        yield Diagnostic(CODE.code, CODE.severity,
                                         f"output '{d.name.name}' is declared but not bound: "
                                         f"write '{d.name.name}: … = <expression>'", d.name.span)
