"""TW501 missing-version: a workflow without a ``version`` (a semver string)."""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic, Fix, TextEdit
from twdsl.lint import LintContext
from twdsl.source import Span
from twdsl.syntax import ast as A

CODE = CODES["TW501"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for decl in ctx.module.items:
        if isinstance(decl, A.WorkflowDecl) and decl.body.get("version") is None:
            yield Diagnostic(CODE.code, CODE.severity,
                             f"workflow '{decl.name.name}' has no version; add "
                             "version: \"0.1.0\" (semver)", decl.name.span,
                             fix=_insert_version(decl, ctx.text))


def _insert_version(decl: A.WorkflowDecl, text: str) -> Fix:
    brace = decl.body.span
    at = Span(brace.file, brace.start + 1, brace.start + 1, brace.line, brace.column + 1,
              brace.line, brace.column + 1)
    line_start = text.rfind("\n", 0, decl.span.start) + 1
    indent = text[line_start:decl.span.start] if text[line_start:decl.span.start].isspace() else ""
    return Fix('add version: "0.1.0"', (TextEdit(at, f'\n{indent}  version: "0.1.0"'),))
