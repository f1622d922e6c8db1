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
            dead = "else branch" if node.cond.value else "if branch"
            yield Diagnostic(CODE.code, CODE.severity,
                             f"the condition is always {str(node.cond.value).lower()}: the "
                             f"{dead} can never run", node.cond.span)
