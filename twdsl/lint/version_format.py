"""TW511 bad-version: a ``version`` (of a workflow or a template) that is not a semantic
version (semver 2.0.0, :mod:`twdsl.lang.semver`).  When the version is obviously meant
(``"1.0"``, ``"v1.2.3"``), the diagnostic carries the fix."""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic, Fix, TextEdit
from twdsl.lang import semver
from twdsl.lint import LintContext
from twdsl.syntax import ast as A

CODE = CODES["TW511"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for decl in ctx.module.items:
        if not isinstance(decl, A.WorkflowDecl | A.TemplateDecl):
            continue
        field = decl.body.get("version")
        if field is None or not isinstance(field.value, A.StringLit):
            continue  # absent: TW501; not a string: a type error (TW301)
        what = f"{'workflow' if isinstance(decl, A.WorkflowDecl) else 'template'} " \
               f"'{decl.name.name}'"
        text = field.value.value
        if text is None:
            yield Diagnostic(CODE.code, CODE.severity,
                             f"the version of {what} must be a plain string such as "
                             "\"1.0.0\", without ${…}", field.value.span)
            continue
        why = semver.problem(text)
        if why is None:
            continue
        fixed = semver.fix(text)
        hint = f"; write \"{fixed}\"" if fixed else ""
        yield Diagnostic(
            CODE.code, CODE.severity,
            f"version \"{text}\" of {what} is not a semantic version: {why}{hint}",
            field.value.span,
            fix=Fix(f"write \"{fixed}\"", (TextEdit(field.value.span, f'"{fixed}"'),))
            if fixed else None)
