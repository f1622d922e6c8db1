"""TW505 constant-condition: ``if (true)`` / ``if (false)``: one branch can never run.
(``while (true)`` with a ``break`` is a loop written on purpose, and is left alone.)"""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic
from twdsl.lint import LintContext
from twdsl.syntax import ast as A

CODE = CODES["TW505"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for node in ctx.module.walk():
        if isinstance(node, A.IfStmt) and isinstance(node.cond, A.BoolLit):
            if not node.cond.value:
                why = "the if branch can never run"
            elif node.else_ is not None:
                why = "the else branch can never run"
            else:
                why = "the if is not needed"
            yield Diagnostic(CODE.code, CODE.severity,
                             f"the condition is always {str(node.cond.value).lower()}: {why}",
                             node.cond.span)
