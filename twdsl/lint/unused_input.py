"""TW504 unused-input: a workflow input nothing reads."""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic
from twdsl.lint import LintContext
from twdsl.syntax import ast as A

CODE = CODES["TW504"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for model in ctx.models:
        if not isinstance(model.decl, A.WorkflowDecl):
            continue
        for name, node in model.inputs.items():
            if name not in model.used_inputs and isinstance(node, A.VarDecl):
                yield Diagnostic(CODE.code, CODE.severity,
                                 f"input '{name}' is never read in {model.label}", node.name.span)
